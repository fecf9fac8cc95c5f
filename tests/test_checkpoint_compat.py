"""Checkpoints written before layers were numbered 1..L everywhere still read, unchanged.

``tests/fixtures/ckpt-467ce05`` holds checkpoints written by commit 467ce05, whose
``TrainState.best_W`` and ``History.grad_norm`` rows were 0-based lists (``tests/
test_workflow.py`` resumes them to the old run's final weights). The on-disk format did not
change (``best.W.<l>`` was already numbered from 1, ``history.grad_norm`` is an (E, L)
matrix): reading gives ``Layers``, and writing the state again gives the file's own arrays
and metadata back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from deltaprop import Layers
from deltaprop.io import load_checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "ckpt-467ce05"


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_an_old_checkpoint_reads_into_layers_and_writes_back_the_same(optimizer):
    path = FIXTURES / optimizer / "checkpoint.safetensors"
    state = load_checkpoint(path).state
    assert state.epoch == 3 and not state.finished
    assert isinstance(state.best_W, Layers) and isinstance(state.best_b, Layers)
    assert state.best_W[1].shape == (8, 10) and state.best_W[2].shape == (1, 8)
    assert all(isinstance(row, Layers) and len(row) == 2 for row in state.history.grad_norm)
    assert all(len(row) == 1 for row in state.history.dead_fraction)
    # the state written again is the file's state, array for array and field for field
    arrays, meta = state.to_arrays()
    stored = {k[len("state.") :]: v for k, v in load_file(path).items() if k.startswith("state.")}
    assert sorted(arrays) == sorted(stored)
    for k, a in arrays.items():
        assert a.dtype == stored[k].dtype and np.array_equal(a, stored[k]), k
    with safe_open(path, "np") as f:
        stored_meta = json.loads(f.metadata()["deltaprop"])["train_state"]
    assert json.loads(json.dumps(meta)) == stored_meta
