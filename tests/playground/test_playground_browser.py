"""The playground page in a real browser: Playwright for Python driving the system's Chromium.

Each page runs against the real server (``server`` fixture) with every request to anywhere
else refused and recorded (the test fails if one is attempted), and with its console watched
for errors. The numbers of step mode are read from the DOM and compared with deltaprop's own
``Network.backward`` on the same batch; the exported model is compared with the page's curve.
"""

from __future__ import annotations

import base64
import os
import time

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.io import load_model

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("DELTAPROP_CHROMIUM", "/usr/bin/chromium")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (set DELTAPROP_CHROMIUM)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """A page of the playground with its console errors and any outside request recorded."""

    def __init__(self, context, server) -> None:
        self.server = server
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(server.url)
        self.wait("window.playground.frame !== null && window.playground.data !== null")

    def wait(self, js: str, timeout: float = 15.0):
        """Poll a JS expression until truthy (wait_for_function would need eval, which the
        page's Content-Security-Policy forbids)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.page.evaluate(js)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {js}")
            time.sleep(0.03)

    def js(self, expr: str):
        return self.page.evaluate(expr)

    def configure(self, selector: str, value: str, check: str) -> None:
        """Change one control as a user would and wait for the server's new data."""
        if self.page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            self.page.select_option(selector, value)
        else:
            self.page.fill(selector, value)
            self.page.locator(selector).dispatch_event("change")
        self.wait(check)

    def play_for(self, steps: int) -> None:
        start = self.js("window.playground.frame.step")
        self.page.click("#play")
        self.wait(f"window.playground.frame.step >= {start + steps}")
        self.page.click("#play")  # pause
        self.wait("!window.playground.playing")
        time.sleep(0.2)  # the last frame after "paused"

    def canvas(self) -> str:
        return self.js("document.getElementById('view').toDataURL()")

    def shown_matrices(self) -> dict[str, np.ndarray]:
        """Every matrix of the stepper's current step, by id, from the cells' data-value."""
        found = self.js(
            """Object.fromEntries(Array.from(document.querySelectorAll(
                '#stepper-root section.dp-step figure.dp-matrix')).map(f => [f.dataset.id,
                Array.from(f.querySelectorAll('tbody tr')).map(tr =>
                Array.from(tr.querySelectorAll('td')).map(td => td.dataset.value))]))"""
        )
        return {k: np.array(v, dtype=np.float64) for k, v in found.items()}

    def first_step(self) -> None:
        if not self.js(
            "document.querySelector('#stepper-root button[data-action=\"first\"]').disabled"
        ):
            self.page.click('#stepper-root button[data-action="first"]')

    def every_step(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """Walk the stepper from its first step to its last with the "next" button."""
        self.first_step()
        ids, mats = [], {}
        while True:
            ids.append(
                self.js("document.querySelector('#stepper-root section.dp-step').dataset.stepId")
            )
            for k, v in self.shown_matrices().items():
                if k in mats:  # the same matrix shown on two steps holds the same numbers
                    np.testing.assert_array_equal(mats[k], v)
                mats[k] = v
            if self.js(
                "document.querySelector('#stepper-root button[data-action=\"next\"]').disabled"
            ):
                return ids, mats
            self.page.click('#stepper-root button[data-action="next"]')


@pytest.fixture
def context(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    outside: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith((server.url, f"ws://{server.host}/")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    ctx.route("**/*", guard)
    ctx.outside = outside
    yield ctx
    ctx.close()
    assert not outside, f"the page tried to reach {outside}"


@pytest.fixture
def page(context, server):
    p = Page(context, server)
    yield p
    assert not p.errors, p.errors


def test_the_page_loads_draws_and_reports_no_error(page, tmp_path):
    assert page.js("document.getElementById('conn').textContent") == "connected"
    assert page.js("document.querySelectorAll('#net circle').length") == 2 + 6 + 6 + 1
    assert page.js("document.querySelectorAll('#net line.dp-edge').length") == 2 * 6 + 6 * 6 + 6
    path = tmp_path / "page.png"
    page.page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000  # not blank
    page.page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 20_000


def test_play_lowers_the_training_cost_and_changes_the_boundary(page):
    before_cost = page.js("window.playground.frame.train_cost")
    before_image = page.canvas()
    page.play_for(150)
    assert page.js("window.playground.frame.train_cost") < 0.8 * before_cost
    assert page.canvas() != before_image
    shown = page.js("document.getElementById('stat-step').textContent")
    assert int(shown) == page.js("window.playground.frame.step") >= 150
    assert page.js("document.querySelectorAll('#cost polyline').length") == 2
    # the learning rate changes while training goes on; units can show δ instead of A
    step = page.js("window.playground.frame.step")
    page.configure("#lr", "0.01", "window.playground.data.settings.lr === 0.01")
    assert page.js("window.playground.frame.step") == step
    assert page.js("document.querySelectorAll('#net circle[data-kind=\"A\"]').length") == 15
    page.page.check('input[name="colour"][value="delta"]')
    assert page.js("document.querySelectorAll('#net circle[data-kind=\"delta\"]').length") == 13


def test_one_step_in_step_mode_shows_the_numbers_of_network_backward(page):
    page.configure("#batch_size", "5", "window.playground.data.settings.batch_size === 5")
    page.configure("#hidden", "4,3", "window.playground.data.sizes.join() === '2,4,3,1'")
    page.play_for(20)
    page.page.click("#step")
    page.wait("window.playground.step !== null")
    assert page.js("document.getElementById('stepper').hidden") is False
    ids, mats = page.every_step()
    L = 3
    assert ids == [
        "forward-1",
        "forward-2",
        "forward-3",
        "cost",
        "output-delta",
        "hidden-delta-2",
        "hidden-delta-1",
        "gradients-3",
        "gradients-2",
        "gradients-1",
        "check",
    ]
    hidden = page.js("document.getElementById('activation').value")
    output = page.js("document.getElementById('output').value")
    loss = page.js("document.getElementById('loss').value")
    net = dp.Network([2, 4, 3, 1], hidden=hidden, output=output, loss=loss)
    for l in range(1, L + 1):
        net.W[l] = mats[f"W{l}"]
        net.b[l] = mats[f"b{l}"]
    X, Y = mats["A0"], mats["Y"]
    assert X.shape == (2, 5) and Y.shape == (1, 5)
    Z, A = net.forward_pass(X)
    delta, dW, db = net.backward(Z, A, Y)
    for l in range(1, L + 1):
        np.testing.assert_allclose(mats[f"Z{l}"], Z[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(mats[f"delta{l}"], delta[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(mats[f"dW{l}"], dW[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(mats[f"db{l}"], db[l], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(mats["W3T"], net.W[3].T)  # equation (i)'s transpose
    assert mats["J"][0, 0] == pytest.approx(net.cost(X, Y), rel=1e-12)
    # MathML equations, and the arrow keys move through the steps
    assert page.js("document.querySelectorAll('#stepper-root .dp-equation math').length") == 1
    page.first_step()
    page.page.click("#net")  # focus off the inputs
    page.page.keyboard.press("ArrowRight")
    assert (
        page.js("document.querySelector('#stepper-root section.dp-step').dataset.stepId")
        == "forward-2"
    )
    page.page.keyboard.press("ArrowLeft")
    assert (
        page.js("document.querySelector('#stepper-root section.dp-step').dataset.stepId")
        == "forward-1"
    )
    # the next step keeps the stepper where it was and moves the batch on
    page.page.keyboard.press("ArrowRight")
    step = page.js("window.playground.step.step")
    page.page.click("#step")
    page.wait(f"window.playground.step.step === {step + 1}")
    assert (
        page.js("document.querySelector('#stepper-root section.dp-step').dataset.stepId")
        == "forward-2"
    )


def test_the_exported_model_predicts_like_the_page(page, tmp_path):
    page.configure("#loss", "mse", "window.playground.data.settings.loss === 'mse'")
    page.configure("#dataset", "sine", "window.playground.data.kind === 'regression'")
    page.configure("#output", "identity", "window.playground.data.settings.output === 'identity'")
    page.play_for(200)
    with page.page.expect_download() as info:
        page.page.click("#export-model")
    path = tmp_path / "model.safetensors"
    info.value.save_as(path)
    model = load_model(path)
    assert model.metadata["steps"] == page.js("window.playground.frame.step")
    x = np.array(page.js("window.playground.frame.view.x"))
    y = np.array(page.js("window.playground.frame.view.y"))
    np.testing.assert_allclose(model.forward(x[None, :])[0], y, atol=1e-6)
    # the figures export too
    for selector in (
        '[data-export="view"][data-format="png"]',
        '[data-export="net"][data-format="svg"]',
    ):
        with page.page.expect_download() as fig:
            page.page.click(selector)
        out = tmp_path / fig.value.suggested_filename
        fig.value.save_as(out)
        head = out.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") or b"<svg" in head


def test_two_tabs_train_independently(context, server):
    a, b = Page(context, server), Page(context, server)
    b.configure("#dataset", "circles", "window.playground.data.settings.dataset === 'circles'")
    a.play_for(100)
    assert b.js("window.playground.frame.step") == 0
    assert a.js("window.playground.data.settings.dataset") == "moons"
    assert a.js("window.playground.frame.step") >= 100
    assert not a.errors and not b.errors


def test_bad_messages_show_an_error_and_the_page_goes_on(page):
    page.js("window.playground.ws.send('{not json')")
    page.wait("!document.getElementById('error').hidden")
    assert "malformed message" in page.js("document.getElementById('error').textContent")
    page.configure("#hidden", "4,99", "!document.getElementById('error').hidden")
    assert "hidden[1] must be in [1, 16]" in page.js("document.getElementById('error').textContent")
    page.js(
        "window.playground.ws.send(JSON.stringify({type: 'configure', settings: {lr: 'x'.repeat(20000)}}))"
    )
    page.wait("document.getElementById('error').textContent.includes('too large')")
    page.play_for(30)  # still training
    assert page.js("window.playground.frame.step") >= 30


def test_a_page_from_another_site_cannot_drive_the_server(browser, server):
    ctx = browser.new_context()
    html = f"""<!doctype html><title>evil</title><script>
      window.result = 'pending';
      const ws = new WebSocket('ws://{server.host}/ws');
      ws.onmessage = () => {{ window.result = 'got a message'; }};
      ws.onclose = (e) => {{ if (window.result === 'pending') window.result = 'closed ' + e.code; }};
    </script>"""
    ctx.route(
        "http://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )
    page = ctx.new_page()
    page.goto("http://evil.example/")
    deadline = time.monotonic() + 10
    while page.evaluate("window.result") == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert page.evaluate("window.result").startswith("closed"), page.evaluate("window.result")
    ctx.close()


def test_the_users_csv_is_uploaded_and_trained_on(page, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 60)
    path = tmp_path / "mine.csv"
    path.write_text("x,y\n" + "".join(f"{a:.6f},{np.tanh(2 * a):.6f}\n" for a in x))
    page.page.set_input_files("#csv", str(path))
    page.wait("window.playground.data.settings.dataset === 'csv'")
    assert page.js("window.playground.data.kind") == "regression"
    n = page.js(
        "window.playground.data.train.X[0].length + window.playground.data.test.X[0].length"
    )
    assert n == 60
    bad = tmp_path / "bad.csv"
    bad.write_bytes(base64.b64decode(base64.b64encode(b"x,y\n1,2\n3,SECRET\n")))
    page.page.set_input_files("#csv", str(bad))
    page.wait("!document.getElementById('error').hidden")
    message = page.js("document.getElementById('error').textContent")
    assert "line 3, column 2" in message and "SECRET" not in message
