"""``deltaprop playground``: the live browser playground (the optional extra ``playground``)."""

from __future__ import annotations

import sys

import typer

from ._common import UserError, emit_json


def playground_command(
    port: int = typer.Option(
        8765, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."
    ),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on. The default serves this machine only; any other address "
        "lets anyone who reaches it use the playground (it has no password).",
    ),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open the browser."),
    as_json: bool = typer.Option(
        False, "--json", help='Print {"url": ...} as JSON once listening (messages on stderr).'
    ),
) -> None:
    """Train a network in the browser and watch δ flow, on deltaprop's engine (Ctrl-C stops)."""
    from ..web import playground

    def to_stderr(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def url_as_json(url: str) -> None:
        emit_json({"url": url})
        sys.stdout.flush()

    try:
        playground.serve(
            host,
            port,
            open_browser=not no_browser,
            announce=to_stderr if as_json else None,
            on_url=url_as_json if as_json else None,
        )
    except playground.MissingExtraError as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
