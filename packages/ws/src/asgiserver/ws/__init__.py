"""Sans-IO WebSocket, server and client: RFC 6455, permessage-deflate (RFC 7692), RFC 8441.

``ServerConnection`` and ``ClientConnection`` share one engine; the client masks what it sends,
rejects masked frames, and leaves closing TCP to the server (RFC 6455 §5.1, §7.1.1).

Strictness policy (every item is tested):

- Opening handshake: GET over HTTP/1.1 or later (or extended CONNECT over HTTP/2), Upgrade and
  Connection tokens compared case-insensitively, exactly one Sec-WebSocket-Key that is base64 of 16
  bytes, exactly one Sec-WebSocket-Version equal to 13 (else 426). Malformed Sec-WebSocket-Protocol
  or Sec-WebSocket-Extensions headers are rejected with 400; empty list elements are tolerated.
- Frames: client frames must be masked; reserved bits, reserved opcodes, fragmented or oversized
  control frames, stray continuations, interleaved messages, non-minimal payload lengths and
  64-bit lengths with the high bit set all fail with 1002.
- Text and close reasons must be valid UTF-8 (1007), checked as it arrives, failing at the first bad byte. Close codes
  outside 1000-1003, 1007-1014 and 3000-4999, and 1-byte close payloads, fail with 1002.
- Limits fail with 1009 before the offending payload is buffered or inflated.
- Once the peer's close frame arrives, or the connection fails, further input is ignored. A failure
  is reported after the messages complete before it, and the caller, who may still answer them,
  sends the close frame (state FAILING, RFC 6455 §7.1.7).
"""

from ._connection import ClientConnection, ServerConnection
from ._deflate import DeflateOptions, PerMessageDeflate
from ._errors import LocalProtocolError, MessageTooBig, ProtocolError, RemoteProtocolError
from ._events import (
    BytesMessage,
    Close,
    CloseReceived,
    ConnectionClosed,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    SendEvent,
    TextMessage,
)
from ._handshake import (
    ClientHandshake,
    ExtensionOffer,
    HandshakeRejection,
    HandshakeRequest,
    HandshakeResponse,
    accept,
    accept_key,
    open_handshake,
    validate_request,
    validate_response,
)
from ._limits import Limits
from ._state import State

__all__ = [
    # opening handshake
    "validate_request",
    "accept",
    "accept_key",
    "HandshakeRequest",
    "HandshakeRejection",
    "HandshakeResponse",
    "ExtensionOffer",
    "DeflateOptions",
    "PerMessageDeflate",
    "open_handshake",
    "validate_response",
    "ClientHandshake",
    # connection
    "ServerConnection",
    "ClientConnection",
    "Limits",
    "State",
    # events
    "Event",
    "SendEvent",
    "TextMessage",
    "BytesMessage",
    "Ping",
    "Pong",
    "Close",
    "CloseReceived",
    "ConnectionClosed",
    "ConnectionFailed",
    # errors
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "MessageTooBig",
]
