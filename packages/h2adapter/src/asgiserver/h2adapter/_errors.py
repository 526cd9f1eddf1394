"""Errors and HTTP/2 error codes.

``LocalProtocolError`` is raised by ``send`` when the caller misuses the connection.
``RemoteProtocolError`` is never raised out of ``receive_data``/``receive_eof``: it arrives in band,
either as ``ConnectionFailed(error)`` (the last event; the GOAWAY carrying ``error.error_code`` is
already queued) or as ``StreamFailed(stream_id, error)`` (one stream only, RFC 9113 §8.1.1).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ErrorCode",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "HeadersTooLarge",
    "UnsupportedMethod",
    "ExcessiveLoad",
    "IncompleteMessage",
]


class ErrorCode(IntEnum):
    """HTTP/2 error codes (RFC 9113 §7), carried by RST_STREAM and GOAWAY."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class ProtocolError(Exception):
    """Base class; never raised directly."""


class LocalProtocolError(ProtocolError):
    """Our side (the caller of ``send``) broke the protocol."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol.

    ``error_code`` is the HTTP/2 error code (an ``int``, RFC 9113 §7) sent in the GOAWAY or
    RST_STREAM.  ``status_hint`` is the status to answer on the stream for a malformed request
    (``StreamFailed``); it is ``None`` for connection errors and for streams the adapter reset
    itself because the error came mid-body, where no response can follow.
    """

    error_code: int = ErrorCode.PROTOCOL_ERROR
    status_hint: int | None = None

    def __init__(
        self, message: str, error_code: int | None = None, status_hint: int | None = None
    ) -> None:
        super().__init__(message)
        if error_code is not None:
            self.error_code = error_code
        if status_hint is not None:
            self.status_hint = status_hint


class HeadersTooLarge(RemoteProtocolError):
    """A request's header or trailer list exceeds a limit: 431 on that stream (RFC 6585 §5)."""

    status_hint = 431


class UnsupportedMethod(RemoteProtocolError):
    """Plain CONNECT: this server is no proxy (501, RFC 9110 §9.3.6, RFC 9113 §8.5)."""

    status_hint = 501


class ExcessiveLoad(RemoteProtocolError):
    """An abuse guard tripped: GOAWAY(ENHANCE_YOUR_CALM) (RFC 9113 §10.5)."""

    error_code = ErrorCode.ENHANCE_YOUR_CALM


class IncompleteMessage(RemoteProtocolError):
    """End of input in the middle of the preface or a frame."""
