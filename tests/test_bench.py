"""The benchmark harness (deltaprop._bench, ``deltaprop bench``): correctness, not speed.

No timing is asserted anywhere (machines are noisy): these tests check that every contender
takes the same step from the same weights, that the harness interleaves and reduces its
samples as documented (on fake contenders with hand-made times), that the targets are judged
as the issue states them, that the FLOP and memory budgets are the hand-counted ones, and that
the JSON has its documented shape.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from deltaprop import _bench
from deltaprop.cli import main

SMALL = ([5, 7, 6, 1], 9)


SLOW = pytest.mark.skipif(
    not os.environ.get("DELTAPROP_SLOW"), reason="slow (imports PyTorch): set DELTAPROP_SLOW=1"
)


def _installed(names):
    out = []
    for name in names:
        try:
            __import__(name)
        except ImportError:
            continue
        out.append(name)
    return out


CASES = [
    (*SMALL, "float64", 1e-9),  # one output
    ([4, 6, 3], 5, "float32", 1e-2),  # several outputs (scikit-learn's loss scale differs)
]


@pytest.mark.parametrize("sizes,m,dtype,tol", CASES)
def test_every_contender_takes_the_same_step(sizes, m, dtype, tol):
    peers = _installed(["sklearn", "jax"])
    p = _bench.Problem.make(sizes, m, dtype, lr=0.05)
    diff = _bench.agreement(p, peers)
    assert set(diff) == {"deltaprop-reference", *peers}
    assert diff["deltaprop-reference"] == 0.0  # the fast path is bit for bit the reference
    for name, d in diff.items():
        assert d <= tol, (name, d)


@pytest.mark.slow
@SLOW
@pytest.mark.parametrize("sizes,m,dtype,tol", CASES)
def test_torch_takes_the_same_step(sizes, m, dtype, tol):
    pytest.importorskip("torch")
    p = _bench.Problem.make(sizes, m, dtype, lr=0.05)
    assert _bench.agreement(p, ["torch"])["torch"] <= tol


def test_agreement_notices_a_peer_taking_another_step(monkeypatch):
    # scikit-learn's loss is half ours; without the doubled learning rate its step is half
    # ours, so the worst relative difference of the moves is 1/2.
    real = _bench.sklearn_contender

    def halved(p):
        q = _bench.Problem(p.sizes, p.m, p.dtype, p.lr / 2, p.X, p.Y, p.W0, p.b0)
        return real(q)

    monkeypatch.setitem(_bench._MAKERS, "sklearn", halved)
    p = _bench.Problem.make(*SMALL, "float64", lr=0.05)
    assert _bench.agreement(p, ["sklearn"])["sklearn"] == pytest.approx(0.5, rel=1e-6)


def test_flops_and_byte_budget_are_the_hand_counts():
    # sizes [5, 7, 6, 1], m = 9:
    #   forward products 2 m (7*5 + 6*7 + 1*6) = 18 * 83 = 1494
    #   backward: the dW products again (1494) + W^T δ for l = 2, 3: 18 * (42 + 6) = 864
    p = _bench.Problem.make(*SMALL, "float32")
    assert p.flops == {"forward": 1494, "backward": 1494 + 864}
    #   parameters 7*6 + 6*8 + 1*7 = 97 floats = 388 bytes; Z and A: 2 * 9 * (7 + 6 + 1) * 4
    assert p.nbytes == {"parameters": 388, "gradients": 388, "Z_and_A": 1008}


class _Fake:
    """A contender whose 'time' is a counter: records the order in which steps run."""

    def __init__(self, name, log):
        self.name, self.log = name, log

    def step(self):
        self.log.append(self.name)


def test_rounds_are_interleaved_and_rotated():
    log: list[str] = []
    fakes = [_Fake(n, log) for n in "abc"]
    cs = [_bench.Contender(f.name, f.step) for f in fakes]
    times = _bench.time_contenders(cs, repeats=3, min_sample_s=0.0, warmup_s=0.0)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    timed = log[-9:]  # after warm-up (2 steps each) and one calibration step each
    assert [timed[i] for i in (0, 3, 6)] == ["a", "b", "c"]  # round r starts with contender r
    assert timed[:3] == ["a", "b", "c"] and timed[3:6] == ["b", "c", "a"]


def test_ratios_are_medians_of_per_round_ratios():
    times = {"deltaprop": [1.0, 2.0, 9.0], "peer": [2.0, 2.0, 3.0], "floor": [1.0, 1.0, 1.0]}
    # per round: peer 0.5, 1.0, 3.0 -> median 1.0 (the ratio of medians would be 2/2 = 1.0 too,
    # but floor: 1, 2, 9 -> 2, while mean would be 4)
    assert _bench.ratios(times) == {"peer": 1.0, "floor": 2.0}


def test_targets_follow_the_issue():
    entry = {
        "config": "tiny",
        "dtype": "float32",
        "ratios": {"sklearn": 0.1, "torch": 0.2, "jax": 0.85, "floor": 3.0},
        "memory": {"ratio": 1.1},
    }
    t = _bench._targets(entry)
    assert t[0]["name"].endswith("(jax)")  # deltaprop / jax is the largest ratio: jax fastest
    assert not t[0]["met"] and t[0]["limit"] == 0.8
    assert t[1]["met"] and t[1]["limit"] == 1.2
    entry = {"config": "large", "dtype": "float32", "ratios": {"floor": 1.04}}
    assert _bench._targets(entry) == [
        {"name": "deltaprop / floor", "value": 1.04, "limit": 1.05, "met": True}
    ]
    entry = {"config": "medium", "dtype": "float64", "ratios": {"sklearn": 0.51}}
    assert not _bench._targets(entry)[0]["met"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_step_memory_within_budget_and_below_the_reference(dtype):
    p = _bench.Problem.make([32, 128, 128, 1], 64, dtype)
    fast = _bench.step_memory(p)
    ref = _bench.step_memory(p, reference=True)
    # The gradients alone: parameters + workspace (Z, and A of the ReLU layers) + gradients,
    # nothing else parameter- or activation-sized. (The optimiser's own state, if any, is
    # in fast["peak_bytes"] and not judged here.)
    nb = p.nbytes
    item = np.dtype(dtype).itemsize
    workspace = (64 * (128 + 128 + 1) + 64 * (128 + 128) + 2 * 64) * item
    expected = nb["parameters"] + workspace + nb["gradients"]
    assert expected <= fast["gradients_peak_bytes"] <= expected + 16 * 1024
    assert fast["gradients_ratio"] <= _bench.MEMORY_TARGET
    assert fast["gradients_peak_bytes"] < ref["gradients_peak_bytes"]
    assert fast["peak_bytes"] >= fast["gradients_peak_bytes"]


def test_run_json_shape():
    result = _bench.run(["tiny"], ["float64"], ["sklearn"], repeats=2, min_sample_s=1e-3)
    json.dumps(result, allow_nan=False)
    (entry,) = result["results"]
    assert entry["config"] == "tiny" and entry["sizes"] == [10, 64, 64, 1] and entry["m"] == 32
    names = {"deltaprop", "deltaprop-reference", "sklearn", "floor"}
    assert set(entry["median_s"]) == names and set(entry["ratios"]) == names - {"deltaprop"}
    assert all(len(v) == 2 for v in entry["samples_s"].values())
    assert {t["name"] for t in entry["targets"]} == {
        "deltaprop / sklearn",
        "peak memory / (params + grads + Z + A)",
    }
    assert result["machine"]["cores"] >= 1 and result["machine"]["threadpools"]
    assert isinstance(result["all_targets_met"], bool)
    headers, rows = _bench.table(result)
    assert len(rows) == 1 and len(rows[0]) == len(headers)
    assert "| tiny | float64 |" in _bench.markdown(result)


def test_scaling_shape_and_flop_ratio():
    s = _bench.scaling(
        depths=(2, 3), batches=(8, 16), width=8, m=8, depth=2, repeats=1, min_sample_s=1e-3
    )
    assert [pt["x"] for pt in s["depth"]] == [2, 3] and [pt["x"] for pt in s["batch"]] == [8, 16]
    # depth 2, widths [8, 8, 1]: forward 2m(64 + 8), backward that + 2m*8 -> 160/144
    assert s["depth"][0]["flop_ratio"] == pytest.approx(160 / 144)
    for key in ("slope", "intercept", "r2"):
        assert np.isfinite(s["depth_fit"][key])
    json.dumps(s, allow_nan=False)


def test_cli_bench_json(capsys):
    with pytest.raises(SystemExit) as e:
        main(
            [
                "bench",
                "--json",
                "--configs",
                "tiny",
                "--dtypes",
                "float32",
                "--peers",
                "sklearn",
                "--repeats",
                "1",
                "--min-sample-ms",
                "1",
                "--no-memory",
            ]
        )
    assert e.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["dtype"] == "float32" and "memory" not in out["results"][0]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--configs", "huge"], "--configs values must be among tiny, medium, large; got 'huge'"),
        (["--dtypes", "float16"], "--dtypes values must be among float32, float64"),
        (["--peers", ""], "--peers must list at least one"),
        (["--repeats", "0"], "--repeats must be >= 1; got 0"),
    ],
)
def test_cli_bench_bad_usage(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", *args])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# --- the fit benchmark (issue 14) ------------------------------------------------------------


def test_fit_contenders_train_alike_from_the_same_weights():
    p = _bench.FitProblem.make("tiny", "float64", n=640)
    assert p.updates == 10 and p.flops == 10 * (2 * 2 * (640 + 4096 + 64) + 2 * (4096 + 64)) * 64
    cs, skipped = _bench.fit_contenders(p, _installed(["sklearn", "jax"]), floor=False)
    loss = _bench.fit_agreement(p, cs, epochs=3)
    assert loss["deltaprop"] < 0.5 * loss["initial"]
    for name, v in loss.items():
        if name != "initial":
            assert 0.5 <= v / loss["deltaprop"] <= 2.0, (name, loss)


def test_fit_run_json_shape_and_targets():
    out = _bench.fit_run(["tiny"], ["float32"], [], repeats=1, check_epochs=0, engines=[])
    (r,) = out["results"]
    assert set(r["median_s"]) == {"deltaprop", "DeltaPropRegressor", "floor"}
    assert set(r["median_cpu_s"]) == set(r["median_wall_s"]) == set(r["median_s"])
    assert r["updates_per_epoch"] == 320 and "floor" in r["ratios"]
    assert [t["name"] for t in r["targets"]] == []  # tiny has no floor target; no peers
    json.dumps(out)
    entry = {"config": "medium", "ratios": {"sklearn": 0.5, "torch": 1.2, "floor": 1.2}}
    got = {t["name"]: t["met"] for t in _bench._fit_targets(entry)}
    assert got == {
        "deltaprop / sklearn": True,
        "deltaprop / torch": False,
        "deltaprop / floor": True,
    }


def test_cli_bench_fit_json(capsys):
    args = ["bench", "--fit", "--configs", "tiny", "--dtypes", "float64", "--peers", "sklearn"]
    with pytest.raises(SystemExit) as e:
        main([*args, "--repeats", "1", "--engines", "", "--json"])
    assert e.value.code == 0
    out = json.loads(capsys.readouterr().out)
    (r,) = out["results"]
    assert set(r["median_s"]) == {"deltaprop", "DeltaPropRegressor", "sklearn", "floor"}
    assert all(r["comparable"].values())
