"""The browser side: the explain page and the components it shares with the playground.

``static/`` holds plain files shipped in the package, each usable on its own:

* ``style.css`` — the page style (system fonts, a diverging colour scale for matrices,
  layouts for laptop and phone widths);
* ``netdraw.js`` — ``Deltaprop.drawNetwork(svg, spec)``: units as circles, weights as lines
  whose colour and width show sign and size, units coloured by activation or δ;
  ``Deltaprop.color(v, scale)``, the diverging colour scale;
* ``stepper.js`` — ``Deltaprop.matrixTable(item)`` (a matrix as a table, every cell's exact
  value in ``data-value``) and ``Deltaprop.stepper(root, data, options)``, the step-by-step
  view driven by buttons and the arrow keys.

:func:`static_text` reads one of them; :mod:`deltaprop.web.mathml` writes equations as MathML;
:mod:`deltaprop.web.explain_page` puts everything into one self-contained HTML file.

The live playground (:mod:`deltaprop.web.playground`) serves these components beside its own
page; its server needs the optional extra ``deltaprop[playground]``.
"""

from __future__ import annotations

from importlib import resources

STATIC_FILES = ("style.css", "netdraw.js", "stepper.js")
"""The shared static components, in the order a page includes them."""


def static_text(name: str) -> str:
    """The text of the shipped static file ``name`` (one of :data:`STATIC_FILES`)."""
    if name not in STATIC_FILES:
        raise ValueError(f"unknown static file {name!r}; shipped: {', '.join(STATIC_FILES)}")
    return resources.files(__package__).joinpath("static").joinpath(name).read_text("utf-8")


__all__ = ["STATIC_FILES", "static_text"]
