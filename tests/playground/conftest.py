"""Fixtures of the playground tests: the real server (uvicorn, in a thread) on a free port."""

from __future__ import annotations

import threading
import time

import pytest


class RunningServer:
    def __init__(self, max_sessions: int | None = None) -> None:
        from deltaprop.web import playground

        self.sock = playground.bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = playground.url_of(self.sock)
        self.host = f"127.0.0.1:{self.port}"
        self.origin = f"http://{self.host}"
        self.server = playground.make_server(self.sock, max_sessions=max_sessions)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the playground server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    pytest.importorskip("websockets")
    s = RunningServer()
    yield s
    s.stop()


@pytest.fixture
def server_factory():
    """``server_factory(max_sessions=...)``: another running server, stopped after the test."""
    pytest.importorskip("uvicorn")
    made: list[RunningServer] = []

    def make(**kwargs):
        made.append(RunningServer(**kwargs))
        return made[-1]

    yield make
    for s in made:
        s.stop()
