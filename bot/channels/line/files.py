"""Calendar files for members who cannot receive files: LINE takes no documents from a bot,
so an event's .ics becomes a link to `GET /line/ics/<token>` on our own web app.

The token is signed with a key derived from the channel secret and expires (a day by
default). It carries the file itself, compressed, so that any process behind the load
balancer can serve it and a restart loses nothing. A file too large for a link (LINE takes
addresses of at most 1000 characters) is kept in this process's memory instead, bounded, and
the token names it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.domain.messages import Attachment

log = logging.getLogger(__name__)

PATH = "/line/ics/{token}"
MAX_URI = 1000
"""LINE's limit on the address of a URI action."""
# Opens the page in the phone's own browser rather than LINE's, which hands an .ics to the
# calendar app (LINE documents this query parameter for links in chats).
_EXTERNAL = "?openExternalBrowser=1"

_EMBEDDED, _KEPT = b"c", b"m"
_MAC_BYTES = 16
_ID_BYTES = 16


class CalendarFiles:
    """Makes and opens the signed links of calendar files (text/calendar) offered to LINE
    members. They hold only what an event card shows anyone; never put personal data here,
    since the token carries the file."""

    def __init__(
        self,
        channel_secret: str,
        *,
        lifetime: float = 24 * 3600.0,
        kept: int = 512,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`lifetime`: seconds a link works; `kept`: how many large files stay in memory."""
        self._key = hashlib.sha256(f"campaign-bot line files {channel_secret}".encode()).digest()
        self._lifetime = lifetime
        self._clock = clock
        self._capacity = kept
        self._kept: OrderedDict[bytes, Attachment] = OrderedDict()

    def url(self, public_url: str, attachment: Attachment) -> str:
        """The address at which `attachment` can be opened, `public_url` being where our web
        application is reached from outside (https://bot.example.org)."""
        base = public_url.rstrip("/")
        expires = struct.pack(">I", int(self._clock() + self._lifetime))
        name = attachment.filename.encode()[:255]
        embedded = (
            _EMBEDDED + expires + bytes([len(name)]) + name + zlib.compress(attachment.content, 9)
        )
        address = self._address(base, embedded)
        if len(address) <= MAX_URI:
            return address
        file_id = os.urandom(_ID_BYTES)
        self._kept[file_id] = attachment
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)
        return self._address(base, _KEPT + expires + file_id)

    def open(self, token: str) -> Attachment | None:
        """The file a token names; None when it is forged, expired or no longer kept."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(payload) < 5 or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        (expires,) = struct.unpack(">I", payload[1:5])
        if self._clock() >= expires:
            return None
        kind, rest = payload[:1], payload[5:]
        if kind == _KEPT:
            return self._kept.get(rest)
        if kind != _EMBEDDED or not rest:
            return None
        name, content = rest[1 : 1 + rest[0]], rest[1 + rest[0] :]
        try:
            return Attachment(name.decode(), "text/calendar", zlib.decompress(content))
        except (zlib.error, UnicodeDecodeError):
            return None

    def route(self) -> Route:
        return Route(PATH, self._serve, methods=["GET"])

    async def _serve(self, request: Request) -> Response:
        attachment = self.open(str(request.path_params["token"]))
        if attachment is None:
            return PlainTextResponse("not found", status_code=404)
        filename = quote(attachment.filename)
        return Response(
            attachment.content,
            media_type=attachment.media_type,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
                "Cache-Control": "private, max-age=3600",
            },
        )

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def _address(self, base: str, payload: bytes) -> str:
        token = base64.urlsafe_b64encode(payload + self._mac(payload)).rstrip(b"=").decode()
        return f"{base}{PATH.format(token=token)}{_EXTERNAL}"
