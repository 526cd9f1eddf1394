"""Sans-IO ASGI lifespan 2.0 state machine.

The machine never calls or awaits the app. The server's runner calls the app with
``scope(state)`` and reports to the machine what happens; the machine answers with events.

Contract:
    m = Lifespan(mode=Mode.AUTO)
    m.startup()                  # queue lifespan.startup; then call the app (if should_call_app)
    receive() -> m.next_message()   # None: wait until the next startup()/shutdown()
    send(msg) -> m.app_sent(msg)
    the coroutine ends -> m.app_returned() / m.app_raised(exc)
    a timer expires -> m.timed_out()
    m.shutdown()                 # after StartupComplete or Unsupported
    after every call: m.events_received()

startup() ends in exactly one of StartupComplete, StartupFailed, Unsupported; shutdown() in
exactly one of ShutdownComplete, ShutdownFailed. ConnectionFailed comes only in between.
Only server misuse raises (LocalProtocolError): startup() twice, shutdown() before startup
finished or twice, timed_out() before startup(), app input before startup() or in Mode.OFF,
reporting the app's end twice. Nothing the app does raises.

Policy (section names are those of the ASGI lifespan spec 2.0):
- Modes. AUTO: the app raising or returning before it answers lifespan.startup means it does
  not support lifespan ("Scope": the server must continue without lifespan events); this
  yields Unsupported(reason), and shutdown() then sends nothing and yields ShutdownComplete.
  ON: the same yields StartupFailed. OFF: the app is never called (should_call_app is False);
  startup() yields StartupComplete and shutdown() ShutdownComplete at once.
- Returning is read like raising during startup: "returned" is not "started", and apps that
  ignore unknown scope types return.
- startup.failed / shutdown.failed yield StartupFailed / ShutdownFailed with the app's message
  ("" when absent). The server exits with code 3 on StartupFailed.
- Timeouts are the runner's: timed_out() during startup yields StartupFailed("startup timed
  out"), during shutdown ShutdownFailed("shutdown timed out"), elsewhere nothing (a timer that
  races the answer is harmless).
- Invalid messages (not a dict, no "type", "type" not a str or unknown, "message" not a str, a
  message of the wrong phase: shutdown.* during startup, startup.* during shutdown, anything
  while serving or after the app returned) are violations: StartupFailed during startup,
  ShutdownFailed during shutdown, ConnectionFailed while serving. Unknown keys are ignored.
- Lenient: an answer sent before the app received the question (startup.complete without
  receive()) counts; the unread question is withdrawn, so receive() never sees a stale one.
- Returning during shutdown without shutdown.complete counts as complete (nothing is left to
  wait for; uvicorn and hypercorn agree). Raising during shutdown yields ShutdownFailed.
- While serving: returning is fine, shutdown() then sends nothing and yields ShutdownComplete.
  Raising or an invalid message yields ConnectionFailed at once (log it, keep serving), and
  shutdown() then sends nothing and yields ShutdownFailed: the cleanup never ran.
- Once nothing is awaited from the app (after a failure, after Unsupported, after the end),
  whatever it still sends or does is discarded.
- scope(state) carries the server's ``state`` dict itself ("Lifespan State"); the server gives
  each request a shallow copy of it after startup.
"""

from ._connection import Lifespan
from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import (
    ConnectionFailed,
    Event,
    ShutdownComplete,
    ShutdownFailed,
    StartupComplete,
    StartupFailed,
    Unsupported,
)
from ._state import Mode, State

__all__ = [
    "Lifespan",
    "Mode",
    "State",
    # Events
    "Event",
    "StartupComplete",
    "StartupFailed",
    "ShutdownComplete",
    "ShutdownFailed",
    "Unsupported",
    "ConnectionFailed",
    # Errors
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
]
