"""The tutorials in docs/tutorials/ run: each jupytext Markdown notebook is executed by a real
kernel (nbclient), so a tutorial cannot rot. Their own cells assert the hand-worked numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is not installed (test extra)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (test extra)")

TUTORIALS = sorted((Path(__file__).parent.parent / "docs" / "tutorials").glob("*.md"))


def test_there_are_tutorials():
    names = [p.name for p in TUTORIALS]
    assert len(names) >= 3, names


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path, monkeypatch):
    nb = jupytext.read(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
