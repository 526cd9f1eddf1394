"""h2c Upgrade (RFC 7540 §3.2, kept by RFC 9113 §3.1 for deployed clients): the HTTP/1.1 request
becomes stream 1, half-closed (remote), answered over HTTP/2 after the 101."""

from __future__ import annotations

import base64

import h2.config
import h2.connection
import h2.events
import pytest

from asgiserver import h2adapter as h2a


def client_and_settings() -> tuple[h2.connection.H2Connection, bytes]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    settings = client.initiate_upgrade_connection()
    assert settings is not None
    return client, settings.rstrip(b"=")  # sent without padding (RFC 7540 §3.2.1)


def test_upgraded_request_is_answered_on_stream_1() -> None:
    client, settings = client_and_settings()
    server = h2a.ServerConnection()
    server.initiate_upgrade(settings)
    assert server.open_streams == 1
    server.receive_data(client.data_to_send())  # the preface, after the 101 (§3.5)
    assert server.events_received() == []  # no Request: the driver has it from HTTP/1.1
    server.send(h2a.Response(1, 200, [(b"content-type", b"text/plain")]))
    server.send(h2a.Data(1, b"hello"))
    server.send(h2a.EndOfMessage(1))
    events = client.receive_data(b"".join(server.data_to_send()))
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert response.stream_id == 1 and (b":status", b"200") in response.headers
    assert b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived)) == b"hello"
    assert any(isinstance(e, h2.events.StreamEnded) and e.stream_id == 1 for e in events)
    assert server.open_streams == 0
    # The next request is an ordinary HTTP/2 stream.
    client.send_headers(
        3,
        [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")],
        end_stream=True,
    )
    server.receive_data(client.data_to_send())
    assert [type(e) for e in server.events_received()] == [h2a.Request, h2a.EndOfMessage]


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"not base64!",
        base64.urlsafe_b64encode(b"\x00\x04\x00\x00").rstrip(b"="),  # not whole 6-byte settings
        base64.urlsafe_b64encode(b"\x00\x02\x00\x00\x00\x02"),  # ENABLE_PUSH 2
        base64.urlsafe_b64encode(b"\x00\x04\x80\x00\x00\x00"),  # INITIAL_WINDOW_SIZE over 2^31-1
        base64.urlsafe_b64encode(b"\x00\x05\x00\x00\x00\x01"),  # MAX_FRAME_SIZE under 16384
        b"A" * 5000,
    ],
)
def test_malformed_settings_are_refused_before_anything_is_sent(value: bytes) -> None:
    # RFC 7540 §3.2.1: a server MUST NOT upgrade when HTTP2-Settings is malformed.
    assert not h2a.valid_upgrade_settings(value)
    server = h2a.ServerConnection()
    with pytest.raises(h2a.LocalProtocolError):
        server.initiate_upgrade(value)
    assert server.data_to_send() == []


def test_valid_settings_with_or_without_padding() -> None:
    _, settings = client_and_settings()
    assert h2a.valid_upgrade_settings(settings)
    assert h2a.valid_upgrade_settings(settings + b"=" * (-len(settings) % 4))
    assert h2a.valid_upgrade_settings(base64.urlsafe_b64encode(b"\x00\x03\x00\x00\x00\x64"))


def test_initiate_upgrade_only_first() -> None:
    server = h2a.ServerConnection()
    server.initiate()
    with pytest.raises(h2a.LocalProtocolError):
        server.initiate_upgrade(client_and_settings()[1])
