"""Safe text (deltaprop._safetext): strings from data or files printed as text, never as
markup or terminal control. The cases are the issue's: ``[/y]`` (rich's MarkupError),
``price [usd]`` (lost as a tag), ``[link=http://evil]y[/link]`` (a hyperlink), raw escape
bytes and bidirectional overrides (terminal control), lone surrogates from undecodable file
names (UnicodeEncodeError on print)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.table import Table

from deltaprop._safetext import json_dumps, markup, text, visible

HOSTILE = [
    "[/y]",
    "price [usd]",
    "[link=http://evil]y[/link]",
    "[bold red]x",
    "a\x1b[2Jb",
    "\x9b31m",
    "\u202eabc",
    "x\udc80y",
    "line\nbreak",
    "trailing\\",
    "\x00nul",
]


def _render(obj, **kw):
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system="truecolor", width=200).print(obj, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_print_as_text(name):
    shown = visible(name)
    assert shown.isprintable()
    # through markup: the text rendered is exactly the visible text, no link, no style
    out = _render("name: " + markup(name))
    assert "\x1b]8;" not in out  # OSC 8 hyperlink
    plain = _render("name: " + markup(name), markup=True)
    assert shown in Console(file=io.StringIO()).render_str("name: " + markup(name)).plain
    assert "\x1b[2J" not in plain and "\u202e" not in plain
    # as a table cell
    table = Table(title=text(name))
    table.add_column(text(name))
    table.add_row(text(name))
    rendered = _render(table)
    assert "\x1b]8;" not in rendered and "\x1b[2J" not in rendered
    # in JSON: exact value back, nothing non-printable in the text
    dumped = json_dumps({"name": name}, indent=2)
    assert all(ch.isprintable() or ch in " \n" for ch in dumped)
    assert json.loads(dumped) == {"name": name}


def test_printable_text_is_kept():
    for s in ("café 中文 naïve", "x0", "price (usd)", "a b"):
        assert visible(s) == s and json.loads(json_dumps(s)) == s
    assert visible("\t") == "\\x09" and visible("\u00a0") == "\\xa0"
    assert json_dumps("\U0001f600\u2028") == '"\U0001f600\\u2028"'


def test_doctests():
    import doctest

    import deltaprop._safetext as module

    assert doctest.testmod(module).failed == 0
