"""Error hierarchy shared by every asgiserver protocol package.

``RemoteProtocolError`` is never raised out of ``receive_data()``/``receive_eof()``: it is delivered
in band as the last event, ``ConnectionFailed(error)``, and ``error.status_hint`` is the HTTP status
the server should answer with (the uwsgi response is an ordinary HTTP/1.x response).
"""

from __future__ import annotations

__all__ = [
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "VarsTooLarge",
    "BodyTooLarge",
    "UnsupportedPacket",
]


class ProtocolError(Exception):
    """Base class; never raised directly."""

    def __init__(self, msg: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise a subclass")
        super().__init__(msg)


class LocalProtocolError(ProtocolError):
    """Our side (the caller of ``send()``) broke the protocol."""


class RemoteProtocolError(ProtocolError):
    """The peer (nginx) broke the protocol; ``status_hint`` is the response to send."""

    status_hint: int

    def __init__(self, msg: str, *, status_hint: int = 400) -> None:
        super().__init__(msg)
        self.status_hint = status_hint


class VarsTooLarge(RemoteProtocolError):
    """The declared vars block exceeds ``Limits.max_vars_bytes`` (431)."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, status_hint=431)


class BodyTooLarge(RemoteProtocolError):
    """CONTENT_LENGTH exceeds ``Limits.max_body_bytes`` (413)."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, status_hint=413)


class UnsupportedPacket(RemoteProtocolError):
    """A packet type other than modifier1 == 0 / modifier2 == 0, the WSGI request (501)."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, status_hint=501)
