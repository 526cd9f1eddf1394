"""The public surface, pinned (aesthetics 2.8): a change here is an API change."""

import dataclasses
import inspect
import typing

from asgiserver import lifespan


def test_all() -> None:
    assert lifespan.__all__ == [
        "Lifespan",
        "Mode",
        "State",
        "Event",
        "StartupComplete",
        "StartupFailed",
        "ShutdownComplete",
        "ShutdownFailed",
        "Unsupported",
        "ConnectionFailed",
        "ProtocolError",
        "LocalProtocolError",
        "RemoteProtocolError",
    ]
    for name in lifespan.__all__:
        assert getattr(lifespan, name) is not None


def test_no_other_public_names() -> None:
    public = {n for n in dir(lifespan) if not n.startswith("_")}
    assert public == set(lifespan.__all__)


def test_enums() -> None:
    assert [(m.name, m.value) for m in lifespan.Mode] == [
        ("AUTO", "auto"),
        ("ON", "on"),
        ("OFF", "off"),
    ]
    assert [s.name for s in lifespan.State] == [
        "IDLE",
        "STARTING",
        "STARTED",
        "APP_RETURNED",
        "APP_FAILED",
        "STOPPING",
        "STOPPED",
        "STARTUP_FAILED",
        "SHUTDOWN_FAILED",
        "UNSUPPORTED",
        "DISABLED",
    ]


def test_event_union_is_closed() -> None:
    assert typing.get_args(lifespan.Event) == (
        lifespan.StartupComplete,
        lifespan.StartupFailed,
        lifespan.ShutdownComplete,
        lifespan.ShutdownFailed,
        lifespan.Unsupported,
        lifespan.ConnectionFailed,
    )


def test_event_fields() -> None:
    fields = {
        cls.__name__: [(f.name, f.type) for f in dataclasses.fields(cls)]
        for cls in typing.get_args(lifespan.Event)
    }
    assert fields == {
        "StartupComplete": [],
        "StartupFailed": [("message", "str")],
        "ShutdownComplete": [],
        "ShutdownFailed": [("message", "str")],
        "Unsupported": [("reason", "str")],
        "ConnectionFailed": [("error", "RemoteProtocolError")],
    }
    for cls in typing.get_args(lifespan.Event):
        params = cls.__dataclass_params__
        assert params.frozen
        assert "__slots__" in cls.__dict__


def test_lifespan_signatures() -> None:
    sigs = {
        name: str(inspect.signature(member))
        for name, member in vars(lifespan.Lifespan).items()
        if not name.startswith("_") and callable(member)
    }
    assert sigs == {
        "scope": "(self, state: 'dict[str, object]') -> 'dict[str, object]'",
        "startup": "(self) -> 'None'",
        "shutdown": "(self) -> 'None'",
        "timed_out": "(self) -> 'None'",
        "next_message": "(self) -> 'dict[str, object] | None'",
        "app_sent": "(self, message: 'Mapping[str, object]') -> 'None'",
        "app_returned": "(self) -> 'None'",
        "app_raised": "(self, exc: 'BaseException') -> 'None'",
        "events_received": "(self) -> 'list[Event]'",
    }
    assert (
        str(inspect.signature(lifespan.Lifespan))
        == "(mode: 'Mode' = <Mode.AUTO: 'auto'>) -> 'None'"
    )
    properties = sorted(n for n, v in vars(lifespan.Lifespan).items() if isinstance(v, property))
    assert properties == ["mode", "should_call_app", "state"]
