"""The public surface, pinned: changing it must be a deliberate edit of this file."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

import asgiserver.uwsgi as uwsgi
from asgiserver.uwsgi import (
    BodyTooLarge,
    Limits,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    UnsupportedPacket,
    VarsTooLarge,
)

PUBLIC = [
    "ServerConnection",
    "Limits",
    "State",
    "Request",
    "Response",
    "Data",
    "EndOfMessage",
    "ConnectionClosed",
    "ConnectionFailed",
    "Event",
    "SendEvent",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "VarsTooLarge",
    "BodyTooLarge",
    "UnsupportedPacket",
]


def test_all() -> None:
    assert uwsgi.__all__ == PUBLIC
    for name in PUBLIC:
        if name not in ("Event", "SendEvent"):  # unions, see test_unions
            assert getattr(uwsgi, name).__module__.startswith("asgiserver.uwsgi._")


def test_no_other_public_names() -> None:
    public = {n for n in vars(uwsgi) if not n.startswith("_")}
    assert public == set(PUBLIC)


def test_connection_api() -> None:
    conn = uwsgi.ServerConnection
    methods = {
        "__init__": "(self, limits: 'Limits | None' = None) -> 'None'",
        "receive_data": "(self, data: 'bytes | bytearray | memoryview') -> 'None'",
        "receive_eof": "(self) -> 'None'",
        "events_received": "(self) -> 'list[Event]'",
        "send": "(self, event: 'SendEvent') -> 'None'",
        "data_to_send": "(self) -> 'list[bytes]'",
        "close_expected": "(self) -> 'bool'",
    }
    for name, signature in methods.items():
        assert str(inspect.signature(getattr(conn, name))) == signature, name
    for name in ("their_state", "our_state", "pending_bytes"):
        assert isinstance(getattr(conn, name), property), name
    assert uwsgi.ServerConnection().limits == Limits()


def fields(cls: type) -> list[tuple[str, object]]:
    return [(f.name, f.type) for f in dataclasses.fields(cls)]


def test_events() -> None:
    assert fields(uwsgi.Request) == [
        ("method", "bytes"),
        ("raw_path", "bytes"),
        ("path", "str"),
        ("query_string", "bytes"),
        ("root_path", "str"),
        ("http_version", "str"),
        ("scheme", "str"),
        ("headers", "list[tuple[bytes, bytes]]"),
        ("client", "tuple[str, int] | None"),
        ("server", "tuple[str, int | None] | None"),
        ("vars", "dict[bytes, bytes]"),
    ]
    assert fields(uwsgi.Response) == [
        ("status", "int"),
        ("headers", "list[tuple[bytes, bytes]]"),
        ("reason", "bytes"),
    ]
    assert uwsgi.Response(200, []).reason == b""
    assert fields(uwsgi.Data) == [("data", "bytes")]
    assert fields(uwsgi.EndOfMessage) == []
    assert fields(uwsgi.ConnectionClosed) == []
    assert fields(uwsgi.ConnectionFailed) == [("error", "RemoteProtocolError")]


@pytest.mark.parametrize(
    "cls",
    [
        uwsgi.Request,
        uwsgi.Response,
        uwsgi.Data,
        uwsgi.EndOfMessage,
        uwsgi.ConnectionClosed,
        uwsgi.ConnectionFailed,
        uwsgi.Limits,
    ],
)
def test_frozen_slotted(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in vars(cls)
    assert not hasattr(cls, "__dict__") or "__dict__" not in cls.__dict__


def test_unions() -> None:
    assert typing.get_args(uwsgi.Event) == (
        uwsgi.Request,
        uwsgi.Data,
        uwsgi.EndOfMessage,
        uwsgi.ConnectionClosed,
        uwsgi.ConnectionFailed,
    )
    assert typing.get_args(uwsgi.SendEvent) == (uwsgi.Response, uwsgi.Data, uwsgi.EndOfMessage)


def test_states() -> None:
    assert [s.name for s in uwsgi.State] == [
        "IDLE",
        "HEAD",
        "SEND_BODY",
        "DONE",
        "MUST_CLOSE",
        "CLOSED",
        "ERROR",
    ]


def test_errors() -> None:
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    with pytest.raises(TypeError):
        ProtocolError("abstract")
    assert RemoteProtocolError("x").status_hint == 400
    assert RemoteProtocolError("x", status_hint=418).status_hint == 418
    for cls, hint in ((VarsTooLarge, 431), (BodyTooLarge, 413), (UnsupportedPacket, 501)):
        assert issubclass(cls, RemoteProtocolError)
        error = cls("m")
        assert (error.status_hint, str(error)) == (hint, "m")


class TestLimits:
    def test_defaults(self) -> None:
        assert fields(Limits) == [
            ("max_vars_bytes", "int"),
            ("max_body_bytes", "int | None"),
        ]
        assert Limits() == Limits(max_vars_bytes=65536, max_body_bytes=None)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"max_vars_bytes": -1},
            {"max_vars_bytes": 1.5},
            {"max_vars_bytes": True},
            {"max_body_bytes": -1},
            {"max_body_bytes": "10"},
        ],
    )
    def test_invalid(self, kwargs: dict[str, object]) -> None:
        with pytest.raises(ValueError, match="max_"):
            Limits(**kwargs)  # type: ignore[arg-type]

    def test_frozen(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            Limits().max_vars_bytes = 1  # type: ignore[misc]


def test_repr() -> None:
    assert repr(uwsgi.ServerConnection()) == "<ServerConnection their=IDLE our=IDLE>"
