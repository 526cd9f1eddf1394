"""Sans-IO HTTP/1.1 connections, server and client (RFC 9110, RFC 9112).

``ServerConnection`` reads requests and writes responses; ``ClientConnection`` writes requests
and reads responses, with the same events, the same strictness and the same limits.

Strict by default.  What we reject, and with which status (``error.status_hint``):

* bare CR or bare LF as a line terminator anywhere in the head, chunk lines or trailers (400);
* obs-fold, whitespace before the first field line, whitespace between a field name and its colon,
  a field name that is not a token, NUL/CR/LF or any other CTL but HTAB in a field value (400);
* a malformed request line (400); a request line over the limit (414); a well-formed version
  other than HTTP/1.x (505); HTTP/1.2+ is served as HTTP/1.1 (RFC 9112 §2.3);
* a request-target that is not origin-form or absolute-form, ``*`` except with OPTIONS (400);
  CONNECT (501: this server is no proxy);
* HTTP/1.1 without Host, more than one Host, an invalid Host, two Content-Type fields (400);
* Content-Length with Transfer-Encoding, Transfer-Encoding in HTTP/1.0, ``chunked`` not final or
  repeated, a malformed or conflicting Content-Length (400); a final ``chunked`` after other
  codings (501); the connection always closes after a rejected request;
* a malformed chunk size (only 1-16 HEXDIG), malformed chunk extensions, chunk data not followed
  by CRLF (400); a body or header section over its limit (413 / 431).

Lenient where the RFCs ask for it: empty lines (CRLF only) before a request line are skipped (RFC
9112 §2.2); an identical repeated Content-Length (``5, 5``) is one value (RFC 9110 §8.6); empty
list members are ignored (RFC 9110 §5.6.1); unknown expectations are ignored (RFC 9110 §10.1.1);
obs-text in field values is kept as opaque bytes (RFC 9110 §5.5); methods are any token, kept
exactly as sent (``get`` is a different method from ``GET``).

Sending: an ``InformationalResponse(100)`` when no 100 is owed is dropped, as is any 1xx to an
HTTP/1.0 client (RFC 9110 §15.2); trailers are dropped unless the request said ``TE: trailers``.
See README.md for the whole contract.
"""

from ._client import ClientConnection
from ._connection import ServerConnection
from ._errors import (
    BodyTooLarge,
    HeadersTooLarge,
    IncompleteMessage,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    RequestLineTooLong,
    RequestTimeout,
    StatusLineTooLong,
    UnsupportedMethod,
    UnsupportedTransferCoding,
    UnsupportedVersion,
)
from ._events import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    Headers,
    InformationalResponse,
    Request,
    Response,
)
from ._limits import Limits
from ._state import State

__all__ = [
    # connection
    "ServerConnection",
    "ClientConnection",
    "Limits",
    "State",
    # events
    "Event",
    "Request",
    "Data",
    "EndOfMessage",
    "InformationalResponse",
    "Response",
    "ConnectionClosed",
    "ConnectionFailed",
    "Headers",
    # errors
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "IncompleteMessage",
    "RequestTimeout",
    "RequestLineTooLong",
    "StatusLineTooLong",
    "HeadersTooLarge",
    "BodyTooLarge",
    "UnsupportedMethod",
    "UnsupportedTransferCoding",
    "UnsupportedVersion",
]
