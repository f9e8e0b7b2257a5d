"""A real HTTP server on loopback that serves signed-install public keys, as Atlassian's CDN does.

``GET /<kid>`` answers the PEM of that key, 404 for an unknown kid. It counts requests, can be made
slow (to exercise timeouts) or made to answer a fixed status, and runs in a daemon thread.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from types import TracebackType


class KeyServer:
    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.delay = 0.0
        self.status: int | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                if server.delay:
                    time.sleep(server.delay)
                kid = self.path.lstrip("/")
                status = server.status or (200 if kid in server.keys else 404)
                body = server.keys.get(kid, b"not found") if status == 200 else b"not found"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-pem-file")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, kid: str, public_pem: bytes) -> None:
        self.keys[kid] = public_pem

    def count(self, kid: str | None = None) -> int:
        with self._lock:
            if kid is None:
                return len(self.requests)
            return sum(1 for path in self.requests if path == f"/{kid}")

    def start(self) -> KeyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> KeyServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
