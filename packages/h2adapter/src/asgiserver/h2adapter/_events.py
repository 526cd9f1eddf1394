"""Events: what ``events_received()`` returns and what ``send()`` accepts.

The vocabulary of ``asgiserver.http1`` with a leading ``stream_id`` on every per-stream event:
frozen, slotted, final dataclasses holding ``bytes``; header names are lowercase.  ``Event`` is the
closed union, so a ``match`` over it ending in ``assert_never`` is checked by mypy.

The hot events (a few per request) write their ``__init__`` out and store through the slot
descriptors: the generated frozen ``__init__`` goes through ``object.__setattr__`` per field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, final

from ._errors import RemoteProtocolError

__all__ = [
    "Headers",
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
    "Event",
]

Headers = Sequence[tuple[bytes, bytes]]


def _setter(cls: type, name: str) -> Any:
    return cls.__dict__[name].__set__


@final
@dataclass(frozen=True, slots=True, init=False)
class Request:
    """A request head (received), already validated (RFC 9113 §8.2, §8.3).

    ``headers`` has no pseudo-fields; ``host`` comes first, from ``:authority`` when present
    (RFC 9113 §8.3.1); cookie crumbs are joined with ``"; "`` (RFC 9113 §8.2.3).  ``target`` is
    ``:path``; ``scheme`` is ``:scheme`` (what the client claims: take the transport's);
    ``authority`` is ``:authority`` or ``None``; ``protocol`` is RFC 8441's ``:protocol`` (then
    ``method`` is ``b"CONNECT"``) or ``None``.
    """

    stream_id: int
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    scheme: bytes
    authority: bytes | None
    protocol: bytes | None

    def __init__(
        self,
        stream_id: int,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        scheme: bytes,
        authority: bytes | None = None,
        protocol: bytes | None = None,
    ) -> None:
        _set_req_stream(self, stream_id)
        _set_req_method(self, method)
        _set_req_target(self, target)
        _set_req_headers(self, headers)
        _set_req_scheme(self, scheme)
        _set_req_authority(self, authority)
        _set_req_protocol(self, protocol)


_set_req_stream = _setter(Request, "stream_id")
_set_req_method = _setter(Request, "method")
_set_req_target = _setter(Request, "target")
_set_req_headers = _setter(Request, "headers")
_set_req_scheme = _setter(Request, "scheme")
_set_req_authority = _setter(Request, "authority")
_set_req_protocol = _setter(Request, "protocol")


@final
@dataclass(frozen=True, slots=True, init=False)
class Data:
    """A piece of a message body (both directions).  Always ``bytes``.

    Received: call ``consumed(stream_id, len(data))`` once the application took it; that is what
    gives the client credit to send more (RFC 9113 §5.2).
    """

    stream_id: int
    data: bytes

    def __init__(self, stream_id: int, data: bytes) -> None:
        _set_data_stream(self, stream_id)
        _set_data(self, data)


_set_data_stream = _setter(Data, "stream_id")
_set_data = _setter(Data, "data")


@final
@dataclass(frozen=True, slots=True, init=False)
class EndOfMessage:
    """End of a message body (both directions), with its trailer fields, if any.

    Received without trailers, ``headers`` is the empty tuple.
    """

    stream_id: int
    headers: Headers

    def __init__(self, stream_id: int, headers: Headers = ()) -> None:
        _set_eom_stream(self, stream_id)
        _set_eom_headers(self, headers)


_set_eom_stream = _setter(EndOfMessage, "stream_id")
_set_eom_headers = _setter(EndOfMessage, "headers")


@final
@dataclass(frozen=True, slots=True, init=False)
class InformationalResponse:
    """A 1xx interim response (send only): 100 or 103; HTTP/2 has no 101 (RFC 9113 §8.6)."""

    stream_id: int
    status: int
    headers: Headers

    def __init__(self, stream_id: int, status: int, headers: Headers = ()) -> None:
        _set_info_stream(self, stream_id)
        _set_info_status(self, status)
        _set_info_headers(self, headers)


_set_info_stream = _setter(InformationalResponse, "stream_id")
_set_info_status = _setter(InformationalResponse, "status")
_set_info_headers = _setter(InformationalResponse, "headers")


@final
@dataclass(frozen=True, slots=True, init=False)
class Response:
    """A final response head (send only).  HTTP/2 has no reason phrase (RFC 9113 §8.3.2)."""

    stream_id: int
    status: int
    headers: Headers

    def __init__(self, stream_id: int, status: int, headers: Headers = ()) -> None:
        _set_resp_stream(self, stream_id)
        _set_resp_status(self, status)
        _set_resp_headers(self, headers)


_set_resp_stream = _setter(Response, "stream_id")
_set_resp_status = _setter(Response, "status")
_set_resp_headers = _setter(Response, "headers")


@final
@dataclass(frozen=True, slots=True)
class StreamReset:
    """RST_STREAM (both directions; RFC 9113 §6.4).

    Received: the peer reset the stream, or the adapter did after a peer error on it; later sends
    on the stream are dropped.  Sent: reset the stream with ``error_code`` (e.g. ``CANCEL``,
    ``INTERNAL_ERROR`` when the application failed mid-response).
    """

    stream_id: int
    error_code: int


@final
@dataclass(frozen=True, slots=True)
class StreamFailed:
    """A malformed request on one stream (RFC 9113 §8.1.1); the connection lives on.

    ``error.status_hint`` set: no ``Request`` was emitted (or it is dropped); answer that status
    on the stream (``Response`` + ``Data`` + ``EndOfMessage``).  ``status_hint`` ``None``: the
    error came mid-body, the adapter already reset the stream (``error.error_code``).
    """

    stream_id: int
    error: RemoteProtocolError


@final
@dataclass(frozen=True, slots=True)
class Writable:
    """The stream's unsent response bytes were all framed after a window opened: wake its drain."""

    stream_id: int


@final
@dataclass(frozen=True, slots=True)
class GoAwayReceived:
    """The peer sent GOAWAY (RFC 9113 §6.8); streams in flight may finish."""

    last_stream_id: int
    error_code: int


@final
@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side at a frame boundary; any open stream is gone with it."""


@final
@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The peer broke the protocol or tripped a guard; always the last event.

    The GOAWAY carrying ``error.error_code`` is already queued in ``data_to_send()``.
    """

    error: RemoteProtocolError


Event = (
    Request
    | Data
    | EndOfMessage
    | InformationalResponse
    | Response
    | StreamReset
    | StreamFailed
    | Writable
    | GoAwayReceived
    | ConnectionClosed
    | ConnectionFailed
)
