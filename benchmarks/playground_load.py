"""A bounded load test of the playground server, on 127.0.0.1 only (docs/playground.md).

Starts ``python -m deltaprop.web.playground --port 0 --no-browser`` as a subprocess (so its
memory is its own), then, for each round, opens ``--sessions`` websocket sessions at once,
presses play in each, and for ``--duration`` seconds counts the frames every session receives
and times a ping/pong round trip in each session and a GET of the page once a second (is the
server still responsive?). Then every session pauses and closes, and the server's resident
memory, thread count and open sessions are read again. A second round of the same load shows
whether anything grows from round to round (a leak).

    python benchmarks/playground_load.py                       # 20 sessions x 30 s, 2 rounds
    python benchmarks/playground_load.py --sessions 5 --duration 5 --rounds 1   # a quick look

Only ever connects to the server it started on 127.0.0.1 (there is no option for another
address). Prints a summary; ``--out FILE`` writes everything as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HOST = "127.0.0.1"


def proc_status(pid: int) -> dict[str, float]:
    """Resident memory (MiB) and thread count of ``pid`` from /proc (Linux)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss_mib"] = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def get(url: str) -> tuple[float, bytes]:
    """GET ``url`` without any proxy; (seconds, body)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    t = time.perf_counter()
    with opener.open(url, timeout=10) as r:
        body = r.read()
    return time.perf_counter() - t, body


def health(port: int) -> dict:
    return json.loads(get(f"http://{HOST}:{port}/health")[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def session(port: int, duration: float, speed: int, start: asyncio.Event) -> dict:
    from websockets.asyncio.client import connect

    origin = f"http://{HOST}:{port}"
    frames: list[tuple[float, int]] = []
    pings: list[float] = []
    errors: list[str] = []
    async with connect(
        f"ws://{HOST}:{port}/ws", origin=origin, proxy=None, max_size=4 * 2**20
    ) as ws:
        for _ in range(3):  # hello, data, frame
            await ws.recv()
        await ws.send(json.dumps({"type": "configure", "settings": {"speed": speed}}))
        await start.wait()
        await ws.send(json.dumps({"type": "play"}))
        t0 = time.perf_counter()
        sent: dict[int, float] = {}
        next_ping, k = t0 + 0.5, 0
        while time.perf_counter() - t0 < duration:
            now = time.perf_counter()
            if now >= next_ping:
                sent[k] = now
                await ws.send(json.dumps({"type": "ping", "id": k}))
                k, next_ping = k + 1, now + 1.0
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=max(0.01, next_ping - now))
            except asyncio.TimeoutError:
                continue
            msg = json.loads(text)
            if msg["type"] == "frame":
                frames.append((time.perf_counter() - t0, msg["step"]))
            elif msg["type"] == "pong":
                pings.append(time.perf_counter() - sent.pop(msg["id"]))
            elif msg["type"] == "error":
                errors.append(msg["message"])
        await ws.send(json.dumps({"type": "pause"}))
    span = frames[-1][0] - frames[0][0] if len(frames) > 1 else float("nan")
    return {
        "frames": len(frames),
        "frame_rate": (len(frames) - 1) / span if len(frames) > 1 else 0.0,
        "steps_per_s": (frames[-1][1] - frames[0][1]) / span if len(frames) > 1 else 0.0,
        "max_gap_s": max(
            (b[0] - a[0] for a, b in itertools.pairwise(frames)), default=float("nan")
        ),
        "pings_s": pings,
        "errors": errors,
    }


async def one_round(port: int, n: int, duration: float, speed: int, pid: int) -> dict:
    start = asyncio.Event()
    tasks = [asyncio.create_task(session(port, duration, speed, start)) for _ in range(n)]
    while health(port)["sessions"] < n:
        await asyncio.sleep(0.05)
    during = {"before_play": proc_status(pid)}
    start.set()
    page_times: list[float] = []
    samples = []
    t0 = time.perf_counter()
    while not all(t.done() for t in tasks):
        await asyncio.sleep(1.0)
        dt, body = await asyncio.to_thread(get, f"http://{HOST}:{port}/")
        assert b"deltaprop playground" in body
        page_times.append(dt)
        samples.append({"t": round(time.perf_counter() - t0, 1), **proc_status(pid)})
    results = [t.result() for t in tasks]
    deadline = time.monotonic() + 10
    while health(port)["sessions"] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    after = {**proc_status(pid), "sessions": health(port)["sessions"]}
    rates = [r["frame_rate"] for r in results]
    pings = [p for r in results for p in r["pings_s"]]
    return {
        "sessions": n,
        "duration_s": duration,
        "speed": speed,
        "frame_rate_median": statistics.median(rates),
        "frame_rate_min": min(rates),
        "steps_per_s_median": statistics.median(r["steps_per_s"] for r in results),
        "max_frame_gap_s": max(r["max_gap_s"] for r in results),
        "ping_ms_median": 1000 * statistics.median(pings) if pings else None,
        "ping_ms_p95": 1000 * pct(pings, 0.95),
        "ping_ms_max": 1000 * max(pings) if pings else None,
        "page_get_ms_median": 1000 * statistics.median(page_times) if page_times else None,
        "page_get_ms_max": 1000 * max(page_times) if page_times else None,
        "errors": sorted({e for r in results for e in r["errors"]}),
        "memory": {**during, "samples": samples, "after_close": after},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of play per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--speed", type=int, default=200, help="steps per second each session asks")
    ap.add_argument("--out", default=None, help="write the JSON result here")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 32 or not 0 < args.duration <= 120 or not 1 <= args.rounds <= 5:
        ap.error("bounded: 1..32 sessions (the server's limit), up to 120 s, 1..5 rounds")

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deltaprop.web.playground",
            "--host",
            HOST,
            "--port",
            "0",
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        port = int(line.split(f"http://{HOST}:")[1].split("/")[0])
        load_before = os.getloadavg()
        rounds = []
        baseline = proc_status(server.pid)
        for r in range(args.rounds):
            res = asyncio.run(one_round(port, args.sessions, args.duration, args.speed, server.pid))
            rounds.append(res)
            mem = res["memory"]
            print(
                f"round {r + 1}: {args.sessions} sessions x {args.duration:g} s at {args.speed} "
                f"steps/s asked: frames/s per session median {res['frame_rate_median']:.1f} "
                f"(min {res['frame_rate_min']:.1f}), steps/s median "
                f"{res['steps_per_s_median']:.0f}, longest gap {res['max_frame_gap_s']:.2f} s; "
                f"ping median {res['ping_ms_median']:.0f} ms, p95 {res['ping_ms_p95']:.0f} ms; "
                f"GET / median {res['page_get_ms_median']:.0f} ms; RSS "
                f"{mem['before_play']['rss_mib']:.0f} -> "
                f"{max(s['rss_mib'] for s in mem['samples']):.0f} (peak) -> "
                f"{mem['after_close']['rss_mib']:.0f} MiB after close, threads "
                f"{mem['after_close']['threads']}, fds {mem['after_close']['fds']}, open "
                f"sessions {mem['after_close']['sessions']}; errors {res['errors'] or 'none'}",
                flush=True,
            )
        result = {
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "cpus": os.cpu_count(),
            "baseline": baseline,
            "rounds": rounds,
        }
        if len(rounds) > 1:
            growth = (
                rounds[-1]["memory"]["after_close"]["rss_mib"]
                - rounds[0]["memory"]["after_close"]["rss_mib"]
            )
            result["rss_growth_between_rounds_mib"] = growth
            print(f"RSS after close, last round minus first: {growth:+.1f} MiB")
        print(f"load average before {load_before}, after {result['loadavg_after']}")
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
