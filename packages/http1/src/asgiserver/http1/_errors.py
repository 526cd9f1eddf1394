"""Error hierarchy.

``LocalProtocolError`` is raised by :meth:`ServerConnection.send` when the caller misuses the
connection.  ``RemoteProtocolError`` is never raised out of ``receive_data``/``receive_eof``: it is
delivered in band as the last event, ``ConnectionFailed(error)``, and carries the status code a server
should answer with (``status_hint``).
"""

from __future__ import annotations

__all__ = [
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "IncompleteMessage",
    "RequestLineTooLong",
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

    status_hint: int

    def __init__(self, message: str, status_hint: int = 400) -> None:
        super().__init__(message)
        self.status_hint = status_hint


class IncompleteMessage(RemoteProtocolError):
    """End of input in the middle of a request (400; usually not worth answering)."""


class RequestTimeout(RemoteProtocolError):
    """The server's deadline for the request expired (408, RFC 9110 §15.5.9); see ``timed_out``."""

    def __init__(self, message: str, status_hint: int = 408) -> None:
        super().__init__(message, status_hint)


class RequestLineTooLong(RemoteProtocolError):
    """The request line exceeds ``Limits.max_request_line_bytes`` (414, RFC 9112 §3)."""

    def __init__(self, message: str, status_hint: int = 414) -> None:
        super().__init__(message, status_hint)


class HeadersTooLarge(RemoteProtocolError):
    """The header or trailer section exceeds a size or count limit (431, RFC 6585 §5)."""

    def __init__(self, message: str, status_hint: int = 431) -> None:
        super().__init__(message, status_hint)


class BodyTooLarge(RemoteProtocolError):
    """The declared or received body exceeds ``Limits.max_body_bytes`` (413, RFC 9110 §15.5.14)."""

    def __init__(self, message: str, status_hint: int = 413) -> None:
        super().__init__(message, status_hint)


class UnsupportedMethod(RemoteProtocolError):
    """A method this server does not implement, i.e. CONNECT (501, RFC 9110 §9.3.6)."""

    def __init__(self, message: str, status_hint: int = 501) -> None:
        super().__init__(message, status_hint)


class UnsupportedTransferCoding(RemoteProtocolError):
    """A transfer coding other than ``chunked`` (501, RFC 9112 §6.1)."""

    def __init__(self, message: str, status_hint: int = 501) -> None:
        super().__init__(message, status_hint)


class UnsupportedVersion(RemoteProtocolError):
    """A well-formed HTTP version other than 1.x (505, RFC 9110 §15.6.6)."""

    def __init__(self, message: str, status_hint: int = 505) -> None:
        super().__init__(message, status_hint)
