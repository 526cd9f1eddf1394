"""One scenario per rule, grouped by the section of the ASGI lifespan spec 2.0 it implements
(asgiref specs/lifespan.rst), then the policy choices the spec leaves open."""

from __future__ import annotations

import ast
import pathlib

import pytest

from asgiserver.lifespan import (
    ConnectionFailed,
    Lifespan,
    LocalProtocolError,
    Mode,
    ProtocolError,
    RemoteProtocolError,
    ShutdownComplete,
    ShutdownFailed,
    StartupComplete,
    StartupFailed,
    State,
    Unsupported,
)

STARTUP = {"type": "lifespan.startup"}
SHUTDOWN = {"type": "lifespan.shutdown"}
STARTUP_COMPLETE = {"type": "lifespan.startup.complete"}
SHUTDOWN_COMPLETE = {"type": "lifespan.shutdown.complete"}


def starting(mode: Mode = Mode.AUTO, *, received: bool = True) -> Lifespan:
    m = Lifespan(mode)
    m.startup()
    if received:
        assert m.next_message() == STARTUP
    return m


def started(mode: Mode = Mode.AUTO) -> Lifespan:
    m = starting(mode)
    m.app_sent(STARTUP_COMPLETE)
    assert m.events_received() == [StartupComplete()]
    return m


def stopping(mode: Mode = Mode.AUTO, *, received: bool = True) -> Lifespan:
    m = started(mode)
    m.shutdown()
    if received:
        assert m.next_message() == SHUTDOWN
    return m


def connection_failed(m: Lifespan, message: str) -> None:
    [event] = m.events_received()
    assert type(event) is ConnectionFailed
    assert type(event.error) is RemoteProtocolError
    assert str(event.error) == message
    assert m.state is State.APP_FAILED


# Spec "Scope"


def test_scope_type_and_versions() -> None:
    """Scope: type "lifespan", asgi version 3.0, lifespan spec_version 2.0, and the state."""
    state: dict[str, object] = {}
    assert Lifespan().scope(state) == {
        "type": "lifespan",
        "asgi": {"version": "3.0", "spec_version": "2.0"},
        "state": {},
    }


def test_scope_carries_the_servers_state_dict_itself() -> None:
    """Lifespan State: what the app stores during startup is what the server copies per request."""
    state: dict[str, object] = {}
    scope = Lifespan().scope(state)
    assert scope["state"] is state
    assert isinstance(scope["state"], dict)
    scope["state"]["pool"] = "pool"
    assert state == {"pool": "pool"}


def test_scope_is_fresh_on_each_call() -> None:
    m = Lifespan()
    first = m.scope({})
    first["type"] = "changed"
    first["asgi"]["version"] = "2.0"  # type: ignore[index]
    assert m.scope({})["type"] == "lifespan"
    assert m.scope({})["asgi"] == {"version": "3.0", "spec_version": "2.0"}


def test_scope_state_must_be_a_dict() -> None:
    with pytest.raises(LocalProtocolError, match="state must be a dict, not list"):
        Lifespan().scope([])  # type: ignore[arg-type]


def test_scope_auto_app_raising_when_called_is_unsupported() -> None:
    """Scope: an app that raises when called with a lifespan scope does not support lifespan."""
    m = starting(received=False)
    m.app_raised(ValueError("Django can only handle ASGI/HTTP connections, not lifespan."))
    assert m.events_received() == [
        Unsupported(
            "the app raised before receiving lifespan.startup: "
            "ValueError: Django can only handle ASGI/HTTP connections, not lifespan."
        )
    ]
    assert m.state is State.UNSUPPORTED
    assert m.next_message() is None  # the unread lifespan.startup is withdrawn


def test_scope_auto_app_raising_on_startup_message_is_unsupported() -> None:
    """Scope: raising when given lifespan.startup also means unsupported; the server continues."""
    m = starting()
    m.app_raised(KeyError("x"))
    assert m.events_received() == [Unsupported("the app raised during startup: KeyError: 'x'")]
    assert m.state is State.UNSUPPORTED


@pytest.mark.parametrize(
    ("received", "reason"),
    [
        (False, "the app returned before receiving lifespan.startup"),
        (True, "the app returned during startup"),
    ],
)
def test_scope_auto_app_returning_without_answer_is_unsupported(
    received: bool, reason: str
) -> None:
    """Policy: returning before answering startup reads like raising (minimal apps return)."""
    m = starting(received=received)
    m.app_returned()
    assert m.events_received() == [Unsupported(reason)]
    assert m.state is State.UNSUPPORTED


def test_scope_unsupported_app_gets_no_shutdown() -> None:
    """Scope: the server must not send any lifespan events to an app without lifespan."""
    m = starting()
    m.app_raised(ValueError())
    m.events_received()
    m.shutdown()
    assert m.events_received() == [ShutdownComplete()]
    assert m.next_message() is None
    assert m.state is State.STOPPED


def test_scope_unsupported_discards_a_leaked_send() -> None:
    m = starting()
    m.app_returned()
    m.events_received()
    m.app_sent(STARTUP_COMPLETE)
    m.app_sent({"type": "nonsense"})
    assert m.events_received() == []
    assert m.state is State.UNSUPPORTED


def test_scope_on_app_raising_fails_startup() -> None:
    """Mode.ON: lifespan is required, so the same app fails startup with the exception's text."""
    m = starting(Mode.ON)
    m.app_raised(RuntimeError("no database"))
    assert m.events_received() == [
        StartupFailed("the app raised during startup: RuntimeError: no database")
    ]
    assert m.state is State.STARTUP_FAILED


def test_scope_on_app_returning_fails_startup() -> None:
    m = starting(Mode.ON, received=False)
    m.app_returned()
    assert m.events_received() == [
        StartupFailed("the app returned before receiving lifespan.startup")
    ]
    assert m.state is State.STARTUP_FAILED


def test_scope_exception_without_text_is_named_by_its_class() -> None:
    m = starting()
    m.app_raised(NotImplementedError())
    assert m.events_received() == [
        Unsupported("the app raised during startup: NotImplementedError")
    ]


def test_scope_exception_whose_str_raises() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    m = starting(Mode.ON)
    m.app_raised(Unprintable())
    assert m.events_received() == [
        StartupFailed("the app raised during startup: an exception that cannot be printed")
    ]


def test_scope_base_exceptions_are_reported_too() -> None:
    m = starting()
    m.app_raised(KeyboardInterrupt())
    assert m.events_received() == [Unsupported("the app raised during startup: KeyboardInterrupt")]


# Policy: Mode.OFF


def test_off_startup_completes_at_once_and_the_app_is_not_called() -> None:
    m = Lifespan(Mode.OFF)
    assert m.should_call_app is False
    m.startup()
    assert m.events_received() == [StartupComplete()]
    assert m.state is State.DISABLED
    assert m.next_message() is None


def test_off_shutdown_completes_at_once() -> None:
    m = Lifespan(Mode.OFF)
    m.startup()
    m.events_received()
    m.shutdown()
    assert m.events_received() == [ShutdownComplete()]
    assert m.state is State.STOPPED
    assert m.next_message() is None


@pytest.mark.parametrize("call", ["sent", "returned", "raised"])
@pytest.mark.parametrize("after_startup", [False, True])
def test_off_any_app_input_is_misuse(call: str, after_startup: bool) -> None:
    m = Lifespan(Mode.OFF)
    if after_startup:
        m.startup()
        m.events_received()
    state = m.state
    with pytest.raises(LocalProtocolError, match=r"in Mode\.OFF the app must not be called"):
        if call == "sent":
            m.app_sent(STARTUP_COMPLETE)
        elif call == "returned":
            m.app_returned()
        else:
            m.app_raised(ValueError())
    assert m.state is state
    assert m.events_received() == []


@pytest.mark.parametrize("mode", [Mode.AUTO, Mode.ON])
def test_should_call_app_unless_off(mode: Mode) -> None:
    assert Lifespan(mode).should_call_app is True
    assert Lifespan(mode).mode is mode


def test_mode_must_be_a_mode() -> None:
    with pytest.raises(LocalProtocolError, match=r"mode must be a lifespan\.Mode, not str"):
        Lifespan("auto")  # type: ignore[arg-type]


def test_default_mode_is_auto() -> None:
    assert Lifespan().mode is Mode.AUTO
    assert Mode("off") is Mode.OFF


# Spec "Startup - receive event"


def test_startup_queues_lifespan_startup_once() -> None:
    m = Lifespan()
    assert m.next_message() is None
    m.startup()
    assert m.state is State.STARTING
    assert m.events_received() == []
    assert m.next_message() == STARTUP
    assert m.next_message() is None


def test_startup_message_is_a_fresh_dict() -> None:
    m = Lifespan()
    m.startup()
    message = m.next_message()
    assert message == STARTUP
    assert message is not STARTUP


def test_startup_twice_is_misuse() -> None:
    m = starting()
    with pytest.raises(LocalProtocolError, match=r"startup\(\) is not allowed in state STARTING"):
        m.startup()
    assert m.state is State.STARTING


@pytest.mark.parametrize("call", ["sent", "returned", "raised"])
def test_startup_app_input_before_startup_is_misuse(call: str) -> None:
    m = Lifespan()
    with pytest.raises(LocalProtocolError, match=r"call startup\(\) before calling the app"):
        if call == "sent":
            m.app_sent(STARTUP_COMPLETE)
        elif call == "returned":
            m.app_returned()
        else:
            m.app_raised(ValueError())
    assert m.state is State.IDLE
    m.startup()  # nothing was recorded: the machine still works
    m.app_returned()
    assert m.events_received() == [
        Unsupported("the app returned before receiving lifespan.startup")
    ]


def test_startup_timer_before_startup_is_misuse() -> None:
    with pytest.raises(LocalProtocolError, match="no timer can be running before startup"):
        Lifespan().timed_out()


def test_startup_shutdown_before_startup_finished_is_misuse() -> None:
    for m in (Lifespan(), starting()):
        state = m.state
        with pytest.raises(LocalProtocolError, match=r"shutdown\(\) may be called once, after"):
            m.shutdown()
        assert m.state is state


def test_startup_timeout_fails_startup() -> None:
    """The runner's timeout: StartupFailed("startup timed out"); the server exits."""
    m = starting(received=False)
    m.timed_out()
    assert m.events_received() == [StartupFailed("startup timed out")]
    assert m.state is State.STARTUP_FAILED
    assert m.next_message() is None  # the app, if it ever asks, gets nothing


def test_startup_late_answer_after_timeout_is_discarded() -> None:
    m = starting()
    m.timed_out()
    m.events_received()
    m.app_sent(STARTUP_COMPLETE)
    m.app_returned()
    assert m.events_received() == []
    assert m.state is State.STARTUP_FAILED


def test_startup_failed_is_terminal_for_the_server() -> None:
    m = starting()
    m.timed_out()
    assert m.events_received() == [StartupFailed("startup timed out")]
    for call in (m.startup, m.shutdown):
        with pytest.raises(LocalProtocolError):
            call()
    m.timed_out()  # a second timer firing is harmless
    assert m.events_received() == []


# Spec "Startup Complete - send event"


def test_startup_complete() -> None:
    """Startup Complete: the server must wait for it before it starts serving."""
    m = starting()
    m.app_sent(STARTUP_COMPLETE)
    assert m.events_received() == [StartupComplete()]
    assert m.state is State.STARTED
    assert m.next_message() is None


def test_startup_complete_before_receive_is_accepted_and_withdraws_startup() -> None:
    """Policy (lenient): answering before reading the question counts; receive() then never
    sees a stale lifespan.startup, its next message is lifespan.shutdown."""
    m = starting(received=False)
    m.app_sent(STARTUP_COMPLETE)
    assert m.events_received() == [StartupComplete()]
    assert m.next_message() is None
    m.shutdown()
    assert m.next_message() == SHUTDOWN


def test_startup_complete_unknown_keys_are_ignored() -> None:
    m = starting()
    m.app_sent({"type": "lifespan.startup.complete", "message": 42, "extra": object()})
    assert m.events_received() == [StartupComplete()]


def test_startup_complete_dict_subclass_is_read_as_a_dict() -> None:
    class Weird(dict[str, object]):
        def get(self, key: object, default: object = None) -> object:
            raise RuntimeError("not used")

        def __getitem__(self, key: object) -> object:
            raise RuntimeError("not used")

    m = starting()
    m.app_sent(Weird(type="lifespan.startup.complete"))
    assert m.events_received() == [StartupComplete()]
    m = starting()
    m.app_sent(Weird(type="lifespan.startup.failed", message="no database"))
    assert m.events_received() == [StartupFailed("no database")]


def test_startup_complete_str_subclass_type_is_accepted() -> None:
    class Kind(str):
        def __hash__(self) -> int:
            raise RuntimeError("not used")

    m = starting()
    m.app_sent({"type": Kind("lifespan.startup.complete")})
    assert m.events_received() == [StartupComplete()]


# Spec "Startup Failed - send event"


def test_startup_failed_with_message() -> None:
    """Startup Failed: the server logs the message and exits."""
    m = starting()
    m.app_sent({"type": "lifespan.startup.failed", "message": "no database"})
    assert m.events_received() == [StartupFailed("no database")]
    assert m.state is State.STARTUP_FAILED


def test_startup_failed_message_defaults_to_empty() -> None:
    """Startup Failed: "message" is optional and defaults to ""."""
    m = starting()
    m.app_sent({"type": "lifespan.startup.failed"})
    assert m.events_received() == [StartupFailed("")]


def test_startup_failed_app_returning_afterwards_is_discarded() -> None:
    m = starting()
    m.app_sent({"type": "lifespan.startup.failed", "message": "x"})
    m.app_raised(RuntimeError("after"))
    assert m.events_received() == [StartupFailed("x")]
    assert m.state is State.STARTUP_FAILED


# Invalid messages during startup: StartupFailed, never an assert


class Key:
    """A dict key that collides with "type" and whose comparison raises."""

    def __hash__(self) -> int:
        return hash("type")

    def __eq__(self, other: object) -> bool:
        raise ValueError("no")


class Sneaky:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise LookupError("no")


PREFIX = "the app sent an invalid lifespan message during startup: "


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (["lifespan.startup.complete"], PREFIX + "expected a dict, got list"),
        (None, PREFIX + "expected a dict, got NoneType"),
        ({}, PREFIX + "no 'type' key"),
        ({"message": "x"}, PREFIX + "no 'type' key"),
        ({"type": b"lifespan.startup.complete"}, PREFIX + "'type' is a bytes, not a str"),
        ({"type": "http.response.start"}, PREFIX + "unknown type 'http.response.start'"),
        ({"type": "lifespan.startup"}, PREFIX + "unknown type 'lifespan.startup'"),
        ({"type": "x" * 500}, PREFIX + "unknown type '" + "x" * 96 + "..."),
        (
            {"type": "lifespan.startup.failed", "message": None},
            PREFIX + "'message' is a NoneType, not a str",
        ),
        ({Key(): 1}, PREFIX + "unreadable message"),
        (SHUTDOWN_COMPLETE, "the app sent 'lifespan.shutdown.complete' during startup"),
        (
            {"type": "lifespan.shutdown.failed", "message": "x"},
            "the app sent 'lifespan.shutdown.failed' during startup",
        ),
    ],
)
def test_startup_invalid_message_fails_startup(message: object, reason: str) -> None:
    for mode in (Mode.AUTO, Mode.ON):
        m = starting(mode)
        m.app_sent(message)  # type: ignore[arg-type]
        assert m.events_received() == [StartupFailed(reason)]
        assert m.state is State.STARTUP_FAILED


def test_startup_object_with_a_raising_class_attribute() -> None:
    m = starting()
    m.app_sent(Sneaky())  # type: ignore[arg-type]
    assert m.events_received() == [StartupFailed(PREFIX + "unreadable message")]


def test_startup_invalid_message_before_receive_says_so() -> None:
    m = starting(received=False)
    m.app_sent(SHUTDOWN_COMPLETE)
    assert m.events_received() == [
        StartupFailed("the app sent 'lifespan.shutdown.complete' before receiving lifespan.startup")
    ]


# Between startup and shutdown (the spec has no message for this phase)


def test_serving_app_returning_is_fine_and_shutdown_sends_nothing() -> None:
    """Policy: returning after startup.complete is allowed (uvicorn and hypercorn agree)."""
    m = started()
    m.app_returned()
    assert (m.state, m.events_received()) == (State.APP_RETURNED, [])
    m.shutdown()
    assert m.events_received() == [ShutdownComplete()]
    assert m.next_message() is None
    assert m.state is State.STOPPED


def test_serving_app_raising_fails_the_connection_then_shutdown_fails() -> None:
    """Policy: a crash while serving is reported at once; the cleanup never runs."""
    m = started(Mode.ON)
    m.app_raised(RuntimeError("pool died"))
    connection_failed(m, "the app raised while serving: RuntimeError: pool died")
    m.shutdown()
    assert m.events_received() == [
        ShutdownFailed(
            "shutdown skipped, the lifespan had failed: "
            "the app raised while serving: RuntimeError: pool died"
        )
    ]
    assert m.next_message() is None
    assert m.state is State.SHUTDOWN_FAILED


def test_serving_startup_complete_twice_is_a_violation() -> None:
    m = started()
    m.app_sent(STARTUP_COMPLETE)
    connection_failed(m, "the app sent 'lifespan.startup.complete' while serving")


@pytest.mark.parametrize(
    "message",
    [
        {"type": "lifespan.startup.failed"},
        {"type": "lifespan.shutdown.complete"},
        {"type": "lifespan.shutdown.failed", "message": "x"},
    ],
)
def test_serving_any_lifespan_message_is_a_violation(message: dict[str, object]) -> None:
    m = started()
    m.app_sent(message)
    connection_failed(m, f"the app sent {message['type']!r} while serving")


def test_serving_invalid_message_is_a_violation() -> None:
    m = started()
    m.app_sent({"type": "http.request"})
    connection_failed(
        m, "the app sent an invalid lifespan message while serving: unknown type 'http.request'"
    )


def test_serving_send_after_returning_is_a_violation() -> None:
    m = started()
    m.app_returned()
    m.app_sent(SHUTDOWN_COMPLETE)
    connection_failed(m, "the app sent 'lifespan.shutdown.complete' after returning")
    m.shutdown()
    [event] = m.events_received()
    assert type(event) is ShutdownFailed


def test_serving_after_connection_failed_input_is_discarded() -> None:
    m = started()
    m.app_sent(STARTUP_COMPLETE)
    m.events_received()
    m.app_sent(SHUTDOWN_COMPLETE)
    m.app_raised(ValueError())
    m.timed_out()
    assert m.events_received() == []
    assert m.state is State.APP_FAILED


def test_serving_a_stray_timer_is_harmless() -> None:
    """A startup timer racing with startup.complete must not break the machine."""
    m = started()
    m.timed_out()
    assert m.events_received() == []
    assert m.state is State.STARTED


# Spec "Shutdown - receive event"


def test_shutdown_queues_lifespan_shutdown_once() -> None:
    m = started()
    m.shutdown()
    assert m.state is State.STOPPING
    assert m.events_received() == []
    assert m.next_message() == SHUTDOWN
    assert m.next_message() is None


def test_shutdown_twice_is_misuse() -> None:
    m = stopping()
    with pytest.raises(LocalProtocolError, match=r"shutdown\(\) is not allowed in state STOPPING"):
        m.shutdown()
    assert m.state is State.STOPPING


def test_shutdown_timeout_fails_shutdown() -> None:
    m = stopping()
    m.timed_out()
    assert m.events_received() == [ShutdownFailed("shutdown timed out")]
    assert m.state is State.SHUTDOWN_FAILED


def test_shutdown_app_raising_fails_shutdown() -> None:
    m = stopping()
    m.app_raised(OSError("disk"))
    assert m.events_received() == [ShutdownFailed("the app raised during shutdown: OSError: disk")]
    assert m.state is State.SHUTDOWN_FAILED


def test_shutdown_app_returning_counts_as_complete() -> None:
    """Policy (lenient): a clean return leaves nothing to wait for (uvicorn, hypercorn agree)."""
    for mode in (Mode.AUTO, Mode.ON):
        m = stopping(mode)
        m.app_returned()
        assert m.events_received() == [ShutdownComplete()]
        assert m.state is State.STOPPED


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (STARTUP_COMPLETE, "the app sent 'lifespan.startup.complete' during shutdown"),
        (
            {"type": "lifespan.startup.failed"},
            "the app sent 'lifespan.startup.failed' during shutdown",
        ),
        (
            {"type": "lifespan.shutdown.failed", "message": 1},
            "the app sent an invalid lifespan message during shutdown: "
            "'message' is a int, not a str",
        ),
        (
            "lifespan.shutdown.complete",
            "the app sent an invalid lifespan message during shutdown: expected a dict, got str",
        ),
    ],
)
def test_shutdown_invalid_message_fails_shutdown(message: object, reason: str) -> None:
    m = stopping()
    m.app_sent(message)  # type: ignore[arg-type]
    assert m.events_received() == [ShutdownFailed(reason)]
    assert m.state is State.SHUTDOWN_FAILED


# Spec "Shutdown Complete - send event"


def test_shutdown_complete() -> None:
    """Shutdown Complete: the server must wait for it before terminating."""
    m = stopping()
    m.app_sent(SHUTDOWN_COMPLETE)
    assert m.events_received() == [ShutdownComplete()]
    assert m.state is State.STOPPED
    m.app_returned()  # the normal end of the app afterwards
    assert m.events_received() == []


def test_shutdown_complete_before_receive_is_accepted() -> None:
    m = stopping(received=False)
    m.app_sent(SHUTDOWN_COMPLETE)
    assert m.events_received() == [ShutdownComplete()]
    assert m.next_message() is None


def test_shutdown_stopped_is_terminal() -> None:
    m = stopping()
    m.app_sent(SHUTDOWN_COMPLETE)
    m.events_received()
    for call in (m.startup, m.shutdown):
        with pytest.raises(LocalProtocolError):
            call()
    m.timed_out()
    m.app_sent({"type": "anything"})
    assert m.events_received() == []
    assert m.state is State.STOPPED


# Spec "Shutdown Failed - send event"


def test_shutdown_failed_with_message() -> None:
    m = stopping()
    m.app_sent({"type": "lifespan.shutdown.failed", "message": "pool leaked"})
    assert m.events_received() == [ShutdownFailed("pool leaked")]
    assert m.state is State.SHUTDOWN_FAILED


def test_shutdown_failed_message_defaults_to_empty() -> None:
    m = stopping()
    m.app_sent({"type": "lifespan.shutdown.failed"})
    assert m.events_received() == [ShutdownFailed("")]


# Runner misuse and errors


def test_app_end_reported_twice_is_misuse() -> None:
    m = stopping()
    m.app_sent(SHUTDOWN_COMPLETE)
    m.app_returned()
    for call in (m.app_returned, lambda: m.app_raised(ValueError())):
        with pytest.raises(LocalProtocolError, match="the app's end was already reported"):
            call()
    assert m.events_received() == [ShutdownComplete()]


def test_misuse_leaves_the_machine_unchanged() -> None:
    m = starting(received=False)
    with pytest.raises(LocalProtocolError):
        m.startup()
    assert m.state is State.STARTING
    assert m.next_message() == STARTUP  # still pending
    assert m.events_received() == []


def test_events_are_drained() -> None:
    m = starting()
    m.app_sent(STARTUP_COMPLETE)
    assert m.events_received() == [StartupComplete()]
    assert m.events_received() == []


def test_error_hierarchy() -> None:
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(ProtocolError, Exception)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    with pytest.raises(TypeError):
        ProtocolError("abstract")
    assert str(RemoteProtocolError("x")) == "x"


def test_events_are_frozen_and_slotted() -> None:
    event = StartupFailed("x")
    with pytest.raises(AttributeError):
        event.message = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


def test_no_assert_enforces_a_rule() -> None:
    """No `assert` in the package: `python -O` must not change behaviour (aesthetics 2.4)."""
    src = pathlib.Path(__file__).parent.parent / "src" / "asgiserver" / "lifespan"
    files = sorted(src.glob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Assert)], path
