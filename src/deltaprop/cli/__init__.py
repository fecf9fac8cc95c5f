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
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _summary(command: Any) -> str:
    """A command's first docstring sentence, shown whole by ``deltaprop --help``."""
    first = " ".join((command.__doc__ or "").strip().split("\n\n")[0].split())
    return first.split(". ")[0].rstrip(".")


# the subcommands, in the order `deltaprop --help` lists them
app.command("gradcheck", short_help=_summary(gradcheck.gradcheck_command))(
    gradcheck.gradcheck_command
)
app.command("train", short_help=_summary(train.train_command))(train.train_command)
app.command("predict", short_help=_summary(predict.predict_command))(predict.predict_command)
app.command("evaluate", short_help=_summary(predict.evaluate_command))(predict.evaluate_command)
app.command("blowup", short_help=_summary(blowup.blowup_command))(blowup.blowup_command)
app.command("derive", short_help=_summary(derive.derive_command))(derive.derive_command)
app.command("bench", short_help=_summary(bench.bench_command))(bench.bench_command)
app.command("playground", short_help=_summary(playground.playground_command))(
    playground.playground_command
)
app.command("explain", short_help=_summary(explain.explain_command))(explain.explain_command)
app.command("check", short_help=_summary(check.check_command))(check.check_command)


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


_EXTRAS = {
    "torch": "torch",
    "cupy": "gpu",
    "dask": "dask",
    "distributed": "dask",
    "sympy": "symbolic",
    "jax": "test",
    "uvicorn": "playground",
    "starlette": "playground",
    "fastapi": "playground",
}


def _missing_extra(e: ModuleNotFoundError) -> str:
    """A missing optional dependency, named with the extra that installs it."""
    name = (e.name or str(e)).split(".")[0]
    extra = _EXTRAS.get(name)
    if extra is None:
        return f"this needs the Python package {name!r}, which is not installed ({e})"
    return f"this needs {name!r}, which is not installed: pip install 'deltaprop[{extra}]'"


def _warning_line(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """Warnings as one line on stderr, without the source line Python would show."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"deltaprop: warning: {visible(text)}\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``deltaprop`` console script and ``python -m deltaprop``."""
    import warnings

    if not (sys.argv[1:] if argv is None else argv):
        argv = ["--help"]  # bare `deltaprop`: the normal help, exit 0
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            code = app(args=argv, prog_name="deltaprop", standalone_mode=False)
    except typer.Exit as e:
        if isinstance(e.__cause__, KeyboardInterrupt):  # typer's own Exit(130) for Ctrl-C
            _fail("interrupted before the run started; nothing was written", 130)
        sys.exit(e.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except (UserError, ValueError, TypeError, FileNotFoundError, IsADirectoryError) as e:
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        _fail(_user_message(e), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except ModuleNotFoundError as e:  # an optional dependency: a setup problem of the user's
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        _fail(_missing_extra(e), 2)
    except Exception as e:
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            # click's usage errors (typer may vendor click, so matched by shape): exit 2
            _fail(e.format_message(), 2 if e.exit_code == 2 else e.exit_code)
        if os.environ.get("DELTAPROP_DEBUG"):
            raise
        _fail(f"{type(e).__name__}: {e} (set DELTAPROP_DEBUG=1 for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)
