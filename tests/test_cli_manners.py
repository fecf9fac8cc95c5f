"""CLI manners (issue 15): bare `deltaprop` and `-h` print the normal help, the top-level help
shows each command's whole summary, gradcheck spells its options as train does (the old
spellings still work), a missing optional dependency is a usage error (exit 2)."""

from __future__ import annotations

import json

import pytest

from deltaprop.cli import main


def cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_bare_deltaprop_and_dash_h_print_the_normal_help(capsys, monkeypatch):
    code, out, err = cli(capsys)
    assert code == 0 and err == "" and out.startswith("Usage: deltaprop")
    commands = out.split("Commands:")[1]
    assert "\n  train " in commands and "..." not in commands  # whole summaries
    code, out, _ = cli(capsys, "-h")
    assert code == 0 and "Commands" in out
    code, out, _ = cli(capsys, "train", "-h")
    assert code == 0 and "--task" in out and "auto|regression|classification" in out


def test_gradcheck_takes_trains_option_names_and_the_old_ones(capsys):
    code, out, err = cli(capsys, "gradcheck", "--hidden", "3,5", "--activation", "tanh",
                         "--batch-size", "4", "--json")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and [r["layer"] for r in report["layers"]] == [1, 2, 3]
    code, out, err = cli(capsys, "gradcheck", "--layers", "2,3,1", "--hidden", "tanh",
                         "--batch", "3", "--json")  # fmt: skip
    assert code == 0, err  # --hidden NAME and --batch: the old spellings
    code, _, err = cli(capsys, "gradcheck", "--layers", "2,3,1", "--hidden", "4")
    assert code == 2 and "not both" in err
    code, out, _ = cli(capsys, "gradcheck", "--help")
    assert "--batch-size" in out and "relu|tanh|sigmoid" in out


def test_a_missing_optional_dependency_exits_2_naming_the_extra(capsys, monkeypatch):
    from deltaprop import workflow

    def needs_dask(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'dask'", name="dask")

    monkeypatch.setattr(workflow, "train", needs_dask)
    code, _, err = cli(capsys, "train", "--scheduler", "local")
    assert code == 2 and "pip install 'deltaprop[dask]'" in err
