"""A small HTTP receiver standing in for an SMS / push provider.

apprise's ``json://`` channel posts each notification here; the receiver keeps every
request with its arrival time, and can answer 500 for a while to play a failing
provider, or answer late to play a slow one.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from silverguard.servers.process import wait_until


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float  # time.time() on arrival
    status: int


@dataclass
class Receiver:
    requests: list[Received] = field(default_factory=list)
    fail_with: int | None = None  # answer this status instead of 200 (a failing provider)
    answer_after_s: float = 0.0  # a slow provider: the answer waits this long
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Condition = field(default_factory=threading.Condition)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "notify") -> str:
        """An apprise URL that posts JSON to this receiver."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                status = receiver.fail_with or 200
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers), body, time.time(), status)
                    )
                    receiver._lock.notify_all()
                if receiver.answer_after_s:
                    time.sleep(receiver.answer_after_s)  # this request's own thread
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def delivered(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.status == 200 and (path is None or r.path.strip("/") == path)
            ]

    def wait_for(
        self, count: int = 1, *, path: str | None = None, timeout: float = 30.0
    ) -> list[Received]:
        wait_until(lambda: len(self.delivered(path)) >= count, timeout, f"{count} notification(s)")
        return self.delivered(path)
