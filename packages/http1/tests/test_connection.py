"""Whole request/response cycles: send side, pipelining, 100-continue, upgrade, persistence."""

from __future__ import annotations

import pytest
from _helpers import drive, failure, respond

from asgiserver.http1 import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    IncompleteMessage,
    InformationalResponse,
    LocalProtocolError,
    Request,
    Response,
    ServerConnection,
    State,
)

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def states(conn: ServerConnection) -> tuple[State, State]:
    """(their_state, our_state), read fresh (mypy narrows properties across calls)."""
    return conn.their_state, conn.our_state


def get(target: bytes = b"/", *fields: bytes, version: bytes = b"1.1") -> bytes:
    host = b"Host: a\r\n" if version == b"1.1" else b""
    extra = b"".join(f + b"\r\n" for f in fields)
    return b"GET %s HTTP/%s\r\n%s%s\r\n" % (target, version, host, extra)


class TestResponseHead:
    """RFC 9112 §4 (status line) and §6 (framing chosen on send)."""

    def test_sized_response_is_head_then_body_unjoined(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(200, [(b"content-type", b"text/plain"), (b"content-length", b"5")]))
        conn.send(Data(b"hello"))
        conn.send(EndOfMessage())
        assert conn.data_to_send() == [
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n",
            b"hello",
        ]
        assert conn.our_state is State.IDLE and conn.their_state is State.IDLE

    def test_unsized_http11_response_is_chunked(self) -> None:
        conn, _ = drive([GET])
        out = respond(conn, 200, [(b"content-type", b"text/plain")], b"hello")
        assert out == (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n"
        )

    def test_empty_data_writes_no_empty_chunk(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(200))
        conn.send(Data(b""))
        conn.send(Data(b"ab"))
        conn.send(EndOfMessage())
        assert b"".join(conn.data_to_send()).endswith(b"\r\n\r\n2\r\nab\r\n0\r\n\r\n")

    def test_callers_chunked_is_honoured(self) -> None:
        conn, _ = drive([GET])
        out = respond(conn, 200, [(b"Transfer-Encoding", b"chunked")], b"abc")
        assert out == b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"

    def test_default_custom_and_unknown_reason(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(404, [(b"content-length", b"0")], reason=b"Nope"))
        conn.send(EndOfMessage())
        assert conn.data_to_send()[0].startswith(b"HTTP/1.1 404 Nope\r\n")
        conn.receive_data(GET)
        conn.send(Response(299, [(b"content-length", b"0")]))
        assert conn.data_to_send()[0].startswith(b"HTTP/1.1 299 \r\n")
        conn.send(EndOfMessage())
        conn.receive_data(GET)
        conn.send(Response(431, [(b"content-length", b"0")]))
        assert conn.data_to_send()[0].startswith(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        )

    @pytest.mark.parametrize("reason", [b"a\r\nb", b"a\nb", b"a\x00"])
    def test_reason_cannot_split_the_response(self, reason: bytes) -> None:
        conn, _ = drive([GET])
        with pytest.raises(LocalProtocolError):
            conn.send(Response(200, reason=reason))

    @pytest.mark.parametrize("status", [100, 101, 199, 1000, 99, "200"])
    def test_final_status_range(self, status: object) -> None:
        conn, _ = drive([GET])
        with pytest.raises(LocalProtocolError):
            conn.send(Response(status))  # type: ignore[arg-type]
        assert conn.our_state is State.SEND_RESPONSE

    def test_framing_names_recognised_in_any_case(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(200, [(b"Content-LENGTH", b"3")]))
        with pytest.raises(LocalProtocolError):
            conn.send(Data(b"abcd"))

    @pytest.mark.parametrize("value", [b"-1", b"abc", b"", b"1 2", b"0x1", b"1" * 20])
    def test_invalid_content_length_is_refused(self, value: bytes) -> None:
        conn, _ = drive([GET])
        with pytest.raises(LocalProtocolError):
            conn.send(Response(200, [(b"content-length", value)]))

    def test_content_length_with_transfer_encoding_is_refused(self) -> None:
        """RFC 9112 §6.2."""
        conn, _ = drive([GET])
        with pytest.raises(LocalProtocolError):
            conn.send(
                Response(200, [(b"content-length", b"1"), (b"transfer-encoding", b"chunked")])
            )

    @pytest.mark.parametrize("coding", [b"gzip", b"chunked, gzip", b"chunked, chunked"])
    def test_transfer_encoding_must_end_in_one_chunked(self, coding: bytes) -> None:
        conn, _ = drive([GET])
        with pytest.raises(LocalProtocolError):
            conn.send(Response(200, [(b"transfer-encoding", coding)]))

    def test_headers_must_be_pairs_of_bytes(self) -> None:
        conn, _ = drive([GET])
        for headers in ([(b"a", "b")], [(b"a",)], [(b"a", b"b", b"c")], [b"ab"], [(b"a", None)]):
            with pytest.raises(LocalProtocolError):
                conn.send(Response(200, headers))  # type: ignore[arg-type]
        assert conn.data_to_send() == []


class TestBodyLength:
    """The declared Content-Length is enforced on our side too (RFC 9110 §8.6)."""

    def test_data_beyond_content_length(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(200, [(b"content-length", b"3")]))
        with pytest.raises(LocalProtocolError):
            conn.send(Data(b"abcd"))
        assert conn.our_state is State.ERROR and conn.close_expected()

    def test_end_short_of_content_length(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(200, [(b"content-length", b"3")]))
        conn.send(Data(b"ab"))
        with pytest.raises(LocalProtocolError):
            conn.send(EndOfMessage())
        assert conn.our_state is State.ERROR and conn.close_expected()

    def test_send_in_wrong_state(self) -> None:
        conn = ServerConnection()
        for event in (Response(200), Data(b"x"), EndOfMessage(), InformationalResponse(103)):
            with pytest.raises(LocalProtocolError):
                conn.send(event)
        assert conn.our_state is State.IDLE and conn.data_to_send() == []
        conn.receive_data(GET)
        with pytest.raises(LocalProtocolError):
            conn.send(Data(b"x"))
        conn.send(Response(200, [(b"content-length", b"0")]))
        with pytest.raises(LocalProtocolError):
            conn.send(Response(200))
        with pytest.raises(LocalProtocolError):
            conn.send(ConnectionClosed())


class TestNoBody:
    """HEAD, 204 and 304 have no content (RFC 9110 §9.3.2, §15.3.5, §15.4.5)."""

    def test_head_keeps_content_length_and_drops_data(self) -> None:
        conn, _ = drive([b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"])
        out = respond(conn, 200, [(b"content-length", b"100")], b"x" * 100)
        assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n"
        assert conn.keep_alive and conn.our_state is State.IDLE

    def test_head_without_length_adds_no_framing(self) -> None:
        conn, _ = drive([b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"])
        assert respond(conn, 200, [], b"body") == b"HTTP/1.1 200 OK\r\n\r\n"

    def test_204_drops_framing_fields_and_data(self) -> None:
        """RFC 9110 §8.6 / RFC 9112 §6.1: no Content-Length or Transfer-Encoding in a 204."""
        conn, _ = drive([GET])
        out = respond(conn, 204, [(b"content-length", b"0"), (b"x", b"y")], b"zz")
        assert out == b"HTTP/1.1 204 No Content\r\nx: y\r\n\r\n"
        assert conn.keep_alive

    def test_304_keeps_content_length_and_drops_data(self) -> None:
        conn, _ = drive([GET])
        out = respond(conn, 304, [(b"content-length", b"10")], b"x")
        assert out == b"HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"


class TestPipelining:
    """RFC 9112 §9.3.2: responses in request order; the parser never runs ahead."""

    def test_second_request_waits_for_the_first_response(self) -> None:
        conn = ServerConnection()
        conn.receive_data(get(b"/1") + get(b"/2") + get(b"/3"))
        events = conn.events_received()
        assert [type(e) for e in events] == [Request, EndOfMessage]
        assert conn.their_state is State.DONE
        assert conn.pending_bytes == len(get(b"/2") + get(b"/3"))
        conn.send(Response(200, [(b"content-length", b"0")]))
        assert conn.events_received() == []
        conn.send(EndOfMessage())
        # The next cycle started inside send(EndOfMessage()): /2 is already parsed.
        events = conn.events_received()
        assert [type(e) for e in events] == [Request, EndOfMessage]
        assert events[0].target == b"/2"  # type: ignore[union-attr]
        assert conn.their_state is State.DONE and conn.our_state is State.SEND_RESPONSE
        respond(conn, 200, [(b"content-length", b"0")])
        assert conn.events_received()[0].target == b"/3"  # type: ignore[union-attr]
        respond(conn, 200, [(b"content-length", b"0")])
        assert conn.events_received() == []
        assert states(conn) == (State.IDLE, State.IDLE) and conn.pending_bytes == 0

    def test_many_pipelined_requests_in_one_read(self) -> None:
        conn = ServerConnection()
        wire = b"".join(get(b"/%d" % i) for i in range(300))
        conn.receive_data(wire)
        seen = []
        while events := conn.events_received():
            seen.append(events[0].target)  # type: ignore[union-attr]
            remaining = conn.pending_bytes
            respond(conn, 200, [(b"content-length", b"0")])
            assert conn.pending_bytes < remaining or remaining == 0
        assert seen == [b"/%d" % i for i in range(300)]
        assert conn.pending_bytes == 0 and states(conn) == (State.IDLE, State.IDLE)

    def test_sized_body_reads_are_handed_on_uncopied(self) -> None:
        """The reads in the middle of a Content-Length body come out as the very objects that
        went in; the read that ends the body is cut at its end, and the request behind it waits."""
        body = bytes(range(256)) * 256  # 64 KiB
        head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)
        wire = head + body + get(b"/next")
        reads = [wire[i : i + 16384] for i in range(0, len(wire), 16384)]
        conn = ServerConnection()
        events = []
        for data in reads:
            conn.receive_data(data)
            events += conn.events_received()
        assert isinstance(events[0], Request) and isinstance(events[-1], EndOfMessage)
        pieces = [event.data for event in events if isinstance(event, Data)]
        assert b"".join(pieces) == body
        assert all(piece is read for piece, read in zip(pieces[1:-1], reads[1:-1], strict=True))
        respond(conn, 200, [(b"content-length", b"0")])
        assert conn.events_received()[0].target == b"/next"  # type: ignore[union-attr]

    def test_partial_pipelined_request_completes_later(self) -> None:
        conn = ServerConnection()
        conn.receive_data(GET + b"GET /2 HTTP/1.1\r\nHo")
        conn.events_received()
        respond(conn, 200, [(b"content-length", b"0")])
        assert conn.events_received() == []
        assert conn.pending_bytes == len(b"GET /2 HTTP/1.1\r\nHo")
        conn.receive_data(b"st: a\r\n\r\n")
        assert [type(e) for e in conn.events_received()] == [Request, EndOfMessage]

    def test_data_received_while_paused_is_buffered(self) -> None:
        conn = ServerConnection()
        conn.receive_data(GET)
        conn.receive_data(b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        assert [type(e) for e in conn.events_received()] == [Request, EndOfMessage]
        respond(conn)
        assert conn.events_received()[0].target == b"/2"  # type: ignore[union-attr]

    def test_pipelined_requests_then_eof_are_all_served(self) -> None:
        conn = ServerConnection()
        conn.receive_data(get(b"/1") + get(b"/2"))
        conn.receive_eof()
        assert [type(e) for e in conn.events_received()] == [Request, EndOfMessage]
        respond(conn)
        assert [type(e) for e in conn.events_received()] == [
            Request,
            EndOfMessage,
            ConnectionClosed,
        ]
        respond(conn)
        assert conn.close_expected()

    def test_bad_pipelined_request_fails_only_when_reached(self) -> None:
        conn = ServerConnection()
        conn.receive_data(GET + b"GET / HTTP/1.1\r\nX : y\r\n\r\n")
        assert [type(e) for e in conn.events_received()] == [Request, EndOfMessage]
        respond(conn)
        assert failure(conn.events_received()).error.status_hint == 400


class TestExpectContinue:
    """RFC 9110 §10.1.1."""

    HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"

    def test_100_is_owed_until_sent(self) -> None:
        conn, events = drive([self.HEAD])
        assert [type(e) for e in events] == [Request]
        assert conn.expect_continue
        conn.send(InformationalResponse(100))
        assert conn.data_to_send() == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        assert not conn.expect_continue
        conn.send(InformationalResponse(100))  # no longer owed: dropped
        assert conn.data_to_send() == []
        conn.receive_data(b"hello")
        assert conn.events_received() == [Data(b"hello"), EndOfMessage()]

    def test_body_arriving_ends_the_debt(self) -> None:
        conn, _ = drive([self.HEAD + b"hello"])
        assert not conn.expect_continue

    def test_final_response_ends_the_debt_and_closes(self) -> None:
        conn, _ = drive([self.HEAD])
        out = respond(conn, 413, [(b"content-length", b"0")])
        assert not conn.expect_continue
        assert b"connection: close" not in out  # not known at head time ...
        assert conn.close_expected()  # ... but the unread body means we close

    def test_case_insensitive(self) -> None:
        conn, _ = drive([self.HEAD.replace(b"100-continue", b"100-Continue")])
        assert conn.expect_continue

    def test_ignored_in_http10(self) -> None:
        conn, _ = drive([self.HEAD.replace(b"HTTP/1.1", b"HTTP/1.0")])
        assert not conn.expect_continue

    def test_unknown_expectation_is_ignored(self) -> None:
        conn, events = drive([self.HEAD.replace(b"100-continue", b"something")])
        assert type(events[0]) is Request and not conn.expect_continue

    def test_without_body_nothing_is_owed(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"])
        assert not conn.expect_continue


class TestInformational:
    """RFC 9110 §15.2: 1xx responses."""

    def test_early_hints_then_final(self) -> None:
        conn, _ = drive([GET])
        conn.send(InformationalResponse(103, [(b"link", b"</s.css>; rel=preload")]))
        out = respond(conn, 200, [(b"content-length", b"0")])
        assert out.startswith(
            b"HTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
        )

    def test_no_1xx_to_http10(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\n\r\n"])
        conn.send(InformationalResponse(103))
        assert conn.data_to_send() == []

    def test_1xx_after_final_response_is_refused(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(200))
        with pytest.raises(LocalProtocolError):
            conn.send(InformationalResponse(103))

    @pytest.mark.parametrize("status", [99, 200, 0])
    def test_status_range(self, status: int) -> None:
        conn, _ = drive([GET])
        with pytest.raises(LocalProtocolError):
            conn.send(InformationalResponse(status))

    def test_no_framing_fields_in_1xx(self) -> None:
        conn, _ = drive([GET])
        with pytest.raises(LocalProtocolError):
            conn.send(InformationalResponse(103, [(b"content-length", b"0")]))


class TestUpgrade:
    """RFC 9110 §7.8 (Upgrade) and §15.2.2 (101)."""

    WS = (
        b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
        b"Upgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )

    def test_switch_with_trailing_data(self) -> None:
        conn, events = drive([self.WS + b"\x81\x05hello"])
        assert [type(e) for e in events] == [Request, EndOfMessage]
        assert conn.upgrade == b"websocket"
        assert conn.their_state is State.MIGHT_SWITCH_PROTOCOL
        conn.receive_data(b"\x81\x01!")  # buffered, not parsed
        assert conn.events_received() == []
        conn.send(
            InformationalResponse(101, [(b"upgrade", b"websocket"), (b"connection", b"Upgrade")])
        )
        assert conn.data_to_send() == [
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n"
        ]
        assert states(conn) == (State.SWITCHED_PROTOCOL, State.SWITCHED_PROTOCOL)
        assert conn.trailing_data == b"\x81\x05hello\x81\x01!"
        assert not conn.close_expected()
        conn.receive_data(b"more")  # ignored after the switch
        assert conn.events_received() == [] and conn.trailing_data == b"\x81\x05hello\x81\x01!"

    def test_refused_upgrade_continues_as_http(self) -> None:
        conn, _ = drive([self.WS + GET])
        respond(conn, 426, [(b"content-length", b"0")])
        assert conn.their_state is State.DONE  # the pipelined GET, parsed as HTTP
        assert conn.upgrade is None

    def test_upgrade_needs_connection_upgrade(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"])
        assert conn.upgrade is None
        with pytest.raises(LocalProtocolError):
            conn.send(InformationalResponse(101))

    def test_upgrade_ignored_in_http10(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"])
        assert conn.upgrade is None

    def test_101_only_after_the_request_body(self) -> None:
        head = b"POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\n"
        conn, _ = drive([head])
        assert conn.upgrade == b"h2c"
        with pytest.raises(LocalProtocolError):
            conn.send(InformationalResponse(101))
        conn.receive_data(b"abc")
        conn.send(InformationalResponse(101))
        assert conn.our_state is State.SWITCHED_PROTOCOL


class TestHTTP10:
    """RFC 9112 §9.3 and Appendix C.2.2: HTTP/1.0 clients."""

    def test_unsized_response_is_close_delimited(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\n\r\n"])
        out = respond(conn, 200, [(b"content-type", b"text/plain")], b"hello")
        assert (
            out == b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nhello"
        )
        assert conn.close_expected()

    def test_keep_alive_sized_response(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"])
        out = respond(conn, 200, [(b"content-length", b"2")], b"ok")
        assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok"
        assert not conn.close_expected() and conn.our_state is State.IDLE

    def test_keep_alive_but_unsized_closes(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"])
        out = respond(conn, 200, [], b"ok")
        assert out == b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nok"
        assert conn.close_expected()

    def test_callers_chunked_is_not_sent_to_http10(self) -> None:
        """RFC 9112 §6.1: no Transfer-Encoding unless the request was HTTP/1.1."""
        conn, _ = drive([b"GET / HTTP/1.0\r\n\r\n"])
        out = respond(conn, 200, [(b"transfer-encoding", b"chunked")], b"ok")
        assert out == b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nok"


class TestTrailers:
    """RFC 9112 §7.1.2 and RFC 9110 §6.5 / §10.1.4 (TE: trailers)."""

    def test_sent_when_accepted(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n"])
        assert conn.trailers_accepted
        conn.send(Response(200, [(b"trailer", b"x-checksum")]))
        conn.send(Data(b"ab"))
        conn.send(EndOfMessage([(b"x-checksum", b"123")]))
        assert b"".join(conn.data_to_send()).endswith(b"2\r\nab\r\n0\r\nx-checksum: 123\r\n\r\n")

    def test_dropped_when_not_accepted(self) -> None:
        conn, _ = drive([GET])
        assert not conn.trailers_accepted
        conn.send(Response(200))
        conn.send(EndOfMessage([(b"x-checksum", b"123")]))
        assert b"".join(conn.data_to_send()).endswith(b"\r\n\r\n0\r\n\r\n")

    def test_te_with_parameters(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nTE: gzip;q=0.5, Trailers\r\n\r\n"])
        assert conn.trailers_accepted

    def test_invalid_or_framing_trailers_refused(self) -> None:
        for trailers in ([(b"x", b"a\r\nb")], [(b"content-length", b"1")]):
            conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n"])
            conn.send(Response(200))
            with pytest.raises(LocalProtocolError):
                conn.send(EndOfMessage(trailers))


class TestPersistence:
    """RFC 9112 §9.3 and §9.6: when the connection closes."""

    def test_request_connection_close(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + GET])
        assert conn.pending_bytes == 0  # nothing after a closing request is kept
        out = respond(conn, 200, [(b"content-length", b"0")])
        assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        assert conn.close_expected() and conn.events_received() == []

    def test_response_connection_close(self) -> None:
        conn, _ = drive([GET + GET])
        out = respond(conn, 200, [(b"content-length", b"0"), (b"Connection", b"close")])
        assert out.count(b"onnection") == 1
        assert conn.close_expected() and conn.events_received() == []

    def test_response_before_request_body_is_read_closes(self) -> None:
        conn, _ = drive([b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc"])
        assert conn.keep_alive
        respond(conn, 200, [(b"content-length", b"0")])
        assert not conn.keep_alive and conn.close_expected()

    def test_keep_alive_cycles(self) -> None:
        conn = ServerConnection()
        for i in range(3):
            conn.receive_data(get(b"/%d" % i))
            assert conn.events_received()[0].target == b"/%d" % i  # type: ignore[union-attr]
            respond(conn, 200, [(b"content-length", b"0")])
            assert not conn.close_expected() and conn.keep_alive


class TestEndOfInput:
    """receive_eof(): clean close at a boundary, IncompleteMessage inside a request."""

    def test_eof_when_idle(self) -> None:
        conn, events = drive([], eof=True)
        assert events == [ConnectionClosed()]
        assert conn.their_state is State.CLOSED and conn.close_expected()

    def test_eof_after_request_while_responding(self) -> None:
        conn, events = drive([GET], eof=True)
        assert [type(e) for e in events] == [Request, EndOfMessage, ConnectionClosed]
        assert not conn.close_expected()  # our response is still to be sent
        respond(conn)
        assert conn.close_expected()

    def test_eof_in_head(self) -> None:
        _, events = drive([b"GET / HTTP/1.1\r\nHo"], eof=True)
        assert type(failure(events).error) is IncompleteMessage

    def test_eof_after_lone_cr(self) -> None:
        _, events = drive([b"\r"], eof=True)
        assert type(failure(events).error) is IncompleteMessage

    def test_receive_data_after_eof_is_a_local_error(self) -> None:
        conn, _ = drive([], eof=True)
        with pytest.raises(LocalProtocolError):
            conn.receive_data(b"x")
        conn.receive_eof()  # idempotent
        assert conn.events_received() == []


class TestErrorResponse:
    """After ConnectionFailed the server answers with the hint and closes."""

    def test_error_response_from_idle(self) -> None:
        conn, events = drive([b"GET / HTTP/1.1\r\n\r\n"])
        assert type(events[-1]) is ConnectionFailed
        assert conn.our_state is State.IDLE and not conn.close_expected()
        out = respond(conn, 400, [(b"content-type", b"text/plain")], b"bad")
        assert (
            out
            == b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nbad"
        )
        assert conn.close_expected()

    def test_error_response_after_bad_body(self) -> None:
        head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        conn, events = drive([head])
        assert [type(e) for e in events] == [Request, ConnectionFailed]
        out = respond(conn, 400, [(b"content-length", b"0")])
        assert out == b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        assert conn.close_expected()

    def test_no_response_without_a_failure(self) -> None:
        conn = ServerConnection()
        with pytest.raises(LocalProtocolError):
            conn.send(Response(400))


class TestReceiveBuffer:
    def test_data_events_are_bytes(self) -> None:
        conn = ServerConnection()
        conn.receive_data(bytearray(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab"))  # type: ignore[arg-type]
        conn.receive_data(memoryview(b"cd"))  # type: ignore[arg-type]
        events = conn.events_received()
        assert [type(e.data) for e in events if type(e) is Data] == [bytes, bytes]

    def test_pending_bytes_tracks_partial_head(self) -> None:
        conn = ServerConnection()
        conn.receive_data(b"GET / HT")
        assert conn.pending_bytes == 8
        conn.receive_data(b"TP/1.1\r\nHost: a\r\n\r\n")
        assert conn.pending_bytes == 0

    def test_empty_data_is_nothing(self) -> None:
        conn = ServerConnection()
        conn.receive_data(b"")
        assert conn.events_received() == [] and conn.their_state is State.IDLE


class TestEdges:
    """Paths the scenarios above do not reach."""

    def test_data_payload_converted_to_bytes(self) -> None:
        conn, _ = drive([GET])
        conn.send(Response(200, [(b"content-length", b"3")]))
        conn.send(Data(bytearray(b"abc")))  # type: ignore[arg-type]
        assert [type(b) for b in conn.data_to_send()] == [bytes, bytes]

    def test_repeated_connection_fields_are_combined(self) -> None:
        conn, _ = drive(
            [b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"]
        )
        assert not conn.keep_alive

    def test_response_connection_keep_alive_token(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"])
        out = respond(conn, 200, [(b"content-length", b"0"), (b"connection", b"keep-alive")])
        assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
        assert conn.keep_alive

    def test_http10_cannot_get_other_codings(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\n\r\n"])
        with pytest.raises(LocalProtocolError):
            conn.send(Response(200, [(b"transfer-encoding", b"gzip, chunked")]))

    def test_state_repr(self) -> None:
        assert repr(State.IDLE) == "State.IDLE"


class TestNamesCache:
    """A kept-alive request with the same field names as the previous one reuses their
    validation; values are always checked."""

    FIRST = b"GET / HTTP/1.1\r\nHost: a\r\nX-Token: 1\r\n\r\n"

    def _second(self, head: bytes) -> list[object]:
        conn, _ = drive([self.FIRST])
        respond(conn)
        conn.receive_data(head)
        return list(conn.events_received())

    def test_same_names_new_values(self) -> None:
        (req, _) = self._second(b"GET /2 HTTP/1.1\r\nHost: b\r\nX-Token:  2 \r\n\r\n")
        assert type(req) is Request and req.headers == [(b"host", b"b"), (b"x-token", b"2")]

    @pytest.mark.parametrize("value", [b"a\x00b", b"a\rb", b"a\x7f"])
    def test_same_names_bad_value_still_rejected(self, value: bytes) -> None:
        events = self._second(b"GET / HTTP/1.1\r\nHost: a\r\nX-Token: " + value + b"\r\n\r\n")
        assert failure(events).error.status_hint == 400  # type: ignore[arg-type]

    def test_same_names_bad_host_still_rejected(self) -> None:
        events = self._second(b"GET / HTTP/1.1\r\nHost: a b\r\nX-Token: 1\r\n\r\n")
        assert failure(events).error.status_hint == 400  # type: ignore[arg-type]

    def test_different_case_is_a_different_tuple(self) -> None:
        (req, _) = self._second(b"GET / HTTP/1.1\r\nHOST: a\r\nx-token: 1\r\n\r\n")
        assert type(req) is Request and req.headers == [(b"host", b"a"), (b"x-token", b"1")]

    def test_headers_lists_are_not_shared(self) -> None:
        conn, (first, _) = drive([self.FIRST])
        respond(conn)
        conn.receive_data(self.FIRST)
        second = conn.events_received()[0]
        assert type(first) is Request and type(second) is Request
        assert first.headers == second.headers and first.headers is not second.headers


class TestTimeouts:
    """RFC 9110 §15.5.9: the server's deadline is reported with timed_out(); a 408 follows."""

    def test_partial_head_fails_with_408(self) -> None:
        conn, events = drive([b"GET / HTTP/1.1\r\nHost: a\r\n"])
        assert events == []
        conn.timed_out()
        error = failure(conn.events_received()).error
        assert error.status_hint == 408
        conn.send(Response(status=408, headers=[(b"content-length", b"0")]))
        conn.send(EndOfMessage())
        assert b"".join(conn.data_to_send()).startswith(b"HTTP/1.1 408 ")
        assert conn.close_expected()

    def test_stalled_body_fails_with_408(self) -> None:
        conn, events = drive([b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"])
        assert [type(e) for e in events] == [Request, Data]
        conn.timed_out()
        assert failure(conn.events_received()).error.status_hint == 408
        assert conn.their_state is State.ERROR

    def test_between_requests_nothing_happens(self) -> None:
        conn, _ = drive([GET])
        respond(conn)
        conn.timed_out()
        assert conn.events_received() == []
        assert conn.their_state is State.IDLE

    def test_after_failure_it_is_a_no_op(self) -> None:
        conn, events = drive([b"GET / HTTP/1.1\r\n\r\n"])  # no Host: already failed
        assert isinstance(events[-1], ConnectionFailed)
        conn.timed_out()
        assert conn.events_received() == []


def test_reserve_body_only_for_sized_or_close_delimited_bodies() -> None:
    """A file sent with sendfile bypasses Data: the bytes are counted, never framed."""
    conn = ServerConnection()
    conn.receive_data(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    conn.events_received()
    conn.send(Response(status=200, headers=[(b"content-length", b"10")]))
    assert conn.reserve_body(4)
    conn.send(Data(b"123456"))
    with pytest.raises(LocalProtocolError):
        conn.reserve_body(1)  # one more than the Content-Length
    chunked = ServerConnection()
    chunked.receive_data(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    chunked.events_received()
    chunked.send(Response(status=200, headers=[]))
    assert not chunked.reserve_body(4)  # the package frames chunks itself: send Data
    http10 = ServerConnection()
    http10.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    http10.events_received()
    http10.send(Response(status=200, headers=[]))
    assert http10.reserve_body(4)  # RFC 9112 §6.3: the close ends the body
