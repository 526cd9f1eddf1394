"""Sans-IO HTTP/2 (RFC 9113) server connections on the h2 library, in asgiserver's vocabulary.

``ServerConnection`` takes bytes and gives events, takes events and gives bytes, like
``asgiserver.http1``, with a leading ``stream_id`` on every per-stream event.  h2 parses frames,
keeps HPACK and the stream states; this package validates requests itself so a malformed one is an
error on its stream only (RFC 9113 §8.1.1), buffers response bodies per stream within the flow
-control windows, returns request-body credit only as the application consumes it, writes its own
graceful two-phase GOAWAY (RFC 9113 §6.8), advertises exactly the SETTINGS it enforces, and
counts what a peer makes it do (rapid reset, MadeYouReset, CONTINUATION, control-frame and HPACK
floods) without a clock.  See README.md for the contract, the limits and the guards.
"""

from ._connection import ServerConnection, valid_upgrade_settings
from ._errors import (
    ErrorCode,
    ExcessiveLoad,
    HeadersTooLarge,
    IncompleteMessage,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    UnsupportedMethod,
)
from ._events import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    GoAwayReceived,
    Headers,
    InformationalResponse,
    Request,
    Response,
    StreamFailed,
    StreamReset,
    Writable,
)
from ._limits import Limits

__all__ = [
    # connection
    "ServerConnection",
    "valid_upgrade_settings",
    "Limits",
    "ErrorCode",
    # events
    "Event",
    "Request",
    "Data",
    "EndOfMessage",
    "InformationalResponse",
    "Response",
    "StreamReset",
    "StreamFailed",
    "Writable",
    "GoAwayReceived",
    "ConnectionClosed",
    "ConnectionFailed",
    "Headers",
    # errors
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "HeadersTooLarge",
    "UnsupportedMethod",
    "ExcessiveLoad",
    "IncompleteMessage",
]
