"""Packet framing: header, vars block, body, EOF. Grouped by the rule's source.

"uwsgi spec" is the uWSGI documentation page "The uwsgi Protocol" (packet header, vars block).
"""

from __future__ import annotations

import pytest
from uwsgi_wire import drive, encode_vars, failure, header, nginx_vars, packet

from asgiserver.uwsgi import (
    BodyTooLarge,
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    ServerConnection,
    State,
    UnsupportedPacket,
    VarsTooLarge,
)

GET = nginx_vars()


def request_of(events: list[Event]) -> Request:
    first = events[0]
    assert type(first) is Request, events
    return first


class TestPacketHeader:
    """uwsgi spec, "uwsgi packet header": modifier1 u8, datasize u16 LE, modifier2 u8."""

    def test_datasize_is_little_endian(self) -> None:
        block = encode_vars(GET)
        assert len(block) > 256  # both bytes of datasize matter
        _conn, events = drive([header(len(block)) + block])
        assert [type(e) for e in events] == [Request, EndOfMessage, ConnectionClosed]

    @pytest.mark.parametrize("modifier1", [1, 5, 30, 72, 255])
    def test_modifier1_other_than_0_is_501(self, modifier1: int) -> None:
        conn, events = drive([packet(GET, modifier1=modifier1)], eof=False)
        error = failure(events).error
        assert type(error) is UnsupportedPacket
        assert error.status_hint == 501
        assert f"modifier1 {modifier1}" in str(error)
        assert conn.their_state is State.ERROR

    @pytest.mark.parametrize("modifier2", [1, 255])
    def test_modifier2_other_than_0_is_501(self, modifier2: int) -> None:
        _conn, events = drive([packet(GET, modifier2=modifier2)], eof=False)
        error = failure(events).error
        assert type(error) is UnsupportedPacket
        assert error.status_hint == 501

    def test_modifier1_is_checked_as_soon_as_the_header_is_complete(self) -> None:
        conn = ServerConnection()
        conn.receive_data(header(100, modifier1=5))
        assert type(failure(conn.events_received()).error) is UnsupportedPacket

    def test_datasize_over_the_limit_fails_before_buffering_the_block(self) -> None:
        conn = ServerConnection(Limits(max_vars_bytes=100))
        conn.receive_data(header(101)[:3])
        assert conn.events_received() == []
        assert conn.pending_bytes == 3
        conn.receive_data(header(101)[3:] + b"x" * 50)
        error = failure(conn.events_received()).error
        assert type(error) is VarsTooLarge
        assert error.status_hint == 431
        assert "101" in str(error)
        assert conn.pending_bytes == 0

    def test_datasize_over_the_limit_in_one_chunk(self) -> None:
        wire = packet(GET)
        size = len(wire) - 4
        _, events = drive([wire], limits=Limits(max_vars_bytes=size - 1), eof=False)
        assert type(failure(events).error) is VarsTooLarge
        _conn, events = drive([wire], limits=Limits(max_vars_bytes=size))
        assert type(events[0]) is Request

    def test_default_limit_admits_the_largest_datasize(self) -> None:
        # 65535 bytes of vars: a huge header, as nginx would send for ~64 KiB of headers.
        filler = b"a" * (65535 - len(encode_vars(GET)) - 2 - len(b"HTTP_X") - 2)
        pairs = [*GET, (b"HTTP_X", filler)]
        assert len(encode_vars(pairs)) == 65535
        _conn, events = drive([packet(pairs)])
        assert request_of(events).headers[-1] == (b"x", filler)

    def test_empty_vars_block_lacks_request_method(self) -> None:
        _conn, events = drive([header(0)], eof=False)
        error = failure(events).error
        assert error.status_hint == 400
        assert "REQUEST_METHOD" in str(error)


class TestVarsBlock:
    """uwsgi spec, "uwsgi packet header": the block is (u16 LE key size, key, u16 LE value
    size, value) pairs; every length is bounded by the block (cf. CVE-2020-11984)."""

    def malformed(self, block: bytes) -> RemoteProtocolError:
        conn, events = drive([header(len(block)) + block], eof=False)
        error = failure(events).error
        assert type(error) is RemoteProtocolError
        assert error.status_hint == 400
        assert conn.their_state is State.ERROR
        return error

    def test_key_length_past_the_block(self) -> None:
        block = encode_vars(GET) + b"\x05\x00KEY"
        assert "key length" in str(self.malformed(block))

    def test_value_length_past_the_block(self) -> None:
        block = encode_vars(GET) + b"\x03\x00KEY\x05\x00val"
        assert "value length" in str(self.malformed(block))

    def test_block_ends_inside_a_key_length(self) -> None:
        block = encode_vars(GET) + b"\x03"
        assert "inside a key length" in str(self.malformed(block))

    def test_block_ends_after_a_key_before_its_value_length(self) -> None:
        block = encode_vars(GET) + b"\x03\x00KEY"
        assert "before its value" in str(self.malformed(block))
        block = encode_vars(GET) + b"\x03\x00KEY\x00"
        assert "before its value" in str(self.malformed(block))

    def test_largest_lengths_are_bounded_too(self) -> None:
        block = encode_vars(GET) + b"\xff\xff"
        self.malformed(block)

    def test_empty_keys_and_values_are_valid(self) -> None:
        _conn, events = drive([packet([*GET, (b"", b""), (b"EMPTY", b"")])])
        assert request_of(events).vars[b""] == b""
        assert request_of(events).vars[b"EMPTY"] == b""

    def test_duplicate_content_length_is_rejected(self) -> None:
        # RFC 9112 section 6.3: two framing values is the request smuggling pattern.
        pairs = [*nginx_vars(b"POST", body=b"abc"), (b"CONTENT_LENGTH", b"3")]
        _conn, events = drive([packet(pairs, b"abc")])
        error = failure(events).error
        assert error.status_hint == 400
        assert "duplicate CONTENT_LENGTH" in str(error)

    def test_duplicate_var_last_wins(self) -> None:
        # nginx sends both `include uwsgi_params;` and a later override, in order.
        pairs = [*GET, (b"PATH_INFO", b"/overridden"), (b"SCRIPT_NAME", b"/a"), (b"X", b"1")]
        pairs += [(b"SCRIPT_NAME", b"/b"), (b"X", b"2")]
        request = request_of(drive([packet(pairs)])[1])
        assert request.path == "/overridden"
        assert request.root_path == "/b"
        assert request.vars[b"X"] == b"2"


class TestBody:
    """RFC 3875 section 4.1.2: CONTENT_LENGTH is the body size; absent or empty, no body.
    nginx never sends a chunked body to uwsgi (it buffers and sets CONTENT_LENGTH)."""

    def test_no_content_length_means_no_body(self) -> None:
        pairs = [p for p in GET if p[0] != b"CONTENT_LENGTH"]
        _conn, events = drive([packet(pairs)])
        assert [type(e) for e in events] == [Request, EndOfMessage, ConnectionClosed]

    def test_empty_content_length_means_no_body(self) -> None:
        assert (b"CONTENT_LENGTH", b"") in GET
        conn, events = drive([packet(GET)], eof=False)
        assert [type(e) for e in events] == [Request, EndOfMessage]
        assert conn.their_state is State.DONE

    def test_content_length_zero(self) -> None:
        pairs = [*GET[:3], (b"CONTENT_LENGTH", b"0"), *GET[4:]]
        _conn, events = drive([packet(pairs)], eof=False)
        assert [type(e) for e in events] == [Request, EndOfMessage]

    def test_body_in_the_same_chunk(self) -> None:
        conn, events = drive([packet(nginx_vars(b"POST", body=b"hello"), b"hello")], eof=False)
        assert events[1:] == [Data(b"hello"), EndOfMessage()]
        assert conn.their_state is State.DONE

    def test_body_is_streamed_not_buffered(self) -> None:
        conn = ServerConnection()
        conn.receive_data(packet(nginx_vars(b"POST", body=b"x" * 10)))
        assert [type(e) for e in conn.events_received()] == [Request]
        assert conn.their_state is State.SEND_BODY
        chunk = b"x" * 4
        conn.receive_data(chunk)
        (event,) = conn.events_received()
        assert event == Data(chunk)
        assert event.data is chunk  # handed through, not copied
        assert conn.pending_bytes == 0
        conn.receive_data(b"x" * 6)
        assert conn.events_received() == [Data(b"x" * 6), EndOfMessage()]

    def test_bytes_after_the_body_are_ignored(self) -> None:
        wire = packet(nginx_vars(b"POST", body=b"abc"), b"abcTRAILING")
        conn, events = drive([wire, b"more"])
        assert events[1:] == [Data(b"abc"), EndOfMessage(), ConnectionClosed()]
        assert conn.pending_bytes == 0

    def test_bytes_after_a_bodyless_request_are_ignored(self) -> None:
        _conn, events = drive([packet(GET, b"junk"), b"junk"])
        assert [type(e) for e in events] == [Request, EndOfMessage, ConnectionClosed]

    @pytest.mark.parametrize(
        "value",
        [b"+5", b"-1", b" 5", b"5 ", b"0x10", b"1_0", b"5,5", b"\xd9\xa5", b"1" * 19, b"abc"],
    )
    def test_content_length_must_be_1_to_18_digits(self, value: bytes) -> None:
        pairs = [*GET[:3], (b"CONTENT_LENGTH", value), *GET[4:]]
        _conn, events = drive([packet(pairs)])
        error = failure(events).error
        assert error.status_hint == 400
        assert "CONTENT_LENGTH" in str(error)

    def test_content_length_with_18_digits_and_leading_zeros(self) -> None:
        pairs = [*GET[:3], (b"CONTENT_LENGTH", b"0" * 17 + b"2"), *GET[4:]]
        _conn, events = drive([packet(pairs, b"ok")], eof=False)
        assert events[1:] == [Data(b"ok"), EndOfMessage()]

    def test_body_over_max_body_bytes_is_413_before_any_body_byte(self) -> None:
        conn = ServerConnection(Limits(max_body_bytes=4))
        conn.receive_data(packet(nginx_vars(b"POST", body=b"12345")))
        error = failure(conn.events_received()).error
        assert type(error) is BodyTooLarge
        assert error.status_hint == 413
        conn.receive_data(b"12345")
        assert conn.events_received() == []

    def test_body_at_max_body_bytes_is_accepted(self) -> None:
        wire = packet(nginx_vars(b"POST", body=b"1234"), b"1234")
        _conn, events = drive([wire], limits=Limits(max_body_bytes=4), eof=False)
        assert events[1:] == [Data(b"1234"), EndOfMessage()]


class TestEndOfInput:
    """One request per connection; EOF before the whole packet is a truncated request."""

    def test_eof_before_any_byte_is_a_clean_close(self) -> None:
        conn, events = drive([])
        assert events == [ConnectionClosed()]
        assert conn.their_state is State.CLOSED
        assert conn.our_state is State.MUST_CLOSE
        assert conn.close_expected()

    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_eof_inside_the_packet_header(self, n: int) -> None:
        _conn, events = drive([packet(GET)[:n]])
        error = failure(events).error
        assert error.status_hint == 400
        assert str(error) == f"EOF after {n} of the 4 packet header bytes"

    def test_eof_inside_the_vars_block(self) -> None:
        wire = packet(GET)
        conn, events = drive([wire[:-5]])
        error = failure(events).error
        assert error.status_hint == 400
        assert str(error) == f"EOF after {len(wire) - 9} of {len(wire) - 4} vars block bytes"
        assert conn.pending_bytes == 0

    def test_eof_inside_the_body(self) -> None:
        wire = packet(nginx_vars(b"POST", body=b"hello"), b"hel")
        conn, events = drive([wire])
        assert events[1] == Data(b"hel")
        error = failure(events).error
        assert error.status_hint == 400
        assert str(error) == "EOF after 3 of 5 body bytes (CONTENT_LENGTH)"
        assert conn.their_state is State.ERROR

    def test_eof_after_the_whole_request_is_a_clean_close(self) -> None:
        conn, events = drive([packet(GET)])
        assert events[-1] == ConnectionClosed()
        assert conn.their_state is State.CLOSED
        # A half-closing client may still read the response: it is still owed.
        assert conn.our_state is State.IDLE
        assert not conn.close_expected()

    def test_second_eof_is_a_no_op(self) -> None:
        conn, _events = drive([])
        conn.receive_eof()
        assert conn.events_received() == []

    def test_data_after_eof_is_a_local_error(self) -> None:
        conn, _events = drive([])
        with pytest.raises(LocalProtocolError, match="after receive_eof"):
            conn.receive_data(b"x")


class TestAfterFailure:
    """A remote error is the last event; later input is discarded."""

    def test_input_after_a_failure_is_discarded(self) -> None:
        conn = ServerConnection()
        conn.receive_data(header(10, modifier1=1))
        events = conn.events_received()
        assert type(events[-1]) is ConnectionFailed
        conn.receive_data(packet(GET))
        conn.receive_eof()
        assert conn.events_received() == []
        assert conn.pending_bytes == 0
        assert conn.their_state is State.ERROR

    def test_events_before_the_failure_are_kept(self) -> None:
        wire = packet(nginx_vars(b"POST", body=b"abcdef"), b"abc")
        _conn, events = drive([wire])
        assert [type(e) for e in events] == [Request, Data, ConnectionFailed]


class TestInputTypes:
    def test_empty_data_is_not_eof(self) -> None:
        conn = ServerConnection()
        conn.receive_data(b"")
        assert conn.events_received() == []
        assert conn.their_state is State.IDLE

    @pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
    def test_bytes_like_input(self, kind: type) -> None:
        body = b"payload"
        wire = packet(nginx_vars(b"POST", body=body), body)
        for cut in (len(wire) - 3, 2):
            conn = ServerConnection()
            conn.receive_data(kind(wire[:cut]))
            conn.receive_data(kind(wire[cut:]))
            events = conn.events_received()
            data = b"".join(e.data for e in events if type(e) is Data)
            assert data == body
            assert all(type(e.data) is bytes for e in events if type(e) is Data)
            assert type(events[-1]) is EndOfMessage

    def test_one_byte_at_a_time(self) -> None:
        body = b"0123456789"
        wire = packet(nginx_vars(b"PUT", body=body), body)
        conn = ServerConnection()
        events = []
        for i in range(len(wire)):
            assert conn.pending_bytes <= len(wire) - len(body)
            conn.receive_data(wire[i : i + 1])
            events += conn.events_received()
        assert type(events[0]) is Request
        assert b"".join(e.data for e in events if type(e) is Data) == body
        assert type(events[-1]) is EndOfMessage
