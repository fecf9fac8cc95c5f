"""The ``deltaprop`` command: parses options, calls the library, prints.

One module per subcommand (or group), each a plain function registered on :data:`app` here:

==================  ============================================================
``train.py``        ``train`` (the run itself is :func:`deltaprop.workflow.train`)
``predict.py``      ``predict``, ``evaluate`` (:mod:`deltaprop.workflow` too)
``gradcheck.py``    ``gradcheck``
``blowup.py``       ``blowup``
``derive.py``       ``derive``
``bench.py``        ``bench``
``playground.py``   ``playground`` (:mod:`deltaprop.web.playground`, the extra ``playground``)
``explain.py``      ``explain`` (the page: :mod:`deltaprop.web.explain_page`)
``check.py``        ``check`` (:func:`deltaprop.formula.check_formula`)
``_common.py``      the console, :class:`UserError`, JSON output, option parsing
==================  ============================================================

Exit codes: 0 on success, 2 on bad usage or bad input (one clear line on stderr, no
traceback), 1 on anything else (one line; set ``DELTAPROP_DEBUG=1`` for the traceback).
Every subcommand has ``--json`` for machine-readable output on stdout.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from .. import __version__
from .._safetext import visible
from . import bench, blowup, check, derive, explain, gradcheck, playground, predict, train
from ._common import UserError, emit_json, option, parse_int_list

__all__ = ["UserError", "app", "emit_json", "main", "parse_int_list"]

app = typer.Typer(
    name="deltaprop",
    help="Back-propagation in matrix form, exactly as derived on paper.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# the subcommands, in the order `deltaprop --help` lists them
app.command("gradcheck")(gradcheck.gradcheck_command)
app.command("train")(train.train_command)
app.command("predict")(predict.predict_command)
app.command("evaluate")(predict.evaluate_command)
app.command("blowup")(blowup.blowup_command)
app.command("derive")(derive.derive_command)
app.command("bench")(bench.bench_command)
app.command("playground")(playground.playground_command)
app.command("explain")(explain.explain_command)
app.command("check")(check.check_command)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"deltaprop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Show the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Back-propagation in matrix form, exactly as derived on paper."""


def _fail(message: str, code: int) -> None:
    message = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    sys.stderr.write(f"deltaprop: error: {visible(message)}\n")  # names from files: as text
    sys.stderr.flush()
    sys.exit(code)


def _user_message(e: Exception) -> str:
    """A library's :class:`~deltaprop.workflow.SettingsError` names the option, not the field."""
    workflow = sys.modules.get("deltaprop.workflow")  # never imported: no SettingsError
    if workflow is not None and isinstance(e, workflow.SettingsError):
        return e.for_name(option(e.field))
    return str(e)


def _warning_line(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """Warnings as one line on stderr, without the source line Python would show."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"deltaprop: warning: {visible(text)}\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``deltaprop`` console script and ``python -m deltaprop``."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            code = app(args=argv, prog_name="deltaprop", standalone_mode=False)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except (UserError, ValueError, TypeError, FileNotFoundError, IsADirectoryError) as e:
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        _fail(_user_message(e), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as e:
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            # click's usage errors (typer may vendor click, so matched by shape): exit 2
            _fail(e.format_message(), 2 if e.exit_code == 2 else e.exit_code)
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        _fail(f"{type(e).__name__}: {e} (set DELTAPROP_DEBUG=1 for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)
