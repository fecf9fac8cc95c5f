"""The explain page: one self-contained HTML file (``deltaprop explain --html FILE``).

Everything is inline: the style, the two scripts (:mod:`deltaprop.web` ``static/``), the data
(the JSON of :meth:`deltaprop.explain.Explanation.to_dict` with MathML added) and the
equations (MathML, rendered by the browser itself). A Content-Security-Policy forbids every
fetch, so the page works offline and makes no network request of any kind; fonts are the
system's.

>>> from deltaprop.explain import explain
>>> from deltaprop.web.explain_page import render_html
>>> page = render_html(explain())
>>> page.startswith("<!DOCTYPE html>") and "<math" in page
True
>>> any(ref in page for ref in ("src=", "href=", "@import", "url("))   # nothing to fetch
False
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

from ..explain import Explanation, equation_text, slip_result_text
from . import STATIC_FILES, static_text
from .mathml import mathml

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; font-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'"
)
"""The page's Content-Security-Policy: inline style and script only, no request anywhere."""


def page_data(ex: Explanation) -> dict[str, Any]:
    """The JSON the page embeds: ``ex.to_dict()`` with ``equation_mathml`` on every step and
    ``label_mathml`` on every matrix."""
    data = ex.to_dict()
    for step in data["steps"]:
        step["equation_mathml"] = mathml(step["equation"], display=True)
        step["equation_text"] = equation_text(step["equation"])
        for line in step["numbers"]:
            for item in line:
                if "matrix" in item:
                    item["matrix"]["label_mathml"] = mathml(item["matrix"]["label"])
                elif "op" in item:
                    item["mathml"] = mathml([item])
    return data


def _json_script(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, allow_nan=True)
    # Inside <script>, "</" could end the element and "<!--" open a comment: escape both.
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _mistakes_html(ex: Explanation) -> str:
    if not ex.mistakes:
        return ""
    parts = [
        '<section class="dp-mistakes" id="mistakes"><h2>The exercise\'s slips: what each gives '
        "instead</h2>"
    ]
    for slip in ex.mistakes:
        parts.append(
            f'<h3 data-slip="{escape(slip["slip"])}">{escape(slip["title"])}: '
            f"{mathml(slip['wrong_formula'])} instead of {mathml(slip['right_formula'])}</h3>"
            f"<p>{escape(slip['explanation'])}</p>"
            "<table><thead><tr><th>formula</th><th>what it gives</th></tr></thead><tbody>"
        )
        for r in slip["results"]:
            what = slip_result_text(r)
            parts.append(f"<tr><td>{escape(r['name'])}</td><td>{escape(what)}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "".join(parts)


def render_html(ex: Explanation, *, title: str | None = None) -> str:
    """The whole page as one string (UTF-8 text, no external reference)."""
    net = ex.net
    data = page_data(ex)
    shape = "-".join(map(str, net.sizes))
    title = title or f"Back-propagation, step by step: a {shape} network"
    summary = (
        f"hidden {net.hidden.name}, output {net.output.name}, cost {net.loss.name}; "
        f"m = {ex.m} samples as the columns of X; J = {ex.J:.6g}; central differences agree "
        f"to {ex.check['max_rel_error']:.1e}"
    )
    if ex.numbering == "exercise":
        summary += "; the exercise's numbering (the input is layer 1)"
    css = static_text("style.css")
    scripts = "\n".join(
        f"<script>\n{static_text(name)}\n</script>" for name in STATIC_FILES if name.endswith(".js")
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="deltaprop explain">
<title>{escape(title)}</title>
<style>
{css}
</style>
</head>
<body>
<header class="dp-header"><h1>{escape(title)}</h1><p>{escape(summary)}</p></header>
<div id="dp-root"></div>
{_mistakes_html(ex)}
<script type="application/json" id="dp-data">{_json_script(data)}</script>
{scripts}
<script>
(function () {{
  var data = JSON.parse(document.getElementById("dp-data").textContent);
  window.deltapropData = data;
  window.deltapropStepper = Deltaprop.stepper(document.getElementById("dp-root"), data);
}})();
</script>
</body>
</html>
"""


def write_html(ex: Explanation, path: str | os.PathLike, **kw: Any) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(render_html(ex, **kw), encoding="utf-8")
    return path


__all__ = ["CSP", "page_data", "render_html", "write_html"]
