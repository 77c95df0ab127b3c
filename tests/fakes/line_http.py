"""The HTTP side of the fake LINE API: a keep-alive HTTP/1.1 server in daemon threads.

Like the fake Telegram server's (telegram_http.py), but LINE's answers carry headers
(`x-line-request-id`, `x-line-accepted-request-id`) and its API uses GET, POST and DELETE.
Each response is written with a single send, with Content-Length, so clients keep their
connections; `stop()` shuts every open connection so pooled clients see the server go.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY_BYTES = 20 * 1024 * 1024  # far above LINE's own limits: the fake reports those itself


@dataclass(frozen=True)
class HttpRequest:
    """One parsed HTTP request; `path` has no query string."""

    method: str
    path: str
    query: str
    headers: Message
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    """What to answer; a handler returning None instead drops the connection unanswered."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[HttpRequest], HttpResponse | None]


class _ConnectionGone(Exception):
    """The client went away while we were reading its request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        self.app_handler = handler
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-request is normal for a test server; anything else is a bug.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "legy"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log line."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _ConnectionGone:
            self.close_connection = True
            return
        except ValueError as error:
            self.close_connection = True
            self._write(HttpResponse(400, json.dumps({"message": str(error)}).encode()))
            return
        path, _, query = self.path.partition("?")
        request = HttpRequest(self.command, path, query, self.headers, body)
        try:
            response = self.server.app_handler(request)
        except Exception:
            traceback.print_exc()
            response = HttpResponse(500, json.dumps({"message": "Internal server error"}).encode())
        if response is None:
            self.close_connection = True
            with contextlib.suppress(OSError):  # already closed by the client
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(response)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ValueError("invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise ValueError("Request Entity Too Large")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _ConnectionGone
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise _ConnectionGone
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline(65537)
            if len(body) > MAX_BODY_BYTES:
                raise ValueError("Request Entity Too Large")

    def _write(self, response: HttpResponse) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers.items()),
            "Connection: close" if self.close_connection else "Connection: keep-alive",
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + response.body)
        except OSError:
            self.close_connection = True


class FakeHttpServer:
    """Serve `handler` on host:port (0 = ephemeral) from a background daemon thread."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.server_address[1])

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._server = _Server(self._address, self._handler)
        # shutdown() waits for the loop to notice; a short poll keeps stop() quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-line-http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join()
