"""ClientConnection: one test per rule, grouped by RFC section (RFC 9112 unless noted)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from _helpers import one_byte_at_a_time

from asgiserver.http1 import (
    BodyTooLarge,
    ClientConnection,
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    HeadersTooLarge,
    IncompleteMessage,
    InformationalResponse,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Response,
    State,
    StatusLineTooLong,
    UnsupportedTransferCoding,
    UnsupportedVersion,
)

HOST = [(b"host", b"example.com")]
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def client(
    method: bytes = b"GET",
    headers: Sequence[tuple[bytes, bytes]] = HOST,
    *,
    version: bytes = b"1.1",
    target: bytes = b"/",
    body: bytes | None = None,
    limits: Limits | None = None,
) -> ClientConnection:
    """A connection with one complete request sent (its bytes drained)."""
    conn = ClientConnection(limits=limits)
    conn.send(Request(method, target, list(headers), version))
    if body is not None:
        conn.send(Data(body))
    conn.send(EndOfMessage())
    conn.data_to_send()
    return conn


def feed(conn: ClientConnection, chunks: Sequence[bytes], *, eof: bool = False) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events += conn.events_received()
    if eof:
        conn.receive_eof()
        events += conn.events_received()
    return events


def merged(events: list[Event]) -> list[Event]:
    """Adjacent Data merged: how a body is cut into events is not semantics."""
    out: list[Event] = []
    for ev in events:
        if type(ev) is Data and out and type(out[-1]) is Data:
            out[-1] = Data(out[-1].data + ev.data)
        else:
            out.append(ev)
    return out


def receive(
    wire: bytes, method: bytes = b"GET", *, eof: bool = False, **kwargs: object
) -> list[Event]:
    """The events for ``wire``, checked to be the same fed whole and one byte at a time."""
    whole = merged(feed(client(method, **kwargs), [wire], eof=eof))  # type: ignore[arg-type]
    split = merged(feed(client(method, **kwargs), one_byte_at_a_time(wire), eof=eof))  # type: ignore[arg-type]
    assert _comparable(whole) == _comparable(split)
    return whole


def _comparable(events: list[Event]) -> list[object]:
    return [
        (type(e.error), e.error.status_hint) if type(e) is ConnectionFailed else e for e in events
    ]


def rejected(wire: bytes, method: bytes = b"GET", *, eof: bool = False) -> RemoteProtocolError:
    events = receive(wire, method, eof=eof)
    last = events[-1]
    assert type(last) is ConnectionFailed, events
    assert not any(type(e) is ConnectionFailed for e in events[:-1])
    return last.error


class TestSection2_2MessageParsing:
    """RFC 9112 §2.2: CRLF only; a bare CR or LF fails the response."""

    @pytest.mark.parametrize(
        "wire",
        [
            b"HTTP/1.1 200 OK\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\n\r\n",
            b"HTTP/1.1 200 OK\r\nx: a\rb\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 O\rK\r\ncontent-length: 0\r\n\r\n",
        ],
    )
    def test_bare_cr_or_lf(self, wire: bytes) -> None:
        assert rejected(wire).status_hint == 400

    def test_bare_lf_fails_before_the_head_is_complete(self) -> None:
        conn = client()
        events = feed(conn, [b"HTTP/1.1 200 OK\nx: y\n"])
        assert type(events[-1]) is ConnectionFailed


class TestSection2_3HttpVersion:
    def test_http2_status_line_is_unsupported(self) -> None:
        assert isinstance(rejected(b"HTTP/2.0 200 OK\r\n\r\n"), UnsupportedVersion)

    def test_higher_minor_is_read_as_1_1(self) -> None:
        events = receive(b"HTTP/1.2 200 OK\r\ncontent-length: 0\r\n\r\n")
        assert events == [Response(200, [(b"content-length", b"0")], b"OK"), EndOfMessage()]


class TestSection4StatusLine:
    """RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason]; RFC 9110 §15: 100-599."""

    def test_reason_is_kept(self) -> None:
        events = receive(b"HTTP/1.1 404 Nicht gefunden\r\ncontent-length: 0\r\n\r\n")
        assert events[0] == Response(404, [(b"content-length", b"0")], b"Nicht gefunden")

    @pytest.mark.parametrize("line", [b"HTTP/1.1 204 ", b"HTTP/1.1 204"])
    def test_empty_reason_with_or_without_sp(self, line: bytes) -> None:
        assert receive(line + b"\r\n\r\n") == [Response(204, [], b""), EndOfMessage()]

    @pytest.mark.parametrize(
        "line",
        [
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1  200 OK",
            b"HTTP/1.1 200\tOK",
            b"HTTP/1.1 abc OK",
            b"http/1.1 200 OK",
            b"HTTP/1.1 200 O\x00K",
            b"HTTP/1.1 200 O\x7fK",
            b"HTTP/1 200 OK",
            b"ICY 200 OK",
        ],
    )
    def test_malformed_status_line(self, line: bytes) -> None:
        rejected(line + b"\r\ncontent-length: 0\r\n\r\n")

    @pytest.mark.parametrize("status", [b"000", b"099", b"600", b"999"])
    def test_status_outside_100_599(self, status: bytes) -> None:
        rejected(b"HTTP/1.1 " + status + b" X\r\ncontent-length: 0\r\n\r\n")

    def test_response_without_status_line_fails_at_once(self) -> None:
        """An HTTP/0.9-style body or garbage never waits for a CRLF that may not come."""
        conn = client()
        events = feed(conn, [b"<html>"])
        assert type(events[-1]) is ConnectionFailed

    def test_status_line_limit(self) -> None:
        limits = Limits(max_status_line_bytes=32)
        conn = client(limits=limits)
        events = feed(conn, [b"HTTP/1.1 200 " + b"x" * 40])
        assert isinstance(events[-1], ConnectionFailed)
        assert isinstance(events[-1].error, StatusLineTooLong)


class TestSection5FieldSyntax:
    """RFC 9112 §5, RFC 9110 §5.5: the same field rules as for requests."""

    @pytest.mark.parametrize(
        "field",
        [
            b"x : y",  # whitespace before the colon (§5.1)
            b" x: y",  # leading whitespace (§2.2)
            b"x: y\r\n z",  # obs-fold (§5.2)
            b"x@: y",  # not a token
            b"x: a\x00b",  # NUL
            b"x: a\x01b",  # CTL
            b"no colon",
        ],
    )
    def test_invalid_field_lines(self, field: bytes) -> None:
        rejected(b"HTTP/1.1 200 OK\r\n" + field + b"\r\ncontent-length: 0\r\n\r\n")

    def test_names_are_lowercased_and_values_stripped(self) -> None:
        events = receive(b"HTTP/1.1 200 OK\r\nX-A:  v \t\r\nContent-Length: 0\r\n\r\n")
        assert events[0] == Response(200, [(b"x-a", b"v"), (b"content-length", b"0")], b"OK")

    def test_obs_text_kept(self) -> None:
        events = receive(b"HTTP/1.1 200 OK\r\nx: caf\xe9\r\ncontent-length: 0\r\n\r\n")
        assert events[0].headers[0] == (b"x", b"caf\xe9")  # type: ignore[union-attr]

    def test_header_limits(self) -> None:
        limits = Limits(max_header_bytes=64, max_header_count=2)
        conn = client(limits=limits)
        events = feed(conn, [b"HTTP/1.1 200 OK\r\nx: " + b"a" * 80 + b"\r\n\r\n"])
        assert isinstance(events[-1].error, HeadersTooLarge)  # type: ignore[union-attr]
        conn = client(limits=limits)
        events = feed(conn, [b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"])
        assert isinstance(events[-1].error, HeadersTooLarge)  # type: ignore[union-attr]


class TestSection6_3BodyLength:
    """RFC 9112 §6.3: how the response body's length is found, item by item."""

    @pytest.mark.parametrize("status", [204, 304])
    def test_item1_204_and_304_have_no_body(self, status: int) -> None:
        wire = b"HTTP/1.1 %d X\r\ncontent-length: 5\r\n\r\n" % status
        events = receive(wire)
        assert [type(e) for e in events] == [Response, EndOfMessage]

    def test_item1_head_response_has_no_body(self) -> None:
        events = receive(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", b"HEAD")
        assert [type(e) for e in events] == [Response, EndOfMessage]

    def test_item1_head_then_pipelined_get(self) -> None:
        conn = client(b"HEAD")
        conn.send(Request(b"GET", b"/", HOST))
        conn.send(EndOfMessage())
        wire = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n" + OK
        events = feed(conn, [wire])
        assert [type(e) for e in events] == [Response, EndOfMessage, Response, Data, EndOfMessage]

    def test_item1_1xx_have_no_body(self) -> None:
        wire = b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + OK
        events = receive(wire)
        assert events == [
            InformationalResponse(103, [(b"link", b"</a>")], b"Early Hints"),
            Response(200, [(b"content-length", b"2")], b"OK"),
            Data(b"ok"),
            EndOfMessage(),
        ]

    def test_item2_connect_2xx_is_a_tunnel(self) -> None:
        conn = ClientConnection()
        conn.send(Request(b"CONNECT", b"example.com:443", HOST))
        conn.send(EndOfMessage())
        events = feed(conn, [b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"])
        assert events == [Response(200, [], b"Connection established")]
        assert conn.our_state is conn.their_state is State.SWITCHED_PROTOCOL
        assert conn.trailing_data == b"\x16\x03\x01"
        assert not conn.close_expected()

    def test_item2_connect_refused(self) -> None:
        conn = ClientConnection()
        conn.send(Request(b"CONNECT", b"example.com:443", HOST))
        conn.send(EndOfMessage())
        events = feed(conn, [b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"])
        assert [type(e) for e in events] == [Response, EndOfMessage]
        assert conn.our_state is State.IDLE

    def test_item3_chunked(self) -> None:
        wire = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2;x=y\r\nab\r\n1\r\nc\r\n0\r\nt: 1\r\n\r\n"
        events = receive(wire)
        assert events[1:] == [Data(b"abc"), EndOfMessage([(b"t", b"1")])]

    @pytest.mark.parametrize(
        "te", [b"gzip", b"chunked, chunked", b"chunked, gzip", b"", b"gzip, chunked"]
    )
    def test_item4_transfer_codings_other_than_chunked(self, te: bytes) -> None:
        error = rejected(b"HTTP/1.1 200 OK\r\ntransfer-encoding: " + te + b"\r\n\r\n")
        assert isinstance(error, RemoteProtocolError)
        if te == b"gzip, chunked":
            assert isinstance(error, UnsupportedTransferCoding)

    def test_item4_te_and_cl_together(self) -> None:
        rejected(
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
        )

    def test_item4_te_in_http10_response(self) -> None:
        rejected(b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n")

    @pytest.mark.parametrize(
        "cl", [b"-1", b"+1", b"0x10", b"1 2", b"1, 2", b"", b"99999999999999999999"]
    )
    def test_item5_bad_or_differing_content_length(self, cl: bytes) -> None:
        rejected(b"HTTP/1.1 200 OK\r\ncontent-length: " + cl + b"\r\n\r\n")

    def test_item5_two_different_content_length_fields(self) -> None:
        rejected(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab")

    def test_item5_identical_repeated_content_length(self) -> None:
        events = receive(b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok")
        assert events[1:] == [Data(b"ok"), EndOfMessage()]

    def test_item5_body_limit(self) -> None:
        conn = client(limits=Limits(max_body_bytes=10))
        events = feed(conn, [b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n"])
        assert isinstance(events[-1].error, BodyTooLarge)  # type: ignore[union-attr]

    def test_item5_truncated_body_is_incomplete(self) -> None:
        error = rejected(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab", eof=True)
        assert isinstance(error, IncompleteMessage)

    def test_item8_close_delimited(self) -> None:
        events = receive(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", eof=True)
        assert events[1:] == [Data(b"until the end"), EndOfMessage(), ConnectionClosed()]

    def test_item8_close_delimited_http10(self) -> None:
        conn = client(version=b"1.0", headers=[])
        events = feed(conn, [b"HTTP/1.0 200 OK\r\n\r\nabc"], eof=True)
        assert events[1:] == [Data(b"abc"), EndOfMessage(), ConnectionClosed()]
        assert conn.close_expected() and conn.their_state is State.CLOSED

    def test_eof_before_any_response(self) -> None:
        error = rejected(b"", eof=True)
        assert isinstance(error, IncompleteMessage)


class TestSection7ChunkedCoding:
    @pytest.mark.parametrize(
        "body",
        [
            b"x\r\n",  # not HEXDIG
            b"12345678901234567\r\n",  # more than 16 digits
            b"2\r\nabc\r\n",  # data not followed by CRLF
            b"2\nab\r\n0\r\n\r\n",  # bare LF
            b"2 ;\r\n",  # malformed extension
        ],
    )
    def test_bad_chunk_syntax(self, body: bytes) -> None:
        rejected(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + body)


class TestSection9Persistence:
    """RFC 9112 §9.3, §9.6: keep-alive, Connection: close on either side, pipelining."""

    def test_keep_alive_reuse(self) -> None:
        conn = client()
        assert feed(conn, [OK])[-1] == EndOfMessage()
        assert (conn.our_state, conn.their_state) == (State.IDLE, State.IDLE)
        conn.send(Request(b"GET", b"/2", HOST))
        conn.send(EndOfMessage())
        assert conn.data_to_send() == [b"GET /2 HTTP/1.1\r\nhost: example.com\r\n\r\n"]
        assert feed(conn, [OK])[-1] == EndOfMessage()

    def test_response_connection_close(self) -> None:
        conn = client()
        feed(conn, [b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"])
        assert conn.close_expected() and not conn.keep_alive
        with pytest.raises(LocalProtocolError):
            conn.send(Request(b"GET", b"/", HOST))

    def test_request_connection_close(self) -> None:
        conn = client(headers=[*HOST, (b"connection", b"close")])
        assert not conn.keep_alive and not conn.close_expected()  # the response is still due
        assert conn.our_state is State.MUST_CLOSE
        feed(conn, [OK])
        assert conn.close_expected()

    def test_http10_response_without_keep_alive(self) -> None:
        conn = client()
        feed(conn, [b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"])
        assert conn.close_expected()

    def test_http10_response_with_keep_alive(self) -> None:
        conn = client()
        feed(conn, [b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n"])
        assert not conn.close_expected() and conn.our_state is State.IDLE

    def test_http10_request_opts_in(self) -> None:
        conn = client(version=b"1.0", headers=[(b"connection", b"keep-alive")])
        assert conn.keep_alive

    def test_pipelined_responses_matched_in_order(self) -> None:
        conn = ClientConnection()
        for target in (b"/1", b"/2", b"/3"):
            conn.send(Request(b"HEAD" if target == b"/2" else b"GET", target, HOST))
            conn.send(EndOfMessage())
        assert conn.pipelined == 2
        wire = OK + b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n" + OK
        for chunks in ([wire], one_byte_at_a_time(wire)):
            c2 = ClientConnection()
            for target in (b"/1", b"/2", b"/3"):
                c2.send(Request(b"HEAD" if target == b"/2" else b"GET", target, HOST))
                c2.send(EndOfMessage())
            events = merged(feed(c2, chunks))
            assert [type(e) for e in events] == [
                Response,
                Data,
                EndOfMessage,
                Response,
                EndOfMessage,
                Response,
                Data,
                EndOfMessage,
            ]
            assert c2.pipelined == 0 and c2.our_state is State.IDLE

    def test_pipelined_request_body_sent_while_a_response_is_read(self) -> None:
        conn = client()
        conn.send(Request(b"PUT", b"/", [*HOST, (b"content-length", b"3")]))
        conn.send(Data(b"ab"))
        feed(conn, [OK])
        assert conn.our_state is State.SEND_BODY  # the PUT is now the current request
        conn.send(Data(b"c"))
        conn.send(EndOfMessage())
        assert conn.our_state is State.DONE
        assert feed(conn, [OK])[-1] == EndOfMessage()

    def test_no_pipelining_before_the_request_is_complete(self) -> None:
        conn = ClientConnection()
        conn.send(Request(b"POST", b"/", [*HOST, (b"content-length", b"1")]))
        with pytest.raises(LocalProtocolError):
            conn.send(Request(b"GET", b"/", HOST))

    def test_no_pipelining_after_close_or_upgrade(self) -> None:
        conn = client(headers=[*HOST, (b"connection", b"close")])
        with pytest.raises(LocalProtocolError):
            conn.send(Request(b"GET", b"/", HOST))
        conn = client(headers=[*HOST, (b"connection", b"upgrade"), (b"upgrade", b"websocket")])
        with pytest.raises(LocalProtocolError):
            conn.send(Request(b"GET", b"/", HOST))

    def test_unsolicited_response_is_not_parsed(self) -> None:
        """Response splitting: bytes after the response we asked for fail the connection."""
        conn = client()
        events = feed(conn, [OK + b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"])
        assert [type(e) for e in events] == [Response, Data, EndOfMessage, ConnectionFailed]
        assert conn.close_expected()
        conn.receive_data(OK)
        assert conn.events_received() == []

    def test_data_before_any_request(self) -> None:
        conn = ClientConnection()
        conn.receive_data(OK)
        assert type(conn.events_received()[-1]) is ConnectionFailed

    def test_response_before_request_body_ends_keep_alive(self) -> None:
        """RFC 9112 §9.6 and RFC 9110 §10.1.1: an early final response; the body may be
        abandoned and the connection is not reused."""
        conn = ClientConnection()
        conn.send(Request(b"POST", b"/", [*HOST, (b"content-length", b"100")]))
        feed(conn, [b"HTTP/1.1 413 Too Big\r\ncontent-length: 0\r\n\r\n"])
        assert conn.close_expected() and not conn.keep_alive

    def test_eof_between_responses(self) -> None:
        conn = client()
        events = feed(conn, [OK], eof=True)
        assert events[-1] == ConnectionClosed()
        assert conn.their_state is State.CLOSED and conn.our_state is State.MUST_CLOSE
        assert conn.close_expected()


class TestRfc9110Section10_1_1Expect:
    def test_wait_for_100_then_send_body(self) -> None:
        conn = ClientConnection()
        headers = [*HOST, (b"expect", b"100-continue"), (b"content-length", b"2")]
        conn.send(Request(b"PUT", b"/", headers))
        assert conn.expect_continue
        events = feed(conn, [b"HTTP/1.1 100 Continue\r\n\r\n"])
        assert events == [InformationalResponse(100, [], b"Continue")]
        assert not conn.expect_continue
        conn.send(Data(b"ok"))
        conn.send(EndOfMessage())
        assert feed(conn, [OK])[-1] == EndOfMessage()

    def test_final_status_instead_of_100(self) -> None:
        conn = ClientConnection()
        headers = [*HOST, (b"expect", b"100-continue"), (b"content-length", b"2")]
        conn.send(Request(b"PUT", b"/", headers))
        feed(conn, [b"HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\n\r\n"])
        assert not conn.expect_continue and conn.close_expected()

    def test_http10_request_never_expects(self) -> None:
        conn = ClientConnection()
        headers = [(b"expect", b"100-continue"), (b"content-length", b"1")]
        conn.send(Request(b"PUT", b"/", headers, b"1.0"))
        assert not conn.expect_continue


UPGRADE = [*HOST, (b"connection", b"Upgrade"), (b"upgrade", b"websocket")]


class TestRfc9110Section7_8Upgrade:
    def test_101_switches_and_hands_over_trailing_bytes(self) -> None:
        conn = client(headers=UPGRADE)
        assert conn.our_state is State.MIGHT_SWITCH_PROTOCOL
        wire = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n\x81\x00"
        events = feed(conn, [wire])
        assert events == [
            InformationalResponse(101, [(b"upgrade", b"websocket")], b"Switching Protocols")
        ]
        assert conn.our_state is conn.their_state is State.SWITCHED_PROTOCOL
        assert conn.trailing_data == b"\x81\x00"
        conn.receive_data(b"more")
        assert conn.events_received() == []

    def test_refused_upgrade_continues_http(self) -> None:
        conn = client(headers=UPGRADE)
        feed(conn, [OK])
        assert conn.our_state is State.IDLE

    def test_101_without_upgrade_request(self) -> None:
        rejected(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")

    @pytest.mark.parametrize("field", [b"content-length: 0", b"transfer-encoding: chunked"])
    def test_framing_fields_in_1xx(self, field: bytes) -> None:
        """RFC 9110 §8.6, RFC 9112 §6.1: a server MUST NOT send them in a 1xx."""
        rejected(b"HTTP/1.1 103 Early Hints\r\n" + field + b"\r\n\r\n" + OK)


class TestSendSide:
    """The client never writes what the server side would reject (LocalProtocolError), and a
    rejected send changes nothing."""

    @pytest.mark.parametrize(
        ("method", "target", "headers", "version"),
        [
            (b"GE T", b"/", HOST, b"1.1"),
            (b"", b"/", HOST, b"1.1"),
            (b"GET", b"/a b", HOST, b"1.1"),
            (b"GET", b"/\x7f", HOST, b"1.1"),
            (b"GET", b"", HOST, b"1.1"),
            (b"GET", b"*", HOST, b"1.1"),
            (b"GET", b"/a#b", HOST, b"1.1"),  # no fragment in a request-target (RFC 9112 §3.2)
            (b"GET", b"example.com:80", HOST, b"1.1"),
            (b"CONNECT", b"/", HOST, b"1.1"),
            (b"GET", b"/", [], b"1.1"),  # no Host (RFC 9112 §3.2)
            (b"GET", b"/", [*HOST, *HOST], b"1.1"),
            (b"GET", b"/", [(b"host", b"a b")], b"1.1"),
            (b"GET", b"/", HOST, b"2"),
            (b"GET", b"/", [*HOST, (b"x y", b"v")], b"1.1"),
            (b"GET", b"/", [*HOST, (b"x", b"a\r\nb: c")], b"1.1"),
            (b"GET", b"/", [*HOST, (b"x", b"a\x01")], b"1.1"),
            (b"GET", b"/", [*HOST, (b"x", b"a\x7f")], b"1.1"),
            (b"GET", b"/", [*HOST, (b"x", "é")], b"1.1"),
            (
                b"POST",
                b"/",
                [*HOST, (b"content-length", b"1"), (b"transfer-encoding", b"chunked")],
                b"1.1",
            ),
            (b"POST", b"/", [*HOST, (b"content-length", b"x")], b"1.1"),
            (b"POST", b"/", [*HOST, (b"transfer-encoding", b"gzip, chunked")], b"1.1"),
            (b"POST", b"/", [(b"transfer-encoding", b"chunked")], b"1.0"),
            (b"POST", b"/", [*HOST, (b"content-type", b"a"), (b"content-type", b"b")], b"1.1"),
            (b"POST", b"/", [*HOST, (b"expect", b"100-continue")], b"1.1"),  # RFC 9110 §10.1.1
        ],
    )
    def test_invalid_requests_raise(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], version: bytes
    ) -> None:
        conn = ClientConnection()
        with pytest.raises(LocalProtocolError):
            conn.send(Request(method, target, headers, version))
        assert conn.data_to_send() == [] and conn.our_state is State.IDLE
        conn.send(Request(b"GET", b"/", HOST))  # still usable

    @pytest.mark.parametrize(
        ("method", "target"),
        [
            (b"OPTIONS", b"*"),
            (b"GET", b"http://example.com/x"),
            (b"CONNECT", b"example.com:443"),
            (b"get", b"/"),
        ],
    )
    def test_valid_target_forms(self, method: bytes, target: bytes) -> None:
        conn = ClientConnection()
        conn.send(Request(method, target, HOST))
        assert conn.data_to_send()[0].startswith(method + b" " + target + b" HTTP/1.1\r\n")

    def test_body_length_is_enforced(self) -> None:
        conn = ClientConnection()
        conn.send(Request(b"POST", b"/", [*HOST, (b"content-length", b"2")]))
        with pytest.raises(LocalProtocolError):
            conn.send(Data(b"abc"))
        assert conn.our_state is State.ERROR and conn.close_expected()
        conn = ClientConnection()
        conn.send(Request(b"POST", b"/", [*HOST, (b"content-length", b"2")]))
        conn.send(Data(b"a"))
        with pytest.raises(LocalProtocolError):
            conn.send(EndOfMessage())

    def test_no_body_without_framing(self) -> None:
        conn = ClientConnection()
        conn.send(Request(b"POST", b"/", HOST))
        conn.send(Data(b""))
        with pytest.raises(LocalProtocolError):
            conn.send(Data(b"x"))

    def test_chunked_body_and_trailers(self) -> None:
        conn = ClientConnection()
        conn.send(Request(b"POST", b"/", [*HOST, (b"transfer-encoding", b"chunked")]))
        conn.send(Data(b"abc"))
        conn.send(Data(b""))
        with pytest.raises(LocalProtocolError):
            conn.send(EndOfMessage([(b"content-length", b"3")]))
        conn.send(EndOfMessage([(b"x-sum", b"1")]))
        assert b"".join(conn.data_to_send()).endswith(b"3\r\nabc\r\n0\r\nx-sum: 1\r\n\r\n")

    def test_trailers_need_chunked(self) -> None:
        conn = ClientConnection()
        conn.send(Request(b"GET", b"/", HOST))
        with pytest.raises(LocalProtocolError):
            conn.send(EndOfMessage([(b"x", b"1")]))

    def test_server_events_cannot_be_sent(self) -> None:
        conn = ClientConnection()
        for event in (Response(200), InformationalResponse(100), ConnectionClosed()):
            with pytest.raises(LocalProtocolError):
                conn.send(event)  # type: ignore[arg-type]

    def test_data_without_request(self) -> None:
        conn = ClientConnection()
        with pytest.raises(LocalProtocolError):
            conn.send(Data(b"x"))
        with pytest.raises(LocalProtocolError):
            conn.send(EndOfMessage())

    def test_receive_after_eof_is_misuse(self) -> None:
        conn = client()
        conn.receive_eof()
        conn.receive_eof()  # idempotent
        with pytest.raises(LocalProtocolError):
            conn.receive_data(b"x")
