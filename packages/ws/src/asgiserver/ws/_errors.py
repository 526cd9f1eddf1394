"""Errors: misuse by the caller is raised, misbehaviour of the peer is reported in band."""

from __future__ import annotations

__all__ = ["LocalProtocolError", "MessageTooBig", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class; never raised directly."""


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol forbids; raised by ``send()``, ``accept()``."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol.

    Never raised out of ``receive_data()``: it arrives as ``ConnectionFailed(error)``, the last
    event; the caller then sends ``Close(error.close_code)`` (see ``ConnectionFailed``).
    """

    close_code: int

    def __init__(self, message: str, *, close_code: int = 1002) -> None:
        super().__init__(message)
        self.close_code = close_code


class MessageTooBig(RemoteProtocolError):
    """A frame or message exceeds :class:`Limits` (close code 1009, RFC 6455 §7.4.1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, close_code=1009)
