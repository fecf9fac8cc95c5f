"""Safe text: any string that came from data or a file, made printable as plain text.

Column names, target names, file paths and metadata come from files an adversary may have
written. Printed as they are they can break or hijack the terminal: rich reads ``[/y]`` as
markup (a ``MarkupError`` after the work is done), ``price [usd]`` loses its ``[usd]``,
``[link=http://evil]y[/link]`` becomes a hyperlink, and raw escape bytes (``\\x1b[2J``)
or bidirectional overrides (U+202E) drive the terminal itself. Every such string goes
through one of these before it reaches a table, a message or ``--json``:

* :func:`visible` — control and other non-printable characters (C0/C1 controls, DEL,
  format characters such as U+202E, line and paragraph separators, lone surrogates from
  undecodable file names) shown as Python-style escapes (``\\x1b``, ``\\u202e``);
  everything printable, accents and other scripts included, is kept.
* :func:`markup` — :func:`visible`, then rich's markup escaped: for f-strings printed by a
  rich console (markup on).
* :func:`text` — a ``rich.text.Text`` (never parsed as markup) of :func:`visible`: for
  table cells and titles.
* :func:`json_dumps` — ``json.dumps`` whose strings keep their exact value but carry no raw
  control or format characters (they are written as ``\\uXXXX`` escapes, which any JSON
  reader decodes back to the original).

>>> visible("price [usd]\\x1b[2J")
'price [usd]\\\\x1b[2J'
>>> markup("[/y]")
'\\\\[/y]'
>>> json_dumps({"name": "a\\u202eb"})
'{"name": "a\\\\u202eb"}'
"""

from __future__ import annotations

import json
from typing import Any


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(value: Any) -> str:
    """``str(value)`` with every non-printable character (space excepted) as an escape."""
    s = str(value)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in s)


def markup(value: Any) -> str:
    """:func:`visible`, with rich markup escaped, for text printed with markup on."""
    from rich.markup import escape

    return escape(visible(value))


def text(value: Any, **style: Any) -> Any:
    """A ``rich.text.Text`` of :func:`visible` (rich never parses it as markup)."""
    from rich.text import Text

    return Text(visible(value), **style)


def json_dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, **kwargs)`` with non-printable characters inside strings escaped.

    The JSON structure itself is ASCII, so every non-printable character in the output sits
    inside a string and ``\\uXXXX`` (surrogate pairs beyond U+FFFF) keeps its value exact.
    """
    kwargs.setdefault("ensure_ascii", False)
    out = json.dumps(obj, **kwargs)
    if out.isprintable():
        return out
    return "".join(ch if ch.isprintable() or ch in " \n" else _json_escape(ch) for ch in out)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


__all__ = ["json_dumps", "markup", "text", "visible"]
