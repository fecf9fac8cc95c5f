"""Time per training step against depth and batch width (issue 6), and the figure of the docs.

Depth series: L layers (256 inputs, L - 1 hidden layers of 256 units, one output), L = 2..32,
batch 256. Batch series: L = 4 layers of the same kind, batch 32..8192. For each point the
step, the forward pass alone, and the matrix-product floor; the measured backward/forward
ratio is drawn beside the exact FLOP ratio of the products, which tends to 2 with depth (each
forward product has two backward products of its size, but layer 1 needs no W^T delta, and
the single output's products are small).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/scaling.py --out benchmarks/results/scaling.json \
        --plot docs/bench_scaling.png
"""

from __future__ import annotations

import argparse
import json
import sys

from deltaprop import _bench


def plot(s: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    d, b = s["depth"], s["batch"]

    ax = axes[0]
    xs = [p["x"] for p in d]
    ax.plot(xs, [1e3 * p["step_s"] for p in d], "o-", label="deltaprop step")
    ax.plot(xs, [1e3 * p["floor_s"] for p in d], "s--", label="floor (matrix products)")
    fit = s["depth_fit"]
    ax.plot(
        xs,
        [1e3 * (fit["slope"] * x + fit["intercept"]) for x in xs],
        ":",
        color="gray",
        label=f"linear fit, R² = {fit['r2']:.4f}",
    )
    ax.set_xlabel("depth L (L - 1 hidden layers of 256, one output)")
    ax.set_ylabel("ms per step")
    ax.set_title(f"depth, batch {d[0]['m']}")
    ax.legend()

    ax = axes[1]
    xs = [p["x"] for p in b]
    ax.loglog(xs, [1e3 * p["step_s"] for p in b], "o-", label="deltaprop step")
    ax.loglog(xs, [1e3 * p["floor_s"] for p in b], "s--", label="floor (matrix products)")
    x0, y0 = xs[-1], 1e3 * b[-1]["step_s"]
    ax.loglog(xs, [y0 * x / x0 for x in xs], ":", color="gray", label="slope 1 (linear)")
    ax.set_xlabel("batch width m")
    ax.set_ylabel("ms per step")
    ax.set_title(f"batch, L = {len(b[0]['sizes']) - 1}")
    ax.legend()

    ax = axes[2]
    ax.plot(
        [p["x"] for p in d],
        [p["backward_over_forward"] for p in d],
        "o-",
        label="deltaprop, vs depth",
    )
    ax.plot(
        [p["x"] for p in d],
        [p["floor_backward_over_forward"] for p in d],
        "s--",
        label="floor, vs depth",
    )
    ax.plot(
        [p["x"] for p in d], [p["flop_ratio"] for p in d], "k:", label="FLOP ratio of the products"
    )
    ax.set_xlabel("depth L")
    ax.set_ylabel("backward time / forward time")
    ax.set_ylim(0, max(4.0, max(p["backward_over_forward"] for p in d) * 1.1))
    ax.set_title("backward / forward")
    ax.legend()

    mach = s["machine"]
    blas = mach.get("numpy_blas") or {}
    fig.suptitle(
        f"deltaprop training step, {s['dtype']}: {mach['cpu']}, {mach['cores']} cores, "
        f"OpenBLAS {blas.get('version')} ({blas.get('architecture')}, "
        f"{blas.get('num_threads')} threads)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--depths", default="2,4,8,12,16,24,32")
    ap.add_argument("--batches", default="32,64,128,256,512,1024,2048,4096,8192")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None, help="write the JSON result here")
    ap.add_argument("--plot", default=None, help="write the figure (PNG) here")
    args = ap.parse_args(argv)
    s = _bench.scaling(
        depths=[int(x) for x in args.depths.split(",")],
        batches=[int(x) for x in args.batches.split(",")],
        dtype=args.dtype,
        repeats=args.repeats,
    )
    for kind in ("depth", "batch"):
        print(f"{kind}: fit {s[kind + '_fit']}")
        for p in s[kind]:
            print(
                f"  {kind} {p['x']:>5}: step {1e3 * p['step_s']:8.3f} ms, floor "
                f"{1e3 * p['floor_s']:8.3f} ms, step/floor {p['step_over_floor']:.2f}, "
                f"bwd/fwd {p['backward_over_forward']:.2f} (floor "
                f"{p['floor_backward_over_forward']:.2f}, FLOPs {p['flop_ratio']:.3f}), "
                f"{p['gflops']:.1f} GFLOP/s"
            )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(s, f, indent=1, allow_nan=False)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.plot:
        plot(s, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
