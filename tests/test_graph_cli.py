"""`deltaprop blowup`: the table, --json rows, extrapolation beyond the budget, --plot, errors.

The expected counts are the hand-derived closed forms written out here (fanout: 6n for
back-propagation, (n+3) 2^n − 3 for the naive chain rule, 2^n paths).
"""

from __future__ import annotations

import json
import os

import pytest

from deltaprop.cli import main
from deltaprop.graph.study import blowup
from deltaprop.plots import plot_blowup


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_json_rows_follow_the_closed_forms(capsys):
    code, out, err = run(capsys, "blowup", "--family", "fanout", "--max-depth", "8", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["depth"] for r in rows] == list(range(1, 9))
    for r in rows:
        n = r["depth"]
        assert r["family"] == "fanout"
        assert r["n_paths"] == 2**n and r["n_edges"] == 2 * n
        assert r["backprop_ops"] == 6 * n
        assert r["naive_ops"] == (n + 3) * 2**n - 3
        assert r["paths_ops"] == n + 5 * (2**n - 1)
        assert not (
            r["backprop_extrapolated"] or r["naive_extrapolated"] or r["paths_extrapolated"]
        )
        assert r["ratio_ops"] == pytest.approx(r["naive_ops"] / r["backprop_ops"])
        assert r["naive_seconds"] > 0 and r["ratio_seconds"] > 0


def test_runs_over_the_budget_are_extrapolated_not_started(capsys):
    # a budget no run can meet: only the calibrating first depth runs the exponential methods
    code, out, err = run(
        capsys, "blowup", "--family", "fibonacci", "--max-depth", "25", "--budget", "1e-9", "--json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert [r["naive_extrapolated"] for r in rows] == [False] + [True] * 24
    assert [r["paths_extrapolated"] for r in rows] == [False] + [True] * 24
    assert not any(r["backprop_extrapolated"] for r in rows)
    fib = [0, 1]
    while len(fib) < 30:
        fib.append(fib[-1] + fib[-2])
    last = rows[-1]
    assert last["n_paths"] == fib[27] == 196418
    assert last["backprop_ops"] == 150
    # extrapolated seconds: the count times the first run's seconds per operation
    rate = rows[0]["naive_seconds"] / rows[0]["naive_ops"]
    assert last["naive_seconds"] == pytest.approx(last["naive_ops"] * rate)


def test_table_fits_80_columns_and_marks_extrapolation(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(
        capsys, "blowup", "--family", "fanout", "--max-depth", "30", "--budget", "0.05"
    )
    assert code == 0, err
    assert "fanout: x_k = x_{k-1} * x_{k-1}" in out
    assert "…" not in out  # no number cut short
    assert max(len(line) for line in out.splitlines()) <= 80
    line = next(line for line in out.splitlines() if line.split()[:1] == ["30"])
    assert "1.1e9" in line and "180" in line and "*" in line  # 2^30 paths, 6·30 ops, extrapolated
    assert "extrapolated" in out


def test_mlp_family_in_the_table(capsys):
    code, out, err = run(capsys, "blowup", "--family", "mlp", "--max-depth", "3")
    assert code == 0, err
    assert "widths [n_in, width, ..., width, 1]" in out  # brackets survive rich markup


def test_plot_writes_a_png(tmp_path, capsys):
    target = tmp_path / "blowup.png"
    code, out, err = run(
        capsys, "blowup", "--family", "chain", "--max-depth", "6", "--plot", str(target)
    )
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {target}" in out.replace("\n", "")


def test_plot_blowup_takes_json_rows_and_needs_at_least_one(tmp_path):
    with pytest.raises(ValueError, match="at least one depth"):
        plot_blowup([], tmp_path / "c.png")


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DELTAPROP_SLOW"), reason="set DELTAPROP_SLOW=1 (a second figure)"
)
def test_plot_blowup_from_json_rows_with_extrapolated_points(tmp_path):
    rows = blowup("fibonacci", 5, budget=1e-9)
    path = plot_blowup([r.to_dict() for r in rows], tmp_path / "b.png", title="fibonacci")
    assert path == tmp_path / "b.png" and path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--family", "tree"],
            "unknown family 'tree'; known families: chain, fanout, fibonacci, mlp",
        ),
        (["--max-depth", "0"], "--max-depth must be >= 1; got 0"),
        (["--budget", "0"], "--budget must be > 0 seconds; got 0.0"),
        (["--max-depth", "x"], "Invalid value for '--max-depth'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(capsys, args, message):
    code, out, err = run(capsys, "blowup", *args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_study_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_depth must be >= min_depth = 3; got 2"):
        blowup("chain", 2, min_depth=3)
    with pytest.raises(ValueError, match="budget must be > 0 seconds"):
        blowup("chain", 2, budget=-1)
    with pytest.raises(TypeError, match="family must be a family name or a Family"):
        blowup(3, 2)
