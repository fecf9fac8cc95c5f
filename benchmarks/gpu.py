"""One training step on a GPU: deltaprop (PyTorch and CuPy backends) against its peers.

The step is DESIGN.md's: forward, backward (equations (ii) and (i)), SGD update, float32,
samples as columns. Configurations (DESIGN.md, ``xl`` is GPU only):

======  ==========================  =====
name    sizes                       batch
======  ==========================  =====
tiny    10-64-64-1                  32
medium  100-256-256-256-1           256
large   1024-2048-2048-1            1024
xl      4096-8192-8192-8192-1       8192
======  ==========================  =====

Engines, timed in the same process, interleaved, medians over ``--repeats`` rounds of
``--steps`` steps each (CUDA synchronised around each round, never inside):

* ``deltaprop-torch``: ``Network(backend="torch", device=DEVICE)``, ``net._gradients`` and
  ``deltaprop.optim.SGD`` (what ``deltaprop.training.fit`` runs per batch);
* ``deltaprop-torch-graph``: the same step captured once as a CUDA graph and replayed
  (parameters updated in place), which removes the per-kernel launch cost of small networks;
* ``deltaprop-cupy`` and ``deltaprop-cupy-graph``: the same on ``backend="cupy"``;
* peers: ``torch-eager`` (``nn.Linear`` layers, autograd, the same SGD step) and ``jax-jit``
  (the whole step under ``jax.jit``);
* ``floor``: the step's matrix products alone (cuBLAS through PyTorch, preallocated):
  forward :math:`W^{[l]} A^{[l-1]}`, backward :math:`W^{[l+1]T}\\delta^{[l+1]}` and
  :math:`\\delta^{[l]} A^{[l-1]T}`.

Ratios deltaprop / peer are printed beside the ms per step. ``--precision`` adds runs of
deltaprop-torch (and cupy) under ``deltaprop._array.matmul_precision("tf32"/"bf16")`` with the
accuracy cost: the largest relative difference of one step's gradients from float64 on the same
GPU, next to float32's own.

Run on a machine with an NVIDIA GPU, from the repository root::

    pip install -e ".[torch,gpu]" "jax[cuda12]"     # whatever of these the machine allows
    python benchmarks/gpu.py --json --out gpu.json  # every config, every engine available
    python benchmarks/gpu.py --configs tiny,medium --precision

Engines whose library is missing are reported as unavailable, not as failures.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

CONFIGS = {
    "tiny": ([10, 64, 64, 1], 32),
    "medium": ([100, 256, 256, 256, 1], 256),
    "large": ([1024, 2048, 2048, 1], 1024),
    "xl": ([4096, 8192, 8192, 8192, 1], 8192),
}
LR = 1e-3
DEVICE = "cuda"  # "cpu" with --smoke-cpu: checks the code paths on a machine without a GPU


def _data(sizes: list[int], m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((sizes[0], m)).astype(np.float32)
    Y = rng.standard_normal((sizes[-1], m)).astype(np.float32)
    return X, Y


# --- engines: each returns (step, sync); step() runs one training step ------------------------


def _torch_sync() -> Callable[[], None]:
    import torch

    return torch.cuda.synchronize if DEVICE == "cuda" else (lambda: None)


def deltaprop_torch(sizes: list[int], m: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import torch

    import deltaprop as dp
    from deltaprop.optim import SGD

    net = dp.Network(sizes, seed=0, dtype="float32", backend="torch", device=DEVICE)
    Xh, Yh = _data(sizes, m)
    X, Y = torch.asarray(Xh, device=DEVICE), torch.asarray(Yh, device=DEVICE)
    opt = SGD(lr=LR)

    def step() -> None:
        _, dW, db = net._gradients(X, Y)
        opt.step(net, dW, db)

    return step, _torch_sync()


def _inplace_step(net: Any, X: Any, Y: Any) -> Callable[[], None]:
    """One step whose update writes into the parameters' own memory (graph-capturable)."""

    def step() -> None:
        _, dW, db = net._gradients(X, Y)
        for l in range(1, net.L + 1):
            W, b = net.W[l], net.b[l]
            W -= LR * dW[l]  # in place: the captured graph keeps updating the same arrays
            b -= LR * db[l]

    return step


def deltaprop_torch_graph(sizes: list[int], m: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import torch

    import deltaprop as dp

    if DEVICE != "cuda":
        raise RuntimeError("CUDA graphs need a CUDA device")
    net = dp.Network(sizes, seed=0, dtype="float32", backend="torch", device=DEVICE)
    Xh, Yh = _data(sizes, m)
    X, Y = torch.asarray(Xh, device=DEVICE), torch.asarray(Yh, device=DEVICE)
    eager = _inplace_step(net, X, Y)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up on a side stream, as torch.cuda.graphs requires
        for _ in range(3):
            eager()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        eager()
    return graph.replay, _torch_sync()


def _cupy_sync() -> Callable[[], None]:
    import cupy

    return cupy.cuda.Device().synchronize


def deltaprop_cupy(sizes: list[int], m: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import cupy

    import deltaprop as dp
    from deltaprop.optim import SGD

    net = dp.Network(sizes, seed=0, dtype="float32", backend="cupy")
    Xh, Yh = _data(sizes, m)
    X, Y = cupy.asarray(Xh), cupy.asarray(Yh)
    opt = SGD(lr=LR)

    def step() -> None:
        _, dW, db = net._gradients(X, Y)
        opt.step(net, dW, db)

    return step, _cupy_sync()


def deltaprop_cupy_graph(sizes: list[int], m: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import cupy

    import deltaprop as dp

    net = dp.Network(sizes, seed=0, dtype="float32", backend="cupy")
    Xh, Yh = _data(sizes, m)
    X, Y = cupy.asarray(Xh), cupy.asarray(Yh)
    eager = _inplace_step(net, X, Y)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        for _ in range(3):
            eager()
        stream.synchronize()
        stream.begin_capture()
        eager()
        graph = stream.end_capture()

    def replay() -> None:
        graph.launch(stream)

    return replay, stream.synchronize


def torch_eager(sizes: list[int], m: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import torch

    layers: list[Any] = []
    for l in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[l - 1], sizes[l]))
        if l < len(sizes) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(DEVICE)
    Xh, Yh = _data(sizes, m)
    X = torch.asarray(Xh.T.copy(), device=DEVICE)  # PyTorch's convention: samples are rows
    Y = torch.asarray(Yh.T.copy(), device=DEVICE)
    params = list(model.parameters())

    def step() -> None:
        J = ((model(X) - Y) ** 2).sum(dim=1).mean()  # the same MSE: sum over outputs
        J.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None

    return step, _torch_sync()


def jax_jit(sizes: list[int], m: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import jax
    import jax.numpy as jnp

    if DEVICE == "cuda" and not any(d.platform == "gpu" for d in jax.devices()):
        raise RuntimeError(f"JAX sees no GPU (devices: {jax.devices()})")
    import deltaprop as dp

    net = dp.Network(sizes, seed=0, dtype="float32")
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.W, net.b)]
    Xh, Yh = _data(sizes, m)
    X, Y = jnp.asarray(Xh), jnp.asarray(Yh)

    def cost(params: Any, X: Any, Y: Any) -> Any:
        A = X
        for i, (W, b) in enumerate(params):
            Z = W @ A + b
            A = jnp.maximum(Z, 0) if i < len(params) - 1 else Z
        return jnp.sum((A - Y) ** 2) / X.shape[1]

    @jax.jit
    def step_fn(params: Any, X: Any, Y: Any) -> Any:
        grads = jax.grad(cost)(params, X, Y)
        return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)

    state = {"params": params}

    def step() -> None:
        state["params"] = step_fn(state["params"], X, Y)

    def sync() -> None:
        jax.block_until_ready(state["params"])

    return step, sync


def floor(sizes: list[int], m: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import torch

    L = len(sizes) - 1
    W = [None] + [torch.randn(sizes[l], sizes[l - 1], device=DEVICE) for l in range(1, L + 1)]
    A = [torch.randn(sizes[l], m, device=DEVICE) for l in range(L + 1)]
    D = [None] + [torch.randn(sizes[l], m, device=DEVICE) for l in range(1, L + 1)]
    Z = [None] + [torch.empty(sizes[l], m, device=DEVICE) for l in range(1, L + 1)]
    dW = [None] + [torch.empty_like(W[l]) for l in range(1, L + 1)]
    back = [None] + [torch.empty(sizes[l], m, device=DEVICE) for l in range(1, L + 1)]

    def step() -> None:
        for l in range(1, L + 1):
            torch.matmul(W[l], A[l - 1], out=Z[l])  # forward
        for l in range(L, 0, -1):
            if l < L:
                torch.matmul(W[l + 1].T, D[l + 1], out=back[l])  # (i)'s product
            torch.matmul(D[l], A[l - 1].T, out=dW[l])  # δ^[l] A^[l-1]ᵀ

    return step, _torch_sync()


ENGINES: dict[str, Callable[[list[int], int], tuple[Callable[[], Any], Callable[[], None]]]] = {
    "deltaprop-torch": deltaprop_torch,
    "deltaprop-torch-graph": deltaprop_torch_graph,
    "deltaprop-cupy": deltaprop_cupy,
    "deltaprop-cupy-graph": deltaprop_cupy_graph,
    "torch-eager": torch_eager,
    "jax-jit": jax_jit,
    "floor": floor,
}


# --- timing ------------------------------------------------------------------------------------


def _time(step: Callable[[], Any], sync: Callable[[], None], steps: int) -> float:
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t0) / steps * 1e3  # ms per step


def run_config(name: str, engines: list[str], repeats: int, steps: int, warmup: int) -> dict:
    sizes, m = CONFIGS[name]
    ready: dict[str, tuple[Callable[[], Any], Callable[[], None]]] = {}
    result: dict[str, Any] = {"sizes": sizes, "batch": m, "ms": {}, "unavailable": {}}
    for e in engines:
        try:
            step, sync = ENGINES[e](sizes, m)
            for _ in range(warmup):
                step()
            sync()
            ready[e] = (step, sync)
        except ImportError as err:
            result["unavailable"][e] = f"ImportError: {err}"
        except Exception as err:  # report and go on: one engine must not sink the table
            result["unavailable"][e] = f"{type(err).__name__}: {err}"
            traceback.print_exc(file=sys.stderr)
    samples: dict[str, list[float]] = {e: [] for e in ready}
    for _ in range(repeats):  # interleaved: every engine once per round
        for e, (step, sync) in ready.items():
            samples[e].append(_time(step, sync, steps))
    result["ms"] = {e: statistics.median(v) for e, v in samples.items()}
    result["ms_all"] = samples
    ms = result["ms"]
    ratios = {}
    for mine in (
        "deltaprop-torch",
        "deltaprop-torch-graph",
        "deltaprop-cupy",
        "deltaprop-cupy-graph",
    ):
        for peer in ("torch-eager", "jax-jit", "floor"):
            if mine in ms and peer in ms:
                ratios[f"{mine} / {peer}"] = ms[mine] / ms[peer]
    result["ratios"] = ratios
    return result


# --- the precision flag: speed and accuracy ----------------------------------------------------


def _max_rel(a: list[Any], b: list[Any]) -> float:
    from deltaprop._array import to_numpy

    return max(
        float(
            np.max(np.abs(to_numpy(x).astype(np.float64) - to_numpy(y).astype(np.float64)))
            / np.max(np.abs(to_numpy(y)))
        )
        for x, y in zip(a, b)
    )


def run_precision(name: str, backend: str, repeats: int, steps: int) -> dict:
    import deltaprop as dp
    from deltaprop._array import matmul_precision

    sizes, m = CONFIGS[name]
    device = DEVICE if backend == "torch" else None
    net64 = dp.Network(sizes, seed=0, dtype="float64", backend=backend, device=device)
    net32 = net64.astype("float32")
    Xh, Yh = _data(sizes, m)
    xp = net32.xp
    X32, Y32 = (xp.asarray(a, device=device) if device else xp.asarray(a) for a in (Xh, Yh))
    X64, Y64 = (
        xp.asarray(a.astype(np.float64), device=device)
        if device
        else xp.asarray(a.astype(np.float64))
        for a in (Xh, Yh)
    )
    _, dW64, db64 = net64._gradients(X64, Y64)
    ref = [*dW64, *db64]
    out: dict[str, Any] = {}
    make = deltaprop_torch if backend == "torch" else deltaprop_cupy
    for precision in ("highest", "tf32", "bf16"):
        with matmul_precision(precision):
            _, dW, db = net32._gradients(X32, Y32)
            err = _max_rel([*dW, *db], ref)
            step, sync = make(sizes, m)
            for _ in range(3):
                step()
            ms = statistics.median(_time(step, sync, steps) for _ in range(repeats))
        out[precision] = {"ms": ms, "max_rel_grad_error_vs_float64": err}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="tiny,medium,large,xl")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=0, help="steps per round (0: by config)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--precision", action="store_true", help="also time TF32/bf16 and their error")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument(
        "--smoke-cpu",
        action="store_true",
        help="run on the CPU (no timings worth reading): checks the script itself",
    )
    args = p.parse_args()
    global DEVICE
    if args.smoke_cpu:
        DEVICE = "cpu"

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for c in configs:
        if c not in CONFIGS:
            p.error(f"--configs: unknown config {c!r}; choose from {', '.join(CONFIGS)}")
    for e in engines:
        if e not in ENGINES:
            p.error(f"--engines: unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    try:
        import torch

        if DEVICE == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch.cuda.is_available() is False")
        device_name = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu (smoke test)"
        # float32 without TF32 unless --precision asks: the baseline is IEEE float32
        torch.set_float32_matmul_precision("highest")
    except Exception as err:
        sys.exit(f"benchmarks/gpu.py needs PyTorch with a CUDA device: {err}")

    report: dict[str, Any] = {
        "device": device_name,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "configs": {},
    }
    default_steps = {"tiny": 200, "medium": 200, "large": 50, "xl": 5}
    for c in configs:
        steps = args.steps or default_steps[c]
        report["configs"][c] = run_config(c, engines, args.repeats, steps, args.warmup)
        if args.precision:
            prec = {}
            for backend in ("torch", "cupy"):
                try:
                    prec[backend] = run_precision(c, backend, max(3, args.repeats // 2), steps)
                except Exception as err:
                    prec[backend] = {"unavailable": f"{type(err).__name__}: {err}"}
            report["configs"][c]["precision"] = prec
        if not args.json:
            _print_config(c, report["configs"][c])
    if args.json:
        print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)


def _print_config(name: str, r: dict) -> None:
    print(f"\n{name} {'-'.join(map(str, r['sizes']))} batch {r['batch']}: ms per step (median)")
    for e, ms in r["ms"].items():
        print(f"  {e:24s} {ms:9.3f}")
    for e, why in r["unavailable"].items():
        print(f"  {e:24s} unavailable ({why.splitlines()[0][:90]})")
    for k, v in r["ratios"].items():
        print(f"  {k:42s} {v:6.2f}")
    for backend, prec in r.get("precision", {}).items():
        for p, v in prec.items():
            if isinstance(v, dict):
                print(
                    f"  {backend} {p:8s} {v['ms']:9.3f} ms, max rel. grad error vs float64 "
                    f"{v['max_rel_grad_error_vs_float64']:.1e}"
                )
            else:
                print(f"  {backend} precision runs: {v}")


if __name__ == "__main__":
    main()
