"""The full training-step comparison behind docs/performance.md (issue 6).

One training step (forward, backward, SGD update) of deltaprop's fit loop against its own
reference path, scikit-learn's MLPRegressor, PyTorch eager, JAX jit and the matrix-product
floor, on DESIGN.md's tiny, medium and large networks in float32 and float64. The harness is
``deltaprop._bench`` (``deltaprop bench`` runs a short version of the same).

    # the command of the docs' table (OpenBLAS's core type and L2 size unset for this run
    # only, so that NumPy's OpenBLAS picks its own kernels for this CPU; never in tests/CI)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/step_bench.py --out benchmarks/results/step.json

Prints the Markdown table and the targets; writes everything (per-round samples, machine,
BLAS, load average) as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys

from deltaprop import _bench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="tiny,medium,large")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--peers", default=",".join(_bench.PEERS))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-sample-ms", type=float, default=50.0)
    ap.add_argument(
        "--pause-ms",
        type=float,
        default=20.0,
        help="sleep between samples (lets other libraries' spinning threads rest)",
    )
    ap.add_argument("--out", default=None, help="write the JSON result here")
    args = ap.parse_args(argv)
    result = _bench.run(
        args.configs.split(","),
        args.dtypes.split(","),
        args.peers.split(","),
        repeats=args.repeats,
        min_sample_s=args.min_sample_ms / 1e3,
        pause_s=args.pause_ms / 1e3,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
    )
    print(_bench.markdown(result))
    print()
    for r in result["results"]:
        for t in r["targets"]:
            verdict = "met" if t["met"] else "MISSED"
            print(
                f"{r['config']:>6} {r['dtype']}: {t['name']} = {t['value']:.3f} "
                f"(<= {t['limit']:g}) {verdict}"
            )
        ms = {k: f"{1e3 * v:.3g}" for k, v in r["median_s"].items()}
        print(f"{'':>6} median ms: {ms}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1, allow_nan=False)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
