"""The live playground: train a network in the browser and watch δ flow, on deltaprop's engine.

``deltaprop playground`` (or :func:`serve`) starts a local web server on 127.0.0.1 and opens
the page. Each browser tab is its own session: a data set, a :class:`~deltaprop.Network`, an
optimiser from :mod:`deltaprop.optim`; the page shows the decision boundary or the fitted
curve, the cost curves, the network with its weights, the gradient norms per layer, the
fraction of dead ReLUs, and in step mode the numbers of one step's equations (ii) and (i).

The server needs the optional extra ``deltaprop[playground]`` (Starlette, uvicorn,
websockets); :mod:`.engine` and :mod:`.datasets` need only deltaprop itself.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import webbrowser
from typing import Any

EXTRA_HINT = 'the playground needs the optional extra: pip install "deltaprop[playground]"'


class MissingExtraError(ImportError):
    """Starlette, uvicorn or websockets is not installed; the message names the extra."""


def _server_modules() -> Any:
    try:
        import starlette  # noqa: F401
        import uvicorn
        import websockets  # noqa: F401
    except ImportError as e:
        raise MissingExtraError(f"{EXTRA_HINT} ({e.name} is missing)") from None
    from . import server

    return uvicorn, server


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: a free port chosen by the system)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def make_server(
    sock: socket.socket, *, log_level: str = "warning", max_sessions: int | None = None
) -> Any:
    """A ``uvicorn.Server`` for the playground on the bound ``sock`` (run it with
    ``server.run(sockets=[sock])``; set ``server.should_exit = True`` to stop it)."""
    uvicorn, server = _server_modules()
    host, port = sock.getsockname()[:2]
    app = server.create_app(
        server.allowed_hosts(host, port), max_sessions=max_sessions or server.MAX_SESSIONS
    )
    config = uvicorn.Config(
        app,
        log_level=log_level,
        ws="websockets-sansio",
        ws_max_size=server.WS_MAX_SIZE,
        ws_per_message_deflate=False,
        limit_concurrency=200,
        timeout_graceful_shutdown=2,
        server_header=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    open_browser: bool = True,
    log_level: str = "warning",
    announce: Any = None,
    on_url: Any = None,
) -> None:
    """Run the playground until Ctrl-C: bind ``host:port``, print the URL, open the browser.

    ``announce(text)`` prints the URL line, warnings and "stopped" (default: stdout);
    ``on_url(url)``, when given, is called with the URL instead of announcing it. Raises
    :class:`MissingExtraError` when the ``playground`` extra is not installed and ``OSError``
    when the address cannot be bound (the port is taken).
    """
    if announce is None:

        def announce(text: str) -> None:
            print(text, flush=True)

    _server_modules()
    sock = bind(host, port)
    url = url_of(sock)
    srv = make_server(sock, log_level=log_level)
    if on_url is not None:
        on_url(url)
    else:
        announce(f"deltaprop playground: {url}  (Ctrl-C stops it)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        announce(
            f"warning: listening on {host}, not only this machine: anyone who can reach it can "
            "use the playground (it has no password)"
        )
    if open_browser:

        def opener() -> None:
            for _ in range(100):
                if srv.started or srv.should_exit:
                    break
                threading.Event().wait(0.05)
            if srv.started:
                with contextlib.suppress(Exception):
                    webbrowser.open(url)

        threading.Thread(target=opener, daemon=True).start()
    try:
        srv.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down, then raises the Ctrl-C it caught again
        pass
    finally:
        sock.close()
    announce("deltaprop playground: stopped")


def main(argv: list[str] | None = None) -> int:
    """``python -m deltaprop.web.playground [--port N] [--host H] [--no-browser]``."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="deltaprop playground", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--no-browser", action="store_true")
    args = p.parse_args(argv)
    try:
        serve(args.host, args.port, open_browser=not args.no_browser)
    except MissingExtraError as e:
        print(f"deltaprop: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(
            f"deltaprop: error: cannot listen on {args.host}:{args.port}: {e.strerror}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        pass
    return 0


__all__ = ["EXTRA_HINT", "MissingExtraError", "bind", "main", "make_server", "serve", "url_of"]
