"""The one web application of a running bot: every webhook channel's routes, and /healthz.

One process serves one address (`web.listen`, `web.port`); behind a load balancer several
such processes serve the same routes. Starlette routes the requests, uvicorn serves them on a
socket bound here.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"


class TooLarge(Exception):
    """A request body passed the limit its route accepts."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port`, as uvicorn would bind it; raises `OSError` (address in
    use, permission denied, no such address). Bound here, not by uvicorn, because uvicorn
    answers a failed bind by logging it and calling `sys.exit`, past every handler."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read as it arrives; `TooLarge` as soon as it passes `limit` bytes, so a huge
    or endless body never sits in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def too_large() -> Response:
    """413, closing the connection: kept open, the rest of the body would still be read."""
    return PlainTextResponse("payload too large", status_code=413, headers={"Connection": "close"})


class WebServer:
    """The shared application on uvicorn. `healthy` answers /healthz: 200 when it is True."""

    def __init__(
        self,
        routes: Sequence[BaseRoute],
        healthy: Callable[[], bool],
        *,
        listen: str,
        port: int,
    ) -> None:
        self._healthy = healthy
        self._listen = listen
        self._wanted_port = port
        self.app = Starlette(routes=[*routes, Route(HEALTH_PATH, self._health, methods=["GET"])])
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=listen,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    async def start(self) -> None:
        """Listen and serve; returns once requests are answered. Raises `OSError` when the
        address cannot be listened on."""
        self._socket = listening_socket(self._listen, self._wanted_port)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why the server could not start
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop taking requests, let those in hand finish, close the socket."""
        self._server.should_exit = True
        try:
            if self._task is not None:
                await self._task
        finally:
            if self._socket is not None:
                self._socket.close()  # uvicorn closes it too, once it has started

    @property
    def port(self) -> int:
        """The port actually bound (useful when the config asks for port 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self._wanted_port

    async def _health(self, request: Request) -> Response:
        if self._healthy():
            return PlainTextResponse("ok")
        return PlainTextResponse("unavailable", status_code=503)
