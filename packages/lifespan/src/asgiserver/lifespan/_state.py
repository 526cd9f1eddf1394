"""Every lifespan transition, one table per Mode. Nothing else decides where the machine goes.

A key missing from a table is server misuse: the machine raises LocalProtocolError and does
not move. Sections below refer to the ASGI lifespan spec 2.0 (asgiref specs/lifespan.rst).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, final

__all__ = [
    "APP_END",
    "APP_SENT",
    "TABLES",
    "TERMINAL",
    "Effect",
    "Input",
    "Mode",
    "State",
    "Transition",
]


class Mode(enum.Enum):
    """How the server treats an app that may not support lifespan (`--lifespan auto|on|off`)."""

    AUTO = "auto"  # an app that raises or returns before answering startup: serve without it
    ON = "on"  # lifespan is required: the same app fails startup
    OFF = "off"  # never call the app with a lifespan scope


class State(enum.Enum):
    IDLE = "idle"  # startup() not called yet
    STARTING = "starting"  # lifespan.startup queued or delivered; waiting for the answer
    STARTED = "started"  # startup complete; the app waits for lifespan.shutdown
    APP_RETURNED = "app_returned"  # startup complete, then the app returned: nothing to shut down
    APP_FAILED = "app_failed"  # startup complete, then the app raised or misbehaved
    STOPPING = "stopping"  # lifespan.shutdown queued or delivered; waiting for the answer
    STOPPED = "stopped"  # terminal: shutdown complete
    STARTUP_FAILED = "startup_failed"  # terminal: the server must exit
    SHUTDOWN_FAILED = "shutdown_failed"  # terminal
    UNSUPPORTED = "unsupported"  # Mode.AUTO: the app does not do lifespan; serve without it
    DISABLED = "disabled"  # Mode.OFF after startup(): serve without lifespan


class Input(enum.Enum):
    # From the server.
    STARTUP = "startup()"
    SHUTDOWN = "shutdown()"
    TIMED_OUT = "timed_out()"
    # From the app: what it passed to send(), classified.
    SENT_STARTUP_COMPLETE = "app_sent(lifespan.startup.complete)"
    SENT_STARTUP_FAILED = "app_sent(lifespan.startup.failed)"
    SENT_SHUTDOWN_COMPLETE = "app_sent(lifespan.shutdown.complete)"
    SENT_SHUTDOWN_FAILED = "app_sent(lifespan.shutdown.failed)"
    SENT_INVALID = "app_sent(<invalid message>)"
    # From the app: how its coroutine ended.
    RETURNED = "app_returned()"
    RAISED = "app_raised()"


class Effect(enum.Enum):
    """The event a transition emits. The connection fills in the text."""

    NONE = enum.auto()
    STARTUP_COMPLETE = enum.auto()
    STARTUP_FAILED = enum.auto()
    SHUTDOWN_COMPLETE = enum.auto()
    SHUTDOWN_FAILED = enum.auto()
    UNSUPPORTED = enum.auto()
    CONNECTION_FAILED = enum.auto()


@final
@dataclass(frozen=True, slots=True)
class Transition:
    next: State
    effect: Effect = Effect.NONE
    # The message type queued for the app's receive(); any state change withdraws an unread one.
    deliver: str | None = None
    # A well-formed message the app was not allowed to send here.
    violation: bool = False


APP_SENT: Final = (
    Input.SENT_STARTUP_COMPLETE,
    Input.SENT_STARTUP_FAILED,
    Input.SENT_SHUTDOWN_COMPLETE,
    Input.SENT_SHUTDOWN_FAILED,
    Input.SENT_INVALID,
)
APP_END: Final = (Input.RETURNED, Input.RAISED)
TERMINAL: Final = frozenset({State.STOPPED, State.STARTUP_FAILED, State.SHUTDOWN_FAILED})

_S = State
_I = Input
_E = Effect


def _stay(state: State, inputs: tuple[Input, ...]) -> dict[tuple[State, Input], Transition]:
    return {(state, i): Transition(state) for i in inputs}


def _fail(
    state: State, inputs: tuple[Input, ...], to: State, effect: Effect
) -> dict[tuple[State, Input], Transition]:
    return {(state, i): Transition(to, effect, violation=i is not _I.SENT_INVALID) for i in inputs}


_STARTUP_FAILED = Transition(_S.STARTUP_FAILED, _E.STARTUP_FAILED)
_SHUTDOWN_FAILED = Transition(_S.SHUTDOWN_FAILED, _E.SHUTDOWN_FAILED)
_BROKEN = Transition(_S.APP_FAILED, _E.CONNECTION_FAILED)

_COMMON: Final[dict[tuple[State, Input], Transition]] = {
    # Startup: the server sends lifespan.startup before serving (spec "Startup").
    (_S.IDLE, _I.STARTUP): Transition(_S.STARTING, deliver="lifespan.startup"),
    # The server waits for startup.complete before serving (spec "Startup Complete"), for
    # startup.failed (spec "Startup Failed", message defaults to ""), or gives up.
    (_S.STARTING, _I.SENT_STARTUP_COMPLETE): Transition(_S.STARTED, _E.STARTUP_COMPLETE),
    (_S.STARTING, _I.SENT_STARTUP_FAILED): _STARTUP_FAILED,
    (_S.STARTING, _I.TIMED_OUT): _STARTUP_FAILED,
    **_fail(
        _S.STARTING,
        (_I.SENT_SHUTDOWN_COMPLETE, _I.SENT_SHUTDOWN_FAILED, _I.SENT_INVALID),
        _S.STARTUP_FAILED,
        _E.STARTUP_FAILED,
    ),
    # (STARTING, RETURNED/RAISED) depend on the mode: see below.
    #
    # Serving. The spec has no message for this phase, so anything the app sends is a
    # violation, and an exception is a failure. Returning is fine (uvicorn and hypercorn
    # agree): the app simply has nothing to clean up.
    (_S.STARTED, _I.SHUTDOWN): Transition(_S.STOPPING, deliver="lifespan.shutdown"),
    **_fail(_S.STARTED, APP_SENT, _S.APP_FAILED, _E.CONNECTION_FAILED),
    (_S.STARTED, _I.RETURNED): Transition(_S.APP_RETURNED),
    (_S.STARTED, _I.RAISED): _BROKEN,
    (_S.APP_RETURNED, _I.SHUTDOWN): Transition(_S.STOPPED, _E.SHUTDOWN_COMPLETE),
    **_fail(_S.APP_RETURNED, APP_SENT, _S.APP_FAILED, _E.CONNECTION_FAILED),
    (_S.APP_FAILED, _I.SHUTDOWN): _SHUTDOWN_FAILED,
    # Shutdown: the server waits for shutdown.complete before exiting (spec "Shutdown
    # Complete"), for shutdown.failed (spec "Shutdown Failed"), or gives up. A clean return
    # counts as complete: the coroutine is over, there is nothing left to wait for.
    (_S.STOPPING, _I.SENT_SHUTDOWN_COMPLETE): Transition(_S.STOPPED, _E.SHUTDOWN_COMPLETE),
    (_S.STOPPING, _I.RETURNED): Transition(_S.STOPPED, _E.SHUTDOWN_COMPLETE),
    (_S.STOPPING, _I.SENT_SHUTDOWN_FAILED): _SHUTDOWN_FAILED,
    (_S.STOPPING, _I.RAISED): _SHUTDOWN_FAILED,
    (_S.STOPPING, _I.TIMED_OUT): _SHUTDOWN_FAILED,
    **_fail(
        _S.STOPPING,
        (_I.SENT_STARTUP_COMPLETE, _I.SENT_STARTUP_FAILED, _I.SENT_INVALID),
        _S.SHUTDOWN_FAILED,
        _E.SHUTDOWN_FAILED,
    ),
    # Once nothing is awaited from the app, what it still does is discarded: a late answer
    # after a timeout, the normal return after shutdown.complete, a leaked send().
    **_stay(_S.APP_FAILED, APP_SENT + APP_END),
    **_stay(_S.STOPPED, APP_SENT + APP_END),
    **_stay(_S.STARTUP_FAILED, APP_SENT + APP_END),
    **_stay(_S.SHUTDOWN_FAILED, APP_SENT + APP_END),
}
# A timer that fires as the answer arrives must not be an error: timed_out() is a no-op
# wherever nothing is awaited. Only before startup() can no timer be running.
_COMMON.update(
    {
        (s, _I.TIMED_OUT): Transition(s)
        for s in State
        if s not in (_S.IDLE, _S.STARTING, _S.STOPPING, _S.UNSUPPORTED, _S.DISABLED)
    }
)

_AUTO: Final = {
    **_COMMON,
    # Spec "Scope": an app that raises when called with a lifespan scope or with
    # lifespan.startup does not support lifespan; the server must continue without it.
    # Returning without an answer is read the same way (Django raises, minimal apps return).
    (_S.STARTING, _I.RETURNED): Transition(_S.UNSUPPORTED, _E.UNSUPPORTED),
    (_S.STARTING, _I.RAISED): Transition(_S.UNSUPPORTED, _E.UNSUPPORTED),
    # Nor does it get lifespan.shutdown ("not send any lifespan events"), and a send() it
    # leaked before ending is discarded.
    (_S.UNSUPPORTED, _I.SHUTDOWN): Transition(_S.STOPPED, _E.SHUTDOWN_COMPLETE),
    (_S.UNSUPPORTED, _I.TIMED_OUT): Transition(_S.UNSUPPORTED),
    **_stay(_S.UNSUPPORTED, APP_SENT),
}
_ON: Final = {
    **_COMMON,
    # Lifespan was required, so an app that does not answer failed to start.
    (_S.STARTING, _I.RETURNED): _STARTUP_FAILED,
    (_S.STARTING, _I.RAISED): _STARTUP_FAILED,
}
# Mode.OFF: the app is never called, so every app input is misuse. startup() and shutdown()
# still answer, so the runner treats all modes alike.
_OFF: Final = {
    (_S.IDLE, _I.STARTUP): Transition(_S.DISABLED, _E.STARTUP_COMPLETE),
    (_S.DISABLED, _I.SHUTDOWN): Transition(_S.STOPPED, _E.SHUTDOWN_COMPLETE),
    (_S.DISABLED, _I.TIMED_OUT): Transition(_S.DISABLED),
    (_S.STOPPED, _I.TIMED_OUT): Transition(_S.STOPPED),
}

TABLES: Final = MappingProxyType(
    {
        Mode.AUTO: MappingProxyType(_AUTO),
        Mode.ON: MappingProxyType(_ON),
        Mode.OFF: MappingProxyType(_OFF),
    }
)
