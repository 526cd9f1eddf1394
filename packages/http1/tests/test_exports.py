"""Pin the public surface: names, signatures, event fields, limits defaults and error hints."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from asgiserver import http1

EXPECTED = [
    "ServerConnection",
    "ClientConnection",
    "Limits",
    "State",
    "Event",
    "Request",
    "Data",
    "EndOfMessage",
    "InformationalResponse",
    "Response",
    "ConnectionClosed",
    "ConnectionFailed",
    "Headers",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "IncompleteMessage",
    "RequestTimeout",
    "RequestLineTooLong",
    "StatusLineTooLong",
    "HeadersTooLarge",
    "BodyTooLarge",
    "UnsupportedMethod",
    "UnsupportedTransferCoding",
    "UnsupportedVersion",
]


def test_all() -> None:
    assert http1.__all__ == EXPECTED
    for name in EXPECTED:
        assert hasattr(http1, name)
    public = {n for n in dir(http1) if not n.startswith("_")}
    assert public == set(EXPECTED)


def test_no_namespace_init() -> None:
    """PEP 420: ``asgiserver`` is a namespace package shared by the distributions."""
    import asgiserver

    assert getattr(asgiserver, "__file__", None) is None


def test_connection_methods_and_properties() -> None:
    conn = http1.ServerConnection
    sig = {
        "__init__": "(self, limits: 'Limits | None' = None) -> 'None'",
        "receive_data": "(self, data: 'bytes') -> 'None'",
        "receive_eof": "(self) -> 'None'",
        "events_received": "(self) -> 'list[Event]'",
        "send": "(self, event: 'Event') -> 'None'",
        "data_to_send": "(self) -> 'list[bytes]'",
        "close_expected": "(self) -> 'bool'",
        "timed_out": "(self) -> 'None'",
    }
    for name, expected in sig.items():
        assert str(inspect.signature(getattr(conn, name))) == expected, name
    properties = {
        "their_state": "State",
        "our_state": "State",
        "expect_continue": "bool",
        "keep_alive": "bool",
        "upgrade": "bytes | None",
        "trailing_data": "bytes",
        "trailers_accepted": "bool",
        "pending_bytes": "int",
        "limits": "Limits",
    }
    for name, annotation in properties.items():
        prop = getattr(conn, name)
        assert isinstance(prop, property), name
        assert prop.fset is None, name
        assert prop.fget.__annotations__["return"] == annotation, name


def test_client_connection_methods_and_properties() -> None:
    conn = http1.ClientConnection
    sig = {
        "__init__": "(self, limits: 'Limits | None' = None) -> 'None'",
        "receive_data": "(self, data: 'bytes') -> 'None'",
        "receive_eof": "(self) -> 'None'",
        "events_received": "(self) -> 'list[Event]'",
        "send": "(self, event: 'Event') -> 'None'",
        "data_to_send": "(self) -> 'list[bytes]'",
        "close_expected": "(self) -> 'bool'",
    }
    for name, expected in sig.items():
        assert str(inspect.signature(getattr(conn, name))) == expected, name
    properties = {
        "their_state": "State",
        "our_state": "State",
        "expect_continue": "bool",
        "keep_alive": "bool",
        "pipelined": "int",
        "trailing_data": "bytes",
        "limits": "Limits",
    }
    public = {n for n in dir(conn) if not n.startswith("_")}
    assert public == set(sig) - {"__init__"} | set(properties)
    for name, annotation in properties.items():
        prop = getattr(conn, name)
        assert isinstance(prop, property), name
        assert prop.fset is None, name
        assert prop.fget.__annotations__["return"] == annotation, name


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (http1.Request, ["method", "target", "headers", "http_version"]),
        (http1.Data, ["data"]),
        (http1.EndOfMessage, ["headers"]),
        (http1.InformationalResponse, ["status", "headers", "reason"]),
        (http1.Response, ["status", "headers", "reason"]),
        (http1.ConnectionClosed, []),
        (http1.ConnectionFailed, ["error"]),
    ],
)
def test_events_are_frozen_slotted_dataclasses(cls: type, fields: list[str]) -> None:
    assert dataclasses.is_dataclass(cls)
    assert [f.name for f in dataclasses.fields(cls)] == fields
    assert "__slots__" in cls.__dict__
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert set(typing.get_args(http1.Event)) >= {cls}


def test_event_union_is_closed() -> None:
    assert set(typing.get_args(http1.Event)) == {
        http1.Request,
        http1.Data,
        http1.EndOfMessage,
        http1.InformationalResponse,
        http1.Response,
        http1.ConnectionClosed,
        http1.ConnectionFailed,
    }


def test_event_defaults_and_immutability() -> None:
    assert http1.EndOfMessage().headers == ()
    assert http1.Response(200) == http1.Response(200, (), b"")
    assert http1.InformationalResponse(100).reason == b""
    data = http1.Data(b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.data = b"y"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):  # TypeError: CPython 3.11 frozen+slots
        data.other = 1  # type: ignore[attr-defined]
    assert not hasattr(data, "__dict__")


def test_limits_defaults() -> None:
    limits = http1.Limits()
    assert limits == http1.Limits(
        max_request_line_bytes=8 * 1024,
        max_header_bytes=64 * 1024,
        max_header_count=100,
        max_body_bytes=None,
        max_chunk_extension_bytes=16 * 1024,
        max_status_line_bytes=8 * 1024,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_header_count = 1  # type: ignore[misc]
    assert http1.ServerConnection().limits == limits
    assert http1.ClientConnection().limits == limits


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_header_count": -1},
        {"max_body_bytes": -1},
        {"max_request_line_bytes": 4},
        {"max_status_line_bytes": 15},
        {"max_header_bytes": 1.5},
        {"max_body_bytes": "10"},
    ],
)
def test_limits_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        http1.Limits(**kwargs)  # type: ignore[arg-type]


def test_error_hierarchy_and_hints() -> None:
    assert issubclass(http1.LocalProtocolError, http1.ProtocolError)
    assert issubclass(http1.RemoteProtocolError, http1.ProtocolError)
    hints = {
        http1.RemoteProtocolError: 400,
        http1.IncompleteMessage: 400,
        http1.RequestTimeout: 408,
        http1.RequestLineTooLong: 414,
        http1.StatusLineTooLong: 400,
        http1.HeadersTooLarge: 431,
        http1.BodyTooLarge: 413,
        http1.UnsupportedMethod: 501,
        http1.UnsupportedTransferCoding: 501,
        http1.UnsupportedVersion: 505,
    }
    for cls, hint in hints.items():
        assert issubclass(cls, http1.RemoteProtocolError)
        assert cls("x").status_hint == hint
    assert http1.RemoteProtocolError("x", status_hint=418).status_hint == 418
    # Hints are class attributes; an explicit hint still wins, on any subclass.
    assert http1.BodyTooLarge("x", 400).status_hint == 400
    assert http1.BodyTooLarge.status_hint == 413


def test_state_members() -> None:
    assert [s.name for s in http1.State] == [
        "IDLE",
        "SEND_RESPONSE",
        "SEND_BODY",
        "DONE",
        "MUST_CLOSE",
        "CLOSED",
        "MIGHT_SWITCH_PROTOCOL",
        "SWITCHED_PROTOCOL",
        "ERROR",
    ]
