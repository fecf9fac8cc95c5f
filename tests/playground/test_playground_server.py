"""The playground server over real sockets: who it answers, what it refuses, that it goes on.

The server runs in a thread on a free port of 127.0.0.1 (``server`` fixture); the clients are
raw sockets and the ``websockets`` library, never a proxy.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
ws_client = pytest.importorskip("websockets.sync.client")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

from deltaprop.io import load_model  # noqa: E402


def http(server, path="/", host=None, origin=None, upgrade=False) -> tuple[int, dict, bytes]:
    """One raw HTTP/1.1 request to the server with exactly these headers."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host or server.host}", "Connection: close"]
    if origin:
        lines.append(f"Origin: {origin}")
    if upgrade:
        key = base64.b64encode(b"0123456789abcdef").decode()
        lines += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}"]
        lines += ["Sec-WebSocket-Version: 13"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if upgrade and b"\r\n\r\n" in data:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        headers[k.decode().lower()] = v.decode().strip()
    return status, headers, body


def connect(server, **kwargs):
    kwargs.setdefault("origin", server.origin)
    return ws_client.connect(f"ws://{server.host}/ws", proxy=None, open_timeout=10, **kwargs)


def receive(ws, kind, timeout=10.0):
    """Messages until one of type ``kind``; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg["type"] == kind:
            return msg


@contextlib.contextmanager
def opened(server):
    """A websocket session past its greeting (hello, data, first frame)."""
    with connect(server) as ws:
        for kind in ("hello", "data", "frame"):
            assert json.loads(ws.recv(timeout=10))["type"] == kind
        yield ws


def test_the_page_and_its_assets_are_served_with_a_strict_policy(server):
    status, headers, body = http(server, "/")
    assert status == 200 and b"deltaprop playground" in body
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and headers["x-frame-options"] == "DENY"
    for path in ("/static/playground.js", "/static/playground.css"):
        assert http(server, path)[0] == 200
    assert http(server, "/static/../../pyproject.toml")[0] == 404
    assert http(server, "/static/%2e%2e/__init__.py")[0] == 404
    assert http(server, "/", host=f"localhost:{server.port}")[0] == 200


def test_every_asset_is_local(server):
    """No URL in the page, its script or its style points anywhere but this server."""
    import re

    for path in ("/", "/static/playground.js", "/static/playground.css"):
        body = http(server, path)[2].decode()
        if path == "/":
            for url in re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", body):
                assert url.startswith(("/", "data:", "#")), (path, url)
        remote = re.findall(r"https?://(?!www\.w3\.org/)[^\s\"'`]+", body)
        assert not remote, (path, remote)


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost", "127.0.0.1.nip.io:{port}"],
)
def test_a_foreign_host_is_refused_dns_rebinding(server, host):
    host = host.format(port=server.port)
    status, _, body = http(server, "/", host=host)
    assert status == 403 and b"Host" in body
    status, _, _ = http(server, "/ws", host=host, origin=f"http://{host}", upgrade=True)
    assert status == 403


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "https://127.0.0.1:{port}", None]
)
def test_a_cross_site_websocket_is_refused(server, origin):
    if origin is None:  # no Origin at all
        status, _, _ = http(server, "/ws", upgrade=True)
    else:
        status, _, _ = http(server, "/ws", origin=origin.format(port=server.port), upgrade=True)
    assert status == 403
    with pytest.raises(InvalidStatus):
        connect(server, origin="http://evil.example")
    assert http(server, "/", origin="http://evil.example")[0] == 403


def test_bad_messages_get_an_error_and_the_session_goes_on(server):
    with opened(server) as ws:
        cases = [
            ("not json", "malformed message: not valid JSON"),
            ("[1, 2]", "malformed message"),
            ('{"type": 3}', "malformed message"),
            ('{"type": "launch_missiles"}', "unknown message type"),
            ('{"type": "__init__"}', "unknown message type"),
            ("[" * 230_000 + "]" * 230_000, "message too large"),
            ("[" * 5_000 + "]" * 5_000, "malformed message"),
            (json.dumps({"type": "configure", "settings": {"hidden": [10**9]}}), "hidden[0]"),
            (json.dumps({"type": "configure", "settings": {"samples": 10**7}}), "samples"),
            (json.dumps({"type": "configure", "settings": {"lr": "fast"}}), "lr must be"),
            (json.dumps({"type": "configure", "settings": []}), "settings must be an object"),
            (json.dumps({"type": "configure", "pad": "x" * 20_000}), "message too large"),
            (json.dumps({"type": "upload", "csv": 5}), "csv must be"),
            (json.dumps({"type": "upload", "csv": "1,2\n3,SECRET\n"}), "line 2, column 2"),
        ]
        for text, expected in cases:
            ws.send(text)
            msg = receive(ws, "error")
            assert expected in msg["message"], (text[:40], msg)
            assert "SECRET" not in msg["message"]
        ws.send(b"\x00binary")
        assert "binary" in receive(ws, "error")["message"]
        ws.send(json.dumps({"type": "ping", "id": 7}))
        assert receive(ws, "pong")["id"] == 7
        ws.send(json.dumps({"type": "configure", "settings": {"dataset": "circles"}}))
        assert receive(ws, "data")["settings"]["dataset"] == "circles"


def test_an_oversized_frame_closes_only_that_connection(server):
    with opened(server) as ws:
        ws.send("x" * (1024 * 1024))
        with pytest.raises(ConnectionClosed) as info:
            receive(ws, "never")
    assert info.value.rcvd is None or info.value.rcvd.code == 1009
    with opened(server) as ws2:  # the server goes on
        ws2.send(json.dumps({"type": "ping", "id": 1}))
        assert receive(ws2, "pong")["id"] == 1


def test_a_flood_of_messages_is_rate_limited(server):
    with opened(server) as ws:
        for i in range(200):
            ws.send(json.dumps({"type": "ping", "id": i}))
        errors = pongs = 0
        while pongs + errors < 200:
            msg = json.loads(ws.recv(timeout=10))
            errors += msg["type"] == "error" and "too many messages" in msg["message"]
            pongs += msg["type"] == "pong"
        assert errors > 0 and pongs >= 40


def test_play_sends_at_least_ten_frames_a_second_and_lowers_the_cost(server):
    with opened(server) as ws:
        ws.send(json.dumps({"type": "play"}))
        first = receive(ws, "frame")
        t0, n, last = time.monotonic(), 0, first
        while time.monotonic() - t0 < 1.5:
            last = receive(ws, "frame")
            n += 1
        rate = n / (time.monotonic() - t0)
        ws.send(json.dumps({"type": "pause"}))
        receive(ws, "paused")
        assert rate >= 10, rate
        assert last["step"] > first["step"] and last["train_cost"] < first["train_cost"]


def test_sessions_are_isolated(server):
    with opened(server) as a, opened(server) as b:
        a.send(json.dumps({"type": "configure", "settings": {"dataset": "xor", "seed": 3}}))
        assert receive(a, "data")["settings"]["dataset"] == "xor"
        a.send(json.dumps({"type": "step"}))
        assert receive(a, "step")["step"] == 1
        b.send(json.dumps({"type": "ping", "id": 0}))
        receive(b, "pong")
        b.send(json.dumps({"type": "reset"}))
        data = receive(b, "data")
        assert data["settings"]["dataset"] == "moons" and receive(b, "frame")["step"] == 0


def test_export_sends_a_model_file_that_loads(server, tmp_path):
    with opened(server) as ws:
        ws.send(json.dumps({"type": "export"}))
        msg = receive(ws, "model")
    path = tmp_path / msg["filename"]
    path.write_bytes(base64.b64decode(msg["data"]))
    model = load_model(path)
    assert model.feature_names == ["x1", "x2"] and model.net.sizes == [2, 6, 6, 1]
    assert model.forward(np.zeros((2, 3))).shape == (1, 3)


def test_too_many_sessions_are_told_so(server_factory):
    s = server_factory(max_sessions=1)
    with opened(s), connect(s) as extra:
        msg = json.loads(extra.recv(timeout=10))
        assert msg["type"] == "error" and "too many open playground tabs" in msg["message"]


def test_the_server_binds_loopback_by_default():
    import inspect

    from deltaprop.web import playground

    assert inspect.signature(playground.serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(playground.bind).parameters["host"].default == "127.0.0.1"


def _fetch(url: str) -> bytes:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as r:
        return r.read()


def test_the_command_prints_its_url_serves_and_stops_cleanly_on_ctrl_c():
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "deltaprop", "playground", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("deltaprop playground: http://127.0.0.1:"), line
        assert b"deltaprop playground" in _fetch(line.split()[2])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_the_command_json_prints_the_url(tmp_path):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "deltaprop", "playground", "--port", "0", "--no-browser", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline() + proc.stdout.readline() + proc.stdout.readline()
        url = json.loads(first)["url"]
        assert url.startswith("http://127.0.0.1:") and b"playground" in _fetch(url)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "{port}"], "deltaprop: error: cannot listen on 127.0.0.1:"),
        (["--port", "70000"], "deltaprop: error: Invalid value for '--port'"),
    ],
)
def test_bad_usage_is_one_clear_line_and_exit_2(server, args, expected):
    import subprocess
    import sys

    args = [a.format(port=server.port) for a in args]
    r = subprocess.run(
        [sys.executable, "-m", "deltaprop", "playground", "--no-browser", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr and "Traceback" not in r.stderr


def test_the_missing_extra_is_named_with_exit_2():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['uvicorn'] = None; from deltaprop.cli import main; "
        "main(['playground', '--no-browser'])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == (
        "deltaprop: error: the playground needs the optional extra: pip install "
        '"deltaprop[playground]" (uvicorn is missing)\n'
    )


def test_a_diverging_run_pauses_with_a_message_and_reset_recovers(server):
    with opened(server) as ws:
        bad = {"optimizer": "sgd", "lr": 10, "dataset": "sine", "output": "identity", "loss": "mse"}
        ws.send(json.dumps({"type": "configure", "settings": bad}))
        receive(ws, "data")
        ws.send(json.dumps({"type": "play"}))
        assert "training diverged" in receive(ws, "error")["message"]
        receive(ws, "paused")
        ws.send(json.dumps({"type": "reset"}))
        receive(ws, "data")
        frame = receive(ws, "frame")
        assert frame["step"] == 0 and np.isfinite(frame["train_cost"])


def test_a_live_setting_keeps_training(server):
    with opened(server) as ws:
        ws.send(json.dumps({"type": "step"}))
        assert receive(ws, "step")["step"] == 1
        ws.send(json.dumps({"type": "configure", "settings": {"lr": 0.001}}))
        assert receive(ws, "settings")["settings"]["lr"] == 0.001
        ws.send(json.dumps({"type": "step"}))
        assert receive(ws, "step")["step"] == 2
