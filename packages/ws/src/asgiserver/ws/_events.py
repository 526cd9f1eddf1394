"""Events: what ``events_received()`` returns and what ``send()`` takes.

The message events serve both directions; ``CloseReceived`` / ``Close`` are split because the
peer's close may carry 1005 ("no status"), which a local close may not (RFC 6455 §7.4.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from ._errors import RemoteProtocolError

__all__ = [
    "BytesMessage",
    "Close",
    "CloseReceived",
    "ConnectionClosed",
    "ConnectionFailed",
    "Event",
    "Ping",
    "Pong",
    "SendEvent",
    "TextMessage",
]


@final
@dataclass(frozen=True, slots=True)
class TextMessage:
    """A complete text message (fragments already reassembled and UTF-8 validated)."""

    text: str


@final
@dataclass(frozen=True, slots=True)
class BytesMessage:
    """A complete binary message (fragments already reassembled)."""

    data: bytes


@final
@dataclass(frozen=True, slots=True)
class Ping:
    """A ping; a received one is answered with a Pong automatically (RFC 6455 §5.5.2)."""

    data: bytes = b""


@final
@dataclass(frozen=True, slots=True)
class Pong:
    """A pong, solicited or not (RFC 6455 §5.5.3)."""

    data: bytes = b""


@final
@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer's close frame; the closing handshake is complete and the echo is already queued.

    ``code`` is 1005 when the peer's frame had no status code (RFC 6455 §7.1.5).
    """

    code: int
    reason: str = ""


@final
@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """End of input without a closing handshake (1006, RFC 6455 §7.1.5)."""

    code: int = 1006


@final
@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The peer broke the protocol; always the last event, after the messages complete before it.

    From OPEN the state is now FAILING: answer those messages if you like, then send
    ``Close(error.close_code)`` to queue the close frame (RFC 6455 §7.1.7). From CLOSING our close
    is already out and the state is CLOSED.
    """

    error: RemoteProtocolError


@final
@dataclass(frozen=True, slots=True)
class Close:
    """Start the closing handshake from our side (send only)."""

    code: int = 1000
    reason: str = ""


Event = (
    TextMessage | BytesMessage | Ping | Pong | CloseReceived | ConnectionClosed | ConnectionFailed
)
"""Everything ``events_received()`` can return."""

SendEvent = TextMessage | BytesMessage | Ping | Pong | Close
"""Everything ``send()`` accepts."""
