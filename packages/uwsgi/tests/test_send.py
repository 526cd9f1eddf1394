"""The response: an HTTP/1.1 head and a body delimited by the connection close (RFC 9112)."""

from __future__ import annotations

import pytest
from uwsgi_wire import drive, header, nginx_vars, packet

from asgiserver.uwsgi import (
    Data,
    EndOfMessage,
    LocalProtocolError,
    Request,
    Response,
    ServerConnection,
    State,
)


def connection(method: bytes = b"GET", *, body: bytes = b"") -> ServerConnection:
    conn = ServerConnection()
    conn.receive_data(packet(nginx_vars(method, body=body), body))
    assert type(conn.events_received()[0]) is Request
    return conn


def respond(conn: ServerConnection, *events: Response | Data | EndOfMessage) -> bytes:
    for event in events:
        conn.send(event)
    return b"".join(conn.data_to_send())


class TestStatusLine:
    """RFC 9112 section 4: status-line = HTTP-version SP status-code SP [reason-phrase]."""

    def test_standard_reason(self) -> None:
        wire = respond(connection(), Response(404, []), EndOfMessage())
        assert wire == b"HTTP/1.1 404 Not Found\r\n\r\n"

    def test_unknown_status_has_an_empty_reason(self) -> None:
        assert respond(connection(), Response(599, [])) == b"HTTP/1.1 599 \r\n\r\n"

    def test_custom_reason(self) -> None:
        wire = respond(connection(), Response(200, [], reason=b"Fine \t\x80"))
        assert wire == b"HTTP/1.1 200 Fine \t\x80\r\n\r\n"

    @pytest.mark.parametrize("reason", [b"a\r\nb", b"a\nb", b"a\x00", b"\x7f"])
    def test_reason_must_be_text(self, reason: bytes) -> None:
        conn = connection()
        with pytest.raises(LocalProtocolError, match="reason"):
            conn.send(Response(200, [], reason=reason))
        assert conn.our_state is State.IDLE
        assert conn.data_to_send() == []

    @pytest.mark.parametrize("status", [100, 101, 103, 199, 1000, 0, -200, True])
    def test_status_must_be_final_and_three_digits(self, status: int) -> None:
        # Informational responses: nginx's uwsgi module reads exactly one response head.
        conn = connection()
        with pytest.raises(LocalProtocolError, match="status"):
            conn.send(Response(status, []))
        assert conn.our_state is State.IDLE


class TestHeaderFields:
    """RFC 9110 section 5: field-name = token; values without CR, LF, NUL (section 5.5)."""

    def test_headers_in_order_as_given(self) -> None:
        headers = [(b"X-B", b"2"), (b"content-type", b"text/plain"), (b"x-b", b"3")]
        wire = respond(connection(), Response(200, headers))
        assert wire == (b"HTTP/1.1 200 OK\r\nX-B: 2\r\ncontent-type: text/plain\r\nx-b: 3\r\n\r\n")

    @pytest.mark.parametrize("name", [b"", b"a b", b"a:b", b"a\r\nb", b"\xc3\xa9"])
    def test_invalid_name(self, name: bytes) -> None:
        conn = connection()
        with pytest.raises(LocalProtocolError, match="header name"):
            conn.send(Response(200, [(name, b"v")]))
        assert conn.our_state is State.IDLE
        # Nothing was queued: the server can still answer 500.
        assert respond(conn, Response(500, [])) == b"HTTP/1.1 500 Internal Server Error\r\n\r\n"

    @pytest.mark.parametrize("value", [b"a\r\nX-Injected: 1", b"a\n", b"\rb", b"a\x00b"])
    def test_invalid_value(self, value: bytes) -> None:
        conn = connection()
        with pytest.raises(LocalProtocolError, match="CR, LF or NUL"):
            conn.send(Response(200, [(b"x", value)]))
        assert conn.our_state is State.IDLE

    def test_other_control_bytes_and_obs_text_are_allowed(self) -> None:
        wire = respond(connection(), Response(200, [(b"x", b"\t\x01\x7f\xff")]))
        assert wire.endswith(b"x: \t\x01\x7f\xff\r\n\r\n")

    @pytest.mark.parametrize("headers", [[("x", b"1")], [(b"x", "1")], [(b"x",)], [b"x: 1"], None])
    def test_wrong_types(self, headers: object) -> None:
        conn = connection()
        with pytest.raises(LocalProtocolError, match="headers must be"):
            conn.send(Response(200, headers))  # type: ignore[arg-type]
        assert conn.our_state is State.IDLE


class TestBodyFraming:
    """RFC 9112 section 6.3 rule 8: the connection close delimits the body, so no transfer
    coding is applied, and close_expected() turns True after EndOfMessage."""

    def test_close_delimited_body(self) -> None:
        conn = connection()
        wire = respond(conn, Response(200, []), Data(b"ab"), Data(b""), Data(b"c"))
        assert wire == b"HTTP/1.1 200 OK\r\n\r\nabc"
        assert not conn.close_expected()
        conn.send(EndOfMessage())
        assert conn.data_to_send() == []
        assert conn.our_state is State.DONE
        assert conn.close_expected()

    def test_body_bytes_are_passed_through_uncopied(self) -> None:
        conn = connection()
        chunk = b"x" * 1000
        conn.send(Response(200, []))
        conn.send(Data(chunk))
        _head, out = conn.data_to_send()
        assert out is chunk

    def test_transfer_encoding_from_the_app_is_dropped(self) -> None:
        headers = [(b"Transfer-Encoding", b"chunked"), (b"x", b"1")]
        wire = respond(connection(), Response(200, headers), Data(b"abc"), EndOfMessage())
        assert wire == b"HTTP/1.1 200 OK\r\nx: 1\r\n\r\nabc"

    def test_content_length_is_kept(self) -> None:
        headers = [(b"Content-Length", b"3")]
        wire = respond(connection(), Response(200, headers), Data(b"abc"), EndOfMessage())
        assert wire == b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"

    def test_more_data_than_content_length(self) -> None:
        conn = connection()
        respond(conn, Response(200, [(b"content-length", b"3")]), Data(b"ab"))
        with pytest.raises(LocalProtocolError, match="too much data"):
            conn.send(Data(b"cd"))
        assert conn.data_to_send() == []
        assert conn.our_state is State.ERROR
        assert conn.close_expected()

    def test_less_data_than_content_length(self) -> None:
        conn = connection()
        respond(conn, Response(200, [(b"content-length", b"3")]), Data(b"ab"))
        with pytest.raises(LocalProtocolError, match="after 2 of content-length 3"):
            conn.send(EndOfMessage())
        assert conn.our_state is State.ERROR
        assert conn.close_expected()

    @pytest.mark.parametrize("value", [b"", b"-1", b"1.0", b"1,1", b" 1", b"1" * 19])
    def test_invalid_content_length(self, value: bytes) -> None:
        conn = connection()
        with pytest.raises(LocalProtocolError, match="content-length"):
            conn.send(Response(200, [(b"content-length", value)]))

    def test_repeated_content_length(self) -> None:
        headers = [(b"content-length", b"1"), (b"Content-Length", b"1")]
        respond(connection(), Response(200, headers), Data(b"a"), EndOfMessage())
        headers = [(b"content-length", b"1"), (b"content-length", b"2")]
        with pytest.raises(LocalProtocolError, match="conflicting"):
            connection().send(Response(200, headers))

    def test_head_response_has_no_body(self) -> None:
        # RFC 9110 section 9.3.2; the content-length describes the GET representation.
        conn = connection(b"HEAD")
        headers = [(b"content-length", b"5")]
        wire = respond(conn, Response(200, headers), Data(b"hello"), EndOfMessage())
        assert wire == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
        assert conn.close_expected()

    @pytest.mark.parametrize("status", [204, 304])
    def test_204_and_304_have_no_body(self, status: int) -> None:
        # RFC 9110 sections 15.3.5 and 15.4.5.
        conn = connection()
        wire = respond(conn, Response(status, [(b"x-a", b"1")]), Data(b"hello"), EndOfMessage())
        assert wire.endswith(b"\r\nx-a: 1\r\n\r\n")  # no framing field is added
        assert conn.close_expected()

    @pytest.mark.parametrize("value", [b"0", b"5"])
    def test_204_never_carries_content_length(self, value: bytes) -> None:
        # RFC 9110 section 8.6: a server MUST NOT send Content-Length in a 204 response.
        headers = [(b"content-length", value), (b"x-a", b"1")]
        wire = respond(connection(), Response(204, headers), Data(b"hello"), EndOfMessage())
        assert wire == b"HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n"

    def test_304_keeps_the_apps_content_length(self) -> None:
        # RFC 9110 section 8.6: it may tell the size of the representation a 200 would carry.
        headers = [(b"content-length", b"5")]
        wire = respond(connection(), Response(304, headers), Data(b"hello"), EndOfMessage())
        assert wire == b"HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n"


class TestSendOrder:
    """One response per connection, after the request (or its failure)."""

    def test_response_before_the_request(self) -> None:
        conn = ServerConnection()
        with pytest.raises(LocalProtocolError, match="before a request"):
            conn.send(Response(200, []))
        conn.receive_data(packet(nginx_vars())[:10])
        assert conn.their_state is State.HEAD
        with pytest.raises(LocalProtocolError, match="before a request"):
            conn.send(Response(200, []))
        assert conn.our_state is State.IDLE

    def test_response_while_the_body_is_still_arriving(self) -> None:
        conn = ServerConnection()
        conn.receive_data(packet(nginx_vars(b"POST", body=b"12345")))
        assert conn.their_state is State.SEND_BODY
        wire = respond(conn, Response(413, []), EndOfMessage())
        assert wire == b"HTTP/1.1 413 Content Too Large\r\n\r\n"
        assert conn.close_expected()

    def test_error_response_after_a_failure(self) -> None:
        conn, events = drive([header(5, modifier1=9)], eof=False)
        error = events[-1].error  # type: ignore[union-attr]
        wire = respond(conn, Response(error.status_hint, []), EndOfMessage())
        assert wire == b"HTTP/1.1 501 Not Implemented\r\n\r\n"
        assert conn.close_expected()

    def test_error_response_to_an_unparsed_head_request_keeps_its_body(self) -> None:
        # Found by the stateful test: the method is unknown until the head parses, so the
        # HEAD rule can't apply to the hinted response (nginx drops a HEAD body itself).
        conn, _ = drive([packet(nginx_vars(b"HEAD"))[:9]])
        wire = respond(conn, Response(400, []), Data(b"bad"), EndOfMessage())
        assert wire == b"HTTP/1.1 400 Bad Request\r\n\r\nbad"

    def test_response_after_a_half_close(self) -> None:
        conn, _events = drive([packet(nginx_vars())])
        assert conn.their_state is State.CLOSED
        assert respond(conn, Response(200, []), EndOfMessage()) == b"HTTP/1.1 200 OK\r\n\r\n"

    def test_no_response_when_closed_before_a_request(self) -> None:
        conn, _events = drive([])
        with pytest.raises(LocalProtocolError):
            conn.send(Response(400, []))

    def test_peer_gone_mid_body_ends_our_response(self) -> None:
        conn = ServerConnection()
        conn.receive_data(packet(nginx_vars(b"POST", body=b"12345"), b"12"))
        respond(conn, Response(200, []), Data(b"partial"))
        conn.receive_eof()
        assert conn.their_state is State.ERROR
        assert conn.our_state is State.MUST_CLOSE
        assert conn.close_expected()
        with pytest.raises(LocalProtocolError):
            conn.send(Data(b"more"))

    def test_data_before_the_response(self) -> None:
        conn = connection()
        with pytest.raises(LocalProtocolError, match="IDLE"):
            conn.send(Data(b"x"))
        with pytest.raises(LocalProtocolError, match="IDLE"):
            conn.send(EndOfMessage())
        assert conn.our_state is State.IDLE

    def test_nothing_after_the_end(self) -> None:
        conn = connection()
        respond(conn, Response(200, []), EndOfMessage())
        for event in (Response(200, []), Data(b"x"), EndOfMessage()):
            with pytest.raises(LocalProtocolError):
                conn.send(event)
        assert conn.our_state is State.DONE
        assert conn.data_to_send() == []

    def test_second_response(self) -> None:
        conn = connection()
        conn.send(Response(200, []))
        with pytest.raises(LocalProtocolError):
            conn.send(Response(200, []))
        assert conn.our_state is State.SEND_BODY

    def test_unknown_event(self) -> None:
        with pytest.raises(LocalProtocolError, match="can't send"):
            connection().send(object())  # type: ignore[arg-type]

    def test_data_to_send_is_drained(self) -> None:
        conn = connection()
        conn.send(Response(200, []))
        assert conn.data_to_send() == [b"HTTP/1.1 200 OK\r\n\r\n"]
        assert conn.data_to_send() == []
