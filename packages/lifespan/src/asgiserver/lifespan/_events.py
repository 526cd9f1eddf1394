"""What the machine tells the server. Each startup() ends in exactly one of StartupComplete,
StartupFailed or Unsupported; each shutdown() in exactly one of ShutdownComplete or
ShutdownFailed; ConnectionFailed can only come in between."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from ._errors import RemoteProtocolError

__all__ = [
    "ConnectionFailed",
    "Event",
    "ShutdownComplete",
    "ShutdownFailed",
    "StartupComplete",
    "StartupFailed",
    "Unsupported",
]


@final
@dataclass(frozen=True, slots=True)
class StartupComplete:
    """Start serving. In Mode.OFF this comes from startup() itself: the app is never called."""


@final
@dataclass(frozen=True, slots=True)
class StartupFailed:
    """Startup did not complete: log `message` and exit (asgiserver exits with code 3).

    `message` is the app's own `lifespan.startup.failed` text ("" when it gave none), or ours
    for a timeout, a protocol violation, or (Mode.ON) the app raising or returning early.
    """

    message: str


@final
@dataclass(frozen=True, slots=True)
class ShutdownComplete:
    """The app finished its cleanup, or had nothing to clean up; the server may exit."""


@final
@dataclass(frozen=True, slots=True)
class ShutdownFailed:
    """Cleanup failed, timed out, or was skipped because the lifespan had already failed."""

    message: str


@final
@dataclass(frozen=True, slots=True)
class Unsupported:
    """Mode.AUTO only: the app raised or returned before answering `lifespan.startup`.

    Log `reason` in one line and serve without lifespan; shutdown() will send the app nothing.
    """

    reason: str


@final
@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """After startup completed, the app raised or sent an invalid message.

    Log it and keep serving; the next shutdown() sends the app nothing and yields ShutdownFailed.
    """

    error: RemoteProtocolError


Event = (
    StartupComplete
    | StartupFailed
    | ShutdownComplete
    | ShutdownFailed
    | Unsupported
    | ConnectionFailed
)
