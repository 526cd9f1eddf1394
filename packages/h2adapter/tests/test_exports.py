"""Pin the public surface: names, signatures, event fields, limits defaults and error codes."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from asgiserver import h2adapter as h2a

EXPECTED = [
    "ServerConnection",
    "valid_upgrade_settings",
    "Limits",
    "ErrorCode",
    "Event",
    "Request",
    "Data",
    "EndOfMessage",
    "InformationalResponse",
    "Response",
    "StreamReset",
    "StreamFailed",
    "Writable",
    "GoAwayReceived",
    "ConnectionClosed",
    "ConnectionFailed",
    "Headers",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "HeadersTooLarge",
    "UnsupportedMethod",
    "ExcessiveLoad",
    "IncompleteMessage",
]


def test_all() -> None:
    assert h2a.__all__ == EXPECTED
    public = {n for n in dir(h2a) if not n.startswith("_")}
    assert public == set(EXPECTED)


def test_no_h2_names_leak() -> None:
    for name in EXPECTED:
        obj = getattr(h2a, name)
        assert not getattr(obj, "__module__", "asgiserver").startswith(("h2", "hpack"))


def test_connection_methods_and_properties() -> None:
    conn = h2a.ServerConnection
    sig = {
        "__init__": "(self, limits: 'Limits | None' = None, *, enable_connect_protocol: 'bool' = False) -> 'None'",
        "initiate": "(self) -> 'None'",
        "initiate_upgrade": "(self, settings: 'bytes') -> 'None'",
        "receive_data": "(self, data: 'bytes') -> 'None'",
        "receive_eof": "(self) -> 'None'",
        "events_received": "(self) -> 'list[Event]'",
        "send": "(self, event: 'Event') -> 'None'",
        "data_to_send": "(self) -> 'list[bytes]'",
        "close_expected": "(self) -> 'bool'",
        "consumed": "(self, stream_id: 'int', n: 'int') -> 'None'",
        "buffered": "(self, stream_id: 'int') -> 'int'",
        "waiting_streams": "(self) -> 'dict[int, int]'",
        "start_shutdown": "(self) -> 'None'",
        "timed_out": "(self) -> 'None'",
    }
    for name, expected in sig.items():
        assert str(inspect.signature(getattr(conn, name))) == expected, name
    properties = {"open_streams": "int", "limits": "Limits"}
    public = {n for n in dir(conn) if not n.startswith("_")}
    assert public == (set(sig) - {"__init__"}) | set(properties)
    for name, annotation in properties.items():
        prop = getattr(conn, name)
        assert isinstance(prop, property) and prop.fset is None
        assert prop.fget.__annotations__["return"] == annotation


FIELDS = [
    (h2a.Request, ["stream_id", "method", "target", "headers", "scheme", "authority", "protocol"]),
    (h2a.Data, ["stream_id", "data"]),
    (h2a.EndOfMessage, ["stream_id", "headers"]),
    (h2a.InformationalResponse, ["stream_id", "status", "headers"]),
    (h2a.Response, ["stream_id", "status", "headers"]),
    (h2a.StreamReset, ["stream_id", "error_code"]),
    (h2a.StreamFailed, ["stream_id", "error"]),
    (h2a.Writable, ["stream_id"]),
    (h2a.GoAwayReceived, ["last_stream_id", "error_code"]),
    (h2a.ConnectionClosed, []),
    (h2a.ConnectionFailed, ["error"]),
]


@pytest.mark.parametrize(("cls", "fields"), FIELDS)
def test_events_are_frozen_slotted_final_dataclasses(cls: type, fields: list[str]) -> None:
    assert dataclasses.is_dataclass(cls)
    assert [f.name for f in dataclasses.fields(cls)] == fields
    assert "__slots__" in cls.__dict__
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert getattr(cls, "__final__", False)


def test_event_union_is_closed() -> None:
    assert set(typing.get_args(h2a.Event)) == {cls for cls, _ in FIELDS}


def test_event_defaults_and_immutability() -> None:
    assert h2a.EndOfMessage(1).headers == ()
    assert h2a.Response(1, 200) == h2a.Response(1, 200, ())
    assert h2a.Request(1, b"GET", b"/", [], b"https").authority is None
    data = h2a.Data(1, b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.data = b"y"  # type: ignore[misc]
    assert not hasattr(data, "__dict__")


def test_limits_defaults() -> None:
    assert h2a.Limits() == h2a.Limits(
        max_concurrent_streams=100,
        initial_window_size=256 * 1024,
        connection_window=1024 * 1024,
        max_frame_size=16384,
        max_header_list_size=64 * 1024,
        max_header_block_bytes=64 * 1024,
        max_continuation_frames=8,
        max_header_count=100,
        max_requests=1000,
        reset_budget=100,
        max_new_streams_per_read=200,
        max_control_frames=1000,
    )
    assert h2a.ServerConnection().limits == h2a.Limits()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_frame_size": 1000},
        {"max_frame_size": 1 << 24},
        {"initial_window_size": 1 << 31},
        {"connection_window": 1000},
        {"max_requests": 0},
        {"reset_budget": -1},
        {"max_header_count": 1.5},
    ],
)
def test_limits_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        h2a.Limits(**kwargs)  # type: ignore[arg-type]


def test_errors() -> None:
    assert issubclass(h2a.LocalProtocolError, h2a.ProtocolError)
    assert issubclass(h2a.RemoteProtocolError, h2a.ProtocolError)
    assert h2a.RemoteProtocolError("x").error_code == h2a.ErrorCode.PROTOCOL_ERROR == 1
    assert h2a.RemoteProtocolError("x").status_hint is None
    assert h2a.HeadersTooLarge("x").status_hint == 431
    assert h2a.UnsupportedMethod("x").status_hint == 501
    assert h2a.ExcessiveLoad("x").error_code == h2a.ErrorCode.ENHANCE_YOUR_CALM == 0xB
    assert h2a.RemoteProtocolError("x", 6, 400).error_code == 6
    assert [c.value for c in h2a.ErrorCode] == list(range(14))
