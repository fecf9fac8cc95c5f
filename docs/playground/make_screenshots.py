"""The screenshots of docs/playground.md, taken in Chromium by Playwright.

    python docs/playground/make_screenshots.py            # writes docs/playground/*.png

Starts the playground on a free port of 127.0.0.1 (in this process), drives the page as a user
would (play, pause, one step) and refuses every request that is not to that server.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from deltaprop.web import playground

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("DELTAPROP_CHROMIUM", "/usr/bin/chromium")


def wait(page, js: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(js):
        if time.monotonic() > deadline:
            raise TimeoutError(js)
        time.sleep(0.05)


def play(page, steps: int) -> None:
    start = page.evaluate("window.playground.frame.step")
    page.click("#play")
    wait(page, f"window.playground.frame.step >= {start + steps}")
    page.click("#play")
    time.sleep(0.4)


def choose(page, selector: str, value: str, check: str) -> None:
    if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
        page.select_option(selector, value)
    else:
        page.fill(selector, value)
        page.locator(selector).dispatch_event("change")
    wait(page, check)


def main() -> int:
    sock = playground.bind("127.0.0.1", 0)
    server = playground.make_server(sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = playground.url_of(sock)
    outside: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            ctx = browser.new_context(viewport={"width": 1280, "height": 800})

            def guard(route):
                if route.request.url.startswith((url, f"ws://{sock.getsockname()[0]}")):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            ctx.route("**/*", guard)
            page = ctx.new_page()
            page.goto(url)
            wait(page, "window.playground.frame !== null")
            choose(
                page, "#dataset", "spiral", "window.playground.data.settings.dataset === 'spiral'"
            )
            choose(page, "#hidden", "8,8,8", "window.playground.data.sizes.length === 5")
            choose(
                page, "#activation", "tanh", "window.playground.data.settings.activation === 'tanh'"
            )
            play(page, 2500)
            page.screenshot(path=str(HERE / "playground-spiral.png"))

            choose(page, "#dataset", "moons", "window.playground.data.settings.dataset === 'moons'")
            choose(page, "#hidden", "4,3", "window.playground.data.sizes.join() === '2,4,3,1'")
            choose(page, "#batch_size", "4", "window.playground.data.settings.batch_size === 4")
            play(page, 300)
            page.click("#step")
            wait(page, "window.playground.step !== null")
            page.click("#net")
            for _ in range(5):  # to equation (i) for layer 2
                page.keyboard.press("ArrowRight")
            page.locator("#stepper").scroll_into_view_if_needed()
            page.locator("#stepper").screenshot(path=str(HERE / "playground-step.png"))

            page.click("#stepmode")
            choose(page, "#loss", "mse", "window.playground.data.settings.loss === 'mse'")
            choose(page, "#dataset", "sine", "window.playground.data.kind === 'regression'")
            choose(
                page, "#output", "identity", "window.playground.data.settings.output === 'identity'"
            )
            choose(page, "#hidden", "8,8", "window.playground.data.sizes.join() === '1,8,8,1'")
            choose(page, "#batch_size", "16", "window.playground.data.settings.batch_size === 16")
            play(page, 1500)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(HERE / "playground-curve.png"))

            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2
            )
            phone.route("**/*", guard)
            small = phone.new_page()
            small.goto(url)
            wait(small, "window.playground.frame !== null")
            play(small, 400)
            small.screenshot(path=str(HERE / "playground-phone.png"))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    if outside:
        print(f"the page tried to reach {outside}", file=sys.stderr)
        return 1
    for name in sorted(HERE.glob("*.png")):
        print(name, name.stat().st_size // 1024, "KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
