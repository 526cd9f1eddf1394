"""Events. The same ``Data`` and ``EndOfMessage`` types travel in both directions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias, final

from ._errors import RemoteProtocolError

__all__ = [
    "Request",
    "Response",
    "Data",
    "EndOfMessage",
    "ConnectionClosed",
    "ConnectionFailed",
    "Event",
    "SendEvent",
]


@final
@dataclass(frozen=True, slots=True)
class Request:
    """A uwsgi request, already mapped onto the fields of an ASGI HTTP scope.

    ``headers`` are lowercase names in packet order: ``content-type`` and ``content-length`` (from
    the CONTENT_TYPE / CONTENT_LENGTH vars, when non-empty) first, then every ``HTTP_*`` var.
    ``vars`` holds every var as sent (for a repeated key, the last value), for logging.
    """

    method: bytes
    raw_path: bytes
    path: str
    query_string: bytes
    root_path: str
    http_version: str
    scheme: str
    headers: list[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    vars: dict[bytes, bytes] = field(repr=False)


@final
@dataclass(frozen=True, slots=True)
class Response:
    """Response head; sent as ``HTTP/1.1 <status> <reason>``. An empty reason gets the standard one."""

    status: int
    headers: list[tuple[bytes, bytes]]
    reason: bytes = b""


@final
@dataclass(frozen=True, slots=True)
class Data:
    """A chunk of request body (received) or response body (sent)."""

    data: bytes


@final
@dataclass(frozen=True, slots=True)
class EndOfMessage:
    """The request body is complete (received) or the response is complete (sent)."""


@final
@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side cleanly: before sending anything, or after the whole request."""


@final
@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The peer broke the protocol; always the last event. Answer ``error.status_hint`` and close."""

    error: RemoteProtocolError


Event: TypeAlias = Request | Data | EndOfMessage | ConnectionClosed | ConnectionFailed
"""Everything ``events_received()`` can return."""

SendEvent: TypeAlias = Response | Data | EndOfMessage
"""Everything ``send()`` accepts."""
