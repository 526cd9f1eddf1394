"""The public surface is pinned: adding a name is a decision, removing one is a breaking change."""

from __future__ import annotations

import inspect

import asgiserver.ws as ws

EXPORTS = [
    "validate_request",
    "accept",
    "accept_key",
    "HandshakeRequest",
    "HandshakeRejection",
    "HandshakeResponse",
    "ExtensionOffer",
    "DeflateOptions",
    "PerMessageDeflate",
    "open_handshake",
    "validate_response",
    "ClientHandshake",
    "ServerConnection",
    "ClientConnection",
    "Limits",
    "State",
    "Event",
    "SendEvent",
    "TextMessage",
    "BytesMessage",
    "Ping",
    "Pong",
    "Close",
    "CloseReceived",
    "ConnectionClosed",
    "ConnectionFailed",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "MessageTooBig",
]


def test_all_is_pinned() -> None:
    assert ws.__all__ == EXPORTS
    public = {n for n in vars(ws) if not n.startswith("_")}
    assert public == set(EXPORTS)


def test_no_namespace_init() -> None:
    # PEP 420: asgiserver is a namespace shared with the sibling packages.
    import asgiserver

    assert getattr(asgiserver, "__file__", None) is None


def test_signatures() -> None:
    sig = {name: str(inspect.signature(getattr(ws, name))) for name in EXPORTS[:3]}
    assert sig == {
        "validate_request": (
            "(method: 'bytes', http_version: 'bytes', headers: 'Sequence[tuple[bytes, bytes]]')"
            " -> 'HandshakeRequest | HandshakeRejection'"
        ),
        "accept": (
            "(request: 'HandshakeRequest', *, subprotocol: 'str | None' = None,"
            " extra_headers: 'Sequence[tuple[bytes, bytes]]' = (),"
            " deflate: 'DeflateOptions | None' = DeflateOptions(server_no_context_takeover=False,"
            " client_no_context_takeover=False, server_max_window_bits=15,"
            " client_max_window_bits=15, compression_level=6, mem_level=8))"
            " -> 'HandshakeResponse'"
        ),
        "accept_key": "(key: 'bytes') -> 'bytes'",
    }
    assert str(inspect.signature(ws.ServerConnection)) == (
        "(*, limits: 'Limits' = Limits(max_message_bytes=16777216, max_frame_bytes=16777216),"
        " extensions: 'Sequence[PerMessageDeflate]' = (), trailing_data: 'bytes' = b'') -> 'None'"
    )
    methods = [
        "receive_data",
        "receive_eof",
        "events_received",
        "send",
        "send_text",
        "send_bytes",
        "data_to_send",
        "close_expected",
    ]
    assert {m: str(inspect.signature(getattr(ws.ServerConnection, m))) for m in methods} == {
        "receive_data": "(self, data: 'bytes') -> 'None'",
        "receive_eof": "(self) -> 'None'",
        "events_received": "(self) -> 'list[Event]'",
        "send": "(self, event: 'SendEvent') -> 'None'",
        "send_text": "(self, text: 'str') -> 'None'",
        "send_bytes": "(self, data: 'bytes') -> 'None'",
        "data_to_send": "(self) -> 'list[bytes]'",
        "close_expected": "(self) -> 'bool'",
    }
    assert isinstance(ws.ServerConnection.state, property)
    assert str(inspect.signature(ws.ClientConnection)) == (
        "(*, limits: 'Limits' = Limits(max_message_bytes=16777216, max_frame_bytes=16777216),"
        " extensions: 'Sequence[PerMessageDeflate]' = (), trailing_data: 'bytes' = b'',"
        " random: 'Callable[[int], bytes]' = <built-in function urandom>) -> 'None'"
    )
    for m in methods:
        assert inspect.signature(getattr(ws.ClientConnection, m)) == inspect.signature(
            getattr(ws.ServerConnection, m)
        )
    assert str(inspect.signature(ws.open_handshake)).startswith(
        "(*, subprotocols: 'Sequence[str]' = (), extra_headers: 'Sequence[tuple[bytes, bytes]]'"
        " = (), deflate: 'DeflateOptions | None' = DeflateOptions("
    )
    assert str(inspect.signature(ws.open_handshake)).endswith(
        " extended_connect: 'bool' = False, random: 'Callable[[int], bytes]' ="
        " <built-in function urandom>) -> 'ClientHandshake'"
    )
    assert str(inspect.signature(ws.validate_response)) == (
        "(handshake: 'ClientHandshake', status: 'int', headers: 'Sequence[tuple[bytes, bytes]]')"
        " -> 'HandshakeResponse | HandshakeRejection'"
    )


def test_events_are_frozen_slotted_final() -> None:
    import dataclasses

    for name in [
        "TextMessage",
        "BytesMessage",
        "Ping",
        "Pong",
        "Close",
        "CloseReceived",
        "ConnectionClosed",
        "ConnectionFailed",
    ]:
        cls = getattr(ws, name)
        assert dataclasses.fields(cls)
        assert cls.__dataclass_params__.frozen
        assert "__slots__" in vars(cls)
        assert getattr(cls, "__final__", False)


def test_event_unions() -> None:
    from typing import get_args

    assert get_args(ws.Event) == (
        ws.TextMessage,
        ws.BytesMessage,
        ws.Ping,
        ws.Pong,
        ws.CloseReceived,
        ws.ConnectionClosed,
        ws.ConnectionFailed,
    )
    assert get_args(ws.SendEvent) == (ws.TextMessage, ws.BytesMessage, ws.Ping, ws.Pong, ws.Close)


def test_error_hierarchy() -> None:
    assert issubclass(ws.LocalProtocolError, ws.ProtocolError)
    assert issubclass(ws.RemoteProtocolError, ws.ProtocolError)
    assert issubclass(ws.MessageTooBig, ws.RemoteProtocolError)
    assert ws.MessageTooBig("x").close_code == 1009
    assert ws.RemoteProtocolError("x").close_code == 1002
    assert ws.RemoteProtocolError("x", close_code=1007).close_code == 1007
