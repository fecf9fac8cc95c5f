"""What periodic checkpoints cost a long run of short epochs (docs/reliability.md).

A tiny network (``--hidden 4 --batch-size 1000 --patience 0``: one batch per epoch, no early
stop) trained by :func:`deltaprop.workflow.train` for ``--epochs`` epochs, two contenders
interleaved in this one process, ``--repeats`` times each:

* ``every 10`` — a checkpoint every 10 epochs (the default ``--checkpoint-every``);
* ``off`` — ``checkpoint_every`` larger than the run (the command line's way to turn them off).

Printed: each contender's median epochs per second and their ratio, and the median time of one
periodic checkpoint write (``CheckpointEvery.on_epoch_end`` on a due epoch) near epoch 1000
and near the last epoch, from the ``every 10`` runs (only due epochs that wrote: the file was
replaced). Run it with the load average beside it::

    uptime; python benchmarks/checkpoint_cost.py --epochs 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from deltaprop import io, workflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default="diabetes")
    args = parser.parse_args()

    writes: dict[int, list[float]] = {}
    original = io.CheckpointEvery.on_epoch_end

    def inode(path: Path) -> int | None:
        return path.stat().st_ino if path.exists() else None

    def timed(self, state, net):  # type: ignore[no-untyped-def]
        before = inode(self.path)
        start = time.perf_counter()
        original(self, state, net)
        elapsed = time.perf_counter() - start
        if inode(self.path) != before:  # written (replaced), not skipped
            writes.setdefault(state.epoch, []).append(elapsed)

    io.CheckpointEvery.on_epoch_end = timed  # type: ignore[method-assign]
    base = workflow.TrainSettings(
        data=args.data, hidden=(4,), batch_size=1000, patience=0, epochs=args.epochs
    )
    contenders = {"every 10": 10, "off": args.epochs + 1}
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    seconds: list[float] = []  # the "every 10" runs' training times
    for _ in range(args.repeats):
        for name, every in contenders.items():
            with tempfile.TemporaryDirectory() as out:
                result = workflow.train(base.replace(checkpoint_every=every), out=out, plots=False)
            rates[name].append(args.epochs / result.seconds)
            if name == "every 10":
                seconds.append(result.seconds)
    for name, r in rates.items():
        print(f"{name:9s} {statistics.median(r):8.0f} epochs/s  (runs: {[round(x) for x in r]})")
    ratio = statistics.median(rates["every 10"]) / statistics.median(rates["off"])
    print(f"every 10 / off: {ratio:.3f}")
    for centre in (1000, args.epochs - 100):
        near = [t for e, ts in writes.items() if abs(e - centre) <= 100 for t in ts]
        if near:
            median, mean = statistics.median(near) * 1e3, statistics.mean(near) * 1e3
            print(
                f"one periodic write near epoch {centre}: median {median:.2f} ms, mean "
                f"{mean:.2f} ms ({len(near)} writes)"
            )
    every = [t for ts in writes.values() for t in ts]
    if every:
        mean, share = statistics.mean(every) * 1e3, sum(every) / sum(seconds)
        print(f"all periodic writes: mean {mean:.2f} ms, {share:.0%} of the training time")


if __name__ == "__main__":
    main()
