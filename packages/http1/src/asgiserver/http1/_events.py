"""Events: what ``events_received()`` returns and what ``send()`` accepts.

Frozen, slotted, final dataclasses holding ``bytes``.  Header names in received events are lowercase;
values have their surrounding whitespace stripped.  ``Event`` is the closed union, so a ``match`` over
it ending in ``assert_never`` is checked by mypy.

The ``__init__`` methods are written out and store through the slot descriptors: the generated
frozen ``__init__`` goes through ``object.__setattr__`` per field and costs twice as much, on the
one path (a few events per request) where it shows.
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
    """A request head (received).

    ``headers`` is a list of ``(lowercase name, value)`` pairs in wire order, duplicates kept, already
    validated: it can go straight into an ASGI scope.  ``http_version`` is ``b"1.1"`` or ``b"1.0"``.
    The method is kept exactly as sent (methods are case-sensitive tokens, RFC 9110 §9.1).
    """

    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    http_version: bytes

    def __init__(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        http_version: bytes = b"1.1",
    ) -> None:
        _set_method(self, method)
        _set_target(self, target)
        _set_request_headers(self, headers)
        _set_http_version(self, http_version)


_set_method = _setter(Request, "method")
_set_target = _setter(Request, "target")
_set_request_headers = _setter(Request, "headers")
_set_http_version = _setter(Request, "http_version")


@final
@dataclass(frozen=True, slots=True, init=False)
class Data:
    """A piece of a message body (both directions).  Always ``bytes``."""

    data: bytes

    def __init__(self, data: bytes) -> None:
        _set_data(self, data)


_set_data = _setter(Data, "data")


@final
@dataclass(frozen=True, slots=True, init=False)
class EndOfMessage:
    """End of a message body (both directions), with its trailer fields, if any.

    Received trailers are a list of ``(lowercase name, value)``; without trailers ``headers`` is
    an empty tuple.
    """

    headers: Headers

    def __init__(self, headers: Headers = ()) -> None:
        _set_eom_headers(self, headers)


_set_eom_headers = _setter(EndOfMessage, "headers")


@final
@dataclass(frozen=True, slots=True, init=False)
class InformationalResponse:
    """A 1xx interim response (send only): 100, 103, or 101 to accept an upgrade."""

    status: int
    headers: Headers
    reason: bytes

    def __init__(self, status: int, headers: Headers = (), reason: bytes = b"") -> None:
        _set_info_status(self, status)
        _set_info_headers(self, headers)
        _set_info_reason(self, reason)


_set_info_status = _setter(InformationalResponse, "status")
_set_info_headers = _setter(InformationalResponse, "headers")
_set_info_reason = _setter(InformationalResponse, "reason")


@final
@dataclass(frozen=True, slots=True, init=False)
class Response:
    """A final response head (send only).  An empty ``reason`` uses the standard phrase."""

    status: int
    headers: Headers
    reason: bytes

    def __init__(self, status: int, headers: Headers = (), reason: bytes = b"") -> None:
        _set_status(self, status)
        _set_headers(self, headers)
        _set_reason(self, reason)


_set_status = _setter(Response, "status")
_set_headers = _setter(Response, "headers")
_set_reason = _setter(Response, "reason")


@final
@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side cleanly, at a message boundary."""


@final
@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The peer broke the protocol; always the last event.  Answer ``error.status_hint``."""

    error: RemoteProtocolError


Event = (
    Request
    | Data
    | EndOfMessage
    | InformationalResponse
    | Response
    | ConnectionClosed
    | ConnectionFailed
)
