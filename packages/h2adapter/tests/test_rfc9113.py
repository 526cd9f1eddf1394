"""Scenario tests grouped by RFC 9113 / RFC 8441 section, driven by an in-memory h2 client."""

from __future__ import annotations

import h2.events
import pytest
from _helpers import (
    PREFACE,
    Pair,
    data_frame,
    headers_frame,
    raw_frame,
    request_headers,
    server_frames,
    settings,
)

from asgiserver import h2adapter as h2a

# -- §3.4 connection preface ------------------------------------------------------------------


def test_3_4_server_preface_is_settings_then_connection_window() -> None:
    conn = h2a.ServerConnection()
    conn.initiate()
    frames = server_frames(b"".join(conn.data_to_send()))
    assert [f[0] for f in frames] == [0x4, 0x8]  # SETTINGS, WINDOW_UPDATE(0)
    assert frames[1][2] == 0
    assert int.from_bytes(frames[1][3], "big") == (1 << 20) - 65535  # RFC 9113 §6.9.2


def test_3_4_bad_preface_fails_the_connection() -> None:
    conn = h2a.ServerConnection()
    conn.initiate()
    conn.data_to_send()
    conn.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    [event] = conn.events_received()
    assert isinstance(event, h2a.ConnectionFailed)
    assert event.error.error_code == h2a.ErrorCode.PROTOCOL_ERROR
    frames = server_frames(b"".join(conn.data_to_send()))
    assert frames[-1][0] == 0x7 and conn.close_expected()


def test_3_4_preface_must_be_followed_by_settings() -> None:
    conn = h2a.ServerConnection()
    conn.receive_data(PREFACE + data_frame(1, b"x"))
    [event] = conn.events_received()
    assert isinstance(event, h2a.ConnectionFailed)


def test_3_4_preface_split_byte_by_byte() -> None:
    conn = h2a.ServerConnection()
    for b in PREFACE + settings():
        conn.receive_data(bytes([b]))
    assert conn.events_received() == []
    assert not conn.close_expected()


# -- §4.2 frame size ----------------------------------------------------------------------------


def test_4_2_frame_over_max_frame_size_is_frame_size_error() -> None:
    pair = Pair()
    pair.get(1, end=False)
    ok = pair.raw(data_frame(1, b"x" * 16384))
    assert ok == [h2a.Data(1, b"x" * 16384)]
    # The header alone is enough: the payload is never buffered.
    events = pair.raw(data_frame(1, b"x" * 16385)[:9])
    assert isinstance(events[-1], h2a.ConnectionFailed)
    assert events[-1].error.error_code == h2a.ErrorCode.FRAME_SIZE_ERROR


# -- §5.1.2 concurrency ---------------------------------------------------------------------------


def test_5_1_2_streams_over_the_limit_are_refused_not_the_connection() -> None:
    pair = Pair(h2a.Limits(max_concurrent_streams=2))
    assert pair.client.remote_settings.max_concurrent_streams == 2
    for sid in (1, 3):
        pair.client.send_headers(sid, request_headers(), end_stream=True)
    events = pair.pump()
    assert [type(e) for e in events] == [h2a.Request, h2a.EndOfMessage] * 2
    # The client's h2 keeps to the advertised limit; write the third HEADERS by hand.
    assert pair.raw_headers(5, request_headers()) == []
    assert pair.raw_resets() == {5: h2a.ErrorCode.REFUSED_STREAM}
    pair.client.streams.pop(5, None)
    pair.client.highest_outbound_stream_id = 5
    pair.respond(1, b"ok")
    events = pair.get(7)
    assert isinstance(events[0], h2a.Request) and events[0].stream_id == 7
    assert not pair.server.close_expected()


# -- §5.5 / §6 frames the adapter swallows ---------------------------------------------------------


def test_5_5_unknown_frame_types_are_ignored() -> None:
    pair = Pair()
    assert pair.raw(raw_frame(0xFA, 0, 0, b"abc")) == []
    assert isinstance(pair.get(1)[0], h2a.Request)


def test_6_7_ping_is_acked_automatically() -> None:
    pair = Pair()
    pair.client.ping(b"abcdefgh")
    assert pair.pump() == []
    assert [e.ping_data for e in pair.client_of(h2.events.PingAckReceived)] == [b"abcdefgh"]


# -- §8.1 request and response messages -------------------------------------------------------------


def test_8_1_get_round_trip() -> None:
    pair = Pair()
    events = pair.get(1, b"/a?b=c")
    assert events == [
        h2a.Request(
            1, b"GET", b"/a?b=c", [(b"host", b"example.com")], b"https", b"example.com", None
        ),
        h2a.EndOfMessage(1),
    ]
    pair.respond(1, b"hello")
    assert pair.response_body(1) == b"hello" and pair.ended(1)
    [resp] = pair.client_of(h2.events.ResponseReceived)
    assert resp.headers == [(b":status", b"200"), (b"content-length", b"5")]
    assert pair.server.open_streams == 0


def test_8_1_response_without_body_is_one_headers_frame_with_end_stream() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 204))
    pair.server.send(h2a.Data(1, b""))
    pair.server.send(h2a.EndOfMessage(1))
    frames = server_frames(b"".join(pair.server.data_to_send()))
    assert [(f[0], f[1] & 0x1) for f in frames] == [(0x1, 0x1)]


def test_8_1_response_data_end_is_headers_then_one_data_with_end_stream() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"a"))
    pair.server.send(h2a.Data(1, b"b"))
    pair.server.send(h2a.EndOfMessage(1))
    frames = server_frames(b"".join(pair.server.data_to_send()))
    assert [(f[0], f[1] & 0x1, f[3]) for f in frames[1:]] == [(0x0, 0x1, b"ab")]


def test_buffered_frames_what_was_held_first() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"x" * 70_000))
    assert pair.server.buffered(1) == 70_000 - 65_535  # only what the window keeps back


def test_8_1_held_response_goes_out_at_data_to_send() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    frames = server_frames(b"".join(pair.server.data_to_send()))
    assert [(f[0], f[1] & 0x1) for f in frames] == [(0x1, 0)]


def test_8_1_request_body_and_trailers() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(method=b"POST", extra=[(b"te", b"trailers")]))
    pair.client.send_data(1, b"abc")
    pair.client.send_headers(1, [(b"x-checksum", b"1")], end_stream=True)
    events = pair.pump()
    assert events[1:] == [h2a.Data(1, b"abc"), h2a.EndOfMessage(1, [(b"x-checksum", b"1")])]
    assert events[0].headers == [(b"host", b"example.com"), (b"te", b"trailers")]  # type: ignore[union-attr]


def test_8_1_response_trailers_after_buffered_data() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"x" * 100_000))  # more than the client's 65535 window
    pair.server.send(h2a.EndOfMessage(1, [(b"grpc-status", b"0")]))
    pair.pump()
    assert not pair.ended(1)
    pair.client.acknowledge_received_data(65535, 1)
    pair.pump()
    assert len(pair.response_body(1)) == 100_000 and pair.ended(1)
    [trailers] = pair.client_of(h2.events.TrailersReceived)
    assert trailers.headers == [(b"grpc-status", b"0")]


def test_8_1_early_response_resets_with_no_error_and_returns_credit() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(method=b"POST"))
    pair.client.send_data(1, b"x" * 1000)
    pair.pump()
    pair.respond(1, b"too early")
    assert pair.ended(1) and pair.resets() == {1: h2a.ErrorCode.NO_ERROR}
    # RFC 9113 §8.1: the response went out complete before the reset.
    assert pair.response_body(1) == b"too early"
    assert pair.server_window() == 1 << 20


def test_8_1_trailers_without_end_stream_reset_the_stream_only() -> None:
    pair = Pair()
    pair.get(1, end=False)
    events = pair.raw_headers(1, [(b"x", b"1")], end=False)
    assert len(events) == 1 and isinstance(events[0], h2a.StreamFailed)
    assert events[0].error.status_hint is None
    assert pair.raw_resets() == {1: h2a.ErrorCode.PROTOCOL_ERROR}
    pair.client.streams.pop(1)
    assert isinstance(pair.get(3)[0], h2a.Request)


@pytest.mark.parametrize(
    ("declared", "body"), [(b"5", b"abc"), (b"2", b"abc")], ids=["short", "long"]
)
def test_8_1_1_content_length_mismatch_mid_body_resets_the_stream(
    declared: bytes, body: bytes
) -> None:
    pair = Pair()
    pair.client.send_headers(
        1, request_headers(method=b"POST", extra=[(b"content-length", declared)])
    )
    pair.pump()
    pair.client.send_data(1, body, end_stream=True)
    events = pair.pump()
    assert isinstance(events[-1], h2a.StreamFailed) and events[-1].error.status_hint is None
    assert pair.resets() == {1: h2a.ErrorCode.PROTOCOL_ERROR}
    assert pair.server_window() == 1 << 20
    assert isinstance(pair.get(3)[0], h2a.Request)


MALFORMED = [
    ("uppercase name", [(b"X-Up", b"1")], 400),
    ("connection header", [(b"connection", b"keep-alive")], 400),
    ("transfer-encoding", [(b"transfer-encoding", b"chunked")], 400),
    ("upgrade", [(b"upgrade", b"websocket")], 400),
    ("te gzip", [(b"te", b"gzip")], 400),
    ("content-length letters", [(b"content-length", b"1x")], 400),
    ("content-length conflict", [(b"content-length", b"1"), (b"content-length", b"2")], 400),
    ("nul in value", [(b"x", b"a\x00b")], 400),
    ("cr in value", [(b"x", b"a\rb")], 400),
    ("lf in value", [(b"x", b"a\nb")], 400),
    ("leading space", [(b"x", b" a")], 400),
    ("trailing tab", [(b"x", b"a\t")], 400),
    ("space in name", [(b"x y", b"1")], 400),
    ("empty name", [(b"", b"1")], 400),
    ("colon in name", [(b"x:y", b"1")], 400),
    ("pseudo after regular", [(b"x", b"1"), (b":path", b"/")], 400),
    ("unknown pseudo", [(b":foo", b"1")], 400),
    ("status in request", [(b":status", b"200")], 400),
    ("repeated pseudo", [(b":method", b"POST")], 400),
    ("host mismatch", [(b"host", b"other.example")], 400),
    ("two hosts", [(b"host", b"example.com"), (b"host", b"example.com")], 400),
    ("protocol on GET", [(b":protocol", b"websocket")], 400),
    ("header count", [(b"x-%d" % i, b"1") for i in range(100)], 431),
    ("header list size", [(b"x-big", b"a" * 70_000)], 431),
]


@pytest.mark.parametrize(("why", "extra", "status"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_8_1_1_malformed_request_fails_its_stream_only(
    why: str, extra: list[tuple[bytes, bytes]], status: int
) -> None:
    pair = Pair()
    pseudo = [(n, v) for n, v in extra if n.startswith(b":")]
    regular = [(n, v) for n, v in extra if not n.startswith(b":")]
    if why == "pseudo after regular":
        fields = request_headers()[:3] + regular + pseudo
    else:
        fields = request_headers() + pseudo + regular
    # A malformed request and a valid one in the same read: only the bad stream fails.
    pair.client.send_headers(1, fields, end_stream=True)
    pair.client.send_headers(3, request_headers(), end_stream=True)
    events = pair.pump()
    assert isinstance(events[0], h2a.StreamFailed) and events[0].stream_id == 1
    assert events[0].error.status_hint == status
    assert isinstance(events[1], h2a.Request) and events[1].stream_id == 3
    # The driver answers the hint on that stream although no Request was emitted.
    pair.respond(1, b"bad", status=status)
    pair.respond(3, b"ok")
    statuses = {e.stream_id: e.headers[0][1] for e in pair.client_of(h2.events.ResponseReceived)}
    assert statuses == {1: b"%d" % status, 3: b"200"}
    assert not pair.goaways() and not pair.server.close_expected()


@pytest.mark.parametrize(
    "fields",
    [
        [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"a")],  # no :path
        [(b":method", b"GET"), (b":path", b"/"), (b":authority", b"a")],  # no :scheme
        [(b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a")],  # no :method
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"")],  # empty :path
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"x")],  # not origin-form
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/a#b"), (b":authority", b"h")],
        [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":path", b"/caf\xc3\xa9"),
            (b":authority", b"h"),
        ],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"*")],  # * only for OPTIONS
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/")],  # no authority
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"u@h")],
        [(b":method", b"G T"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"h")],
    ],
)
def test_8_3_1_request_pseudo_header_errors(fields: list[tuple[bytes, bytes]]) -> None:
    pair = Pair()
    pair.client.send_headers(1, fields, end_stream=True)
    [event] = pair.pump()
    assert isinstance(event, h2a.StreamFailed) and event.error.status_hint == 400


def test_8_1_1_content_length_with_end_stream_on_headers() -> None:
    pair = Pair()
    [event] = pair.get(1, extra=[(b"content-length", b"3")])
    assert isinstance(event, h2a.StreamFailed) and event.error.status_hint == 400


def test_8_1_1_body_of_a_failed_stream_is_discarded_and_credited() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(method=b"POST", extra=[(b"X", b"1")]))
    pair.send_body(1, b"x" * 50_000)
    events = pair.pump()
    assert [type(e) for e in events] == [h2a.StreamFailed]
    pair.respond(1, status=400)
    assert pair.server_window() == 1 << 20


def test_8_1_1_malformed_trailers_reset_the_stream() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(method=b"POST"))
    pair.pump()
    pair.client.send_headers(1, [(b"Bad", b"1")], end_stream=True)
    [event] = pair.pump()
    assert isinstance(event, h2a.StreamFailed) and event.error.status_hint is None
    assert pair.resets() == {1: h2a.ErrorCode.PROTOCOL_ERROR}


# -- §8.2, §8.3 fields ---------------------------------------------------------------------------------


def test_8_2_3_cookie_crumbs_are_joined() -> None:
    pair = Pair()
    pair.client.send_headers(
        1,
        request_headers(extra=[(b"cookie", b"a=1"), (b"accept", b"*/*"), (b"cookie", b"b=2")]),
        end_stream=True,
    )
    request = pair.pump()[0]
    assert isinstance(request, h2a.Request)
    assert request.headers == [
        (b"host", b"example.com"),
        (b"cookie", b"a=1; b=2"),
        (b"accept", b"*/*"),
    ]


def test_8_3_1_host_first_from_host_header_without_authority() -> None:
    pair = Pair()
    fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/")]
    pair.client.send_headers(1, [*fields, (b"accept", b"x"), (b"host", b"h:8")], end_stream=True)
    request = pair.pump()[0]
    assert isinstance(request, h2a.Request)
    assert request.headers == [(b"host", b"h:8"), (b"accept", b"x")]
    assert request.authority is None and request.scheme == b"http"


def test_8_3_1_options_asterisk() -> None:
    pair = Pair()
    request = pair.get(1, b"*", method=b"OPTIONS")[0]
    assert isinstance(request, h2a.Request) and request.target == b"*"


def test_8_2_2_outbound_connection_fields_are_stripped_and_names_lowercased() -> None:
    pair = Pair()
    pair.get(1)
    headers = [
        (b"Connection", b"close"),
        (b"keep-alive", b"5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"upgrade", b"h2c"),
        (b"proxy-connection", b"x"),
        (b"X-Thing", b"1"),
    ]
    pair.server.send(h2a.Response(1, 200, headers))
    pair.server.send(h2a.EndOfMessage(1))
    pair.pump()
    [resp] = pair.client_of(h2.events.ResponseReceived)
    assert resp.headers == [(b":status", b"200"), (b"x-thing", b"1")]


@pytest.mark.parametrize(
    "headers", [[(b"x", b"a\r\nb")], [(b"bad name", b"1")], [(b":status", b"200")], [("x", "y")]]
)
def test_8_2_1_outbound_invalid_fields_raise(headers: list[tuple[bytes, bytes]]) -> None:
    pair = Pair()
    pair.get(1)
    with pytest.raises(h2a.LocalProtocolError):
        pair.server.send(h2a.Response(1, 200, headers))
    pair.server.send(h2a.Response(1, 200))  # nothing changed
    pair.server.send(h2a.EndOfMessage(1))


# -- §8.5 CONNECT, RFC 8441 ------------------------------------------------------------------------


def test_8_5_plain_connect_is_501() -> None:
    pair = Pair()
    pair.client.send_headers(1, [(b":method", b"CONNECT"), (b":authority", b"h:443")])
    [event] = pair.pump()
    assert isinstance(event, h2a.StreamFailed) and event.error.status_hint == 501


def test_rfc8441_extended_connect() -> None:
    pair = Pair()
    assert pair.client.remote_settings.enable_connect_protocol == 1  # RFC 8441 §3
    fields = [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":path", b"/chat"),
        (b":authority", b"example.com"),
        (b"sec-websocket-version", b"13"),
    ]
    pair.client.send_headers(1, fields)
    [request] = pair.pump()
    assert isinstance(request, h2a.Request)
    assert (request.method, request.protocol, request.target) == (
        b"CONNECT",
        b"websocket",
        b"/chat",
    )
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"\x81\x00"))
    pair.client.send_data(1, b"\x88\x00")
    assert pair.pump() == [h2a.Data(1, b"\x88\x00")]


def test_rfc8441_extended_connect_refused_when_not_advertised() -> None:
    pair = Pair(connect=False)
    assert pair.client.remote_settings.enable_connect_protocol == 0
    fields = [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":path", b"/chat"),
        (b":authority", b"example.com"),
    ]
    pair.client.send_headers(1, fields)
    [event] = pair.pump()
    assert isinstance(event, h2a.StreamFailed) and event.error.status_hint == 400


# -- §8.1 1xx -------------------------------------------------------------------------------------------


def test_8_1_early_hints_then_final_response() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.InformationalResponse(1, 103, [(b"link", b"</s.css>; rel=preload")]))
    pair.pump()
    pair.respond(1, b"x")
    kinds = [
        type(e).__name__
        for e in pair.client_events
        if isinstance(e, (h2.events.InformationalResponseReceived, h2.events.ResponseReceived))
    ]
    assert kinds == ["InformationalResponseReceived", "ResponseReceived"]


def test_8_6_informational_101_raises_and_1xx_after_final_is_dropped() -> None:
    pair = Pair()
    pair.get(1)
    with pytest.raises(h2a.LocalProtocolError):
        pair.server.send(h2a.InformationalResponse(1, 101))
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.InformationalResponse(1, 100))  # dropped
    pair.server.send(h2a.EndOfMessage(1))
    pair.pump()
    assert not pair.client_of(h2.events.InformationalResponseReceived)


# -- send() misuse and in-band drops -------------------------------------------------------------------


def test_send_misuse_raises() -> None:
    pair = Pair()
    pair.get(1)
    server = pair.server
    with pytest.raises(h2a.LocalProtocolError):
        server.send(h2a.Data(1, b"x"))  # before Response
    with pytest.raises(h2a.LocalProtocolError):
        server.send(h2a.EndOfMessage(1))  # before Response
    with pytest.raises(h2a.LocalProtocolError):
        server.send(h2a.Response(3, 200))  # never opened
    with pytest.raises(h2a.LocalProtocolError):
        server.send(h2a.Response(2, 200))  # even: ours, and we never push
    with pytest.raises(h2a.LocalProtocolError):
        server.send(h2a.Response(1, 99))
    with pytest.raises(h2a.LocalProtocolError):
        server.send(h2a.ConnectionClosed())  # type: ignore[arg-type]
    server.send(h2a.Response(1, 200))
    with pytest.raises(h2a.LocalProtocolError):
        server.send(h2a.Response(1, 200))
    server.send(h2a.Data(1, b"x"))
    server.send(h2a.EndOfMessage(1))
    # The stream is finished: later sends are dropped, not raised.
    server.send(h2a.Data(1, b"late"))
    server.send(h2a.StreamReset(1, 8))
    pair.pump()
    assert pair.response_body(1) == b"x"


def test_sends_after_a_peer_reset_are_dropped_in_band() -> None:
    pair = Pair()
    pair.get(1, end=False)
    pair.client.reset_stream(1, 8)
    assert pair.pump() == [h2a.StreamReset(1, 8)]
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"x"))
    pair.server.send(h2a.EndOfMessage(1))
    assert pair.server.data_to_send() == []


def test_driver_reset() -> None:
    pair = Pair()
    pair.get(1, end=False)
    pair.client.send_data(1, b"abc")
    pair.pump()
    pair.server.send(h2a.StreamReset(1, h2a.ErrorCode.INTERNAL_ERROR))
    pair.pump()
    assert pair.resets() == {1: h2a.ErrorCode.INTERNAL_ERROR}
    assert pair.server_window() == 1 << 20 and pair.server.open_streams == 0


# -- batches: pitfalls 1 and 2 of the brief ------------------------------------------------------------


def test_stream_opened_and_reset_in_one_read_is_never_seen() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(method=b"POST"))
    pair.client.send_data(1, b"abc")
    pair.client.reset_stream(1, 8)
    assert pair.pump() == []
    assert pair.server_window() == 1 << 20


def test_bad_frame_later_in_a_read_keeps_earlier_events() -> None:
    pair = Pair()
    pair.client.send_headers(1, request_headers(), end_stream=True)
    data = pair.client.data_to_send() + raw_frame(0x3, 0, 0, b"\x00\x00\x00\x08")  # RST on 0
    events = pair.raw(data)
    assert [type(e) for e in events] == [h2a.Request, h2a.EndOfMessage, h2a.ConnectionFailed]


def test_h2_exceptions_become_connection_failed() -> None:
    pair = Pair()
    events = pair.raw(headers_frame(1, b"\xff\xff\xff\xff\xff"))  # HPACK integer overflow
    pair.client.receive_data(b"".join(raw_frame(*f) for f in pair.raw_out))
    assert isinstance(events[-1], h2a.ConnectionFailed)
    assert events[-1].error.error_code == h2a.ErrorCode.COMPRESSION_ERROR
    [goaway] = pair.goaways()
    assert goaway.error_code == h2a.ErrorCode.COMPRESSION_ERROR
    assert pair.server.close_expected()
    pair.server.receive_data(b"anything")  # ignored after failure
    assert pair.server.events_received() == []


# -- §6.8 GOAWAY ------------------------------------------------------------------------------------------


def test_6_8_graceful_shutdown_in_two_phases_lets_streams_finish() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.start_shutdown()
    frames = server_frames(b"".join(pair.server.data_to_send()))
    assert [f[0] for f in frames] == [0x7, 0x6]  # GOAWAY(2^31-1), PING
    assert int.from_bytes(frames[0][3][:4], "big") == (1 << 31) - 1
    # A stream the client opened before it saw the first GOAWAY is still served.
    pair.client.send_headers(3, request_headers(), end_stream=True)
    pair.client.receive_data(b"".join(raw_frame(f[0], f[1], f[2], f[3]) for f in frames))
    events = pair.pump()  # PING ack -> final GOAWAY(last=3)
    assert [e.stream_id for e in events if isinstance(e, h2a.Request)] == [3]
    goaway = pair.goaways()[-1]
    assert goaway.last_stream_id == 3 and goaway.error_code == 0
    assert not pair.server.close_expected()
    pair.respond(1, b"one")
    pair.respond(3, b"three")
    assert pair.response_body(1) == b"one" and pair.response_body(3) == b"three"
    assert pair.server.open_streams == 0 and pair.server.close_expected()


def test_6_8_streams_after_the_final_goaway_are_refused() -> None:
    pair = Pair(h2a.Limits(max_requests=1))
    pair.get(1)
    assert pair.goaways()[-1].last_stream_id == 1
    # h2 refuses to open streams after a GOAWAY, so write the frame by hand.
    assert pair.raw_headers(3, request_headers()) == []
    assert pair.raw_resets() == {3: h2a.ErrorCode.REFUSED_STREAM}
    pair.respond(1, b"last")  # the max_requests response is not lost
    assert pair.response_body(1) == b"last" and pair.server.close_expected()


def test_6_8_peer_goaway_lets_in_flight_streams_finish() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    pair.pump()
    pair.client.close_connection(0, last_stream_id=0)
    assert pair.pump() == [h2a.GoAwayReceived(0, 0)]
    pair.server.send(h2a.Data(1, b"body"))  # hyperium/h2#885: the body still goes out
    pair.server.send(h2a.EndOfMessage(1))
    out = b"".join(pair.server.data_to_send())
    assert [(f[0], f[1], f[3]) for f in server_frames(out)] == [(0x0, 0x1, b"body")]
    assert pair.server.close_expected()


def test_timed_out_sends_goaway_and_closes() -> None:
    conn = h2a.ServerConnection()
    conn.initiate()
    conn.data_to_send()
    conn.timed_out()
    frames = server_frames(b"".join(conn.data_to_send()))
    assert frames[0][0] == 0x7 and conn.close_expected()


# -- end of input ------------------------------------------------------------------------------------------


def test_eof_at_a_frame_boundary_is_connection_closed() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.receive_eof()
    assert pair.server.events_received() == [h2a.ConnectionClosed()]
    assert pair.server.close_expected()


def test_eof_inside_a_frame_is_connection_failed() -> None:
    pair = Pair()
    pair.raw(data_frame(1, b"abc")[:5])
    pair.server.receive_eof()
    [event] = pair.server.events_received()
    assert isinstance(event, h2a.ConnectionFailed)
    assert isinstance(event.error, h2a.IncompleteMessage)


def test_rst_on_stream_zero_is_a_connection_error() -> None:
    pair = Pair()
    events = pair.raw(raw_frame(0x3, 0, 0, b"\x00\x00\x00\x08"))
    assert isinstance(events[-1], h2a.ConnectionFailed)


def test_rfc7541_7_1_3_set_cookie_is_never_indexed() -> None:
    """A response's set-cookie never enters the client's HPACK dynamic table; other fields may."""
    pair = Pair()
    pair.get(1)
    secret = b"session=0123456789abcdef0123456789abcdef"
    pair.server.send(h2a.Response(1, 200, [(b"set-cookie", secret), (b"x-trace", b"abc123")]))
    pair.server.send(h2a.EndOfMessage(1))
    pair.pump()
    [resp] = pair.client_of(h2.events.ResponseReceived)
    assert (b"set-cookie", secret) in resp.headers
    [cookie] = [field for field in resp.headers if field[0] == b"set-cookie"]
    assert cookie.indexable is False  # decoded from a never-indexed literal
    table = pair.client.decoder.header_table.dynamic_entries
    assert (b"x-trace", b"abc123") in table
    assert all(name != b"set-cookie" for name, _ in table)
