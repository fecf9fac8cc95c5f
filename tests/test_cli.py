"""The deltaprop command: --help, --version, gradcheck (table and JSON), usage errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import deltaprop


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "deltaprop", *args], capture_output=True, text=True, timeout=300
    )


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"deltaprop {deltaprop.__version__}"
    r = run("--help")
    assert r.returncode == 0 and "gradcheck" in r.stdout


def test_gradcheck_json_reports_ok():
    r = run("gradcheck", "--layers", "4,8,8,2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True and out["max_rel_error"] < 1e-6
    assert [row["layer"] for row in out["layers"]] == [1, 2, 3]


def test_gradcheck_table():
    r = run("gradcheck", "--layers", "3,5,1", "--hidden", "tanh", "--batch", "4")
    assert r.returncode == 0, r.stderr
    assert "max relative error" in r.stdout and "ok" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gradcheck", "--layers", "4,x,2"], "--layers must be comma-separated integers"),
        (["gradcheck", "--layers", "4,0,2"], "--layers values must be >= 1"),
        (["gradcheck", "--layers", "4"], "at least an input and an output width"),
        (["gradcheck", "--hidden", "rellu"], "unknown hidden 'rellu'; known activations"),
        (["gradcheck", "--loss", "nope"], "unknown loss 'nope'"),
        (["gradcheck", "--batch", "0"], "--batch-size must be >= 1"),
        (["gradcheck", "--nonsense"], "No such option"),
        (["frobnicate"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, message):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
