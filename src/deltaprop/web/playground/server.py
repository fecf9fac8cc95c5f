"""The playground's web server: Starlette over uvicorn, one websocket per browser tab.

Safety (the server trains on whatever a page asks, so it must only take requests from its own
page):

* it binds to 127.0.0.1 unless told otherwise;
* every request's ``Host`` header must name this server (``127.0.0.1:PORT``,
  ``localhost:PORT``, ``[::1]:PORT`` or the host it was started on), which defeats DNS
  rebinding; a websocket must also carry an ``Origin`` of this server (browsers always send
  one), so another web site open in the same browser cannot drive it; HTTP requests from
  another origin are refused too;
* responses carry a strict Content-Security-Policy (scripts, styles and connections from this
  server only, no frames), so the page itself cannot load anything from elsewhere;
* every asset is read once from the installed package at start-up and served from memory; no
  path from a request ever reaches the file system, and nothing is written anywhere. The
  user's CSV arrives as the text of a websocket message and the model file leaves as one;
* bounded: sessions (:data:`MAX_SESSIONS`), message sizes (:data:`MAX_MESSAGE`,
  :data:`MAX_UPLOAD_MESSAGE`; uvicorn drops anything above :data:`WS_MAX_SIZE`), messages per
  second per tab, and everything a session may build (:data:`engine.LIMITS`);
* every message is validated; a bad one gets ``{"type": "error", "message": ...}`` and the
  session goes on.

Training runs in a small thread pool, never on the event loop, so the server stays
responsive; while a tab plays, it gets a frame about :data:`FRAME_RATE` times a second.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from importlib import resources
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import engine
from .engine import Session, SettingsError

log = logging.getLogger("deltaprop.playground")

MAX_SESSIONS = 32
"""Browser tabs served at once; one more is told so and closed."""

MAX_MESSAGE = 16 * 1024
"""Characters in one message from the page, except uploads."""

MAX_UPLOAD_MESSAGE = 400 * 1024
"""Characters in one upload message (the CSV's text, itself at most 256 KiB)."""

WS_MAX_SIZE = 512 * 1024
"""uvicorn closes a websocket (code 1009) whose message exceeds this many bytes."""

MESSAGES_PER_SECOND = 40
"""Sustained messages per second a tab may send (bursts of twice as many)."""

FRAME_RATE = 20
"""Frames per second sent to a tab while it trains."""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}


def allowed_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` header values this server answers: the loopback names and ``host``."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    names.add(f"[{host}]" if ":" in host else host)
    names.discard("0.0.0.0")
    names.discard("[::]")
    hosts = {f"{n}:{port}" for n in names}
    if port == 80:
        hosts |= names
    return hosts


class Guard:
    """ASGI middleware: refuse foreign ``Host``/``Origin`` headers; add the security headers."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}
        self.origins = {f"http://{h}" for h in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope)
        if problem is not None:
            log.warning("refused %s %s: %s", scope["type"], scope.get("path"), problem)
            if scope["type"] == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
            else:
                await Response(f"refused: {problem}\n", 403, media_type="text/plain")(
                    scope, receive, send
                )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def problem(self, scope: Scope) -> str | None:
        hosts = [v for k, v in scope["headers"] if k == b"host"]
        origins = [v for k, v in scope["headers"] if k == b"origin"]
        if len(hosts) != 1 or hosts[0].decode("latin-1").lower() not in self.hosts:
            return "the Host header does not name this server (DNS rebinding protection)"
        if len(origins) > 1:
            return "more than one Origin header"
        if scope["type"] == "websocket" and not origins:
            return "a websocket needs an Origin header naming this server"
        if origins and origins[0].decode("latin-1").lower() not in self.origins:
            return "the request comes from another web site (Origin is not this server)"
        return None


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every shipped asset, read once from the package: ``{url path: (bytes, type)}``.

    The playground's own files are under ``/static/``; the explain page's shared components
    (``deltaprop/web/static/``), when installed, under ``/static/explain/``.
    """
    found: dict[str, tuple[bytes, str]] = {}
    roots = [("/static/", "deltaprop.web.playground", "static")]
    roots.append(("/static/explain/", "deltaprop.web", "static"))
    for prefix, package, folder in roots:
        try:
            base = resources.files(package) / folder
            entries = list(base.iterdir()) if base.is_dir() else []
        except (ModuleNotFoundError, FileNotFoundError):
            entries = []
        for entry in entries:
            suffix = os.path.splitext(entry.name)[1]
            if entry.is_file() and suffix in _TYPES:
                found[prefix + entry.name] = (entry.read_bytes(), _TYPES[suffix])
    return found


class _RateLimit:
    """A token bucket: ``rate`` tokens a second, at most ``2 * rate`` saved."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.t = rate, 2.0 * rate, time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(2.0 * self.rate, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _ClosedError(Exception):
    """The browser tab closed its websocket while something was still to be sent."""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))


class Connection:
    """One browser tab: its :class:`Session`, its trainer task and its message loop."""

    def __init__(self, ws: WebSocket, pool: ThreadPoolExecutor) -> None:
        self.ws, self.pool = ws, pool
        self.session: Session | None = None
        self.lock = asyncio.Lock()  # one session operation at a time
        self.send_lock = asyncio.Lock()
        self.playing = False
        self.trainer: asyncio.Task[None] | None = None
        self.limit = _RateLimit(MESSAGES_PER_SECOND)
        self.frames_sent = 0

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the thread pool, off the event loop, one at a time per tab."""
        async with self.lock:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def send(self, text: str) -> None:
        """Send one message; :class:`_ClosedError` when the tab has gone (closed, reloaded)."""
        async with self.send_lock:
            try:
                await self.ws.send_text(text)
            except Exception as e:  # starlette/uvicorn name a vanished peer in several ways
                raise _ClosedError from e

    async def error(self, message: str) -> None:
        await self.send(_dumps({"type": "error", "message": message}))

    # --- what is sent ------------------------------------------------------------------------

    def _hello(self) -> str:
        assert self.session is not None
        return _dumps(
            {
                "type": "hello",
                "limits": engine.LIMITS,
                "choices": {
                    "dataset": list(engine.DATASETS),
                    "activation": list(engine.HIDDEN_ACTIVATIONS),
                    "output": list(engine.OUTPUT_ACTIVATIONS),
                    "loss": list(engine.LOSSES),
                    "optimizer": list(engine.OPTIMIZERS),
                },
                "settings": asdict(self.session.settings),
                "frame_rate": FRAME_RATE,
            }
        )

    def _data_and_frame(self) -> tuple[str, str]:
        assert self.session is not None
        data = self.session.data_message()
        data["history"] = self.session.history
        return _dumps(data), self._frame()

    def _frame(self) -> str:
        assert self.session is not None
        return _dumps(self.session.frame())

    def _train_frame(self, n: int, deadline: float) -> tuple[int, str]:
        assert self.session is not None
        done = self.session.train(n, deadline)
        return done, self._frame()

    async def send_all(self, texts: Iterable[str]) -> None:
        for t in texts:
            await self.send(t)

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            self.session = await self.call(Session)
            await self.send(self._hello())
            await self.send_all(await self.call(self._data_and_frame))
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self.handle(message)
        except (WebSocketDisconnect, _ClosedError):
            pass
        finally:
            self.playing = False
            if self.trainer is not None:
                self.trainer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.trainer

    async def handle(self, message: Message) -> None:
        if not self.limit.allow():
            await self.error(f"too many messages: at most {MESSAGES_PER_SECOND} a second")
            return
        text = message.get("text")
        if text is None:
            await self.error("messages must be JSON text, not binary")
            return
        if len(text) > MAX_UPLOAD_MESSAGE:
            await self.error(f"message too large: at most {MAX_UPLOAD_MESSAGE // 1024} KiB")
            return
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            await self.error("malformed message: not valid JSON")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            await self.error('malformed message: expected an object with a "type"')
            return
        kind = msg["type"]
        if kind != "upload" and len(text) > MAX_MESSAGE:
            await self.error(f"message too large: at most {MAX_MESSAGE // 1024} KiB")
            return
        handler = getattr(self, f"on_{kind}", None) if kind.isidentifier() else None
        if handler is None:
            await self.error(f"unknown message type {kind[:40]!r}")
            return
        try:
            await handler(msg)
        except (SettingsError, ValueError, TypeError) as e:
            await self.error(str(e))
        except (WebSocketDisconnect, _ClosedError):
            raise
        except Exception as e:  # keep serving: report, log, go on
            log.exception("playground: %s failed", kind)
            await self.error(f"internal error while handling {kind!r}: {type(e).__name__}")

    # --- handlers (one per message type) -----------------------------------------------------

    async def on_configure(self, msg: dict[str, Any]) -> None:
        assert self.session is not None
        session = self.session

        def configure() -> bool:  # True: a new start (a new network), False: a live change
            net = session.net
            session.configure(msg.get("settings"))
            return session.net is not net

        if await self.call(configure):
            await self.send_all(await self.call(self._data_and_frame))
        else:  # lr or speed: training goes on with the new value
            await self.send(_dumps({"type": "settings", "settings": asdict(session.settings)}))

    async def on_upload(self, msg: dict[str, Any]) -> None:
        assert self.session is not None
        await self.stop_training()
        await self.call(self.session.upload_csv, msg.get("csv"))
        await self.send_all(await self.call(self._data_and_frame))

    async def on_reset(self, msg: dict[str, Any]) -> None:
        assert self.session is not None
        await self.call(self.session.reset)
        await self.send_all(await self.call(self._data_and_frame))

    async def on_play(self, msg: dict[str, Any]) -> None:
        self.playing = True
        if self.trainer is None or self.trainer.done():
            self.trainer = asyncio.create_task(self.train())

    async def stop_training(self) -> None:
        """Stop playing and wait for the trainer's last frame to be sent."""
        self.playing = False
        if self.trainer is not None and self.trainer is not asyncio.current_task():
            with contextlib.suppress(Exception):
                await self.trainer

    async def on_pause(self, msg: dict[str, Any]) -> None:
        await self.stop_training()
        await self.send(_dumps({"type": "paused"}))

    async def on_step(self, msg: dict[str, Any]) -> None:
        assert self.session is not None
        await self.stop_training()
        session = self.session

        def step() -> tuple[str, str]:
            with np.errstate(all="ignore"):
                return _dumps(session.step_detail()), self._frame()

        try:
            await self.send_all(await self.call(step))
        except ValueError as e:  # NaN in the numbers: the network diverged
            raise ValueError(f"the step's numbers are not finite ({e}); lower lr and reset") from e

    async def on_export(self, msg: dict[str, Any]) -> None:
        assert self.session is not None
        data = await self.call(self.session.model_file)
        await self.send(
            _dumps(
                {
                    "type": "model",
                    "filename": "playground-model.safetensors",
                    "data": base64.b64encode(data).decode(),
                }
            )
        )

    async def on_ping(self, msg: dict[str, Any]) -> None:
        await self.send(_dumps({"type": "pong", "id": msg.get("id")}))

    # --- training ----------------------------------------------------------------------------

    async def train(self) -> None:
        """While playing: steps for 1/FRAME_RATE s of the chosen speed, then a frame."""
        with contextlib.suppress(_ClosedError):
            await self._train()

    async def _train(self) -> None:
        assert self.session is not None
        period = 1.0 / FRAME_RATE
        owed, last = 0.0, time.perf_counter()
        while self.playing:
            start = time.perf_counter()
            owed += (start - last) * self.session.settings.speed
            owed = min(owed, self.session.settings.speed * 0.25)  # never catch up more than 1/4 s
            last = start
            n = int(owed)
            owed -= n
            try:
                _, frame = await self.call(self._train_frame, n, start + 0.6 * period)
            except ValueError:  # a NaN reached the JSON: diverged
                self.playing = False
                await self.error(
                    "training diverged (the cost is no longer finite): lower the learning "
                    "rate and press reset"
                )
                await self.send(_dumps({"type": "paused"}))
                break
            await self.send(frame)  # even when paused meanwhile: the page shows the last state
            self.frames_sent += 1
            await asyncio.sleep(max(0.0, period - (time.perf_counter() - start)))


def create_app(hosts: Iterable[str], *, max_sessions: int = MAX_SESSIONS) -> ASGIApp:
    """The ASGI application answering only requests whose ``Host`` is in ``hosts``."""
    assets = _assets()
    pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="dp-pg")
    connections: set[Connection] = set()

    async def index(request: Request) -> Response:
        body, kind = assets["/static/playground.html"]
        return Response(body, media_type=kind)

    async def static(request: Request) -> Response:
        found = assets.get(request.url.path)
        if found is None:
            return Response("not found\n", 404, media_type="text/plain")
        return Response(found[0], media_type=found[1])

    async def health(request: Request) -> Response:
        return Response(
            _dumps({"ok": True, "sessions": len(connections)}), media_type="application/json"
        )

    async def websocket(ws: WebSocket) -> None:
        await ws.accept()
        if len(connections) >= max_sessions:
            await ws.send_text(
                _dumps(
                    {
                        "type": "error",
                        "message": f"too many open playground tabs (at most {max_sessions}); "
                        "close one and reload",
                    }
                )
            )
            await ws.close(1013)
            return
        conn = Connection(ws, pool)
        connections.add(conn)
        try:
            await conn.run()
        finally:
            connections.discard(conn)

    routes = [
        Route("/", index),
        Route("/health", health),
        Route("/static/{path:path}", static),
        WebSocketRoute("/ws", websocket),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.connections = connections
    return Guard(app, hosts)
