r"""Equations as MathML, from the token lists of :mod:`deltaprop.explain`.

Current browsers render MathML Core natively (no script, no font download), so the page needs
nothing from the network. A token list such as ``[sym("Z", 1), op("="), sym("W", 1),
sym("A", 0), op("+"), sym("b", 1)]`` becomes

.. code-block:: html

   <math><msup><mi>Z</mi><mrow><mo>[</mo><mn>1</mn><mo>]</mo></mrow></msup><mo>=</mo>...</math>

Layer superscripts are written :math:`W^{[l]}`, a transpose :math:`W^{[l]\top}`, a derivative
:math:`g^{[l]\prime}`. Every text is escaped.

>>> from deltaprop.explain import sym, op
>>> from deltaprop.web.mathml import mathml
>>> print(mathml([sym("W", 2, T=True), op("⊙")]))
<math><msup><mi>W</mi><mrow><mo>[</mo><mn>2</mn><mo>]</mo><mo>⊤</mo></mrow></msup><mo>⊙</mo></math>
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

Token = dict[str, Any]

_OPS = {"·": "⋅"}


def _layer(text: str) -> str:
    """``[l]`` with l a number (``<mn>``) or an expression such as ``l−1`` (``<mi>``s)."""
    inner = "".join(
        f"<mn>{escape(part)}</mn>"
        if part.isdigit()
        else f"<mo>{escape(part)}</mo>"
        if part in "+−-"
        else f"<mi>{escape(part)}</mi>"
        for part in _split(text)
    )
    return f"<mo>[</mo>{inner}<mo>]</mo>"


def _split(text: str) -> list[str]:
    parts: list[str] = []
    for ch in text:
        if parts and (ch.isdigit() and parts[-1].isdigit()):
            parts[-1] += ch
        else:
            parts.append(ch)
    return parts


def _sym(t: Token) -> str:
    base = f"<mi>{escape(t['sym'])}</mi>"
    sup = ""
    if t.get("layer") is not None:
        sup += _layer(t["layer"])
    if t.get("prime"):
        sup += "<mo>′</mo>"
    if t.get("T"):
        sup += "<mo>⊤</mo>"
    if not sup:
        return base
    return f"<msup>{base}<mrow>{sup}</mrow></msup>"


def _token(t: Token) -> str:
    if "sym" in t:
        return _sym(t)
    if "op" in t:
        o = t["op"]
        return f"<mo>{_OPS.get(o, escape(o))}</mo>"
    if "group" in t:
        return f"<mrow><mo>(</mo>{_tokens(t['group'])}<mo>)</mo></mrow>"
    if "call" in t:
        return f"<mrow>{_token(t['call'])}<mo>(</mo>{_tokens(t['args'])}<mo>)</mo></mrow>"
    if "grad" in t:
        return (
            "<mfrac><mrow><mo>∂</mo><mi>J</mi></mrow>"
            f"<mrow><mo>∂</mo>{_token(t['grad'])}</mrow></mfrac>"
        )
    if "frac" in t:
        num, den = t["frac"]
        return f"<mfrac>{_atom(num)}{_atom(den)}</mfrac>"
    if "ones" in t:
        return f"<msub><mn>1</mn>{_atom(t['ones'])}</msub>"
    if "text" in t:
        text = t["text"].strip()
        if text in (",", ";"):
            return f"<mo separator='true'>{text}</mo><mspace width='1em'/>"
        return f"<mtext>{escape(t['text'])}</mtext>"
    raise ValueError(f"unknown equation token {t!r}")


def _atom(text: str) -> str:
    return f"<mn>{escape(text)}</mn>" if text.isdigit() else f"<mi>{escape(text)}</mi>"


def _tokens(tokens: Sequence[Token]) -> str:
    return "".join(_token(t) for t in tokens)


def mathml(tokens: Sequence[Token], *, display: bool = False) -> str:
    """One ``<math>`` element for a token list (``display=True``: a block equation)."""
    attr = ' display="block"' if display else ""
    return f"<math{attr}>{_tokens(tokens)}</math>"


__all__ = ["mathml"]
