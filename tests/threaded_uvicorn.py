"""An ASGI app served by uvicorn in a background thread, on a socket bound before the server starts (port 0 =
a free port, with no window for another process to take it). Shared by the test servers
(tests/openai_compat_server.py, tests/hf_hub_server.py).

    server = ThreadedUvicorn(app, "127.0.0.1", 0, name="hub").start()    # server.port: the bound port
    server.stop()
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


class ThreadedUvicorn:
    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, *, name: str = "test-server"):
        self.app, self.host, self.name = app, host, name
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self._server = self._thread = None

    def start(self, timeout_s: float = 10.0) -> "ThreadedUvicorn":
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
                                        name=f"{self.name}-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} test server did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None
