"""The explain page in a real browser: Playwright for Python driving the system's Chromium.

The page is loaded from a file:// URL with every network request refused (any request other
than the page itself fails the test), must log no console error, and is stepped forward and
backward by keyboard and buttons; at every step the numbers read back from the DOM equal the
JSON. Needs the Debian package ``chromium`` (``.ci/run`` installs it) and ``playwright``
(the ``test`` extra); skipped, with the reason, where either is missing.
"""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest

from deltaprop.explain import explain
from deltaprop.web.explain_page import page_data, write_html

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = next(
    (
        p
        for p in (
            os.environ.get("DELTAPROP_CHROMIUM"),
            "/usr/bin/chromium",
            shutil.which("chromium"),
            shutil.which("chromium-browser"),
        )
        if p and os.path.exists(p)
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium at /usr/bin/chromium (Debian: apt-get install chromium; "
    "or set DELTAPROP_CHROMIUM)",
)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    ex = explain(mistakes=True)
    path = tmp_path_factory.mktemp("explain") / "explain.html"
    write_html(ex, path)
    return path, page_data(ex)


class Guarded:
    """A page whose every request other than the page file itself is refused and recorded."""

    def __init__(self, browser, url, width, height):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.attempted: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", self._request)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.url = url
        self.page.goto(url)

    def _request(self, request):
        if request.url.split("#")[0] != self.url:
            self.attempted.append(request.url)

    def _route(self, route):
        if route.request.url.split("#")[0] == self.url:
            route.continue_()
        else:
            self.attempted.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()


@pytest.fixture
def guarded(browser, page_file):
    path, data = page_file
    g = Guarded(browser, path.as_uri(), 1280, 800)
    yield g, data
    assert g.attempted == [], f"the page attempted network requests: {g.attempted}"
    assert g.errors == [], f"console errors: {g.errors}"
    g.close()


def _dom_matrices(page):
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.dp-step figure.dp-matrix')).map(f => ({
            id: f.dataset.id,
            values: Array.from(f.querySelectorAll('tbody tr')).map(tr =>
                Array.from(tr.querySelectorAll('td')).map(td => JSON.parse(td.dataset.value)))
        }))"""
    )


def _json_matrices(step):
    return [
        {"id": item["matrix"]["id"], "values": item["matrix"]["values"]}
        for line in step["numbers"]
        for item in line
        if "matrix" in item
    ]


def _assert_step(page, data, k):
    step = data["steps"][k]
    assert page.get_attribute(".dp-step", "data-step-id") == step["id"]
    assert _dom_matrices(page) == _json_matrices(step)  # exact: data-value holds the JSON number
    assert page.locator(".dp-step .dp-equation math").count() == 1
    # the drawing: units coloured by A or δ of sample 1, as the JSON says
    for units in step["units"]:
        shown = page.evaluate(
            """(l) => Array.from(document.querySelectorAll(
                   `circle.dp-unit[data-layer="${l}"]`)).map(c => [c.dataset.kind,
                   Number(c.dataset.value)])""",
            units["layer"],
        )
        assert shown == [[units["kind"], row[0]] for row in units["values"]]


def test_steps_by_keyboard_equal_the_json(guarded):
    g, data = guarded
    page = g.page
    n = len(data["steps"])
    for k in range(n):
        _assert_step(page, data, k)
        page.keyboard.press("ArrowRight")
    _assert_step(page, data, n - 1)  # stays on the last step
    for k in range(n - 1, -1, -1):
        _assert_step(page, data, k)
        page.keyboard.press("ArrowLeft")
    _assert_step(page, data, 0)
    page.keyboard.press("End")
    _assert_step(page, data, n - 1)
    page.keyboard.press("Home")
    _assert_step(page, data, 0)


def test_steps_by_buttons_and_the_step_list(guarded):
    g, data = guarded
    page = g.page
    assert page.is_disabled("button[data-action=prev]")
    for k in range(1, 6):
        page.click("button[data-action=next]")
        _assert_step(page, data, k)
    page.click("button[data-action=prev]")
    _assert_step(page, data, 4)
    page.click("details.dp-steps summary")
    page.click("li[data-step-id=output-delta] button")
    _assert_step(page, data, [s["id"] for s in data["steps"]].index("output-delta"))
    page.click("button[data-sample=mean]")
    step = data["steps"][page.evaluate("window.deltapropStepper.index()")]
    units = step["units"][0]
    shown = page.evaluate(
        f"""Array.from(document.querySelectorAll('circle.dp-unit[data-layer="{units["layer"]}"]'))
            .map(c => Number(c.dataset.value))"""
    )
    np.testing.assert_allclose(shown, np.mean(units["values"], axis=1), rtol=1e-12)


def test_mathml_is_native_and_present(guarded):
    g, data = guarded
    page = g.page
    assert page.evaluate("document.querySelector('math') instanceof MathMLElement")
    assert page.locator("math msup").count() > 5
    page.keyboard.press("End")
    assert page.locator("#mistakes math").count() >= 6
    assert page.locator("#mistakes h3").count() == 3
    # the transpose is written as a superscript ⊤ in equation (i)
    k = [s["id"] for s in data["steps"]].index("hidden-delta-1")
    page.evaluate(f"window.deltapropStepper.go({k})")
    assert "⊤" in page.inner_text(".dp-step .dp-equation")


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_screenshots_not_blank_and_fit_the_width(browser, page_file, width, height):
    import matplotlib.image

    path, data = page_file
    g = Guarded(browser, path.as_uri(), width, height)
    try:
        for k in (0, [s["id"] for s in data["steps"]].index("hidden-delta-1")):
            g.page.evaluate(f"window.deltapropStepper.go({k})")
            png = g.page.screenshot()
            pixels = matplotlib.image.imread(io.BytesIO(png))[..., :3]
            assert pixels.shape[:2] == (height, width)
            colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
            assert len(colours) > 50 and pixels.std() > 0.05  # drawn, not one flat colour
            overflow = g.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the page is {overflow}px wider than a {width}px screen"
        assert g.attempted == [] and g.errors == []
    finally:
        g.close()


def test_a_new_stepper_on_the_same_root_replaces_the_old_one(guarded):
    g, data = guarded
    page = g.page
    page.evaluate(
        """() => {
            const root = document.getElementById('dp-root');
            root.innerHTML = '';
            window.second = Deltaprop.stepper(root, window.deltapropData, {hash: false});
        }"""
    )
    page.keyboard.press("ArrowRight")
    assert page.evaluate("window.second.index()") == 1
    assert page.evaluate("window.deltapropStepper.index()") == 0  # its listener is gone
    page.evaluate("window.second.destroy()")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("window.second.index()") == 1


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_a_wider_softmax_network_in_the_exercise_numbering(browser, tmp_path, width, height):
    sizes = (4, 8, 6, 3)
    ex = explain(sizes=sizes, output="softmax", loss="cross_entropy", m=12, numbering="exercise")
    path = write_html(ex, tmp_path / "wide.html")
    g = Guarded(browser, path.as_uri(), width, height)
    try:
        data = page_data(ex)
        for k in range(len(data["steps"])):
            g.page.evaluate(f"window.deltapropStepper.go({k})")
            assert g.page.locator("line.dp-edge").count() == 4 * 8 + 8 * 6 + 6 * 3
            assert _dom_matrices(g.page) == _json_matrices(data["steps"][k])
            overflow = g.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (data["steps"][k]["id"], overflow)
        labels = g.page.locator("svg .dp-layer-label").all_text_contents()
        assert labels == ["input [1]", "hidden [2]", "hidden [3]", "output [4]"]
        assert g.attempted == [] and g.errors == []
    finally:
        g.close()
