"""The ASGI callable and its messages, as this server types them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# The ASGI HTTP spec version the HTTP cycle honestly implements (2.4: send() raises OSError once the
# client is gone), and the WebSocket one (2.5: reason in websocket.close, the denial extension).
HTTP_SPEC_VERSION = "2.4"
WEBSOCKET_SPEC_VERSION = "2.5"


class ClientDisconnected(OSError):
    """Raised by `send()` once the client has gone (ASGI HTTP spec 2.4)."""


class ASGIProtocolError(RuntimeError):
    """The application sent a message that breaks the ASGI protocol."""
