"""permessage-deflate on the wire: RFC 7692 §6 (framing), §7.1 (parameters) and §7.2 (codec).

The byte strings are the worked examples of RFC 7692 §7.2.3.
"""

from __future__ import annotations

import os
import tracemalloc
import zlib
from collections.abc import Sequence

import pytest
from ws_helpers import TAIL, Client, drive, feed, frame

from asgiserver.ws import (
    BytesMessage,
    ConnectionFailed,
    Limits,
    MessageTooBig,
    PerMessageDeflate,
    Ping,
    ServerConnection,
    TextMessage,
)

DEFLATE = [PerMessageDeflate()]
HELLO = bytes.fromhex("f248cdc9c90700")  # §7.2.3.1: "Hello" in one compressed block
HELLO_AGAIN = bytes.fromhex("f200110000")  # §7.2.3.2: the same, referring to the previous one


def code_of(events: Sequence[object]) -> int:
    last = events[-1]
    assert type(last) is ConnectionFailed, events
    return last.error.close_code


# -- §6 framing -------------------------------------------------------------------------------


class TestSection6:
    def test_rsv1_marks_a_compressed_message(self) -> None:
        fed = feed(frame(0x1, HELLO, rsv=0x40), extensions=DEFLATE)
        assert fed.events == [TextMessage("Hello")]

    def test_uncompressed_messages_remain_allowed(self) -> None:
        fed = feed(frame(0x2, b"plain"), extensions=DEFLATE)
        assert fed.events == [BytesMessage(b"plain")]

    def test_6_1_rsv1_only_on_the_first_frame(self) -> None:
        wire = frame(0x1, HELLO[:3], fin=False, rsv=0x40) + frame(0x0, HELLO[3:], rsv=0x40)
        assert code_of(feed(wire, extensions=DEFLATE).events) == 1002

    def test_6_1_compressed_message_in_fragments(self) -> None:
        # §7.2.3.1's fragmented example: 0x41 0x03 f2 48 cd / 0x80 0x04 c9 c9 07 00.
        wire = frame(0x1, HELLO[:3], fin=False, rsv=0x40) + frame(0x0, HELLO[3:])
        assert feed(wire, extensions=DEFLATE).events == [TextMessage("Hello")]

    def test_6_control_frames_are_never_compressed(self) -> None:
        assert code_of(feed(frame(0x9, b"", rsv=0x40), extensions=DEFLATE).events) == 1002

    def test_6_rsv2_and_rsv3_stay_reserved(self) -> None:
        assert code_of(feed(frame(0x1, HELLO, rsv=0x60), extensions=DEFLATE).events) == 1002

    def test_6_send_compresses_data_not_control_frames(self) -> None:
        conn = ServerConnection(extensions=DEFLATE)
        conn.send(TextMessage("Hello"))
        conn.send(Ping(b"Hello"))
        assert conn.data_to_send() == [b"\xc1\x07" + HELLO, b"\x89\x05Hello"]


# -- §7.1 parameters in force ---------------------------------------------------------------------


class TestSection7_1:
    def test_7_1_1_1_context_takeover_by_default(self) -> None:
        conn = ServerConnection(extensions=DEFLATE)
        conn.send(TextMessage("Hello"))
        conn.send(TextMessage("Hello"))
        assert conn.data_to_send() == [b"\xc1\x07" + HELLO, b"\xc1\x05" + HELLO_AGAIN]

    def test_7_1_1_1_server_no_context_takeover_resets_the_compressor(self) -> None:
        conn = ServerConnection(extensions=[PerMessageDeflate(server_no_context_takeover=True)])
        conn.send(TextMessage("Hello"))
        conn.send(TextMessage("Hello"))
        first, second = conn.data_to_send()
        # Each message decodes on its own, with a fresh inflater.
        for wire in (first, second):
            assert zlib.decompressobj(-15).decompress(wire[2:] + TAIL) == b"Hello"

    def test_7_1_1_2_context_takeover_from_the_client(self) -> None:
        wire = frame(0x1, HELLO, rsv=0x40) + frame(0x1, HELLO_AGAIN, rsv=0x40)
        assert feed(wire, extensions=DEFLATE).events == [TextMessage("Hello")] * 2

    def test_7_1_1_2_client_no_context_takeover_resets_the_decompressor(self) -> None:
        wire = frame(0x1, HELLO, rsv=0x40) + frame(0x1, HELLO_AGAIN, rsv=0x40)
        fed = feed(wire, extensions=[PerMessageDeflate(client_no_context_takeover=True)])
        assert fed.events[0] == TextMessage("Hello")
        assert code_of(fed.events) == 1007  # the reference back can no longer be resolved

    def test_7_1_2_1_server_window_is_honoured(self) -> None:
        data = os.urandom(1000) * 3  # repeats 1000 bytes back: beyond a 512-byte window
        conn = ServerConnection(extensions=[PerMessageDeflate(server_max_window_bits=9)])
        conn.send(BytesMessage(data))
        [message] = Client(PerMessageDeflate(server_max_window_bits=9)).decode(
            b"".join(conn.data_to_send())
        )
        assert message == BytesMessage(data)

    @pytest.mark.parametrize("bits", [8, 9, 12, 15])
    def test_7_1_2_2_client_window_including_8(self, bits: int) -> None:
        agreed = PerMessageDeflate(client_max_window_bits=bits)
        data = os.urandom(300) * 4
        wire = Client(agreed).message(BytesMessage(data))
        assert feed(wire, extensions=[agreed]).events == [BytesMessage(data)]


# -- §7.2 compression and decompression ----------------------------------------------------------


class TestSection7_2:
    def test_7_2_1_tail_removed_on_send(self) -> None:
        conn = ServerConnection(extensions=DEFLATE)
        conn.send(BytesMessage(b""))
        conn.send(BytesMessage(b"x" * 5000))
        for wire in conn.data_to_send():
            assert wire[0] == 0xC2
            assert not wire.endswith(TAIL)

    def test_7_2_2_empty_compressed_message(self) -> None:
        assert feed(frame(0x2, b"\x00", rsv=0x40), extensions=DEFLATE).events == [BytesMessage(b"")]
        assert feed(frame(0x2, b"", rsv=0x40), extensions=DEFLATE).events == [BytesMessage(b"")]

    def test_7_2_3_3_stored_block(self) -> None:
        payload = bytes.fromhex("000500faff48656c6c6f00")
        assert feed(frame(0x1, payload, rsv=0x40), extensions=DEFLATE).events == [
            TextMessage("Hello")
        ]

    def test_7_2_3_4_final_block_then_a_fresh_window(self) -> None:
        payload = bytes.fromhex("f348cdc9c9070000")
        wire = frame(0x1, payload, rsv=0x40) + frame(0x1, HELLO, rsv=0x40)
        assert feed(wire, extensions=DEFLATE).events == [TextMessage("Hello")] * 2

    def test_7_2_3_4_data_after_the_final_block_fails_1007(self) -> None:
        payload = bytes.fromhex("f348cdc9c90700") + b"garbage"
        assert code_of(feed(frame(0x1, payload, rsv=0x40), extensions=DEFLATE).events) == 1007

    def test_7_2_3_4_data_after_the_final_block_fails_before_piling_up(self) -> None:
        wire = frame(0x2, bytes.fromhex("f348cdc9c90700"), fin=False, rsv=0x40) + frame(
            0x0, b"more data", fin=False
        )
        assert code_of(feed(wire, extensions=DEFLATE).events) == 1007

    def test_7_2_3_5_two_blocks_in_one_message(self) -> None:
        payload = bytes.fromhex("f24805000000ffffcac9c90700")
        assert feed(frame(0x1, payload, rsv=0x40), extensions=DEFLATE).events == [
            TextMessage("Hello")
        ]

    def test_7_2_2_corrupt_data_fails_1007(self) -> None:
        assert code_of(feed(frame(0x2, b"\xff\xff\xff", rsv=0x40), extensions=DEFLATE).events) == (
            1007
        )

    def test_7_2_2_invalid_utf8_after_inflating_fails_1007(self) -> None:
        wire = Client(PerMessageDeflate()).message(BytesMessage(b"ok \xff"))
        wire = bytes([wire[0] & 0xF0 | 0x1]) + wire[1:]  # same payload, now as text
        assert code_of(feed(wire, extensions=DEFLATE).events) == 1007

    def test_7_2_2_limit_counts_inflated_bytes_across_fragments(self) -> None:
        wire = Client(PerMessageDeflate()).message(BytesMessage(b"a" * 2000), cuts=[3, 6])
        fed = feed(wire, extensions=DEFLATE, limits=Limits(max_message_bytes=1999))
        assert code_of(fed.events) == 1009
        assert isinstance(fed.events[-1].error, MessageTooBig)  # type: ignore[union-attr]
        fed = feed(wire, extensions=DEFLATE, limits=Limits(max_message_bytes=2000))
        assert fed.events == [BytesMessage(b"a" * 2000)]

    def test_7_2_2_decompression_bomb_fails_1009_without_inflating_it(self) -> None:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        bomb = c.compress(bytes(64 * 2**20)) + c.flush(zlib.Z_SYNC_FLUSH)  # 64 MiB of zeros
        wire = frame(0x2, bomb[:-4], rsv=0x40)
        assert len(wire) < 2**17
        conn = ServerConnection(extensions=DEFLATE, limits=Limits(max_message_bytes=2**20))
        tracemalloc.start()
        try:
            events, _ = drive(conn, [wire])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert code_of(events) == 1009
        assert peak < 4 * 2**20, peak
