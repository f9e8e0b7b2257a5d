"""A small HTTP server on loopback that records every request and answers from a script.

It stands in for Jira at the true external boundary: tests see exactly what went on the wire
(raw path and query, headers, body) and choose each answer (status, headers, body, delay).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response


@dataclass
class Recorded:
    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 202
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[Recorded], Answer]


class RecordingServer:
    def __init__(self, responder: Responder | None = None) -> None:
        self.requests: list[Recorded] = []
        self.responder: Responder = responder or (lambda _r: Answer(202, {}))
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.path
        raw_path, _, raw_query = raw_uri.partition("?")
        recorded = Recorded(
            method=request.method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=dict(request.headers),
            body=request.get_data(),
        )
        with self._lock:
            self.requests.append(recorded)
        answer = self.responder(recorded)
        if answer.delay:
            time.sleep(answer.delay)
        body = (
            b""
            if answer.body is None
            else (
                answer.body.encode()
                if isinstance(answer.body, str)
                else json.dumps(answer.body).encode()
            )
        )
        response = Response(body, status=answer.status, headers=answer.headers)
        if answer.body is not None and not isinstance(answer.body, str):
            response.content_type = "application/json"
        return response(environ, start_response)

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def recording_server(responder: Responder | None = None) -> Iterator[RecordingServer]:
    server = RecordingServer(responder).start()
    try:
        yield server
    finally:
        server.stop()
