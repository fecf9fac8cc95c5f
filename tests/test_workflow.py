"""deltaprop.workflow: the library behind ``deltaprop train/predict/evaluate``.

The command line's own behaviour (messages, exit codes, files) is tested in test_cli_train.py,
test_bad_input.py and test_faults.py; here, the same workflow from Python, and a checkpoint
written by the code before the workflow existed (commit 467ce05) resuming to its weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from deltaprop import workflow
from deltaprop.cli import main
from deltaprop.io import load_checkpoint
from deltaprop.workflow import SettingsError, TrainSettings

FIXTURES = Path(__file__).parent / "fixtures" / "ckpt-467ce05"
SMALL = TrainSettings(hidden=(8,), epochs=5, lr=0.01)


def _weights(path: Path) -> dict[str, np.ndarray]:
    return {k: v for k, v in load_file(str(path)).items() if k[0] in "Wb"}


def _same_weights(a: Path, b: Path) -> None:
    A, B = _weights(a), _weights(b)
    assert sorted(A) == sorted(B)
    for k in A:
        assert A[k].dtype == B[k].dtype and np.array_equal(A[k], B[k]), k


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_checkpoint_from_467ce05_resumes_to_its_weights(tmp_path, optimizer):
    # tests/fixtures/ckpt-467ce05/make.py wrote these with the old code: the checkpoint after
    # epoch 3 of a 6-epoch run, and that run's final model
    out = tmp_path / "run"
    out.mkdir()
    shutil.copyfile(FIXTURES / optimizer / "checkpoint.safetensors", out / "checkpoint.safetensors")
    result = workflow.train(out=out, resume=True, plots=False)
    assert result.settings.optimizer == optimizer and result.state.epoch == 6
    _same_weights(FIXTURES / optimizer / "model.safetensors", out / "model.safetensors")


def test_three_lines_of_python_write_what_the_command_writes(tmp_path, capsys):
    result = workflow.train(SMALL.replace(seed=3), out=tmp_path / "py", plots=False)
    args = ["train", "--hidden", "8", "--epochs", "5", "--lr", "0.01", "--seed", "3"]
    with pytest.raises(SystemExit) as e:
        main([*args, "--out", str(tmp_path / "cli"), "--no-plots", "--json"])
    assert e.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    for name in ("model.safetensors", "checkpoint.safetensors"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    mine = result.to_dict()
    assert {k: v for k, v in mine.items() if k not in ("seconds", "files")} == {
        k: v for k, v in summary.items() if k not in ("seconds", "files")
    }
    assert set(result.metrics) == {"train", "validation", "test"}
    assert result.files["model"] == str(tmp_path / "py" / "model.safetensors")
    assert result.model.forward(np.zeros((10, 2))).shape == (1, 2)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be >= 1; got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer; got 2.5"),
        ({"seed": -1}, "seed must be >= 0; got -1"),
        ({"lr": float("nan")}, "lr must be > 0 and finite; got nan"),
        ({"optimizer": "rmsprop"}, "optimizer must be sgd or adam; got 'rmsprop'"),
        ({"hidden": (8, 0)}, "hidden values must be >= 1; got 0 in (8, 0)"),
        ({"hidden": "64,64"}, "hidden must be a sequence of integers"),
        ({"checkpoint_every": True}, "checkpoint_every must be an integer; got True"),
    ],
)
def test_bad_settings_name_the_field(changes, message):
    with pytest.raises(SettingsError) as e:
        TrainSettings(**changes)
    assert message in str(e.value)
    assert e.value.for_name("--" + e.value.field).startswith("--" + e.value.field)


def test_settings_round_trip_through_json_and_old_checkpoints_read():
    s = TrainSettings(data="x.csv", target=("a", "b"), hidden=[4, 4], lr=1)
    assert s.hidden == (4, 4) and s.lr == 1.0 and isinstance(s.lr, float)
    d = json.loads(json.dumps(s.to_dict()))
    assert list(d)[:11] == [
        "data",
        "target",
        "hidden",
        "epochs",
        "lr",
        "optimizer",
        "batch_size",
        "seed",
        "patience",
        "data_sha256",
        "checkpoint_every",
    ]  # the order 467ce05 wrote; issue 15's fields (task, activation, ...) follow
    assert TrainSettings.from_dict(d) == s
    old = load_checkpoint(FIXTURES / "adam" / "checkpoint.safetensors").settings
    new = TrainSettings.from_dict(old).to_dict()  # later fields take their defaults
    assert {k: new[k] for k in old} == old and new["task"] == "auto"
    with pytest.raises(ValueError, match="unknown settings 'colour'"):
        TrainSettings.from_dict({**d, "colour": 1})
    with pytest.raises(ValueError, match="lack epochs"):
        TrainSettings.from_dict({k: v for k, v in d.items() if k != "epochs"})
    with pytest.raises(ValueError, match="invalid settings: epochs must be >= 1"):
        TrainSettings.from_dict({**d, "epochs": 0}, "ckpt")
    with pytest.raises(AttributeError):
        s.epochs = 3  # frozen


def test_resume_settings_reconciles_the_options_given():
    saved = TrainSettings(hidden=(8,), epochs=5)
    assert workflow.resume_settings(saved, {"epochs": 9, "hidden": None}, "c").epochs == 9
    assert workflow.resume_settings(saved, {"hidden": [8], "lr": 1e-3}, "c") == saved
    with pytest.raises(SettingsError) as e:
        workflow.resume_settings(saved, {"hidden": [9, 9]}, "c")
    assert e.value.for_name("--hidden") == (
        "--hidden 9,9 differs from the checkpoint's [8] (c); leave --hidden out to resume"
    )
    with pytest.raises(SettingsError, match="epochs 4 is fewer than the 5"):
        workflow.resume_settings(saved, {"epochs": 4}, "c")


class Recorder:
    def __init__(self, stop_at: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.stop_at = stop_at

    def on_start(self, epochs, done):
        self.calls.append(("start", epochs, done))

    def on_epoch(self, state):
        self.calls.append(("epoch", state.epoch))
        if state.epoch == self.stop_at:
            raise KeyboardInterrupt

    def on_end(self):
        self.calls.append(("end",))


def test_hooks_hear_every_epoch_and_ctrl_c_leaves_a_checkpoint_that_resumes(tmp_path):
    hooks = Recorder()
    settings = SMALL.replace(patience=0, checkpoint_every=100)
    workflow.train(settings, out=tmp_path / "A", plots=False, hooks=hooks)
    assert hooks.calls == [("start", 5, 0), *[("epoch", e) for e in range(1, 6)], ("end",)]

    hooks = Recorder(stop_at=2)
    with pytest.raises(workflow.Interrupted) as e:
        workflow.train(settings, out=tmp_path / "B", plots=False, hooks=hooks)
    stopped = e.value.epoch  # the last epoch committed (2: callbacks run after the commit)
    assert 1 <= stopped <= 2 and hooks.calls[-1] == ("end",)
    assert f"saved the run as it was after epoch {stopped}" in str(e.value)
    assert load_checkpoint(e.value.checkpoint).state.epoch == stopped
    assert isinstance(e.value, KeyboardInterrupt)
    assert sorted(p.name for p in (tmp_path / "B").iterdir()) == ["checkpoint.safetensors"]
    hooks = Recorder()
    result = workflow.train(out=tmp_path / "B", resume=True, plots=False, hooks=hooks)
    assert hooks.calls[0] == ("start", 5, stopped) and result.state.epoch == 5
    for name in ("model.safetensors", "checkpoint.safetensors"):
        assert (tmp_path / "A" / name).read_bytes() == (tmp_path / "B" / name).read_bytes()


def test_resume_takes_no_settings_and_needs_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="give changes="):
        workflow.train(SMALL, out=tmp_path, resume=True)
    with pytest.raises(SettingsError, match="resume: there is no checkpoint"):
        workflow.train(out=tmp_path, resume=True)


def test_predict_and_evaluate_from_python(tmp_path):
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    rows = ["a,b,y", *(f"{a},{b},{a - 2 * b}" for a, b in X)]
    data.write_text("\n".join(rows) + "\n")
    result = workflow.train(
        SMALL.replace(data=str(data), epochs=20), out=tmp_path / "run", plots=False
    )
    assert result.settings.data == str(data) and result.settings.target == ("y",)
    assert result.settings.data_sha256 is not None
    model = result.files["model"]
    p = workflow.predict(model, data, out=tmp_path / "p.csv")
    assert p.target_names == ["y"] and p.Y.shape == (1, 60)
    assert (tmp_path / "p.csv").read_text() == p.csv
    np.testing.assert_allclose(p.Y, result.model.forward(X.T))
    e = workflow.evaluate(model, data)
    assert e.target_names == ["y"] and e.metrics["m"] == 60
    assert e.metrics["r2"] > e.metrics["baseline"]["r2"]
    with pytest.raises(SettingsError, match="target names 2 column"):
        workflow.evaluate(model, data, "y,b")


def test_the_default_penalty_is_thirty_over_the_training_rows_and_resumes_as_recorded(tmp_path):
    from deltaprop.data import load_dataset, split

    m = split(load_dataset("diabetes"), seed=3).train[0].shape[1]
    assert m == 442 - 88 - 44  # the 70/10/20 split of diabetes' 442 rows
    result = workflow.train(TrainSettings(seed=3, epochs=2), out=tmp_path / "r", plots=False)
    assert result.settings.alpha == 30 / m and result.net.alpha == 30 / m
    saved = load_checkpoint(tmp_path / "r" / "checkpoint.safetensors").settings
    assert saved["alpha"] == 30 / m  # what the run used, not "default"
    # a resume extends with the recorded λ; an explicit λ (0 too) is kept as given
    resumed = workflow.train(out=tmp_path / "r", resume=True, changes={"epochs": 3}, plots=False)
    assert resumed.settings.alpha == resumed.net.alpha == 30 / m
    explicit = workflow.train(TrainSettings(epochs=1, alpha=0.0), out=tmp_path / "z", plots=False)
    assert explicit.settings.alpha == explicit.net.alpha == 0.0
    with pytest.raises(SettingsError, match="alpha"):
        TrainSettings(alpha=-1.0)
