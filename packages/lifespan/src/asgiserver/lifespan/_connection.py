"""Lifespan: the glue between the runner's calls, the transition table and the events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    ConnectionFailed,
    Event,
    ShutdownComplete,
    ShutdownFailed,
    StartupComplete,
    StartupFailed,
    Unsupported,
)
from ._state import TABLES, Effect, Input, Mode, State, Transition

__all__ = ["Lifespan"]

# The scope's "asgi" entry. A fresh dict per scope() call: the app owns what it is given.
_ASGI_VERSION: Final = "3.0"
_SPEC_VERSION: Final = "2.0"

# What the app may send (spec "Startup Complete", "Startup Failed", "Shutdown Complete",
# "Shutdown Failed"); everything else is invalid.
_SENT: Final = {
    "lifespan.startup.complete": Input.SENT_STARTUP_COMPLETE,
    "lifespan.startup.failed": Input.SENT_STARTUP_FAILED,
    "lifespan.shutdown.complete": Input.SENT_SHUTDOWN_COMPLETE,
    "lifespan.shutdown.failed": Input.SENT_SHUTDOWN_FAILED,
}
_WITH_MESSAGE: Final = (Input.SENT_STARTUP_FAILED, Input.SENT_SHUTDOWN_FAILED)
_MISSING: Final = object()
# Text we generate from app-controlled values is clipped, so a log line stays a line.
_CLIP: Final = 100

_HINTS: Final = {
    Input.STARTUP: "startup() may be called once, first",
    Input.SHUTDOWN: "shutdown() may be called once, after StartupComplete or Unsupported",
    Input.TIMED_OUT: "no timer can be running before startup()",
}


def _clip(value: str) -> str:
    text = repr(value)
    return text if len(text) <= _CLIP else text[: _CLIP - 3] + "..."


def _describe(exc: BaseException) -> str:
    try:  # the app's exception may have a broken __str__, or worse
        name = type(exc).__qualname__
        text = str(exc)
    except Exception:
        return "an exception that cannot be printed"
    return f"{name}: {text}" if text else name


def _classify(message: object) -> tuple[Input, str, str]:
    """Map what the app sent to (input, its type, the failure text or why it is invalid)."""
    try:
        return _read(message)
    except Exception:  # a hostile object: a raising __class__, a dict key whose __eq__ raises
        return Input.SENT_INVALID, "", "unreadable message"


def _read(message: object) -> tuple[Input, str, str]:
    if not isinstance(message, dict):
        return Input.SENT_INVALID, "", f"expected a dict, got {type(message).__qualname__}"
    # dict.get, not message.get: a dict subclass cannot change what we read.
    kind = dict.get(message, "type", _MISSING)
    if kind is _MISSING:
        return Input.SENT_INVALID, "", "no 'type' key"
    if not isinstance(kind, str):
        return Input.SENT_INVALID, "", f"'type' is a {type(kind).__qualname__}, not a str"
    kind = str.__str__(kind)  # an exact str: a subclass could override hashing
    sent = _SENT.get(kind)
    if sent is None:
        return Input.SENT_INVALID, kind, f"unknown type {_clip(kind)}"
    if sent not in _WITH_MESSAGE:
        return sent, kind, ""  # other keys are ignored, as everywhere in ASGI
    text = dict.get(message, "message", "")
    if not isinstance(text, str):
        return Input.SENT_INVALID, kind, f"'message' is a {type(text).__qualname__}, not a str"
    return sent, kind, str.__str__(text)


class Lifespan:
    """The ASGI lifespan 2.0 state machine for one event loop; it never runs the app.

    Protocol: call startup(), then call the app with scope(state) (unless `should_call_app`
    is false); feed every receive() with next_message(), every send() into app_sent(), the
    coroutine's end into app_returned()/app_raised(), an expired timer into timed_out(). After
    each call, drain events_received(). See the package docstring for the policy.
    """

    __slots__ = (
        "_app_ended",
        "_delivered",
        "_events",
        "_failure",
        "_mode",
        "_pending",
        "_state",
        "_table",
    )

    def __init__(self, mode: Mode = Mode.AUTO) -> None:
        if type(mode) is not Mode:
            raise LocalProtocolError(f"mode must be a lifespan.Mode, not {type(mode).__qualname__}")
        self._mode = mode
        self._table = TABLES[mode]
        self._state = State.IDLE
        self._events: list[Event] = []
        self._pending: str | None = None  # the message type receive() gets next
        self._delivered = False  # has the current phase's message been received?
        self._app_ended = False
        self._failure = ""  # why the lifespan failed while serving

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def state(self) -> State:
        return self._state

    @property
    def should_call_app(self) -> bool:
        """False in Mode.OFF: the runner must never call the app with a lifespan scope."""
        return self._mode is not Mode.OFF

    def scope(self, state: dict[str, object]) -> dict[str, object]:
        """The lifespan scope to call the app with (spec "Scope", "Lifespan State").

        `state` is put in as is, not copied: what the app stores there during startup is what
        the server shallow-copies into every request scope.
        """
        if not isinstance(state, dict):
            raise LocalProtocolError(f"state must be a dict, not {type(state).__qualname__}")
        return {
            "type": "lifespan",
            "asgi": {"version": _ASGI_VERSION, "spec_version": _SPEC_VERSION},
            "state": state,
        }

    # Server inputs. Each raises LocalProtocolError when called out of order.

    def startup(self) -> None:
        """Begin startup: queues lifespan.startup for the app (Mode.OFF: yields StartupComplete)."""
        self._step(Input.STARTUP)

    def shutdown(self) -> None:
        """Begin shutdown: queues lifespan.shutdown for the app, or yields the outcome at once
        when the app is not there to ask (Unsupported, OFF, the app returned or failed)."""
        self._step(Input.SHUTDOWN)

    def timed_out(self) -> None:
        """The runner gave up waiting: fails a pending startup or shutdown, else does nothing."""
        self._step(Input.TIMED_OUT)

    # App inputs. These never raise for what the app does, only for runner misuse: calling
    # them before startup() or in Mode.OFF, or reporting the app's end twice.

    def next_message(self) -> dict[str, object] | None:
        """The message the app's receive() returns now, each one only once; None: wait."""
        kind = self._pending
        if kind is None:
            return None
        self._pending = None
        self._delivered = True
        return {"type": kind}

    def app_sent(self, message: Mapping[str, object]) -> None:
        """The app called send(message)."""
        sent, kind, text = _classify(message)
        self._step(sent, kind, text)

    def app_returned(self) -> None:
        """The app coroutine returned."""
        self._end(Input.RETURNED, "")

    def app_raised(self, exc: BaseException) -> None:
        """The app coroutine raised `exc` (the machine keeps only its text)."""
        self._end(Input.RAISED, _describe(exc))

    def events_received(self) -> list[Event]:
        """Drain the events produced since the last call; `state` already reflects them."""
        events, self._events = self._events, []
        return events

    # Internals.

    def _end(self, ended: Input, text: str) -> None:
        if self._app_ended:
            raise LocalProtocolError("the app's end was already reported")
        self._step(ended, "", text)
        self._app_ended = True

    def _step(self, received: Input, kind: str = "", text: str = "") -> None:
        state = self._state
        t = self._table.get((state, received))
        if t is None:
            raise LocalProtocolError(self._misuse(received))
        if t.effect is not Effect.NONE:
            self._emit(t, received, kind, text)
        if t.next is not state:
            self._state = t.next
            self._pending = t.deliver
            self._delivered = False

    def _misuse(self, received: Input) -> str:
        if self._mode is Mode.OFF and received not in _HINTS:
            hint = "in Mode.OFF the app must not be called"
        elif self._state is State.IDLE and received not in _HINTS:
            hint = "call startup() before calling the app"
        else:
            hint = _HINTS.get(received, "unexpected")
        return f"{received.value} is not allowed in state {self._state.name}: {hint}"

    def _emit(self, t: Transition, received: Input, kind: str, text: str) -> None:
        effect = t.effect
        if effect is Effect.STARTUP_COMPLETE:
            self._events.append(StartupComplete())
            return
        if effect is Effect.SHUTDOWN_COMPLETE:
            self._events.append(ShutdownComplete())
            return
        reason = self._explain(t, received, kind, text)
        if effect is Effect.STARTUP_FAILED:
            self._events.append(StartupFailed(reason))
        elif effect is Effect.SHUTDOWN_FAILED:
            self._events.append(ShutdownFailed(reason))
        elif effect is Effect.UNSUPPORTED:
            self._events.append(Unsupported(reason))
        else:  # Effect.CONNECTION_FAILED
            self._failure = reason
            self._events.append(ConnectionFailed(RemoteProtocolError(reason)))

    def _explain(self, t: Transition, received: Input, kind: str, text: str) -> str:
        state = self._state
        if state is State.STARTING:
            phase = "during startup" if self._delivered else "before receiving lifespan.startup"
        elif state is State.STOPPING:
            phase = "during shutdown" if self._delivered else "before receiving lifespan.shutdown"
        elif state is State.APP_RETURNED:
            phase = "after returning"
        else:
            phase = "while serving"
        if t.violation:
            return f"the app sent {kind!r} {phase}"
        if received is Input.SENT_INVALID:
            return f"the app sent an invalid lifespan message {phase}: {text}"
        if received is Input.RAISED:
            return f"the app raised {phase}: {text}"
        if received is Input.RETURNED:
            return f"the app returned {phase}"
        if received is Input.TIMED_OUT:
            return "startup timed out" if state is State.STARTING else "shutdown timed out"
        if received is Input.SHUTDOWN:  # from APP_FAILED
            return f"shutdown skipped, the lifespan had failed: {self._failure}"
        return text  # the app's own startup.failed / shutdown.failed message
