"""The HTTP side of the fake: a keep-alive HTTP/1.1 server in daemon threads, and request decoding.

One thread per connection (ThreadingHTTPServer), so a long-polling getUpdates never blocks other
requests. Each response is written with a single send, with Content-Length, so clients keep
their connections; `stop()` shuts every open connection so pooled clients see the server go.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

MAX_BODY_BYTES = 60 * 1024 * 1024  # Telegram accepts uploads up to 50 MB


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


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


Handler = Callable[[HttpRequest], HttpResponse | None]


class BodyError(ValueError):
    """The request body cannot be decoded; the message is a Telegram-style description."""


def decode_params(request: HttpRequest) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Query-string and body parameters, the way the Bot API accepts them, plus uploaded files.

    Form values stay strings (object values arrive as JSON text); JSON bodies keep their types.
    """
    params: dict[str, Any] = dict(parse_qsl(request.query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    if not request.body:
        return params, files
    content_type = request.headers.get("Content-Type", "") or ""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json":
        try:
            data = json.loads(request.body)
        except ValueError as error:
            raise BodyError(f"can't parse JSON encoded request: {error}") from None
        if not isinstance(data, dict):
            raise BodyError("JSON request must be an Object")
        params.update(data)
    elif mime == "multipart/form-data":
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not match:
            raise BodyError("can't find boundary in multipart/form-data request")
        for headers, content in parse_multipart(request.body, match.group(1).encode("latin-1")):
            disposition = _disposition_params(headers.get("content-disposition", ""))
            name = disposition.get("name")
            if name is None:
                continue
            if "filename" in disposition:
                files[name] = UploadedFile(
                    name, disposition["filename"], headers.get("content-type"), content
                )
            else:
                params[name] = content.decode("utf-8", "replace")
    else:
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return params, files


def parse_multipart(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/form-data body into (lower-cased headers, content) parts."""
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary)
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, content = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise BodyError("malformed multipart/form-data part")
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            name, _, value = line.decode("utf-8", "replace").partition(":")
            if name.strip():
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    return parts


def _disposition_params(value: str) -> dict[str, str]:
    """name/filename of a Content-Disposition header, quoted, HTML5-escaped or RFC 5987."""
    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', value):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            # httpx and browsers escape quotes and control characters as %XX (HTML5 forms).
            raw = re.sub(r"%(22|[01][0-9A-Fa-f])", lambda m: chr(int(m.group(1), 16)), raw)
        if key.endswith("*"):
            key = key[:-1]
            raw = unquote(raw.split("''", 1)[-1])
        params[key] = raw
    return params


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
    server_version = "nginx/1.18.0"
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
        """Silence the per-request log line: benchmarks send thousands of requests."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _ConnectionGone:
            self.close_connection = True
            return
        except BodyError as error:
            self.close_connection = True
            description = f"Bad Request: {error}"
            payload = {"ok": False, "error_code": 400, "description": description}
            self._write(HttpResponse(400, json.dumps(payload).encode()))
            return
        path, _, query = self.path.partition("?")
        request = HttpRequest(self.command, path, query, self.headers, body)
        try:
            response = self.server.app_handler(request)
        except Exception:
            traceback.print_exc()
            payload = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
            response = HttpResponse(500, json.dumps(payload).encode())
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
            raise BodyError("invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise BodyError("Request Entity Too Large")
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
                raise BodyError("Request Entity Too Large")

    def _write(self, response: HttpResponse) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
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
        # shutdown() waits for the loop to notice; a short poll keeps stop() quick (~5 ms).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-telegram-http-{self.port}",
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
