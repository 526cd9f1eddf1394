"""The framing and closing rules of RFC 6455 (§5, §7, §8, §10), one test per rule."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from ws_helpers import MASK, Client, close_frame, drive, feed, frame, normalize

from asgiserver.ws import (
    BytesMessage,
    Close,
    CloseReceived,
    ConnectionClosed,
    ConnectionFailed,
    Limits,
    LocalProtocolError,
    MessageTooBig,
    Ping,
    Pong,
    RemoteProtocolError,
    ServerConnection,
    State,
    TextMessage,
)


def failed(fed_events: Sequence[object], code: int) -> RemoteProtocolError:
    """The last event is ConnectionFailed with ``code``; return its error."""
    last = fed_events[-1]
    assert type(last) is ConnectionFailed, fed_events
    assert last.error.close_code == code
    return last.error


# -- §5.1 overview: clients mask, servers do not ------------------------------------------------


class TestSection5_1:
    def test_unmasked_client_frame_fails_1002(self) -> None:
        fed = feed(frame(0x1, b"hi", mask=None))
        assert str(failed(fed.events, 1002)) == "unmasked client frame (RFC 6455 §5.1)"
        assert fed.sent == b"\x88\x02\x03\xea"  # drive() answered with Close(1002)

    def test_server_frames_are_never_masked(self) -> None:
        conn = ServerConnection()
        conn.send(TextMessage("hi"))
        conn.send(Ping(b"p"))
        assert b"".join(conn.data_to_send()) == b"\x81\x02hi\x89\x01p"


# -- §5.2 base framing protocol -----------------------------------------------------------------


class TestSection5_2:
    @pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x70])
    def test_reserved_bits_without_extension_fail_1002(self, rsv: int) -> None:
        fed = feed(frame(0x2, b"x", rsv=rsv))
        assert "reserved bits" in str(failed(fed.events, 1002))

    @pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
    def test_reserved_opcodes_fail_1002(self, opcode: int) -> None:
        fed = feed(frame(opcode, b""))
        assert "reserved opcode" in str(failed(fed.events, 1002))

    def test_fails_from_the_first_two_bytes_when_they_suffice(self) -> None:
        # A reserved opcode is reported without waiting for the 8-byte length that follows.
        fed = feed(b"\x83\xff")
        assert "reserved opcode" in str(failed(fed.events, 1002))

    def test_7_bit_16_bit_and_64_bit_lengths(self) -> None:
        payloads = [os.urandom(125), os.urandom(126), os.urandom(65535), os.urandom(65536)]
        fed = feed(b"".join(frame(0x2, p) for p in payloads))
        assert fed.events == [BytesMessage(p) for p in payloads]

    def test_non_minimal_16_bit_length_fails_1002(self) -> None:
        fed = feed(frame(0x2, b"x" * 125, length_size=2))
        assert "non-minimal" in str(failed(fed.events, 1002))

    def test_non_minimal_64_bit_length_fails_1002(self) -> None:
        fed = feed(frame(0x2, b"x" * 65535, length_size=8))
        assert "non-minimal" in str(failed(fed.events, 1002))

    def test_64_bit_length_with_high_bit_fails_1002_from_the_header(self) -> None:
        fed = feed(b"\x82\xff" + (2**63).to_bytes(8, "big"))
        assert "high bit" in str(failed(fed.events, 1002))

    def test_send_uses_minimal_lengths(self) -> None:
        conn = ServerConnection()
        for n in (125, 126, 65535, 65536):
            conn.send(BytesMessage(b"\0" * n))
        out = b"".join(conn.data_to_send())
        assert out.startswith(b"\x82\x7d" + b"\0" * 125 + b"\x82\x7e\x00\x7e")
        assert b"\x82\x7e\xff\xff" + b"\0" * 65535 + b"\x82\x7f" + (65536).to_bytes(8, "big") in out
        assert len(out) == 2 + 125 + 4 + 126 + 4 + 65535 + 10 + 65536


# -- §5.3 client-to-server masking ----------------------------------------------------------------


class TestSection5_3:
    @pytest.mark.parametrize(
        "mask", [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x01\x02\x03\x04", b"\x80\x00\x7f\x11"]
    )
    @pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 126, 16384, 16385, 70001])
    def test_payload_unmasked_with_its_own_key(self, mask: bytes, size: int) -> None:
        data = os.urandom(size)
        fed = feed(frame(0x2, data, mask=mask) + frame(0x2, data, mask=MASK))
        assert fed.events == [BytesMessage(data), BytesMessage(data)]


# -- §5.4 fragmentation --------------------------------------------------------------------------


class TestSection5_4:
    def test_fragments_reassembled(self) -> None:
        wire = frame(0x2, b"ab", fin=False) + frame(0x0, b"", fin=False) + frame(0x0, b"cd")
        assert feed(wire).events == [BytesMessage(b"abcd")]

    def test_control_frames_between_fragments_are_handled_at_once(self) -> None:
        wire = (
            frame(0x1, b"hel", fin=False)
            + frame(0x9, b"ping")
            + frame(0xA, b"pong")
            + frame(0x0, b"lo")
        )
        fed = feed(wire)
        assert fed.events == [Ping(b"ping"), Pong(b"pong"), TextMessage("hello")]
        assert fed.sent == b"\x8a\x04ping"

    def test_continuation_without_a_message_fails_1002(self) -> None:
        fed = feed(frame(0x0, b"x"))
        assert "continuation" in str(failed(fed.events, 1002))

    def test_new_message_inside_a_fragmented_one_fails_1002(self) -> None:
        fed = feed(frame(0x1, b"a", fin=False) + frame(0x2, b"b"))
        assert "inside a fragmented" in str(failed(fed.events, 1002))

    def test_a_message_after_a_completed_fragmented_one(self) -> None:
        wire = frame(0x2, b"a", fin=False) + frame(0x0, b"b") + frame(0x2, b"c")
        assert feed(wire).events == [BytesMessage(b"ab"), BytesMessage(b"c")]


# -- §5.5 control frames ---------------------------------------------------------------------------


class TestSection5_5:
    def test_control_payload_over_125_fails_1002(self) -> None:
        fed = feed(frame(0x9, b"x" * 126))
        assert "over 125" in str(failed(fed.events, 1002))

    def test_control_frame_with_an_extended_length_fails_at_once(self) -> None:
        fed = feed(b"\x89\xfe")  # the 16-bit length has not even arrived
        assert "over 125" in str(failed(fed.events, 1002))

    def test_fragmented_control_frame_fails_1002(self) -> None:
        fed = feed(frame(0x9, b"x", fin=False))
        assert "fragmented control" in str(failed(fed.events, 1002))

    def test_send_control_payload_over_125_raises(self) -> None:
        conn = ServerConnection()
        with pytest.raises(LocalProtocolError, match="125"):
            conn.send(Ping(b"x" * 126))
        conn.send(Pong(b"x" * 125))
        assert conn.data_to_send() == [b"\x8a\x7d" + b"x" * 125]


# -- §5.5.1 close ----------------------------------------------------------------------------------


class TestSection5_5_1:
    def test_close_is_reported_echoed_and_ends_the_handshake(self) -> None:
        fed = feed(close_frame(1001, b"going away"))
        assert fed.events == [CloseReceived(1001, "going away")]
        assert fed.sent == b"\x88\x02\x03\xe9"  # the code is echoed, not the reason
        assert fed.conn.state is State.CLOSED
        assert fed.conn.close_expected()

    def test_empty_close_is_1005_and_echoed_empty(self) -> None:
        fed = feed(close_frame(None))
        assert fed.events == [CloseReceived(1005, "")]
        assert fed.sent == b"\x88\x00"

    def test_one_byte_close_payload_fails_1002(self) -> None:
        fed = feed(frame(0x8, b"\x03"))
        assert "1-byte" in str(failed(fed.events, 1002))

    def test_nothing_is_parsed_after_close(self) -> None:
        fed = feed(close_frame(1000) + frame(0x1, b"late") + b"\xff\xff garbage")
        assert fed.events == [CloseReceived(1000, "")]
        fed.conn.receive_data(frame(0x9, b"x"))
        assert fed.conn.events_received() == []
        assert fed.conn.data_to_send() == []

    def test_local_close_then_peer_close_completes_without_echo(self) -> None:
        conn = ServerConnection()
        conn.send(Close(1000, "bye"))
        assert conn.data_to_send() == [b"\x88\x05\x03\xe8bye"]
        assert (conn.state, conn.close_expected()) == (State.CLOSING, False)
        events, sent = drive(conn, [frame(0x1, b"still"), close_frame(1000)])
        assert events == [TextMessage("still"), CloseReceived(1000, "")]
        assert sent == b""
        assert conn.state is State.CLOSED
        assert conn.close_expected()

    def test_no_data_message_after_our_close(self) -> None:
        conn = ServerConnection()
        conn.send(Close())
        with pytest.raises(LocalProtocolError, match="CLOSING"):
            conn.send(TextMessage("late"))
        with pytest.raises(LocalProtocolError):
            conn.send(Close())

    def test_nothing_can_be_sent_once_closed(self) -> None:
        conn = feed(close_frame(1000)).conn
        for event in (TextMessage("x"), BytesMessage(b"x"), Ping(), Pong(), Close()):
            with pytest.raises(LocalProtocolError, match="CLOSED"):
                conn.send(event)

    def test_close_reason_over_123_bytes_cannot_be_sent(self) -> None:
        conn = ServerConnection()
        with pytest.raises(LocalProtocolError, match="123"):
            conn.send(Close(1000, "é" * 62))
        conn.send(Close(1000, "x" * 123))
        assert len(conn.data_to_send()[0]) == 2 + 2 + 123

    def test_received_events_cannot_be_sent(self) -> None:
        with pytest.raises(LocalProtocolError, match="CloseReceived"):
            ServerConnection().send(CloseReceived(1000))  # type: ignore[arg-type]


# -- §5.5.2 ping and §5.5.3 pong ------------------------------------------------------------------


class TestSection5_5_2:
    def test_ping_is_answered_with_its_payload(self) -> None:
        fed = feed(frame(0x9, b"are you there"))
        assert fed.events == [Ping(b"are you there")]
        assert fed.sent == b"\x8a\x0dare you there"

    def test_ping_is_answered_after_our_close(self) -> None:
        conn = ServerConnection()
        conn.send(Close())
        conn.data_to_send()
        events, sent = drive(conn, [frame(0x9, b"")])
        assert (events, sent) == ([Ping(b"")], b"\x8a\x00")

    def test_send_ping(self) -> None:
        conn = ServerConnection()
        conn.send(Ping(b"hb"))
        assert conn.data_to_send() == [b"\x89\x02hb"]


class TestSection5_5_3:
    def test_unsolicited_pong_is_reported_not_answered(self) -> None:
        fed = feed(frame(0xA, b"x"))
        assert (fed.events, fed.sent) == ([Pong(b"x")], b"")


# -- §5.6 data frames and §8.1 UTF-8 ------------------------------------------------------------


class TestSection5_6:
    def test_binary_is_opaque(self) -> None:
        data = bytes(range(256))
        assert feed(frame(0x2, data)).events == [BytesMessage(data)]

    def test_text_is_decoded(self) -> None:
        assert feed(frame(0x1, "κόσμε 🙂".encode())).events == [TextMessage("κόσμε 🙂")]

    def test_send_text_and_binary(self) -> None:
        conn = ServerConnection()
        conn.send(TextMessage("é"))
        conn.send(BytesMessage(b"\x00"))
        assert conn.data_to_send() == [b"\x81\x02\xc3\xa9", b"\x82\x01\x00"]

    def test_unencodable_text_cannot_be_sent(self) -> None:
        with pytest.raises(LocalProtocolError, match="UTF-8"):
            ServerConnection().send(TextMessage("\ud800"))


class TestSection8_1:
    def test_invalid_utf8_fails_1007(self) -> None:
        fed = feed(frame(0x1, b"ok \xff"))
        failed(fed.events, 1007)
        assert fed.sent[2:4] == b"\x03\xef"

    def test_character_split_across_fragments(self) -> None:
        wire = frame(0x1, b"\xf0\x9f", fin=False) + frame(0x0, b"\x99\x82")
        assert feed(wire).events == [TextMessage("🙂")]

    def test_fails_on_the_first_invalid_fragment_before_the_message_ends(self) -> None:
        fed = feed(frame(0x1, b"fine", fin=False) + frame(0x0, b"\xc0\xaf", fin=False))
        failed(fed.events, 1007)

    def test_incomplete_sequence_at_message_end_fails_1007(self) -> None:
        fed = feed(frame(0x1, b"ok", fin=False) + frame(0x0, b"\xe2\x82"))
        failed(fed.events, 1007)

    def test_incomplete_sequence_in_a_single_frame_fails_1007(self) -> None:
        failed(feed(frame(0x1, b"\xe2\x82")).events, 1007)

    def test_surrogate_fails_on_its_second_byte_across_fragments(self) -> None:
        # ED A0..BF would be a UTF-16 surrogate: never valid, whatever follows.
        fed = feed(frame(0x1, b"ok\xed", fin=False) + frame(0x0, b"\xa0", fin=False))
        failed(fed.events, 1007)


class TestSection8_1InsideAFrame:
    """§8.1: invalid UTF-8 fails the connection "as soon as" it is found, even inside one frame
    that is still arriving (Autobahn|Testsuite 6.4.3 and 6.4.4, which pause between chops)."""

    PART1 = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  # Greek "kosme", 11 bytes
    PART2 = b"\xf4\x90\x80\x80"  # above U+10FFFF: invalid at \x90, the 13th byte
    PART3 = b"edited"
    HEAD = 6  # 2 header bytes and the mask

    def wire(self) -> bytes:
        return frame(0x1, self.PART1 + self.PART2 + self.PART3)

    def test_fails_on_the_chop_with_the_bad_sequence(self) -> None:  # Autobahn 6.4.3
        conn = ServerConnection()
        first = self.HEAD + len(self.PART1)
        wire = self.wire()
        events, _ = drive(conn, [wire[:first]])
        assert events == []
        events, sent = drive(conn, [wire[first : first + 4]])
        failed(events, 1007)
        assert sent == b"\x88\x02\x03\xef"

    def test_fails_on_the_first_bad_byte(self) -> None:  # Autobahn 6.4.4
        conn = ServerConnection()
        first = self.HEAD + len(self.PART1) + 1  # ends with \xf4, a valid lead byte
        wire = self.wire()
        assert drive(conn, [wire[:first]])[0] == []
        failed(drive(conn, [wire[first : first + 1]])[0], 1007)

    def test_surrogate_fails_on_its_second_byte(self) -> None:
        conn = ServerConnection()
        wire = frame(0x1, b"ab\xed\xa0\x80cd")
        assert drive(conn, [wire[:9]])[0] == []
        failed(drive(conn, [wire[9:10]])[0], 1007)

    def test_a_frame_fed_byte_by_byte_is_consumed_as_it_arrives(self) -> None:
        text = "héllo wörld 🙂" * 20
        wire = frame(0x1, text.encode())
        conn = ServerConnection()
        events = []
        for i in range(len(wire)):
            events += drive(conn, [wire[i : i + 1]])[0]
            assert len(conn._buf) <= 8  # at most the frame header: the payload is consumed
        assert events == [TextMessage(text)]

    def test_empty_text_frames_fed_byte_by_byte(self) -> None:  # found by test_one_byte_at_a_time
        wire = frame(0x1, b"") * 2
        events = drive(ServerConnection(), [wire[i : i + 1] for i in range(len(wire))])[0]
        assert events == [TextMessage(""), TextMessage("")]

    def test_inside_a_continuation_frame(self) -> None:
        wire = frame(0x1, b"ab", fin=False) + frame(0x0, b"cd\xffef")
        conn = ServerConnection()
        events, _ = drive(conn, [wire[:8], wire[8:16]])
        assert events == []
        failed(drive(conn, [wire[16:17]])[0], 1007)

    def test_a_message_spanning_chopped_fragments_is_whole(self) -> None:
        wire = frame(0x1, "ü".encode() * 100, fin=False) + frame(0x0, "ü".encode() * 100)
        chops = [wire[i : i + 7] for i in range(0, len(wire), 7)]
        assert drive(ServerConnection(), chops)[0] == [TextMessage("ü" * 200)]

    def test_limits_still_come_first_from_the_header(self) -> None:
        limits = Limits(max_message_bytes=10)
        conn = ServerConnection(limits=limits)
        events, _ = drive(conn, [frame(0x1, b"\xff" * 11)[:8]])
        assert type(failed(events, 1009)) is MessageTooBig

    def test_binary_frames_wait_whole(self) -> None:
        conn = ServerConnection()
        wire = frame(0x2, b"x" * 50)
        assert drive(conn, [wire[:30]])[0] == []
        assert len(conn._buf) == 30
        assert drive(conn, [wire[30:]])[0] == [BytesMessage(b"x" * 50)]


# -- §7.1.5-§7.1.7 closing and failing ----------------------------------------------------------


class TestSection7_1:
    def test_7_1_5_eof_without_close_is_1006(self) -> None:
        fed = feed(frame(0x1, b"hi") + b"\x81", eof=True)
        assert fed.events == [TextMessage("hi"), ConnectionClosed(1006)]
        assert fed.conn.close_expected()
        assert fed.conn.state is State.CLOSED

    def test_7_1_5_eof_after_the_closing_handshake_reports_nothing(self) -> None:
        fed = feed(close_frame(1000), eof=True)
        assert fed.events == [CloseReceived(1000, "")]

    def test_7_1_5_eof_while_our_close_awaits_an_answer_is_1006(self) -> None:
        conn = ServerConnection()
        conn.send(Close())
        assert drive(conn, [], eof=True)[0] == [ConnectionClosed(1006)]

    def test_7_1_6_close_reason_must_be_utf8(self) -> None:
        fed = feed(close_frame(1000, b"\xff"))
        assert "close reason" in str(failed(fed.events, 1007))

    def test_7_1_7_failure_is_last_keeps_earlier_events_and_ignores_the_rest(self) -> None:
        fed = feed(frame(0x2, b"a") + frame(0x2, b"b", mask=None) + frame(0x2, b"c"), answer=False)
        assert normalize(fed.events) == [
            BytesMessage(b"a"),
            (RemoteProtocolError, 1002, "unmasked client frame (RFC 6455 §5.1)"),
        ]
        assert (fed.sent, fed.conn.state, fed.conn.close_expected()) == (b"", State.FAILING, False)
        fed.conn.send(Close(1002))
        assert fed.conn.data_to_send() == [b"\x88\x02\x03\xea"]
        assert fed.conn.state is State.CLOSED
        assert fed.conn.close_expected()
        fed.conn.receive_data(frame(0x2, b"d"))
        fed.conn.receive_eof()
        assert fed.conn.events_received() == []
        assert fed.conn.data_to_send() == []

    def test_7_1_7_failure_after_our_close_sends_no_second_close(self) -> None:
        conn = ServerConnection()
        conn.send(Close())
        conn.data_to_send()
        events, sent = drive(conn, [frame(0x2, b"x", mask=None)])
        assert type(events[-1]) is ConnectionFailed
        assert sent == b""

    def test_7_1_7_messages_before_the_error_can_be_answered_before_the_close(self) -> None:
        """§6.2: the messages before the bad frame were received, and are delivered first; §7.1.7:
        nothing after it is processed; the answers go out before our close (§5.5.1 lets an
        endpoint finish its message first), which the caller sends."""
        conn = ServerConnection()
        conn.receive_data(frame(0x1, b"hello") + frame(0x9, b"p") + frame(0x1, b"x", rsv=0x20))
        events = conn.events_received()
        assert normalize(events) == [
            TextMessage("hello"),
            Ping(b"p"),
            (RemoteProtocolError, 1002, "reserved bits 0b010 set (RFC 6455 §5.2)"),
        ]
        assert conn.data_to_send() == [b"\x8a\x01p"]  # the pong; no close frame yet
        assert (conn.state, conn.close_expected()) == (State.FAILING, False)
        conn.receive_data(frame(0x1, b"ignored") + close_frame(1000))
        assert conn.events_received() == []
        conn.send(TextMessage("hello"))
        conn.send(Ping(b"q"))
        assert conn.state is State.FAILING
        conn.send(Close(1002, "bad frame"))
        assert (conn.state, conn.close_expected()) == (State.CLOSED, True)
        assert Client().decode(b"".join(conn.data_to_send())) == [
            TextMessage("hello"),
            Ping(b"q"),
            Close(1002, "bad frame"),
        ]
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            conn.send(TextMessage("late"))

    def test_7_1_7_eof_while_failing_ends_it_without_a_close(self) -> None:
        fed = feed(frame(0x1, b"\xff"), answer=False)
        failed(fed.events, 1007)
        fed.conn.receive_eof()
        assert fed.conn.events_received() == []  # ConnectionFailed stays the last event
        assert (fed.conn.state, fed.conn.close_expected()) == (State.CLOSED, True)
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            fed.conn.send(Close(1007))


# -- §7.4.1 status codes ------------------------------------------------------------------------


class TestSection7_4_1:
    @pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
    def test_invalid_received_codes_fail_1002(self, code: int) -> None:
        fed = feed(close_frame(code))
        assert "invalid close code" in str(failed(fed.events, 1002))

    @pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999])
    def test_valid_received_codes_are_echoed(self, code: int) -> None:
        fed = feed(close_frame(code, b"r"))
        assert fed.events == [CloseReceived(code, "r")]
        assert fed.sent == b"\x88\x02" + code.to_bytes(2, "big")

    @pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 2000, 5000])
    def test_invalid_codes_cannot_be_sent(self, code: int) -> None:
        with pytest.raises(LocalProtocolError, match="may not be sent"):
            ServerConnection().send(Close(code))


# -- §10.4 implementation-specific limits ------------------------------------------------------


class TestSection10_4:
    def test_frame_limit_from_the_header_alone(self) -> None:
        conn = ServerConnection(limits=Limits(max_frame_bytes=1000))
        # Only the header of a 1001-byte frame: no payload was buffered yet.
        events, sent = drive(conn, [b"\x82\xfe\x03\xe9"])
        assert isinstance(failed(events, 1009), MessageTooBig)
        assert sent[2:4] == b"\x03\xf1"

    def test_message_limit_on_a_single_frame_from_its_header(self) -> None:
        conn = ServerConnection(limits=Limits(max_message_bytes=10))
        events, _ = drive(conn, [b"\x81\x8b"])  # an 11-byte text frame; nothing else yet
        assert "max_message_bytes" in str(failed(events, 1009))

    def test_message_limit_across_fragments_before_buffering(self) -> None:
        conn = ServerConnection(limits=Limits(max_message_bytes=10))
        events, _ = drive(conn, [frame(0x2, b"x" * 6, fin=False), b"\x00\x85"])
        assert isinstance(failed(events, 1009), MessageTooBig)

    def test_message_at_the_limit_is_accepted(self) -> None:
        wire = frame(0x2, b"x" * 6, fin=False) + frame(0x0, b"y" * 4)
        fed = feed(wire, limits=Limits(max_message_bytes=10))
        assert fed.events == [BytesMessage(b"xxxxxxyyyy")]

    def test_each_message_starts_its_own_count(self) -> None:
        wire = frame(0x2, b"x" * 6, fin=False) + frame(0x0, b"y" * 4) + frame(0x2, b"z" * 10)
        fed = feed(wire, limits=Limits(max_message_bytes=10))
        assert fed.events == [BytesMessage(b"xxxxxxyyyy"), BytesMessage(b"z" * 10)]

    def test_control_frames_do_not_count_against_the_message(self) -> None:
        wire = frame(0x2, b"x" * 10, fin=False) + frame(0x9, b"p" * 100) + frame(0x0, b"")
        fed = feed(wire, limits=Limits(max_message_bytes=10, max_frame_bytes=10))
        assert fed.events == [Ping(b"p" * 100), BytesMessage(b"x" * 10)]

    def test_limits_validated(self) -> None:
        with pytest.raises(ValueError):
            Limits(max_message_bytes=-1)


# -- §10.7 handling of invalid data ------------------------------------------------------------


class TestSection10_7:
    def test_invalid_data_gets_a_close_frame_then_the_connection_closes(self) -> None:
        fed = feed(b"\x83\x80\x00\x00\x00\x00" + frame(0x1, b"never seen"))
        assert str(fed.events[-1].error) == "reserved opcode 0x3 (RFC 6455 §5.2)"  # type: ignore[union-attr]
        assert fed.sent == b"\x88\x02\x03\xea"  # drive() answered with Close(1002)
        assert type(fed.events[-1]) is ConnectionFailed
        assert len(fed.events) == 1
        assert fed.conn.close_expected()


# -- §5.8 extensibility -----------------------------------------------------------------------


class TestSection5_8:
    def test_rsv1_means_something_only_with_a_negotiated_extension(self) -> None:
        from asgiserver.ws import PerMessageDeflate

        wire = frame(0x1, bytes.fromhex("f248cdc9c90700"), rsv=0x40)
        failed(feed(wire).events, 1002)
        assert feed(wire, extensions=[PerMessageDeflate()]).events == [TextMessage("Hello")]


# -- the sans-IO contract ---------------------------------------------------------------------


class TestContract:
    def test_trailing_data_is_parsed_at_construction(self) -> None:
        conn = ServerConnection(trailing_data=frame(0x1, b"early") + frame(0x9, b""))
        assert conn.events_received() == [TextMessage("early"), Ping(b"")]
        assert conn.data_to_send() == [b"\x8a\x00"]

    def test_one_byte_at_a_time(self) -> None:
        wire = frame(0x1, b"hello", fin=False) + frame(0x9, b"p") + frame(0x0, b"!" * 200)
        events, sent = drive(ServerConnection(), [wire[i : i + 1] for i in range(len(wire))])
        assert events == [Ping(b"p"), TextMessage("hello" + "!" * 200)]
        assert sent == b"\x8a\x01p"

    def test_queues_are_drained(self) -> None:
        conn = ServerConnection(trailing_data=frame(0x9, b""))
        assert conn.events_received() == [Ping(b"")]
        assert conn.events_received() == []
        assert conn.data_to_send() == [b"\x8a\x00"]
        assert conn.data_to_send() == []

    def test_two_extensions_are_refused(self) -> None:
        from asgiserver.ws import PerMessageDeflate

        with pytest.raises(LocalProtocolError):
            ServerConnection(extensions=[PerMessageDeflate(), PerMessageDeflate()])

    def test_limits_are_exposed(self) -> None:
        limits = Limits(max_message_bytes=5)
        assert ServerConnection(limits=limits).limits is limits
