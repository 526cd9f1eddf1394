"""The error hierarchy shared by every asgiserver protocol package."""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of both error kinds; never raised itself."""

    def __init__(self, message: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError, not ProtocolError")
        super().__init__(message)


class LocalProtocolError(ProtocolError):
    """The server (the runner driving `Lifespan`) misused the machine.

    Raised from the call that broke the rule; the machine's state is unchanged.
    """


class RemoteProtocolError(ProtocolError):
    """The application broke the lifespan protocol after startup completed.

    Never raised: delivered in-band as `ConnectionFailed(error)`. There is no status or close
    code to hint at; the server logs it and keeps serving.
    """
