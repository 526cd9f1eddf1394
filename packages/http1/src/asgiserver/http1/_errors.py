"""Error hierarchy.

``LocalProtocolError`` is raised by ``send`` (of either connection) when the caller misuses the
connection.  ``RemoteProtocolError`` is never raised out of ``receive_data``/``receive_eof``: it is
delivered in band as the last event, ``ConnectionFailed(error)``, and carries the status code a server
should answer with (``status_hint``).  On a ``ClientConnection`` the hint keeps that meaning (a
gateway built on it would answer 502 whatever the hint).
"""

from __future__ import annotations

__all__ = [
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "IncompleteMessage",
    "RequestLineTooLong",
    "StatusLineTooLong",
    "HeadersTooLarge",
    "BodyTooLarge",
    "UnsupportedMethod",
    "UnsupportedTransferCoding",
    "UnsupportedVersion",
]


class ProtocolError(Exception):
    """Base class; never raised directly."""


class LocalProtocolError(ProtocolError):
    """Our side (the caller of ``send``) broke the protocol."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol; ``status_hint`` is the status to answer with."""

    status_hint: int = 400  # subclasses override the class attribute

    def __init__(self, message: str, status_hint: int | None = None) -> None:
        super().__init__(message)
        if status_hint is not None:
            self.status_hint = status_hint


class IncompleteMessage(RemoteProtocolError):
    """End of input in the middle of a message (400; usually not worth answering)."""


class RequestTimeout(RemoteProtocolError):
    """The server's deadline for the request expired (408, RFC 9110 §15.5.9); see ``timed_out``."""

    status_hint = 408


class RequestLineTooLong(RemoteProtocolError):
    """The request line exceeds ``Limits.max_request_line_bytes`` (414, RFC 9112 §3)."""

    status_hint = 414


class StatusLineTooLong(RemoteProtocolError):
    """A response's status line exceeds ``Limits.max_status_line_bytes`` (client side)."""


class HeadersTooLarge(RemoteProtocolError):
    """The header or trailer section exceeds a size or count limit (431, RFC 6585 §5)."""

    status_hint = 431


class BodyTooLarge(RemoteProtocolError):
    """The declared or received body exceeds ``Limits.max_body_bytes`` (413, RFC 9110 §15.5.14)."""

    status_hint = 413


class UnsupportedMethod(RemoteProtocolError):
    """A method this server does not implement, i.e. CONNECT (501, RFC 9110 §9.3.6)."""

    status_hint = 501


class UnsupportedTransferCoding(RemoteProtocolError):
    """A transfer coding other than ``chunked`` (501, RFC 9112 §6.1)."""

    status_hint = 501


class UnsupportedVersion(RemoteProtocolError):
    """A well-formed HTTP version other than 1.x (505, RFC 9110 §15.6.6)."""

    status_hint = 505
