"""Abuse guards (RFC 9113 §10.5): each attack ends in GOAWAY with the right code, within a CPU bound.

The CPU bounds use ``time.process_time`` in the test; the package itself never reads a clock.
They are loose (a shared CI machine) but far below what the unguarded attack costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import hpack
import pytest
from _helpers import (
    PREFACE,
    continuation,
    data_frame,
    headers_frame,
    ping,
    priority,
    raw_frame,
    request_headers,
    rst,
    server_frames,
    settings,
    window_update,
)

from asgiserver import h2adapter as h2a

CALM = h2a.ErrorCode.ENHANCE_YOUR_CALM


class Attack:
    """A server fed raw bytes by a scripted client with its own HPACK encoder."""

    def __init__(self, limits: h2a.Limits | None = None) -> None:
        self.server = h2a.ServerConnection(limits)
        self.server.initiate()
        self.encoder = hpack.Encoder()
        self.events: list[h2a.Event] = []
        self.out = b""
        self.feed(PREFACE + settings())

    def block(self, fields: list[tuple[bytes, bytes]] | None = None) -> bytes:
        return self.encoder.encode(fields or request_headers())

    def feed(self, data: bytes, chunk: int = 65_536) -> list[h2a.Event]:
        for i in range(0, len(data), chunk):
            self.server.receive_data(data[i : i + chunk])
            self.events += self.server.events_received()
            self.out += b"".join(self.server.data_to_send())
        return self.events

    @property
    def failed(self) -> h2a.ConnectionFailed:
        event = self.events[-1]
        assert isinstance(event, h2a.ConnectionFailed), self.events[-3:]
        return event

    def goaway_code(self) -> int:
        goaways = [f for f in server_frames(self.out) if f[0] == 0x7]
        return int.from_bytes(goaways[-1][3][4:8], "big")


def cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def test_rapid_reset_cve_2023_44487() -> None:
    attack = Attack()
    wire = b"".join(headers_frame(sid, attack.block()) + rst(sid) for sid in range(1, 20_001, 2))
    spent = cpu(lambda: attack.feed(wire))
    assert attack.failed.error.error_code == CALM and attack.goaway_code() == CALM
    # Opened and reset in the same read: the driver never starts a cycle for them.
    assert not any(isinstance(e, h2a.Request) for e in attack.events)
    assert spent < 0.5
    assert attack.server.close_expected()


def test_rapid_reset_across_reads_is_budgeted() -> None:
    attack = Attack()
    requests = 0
    for sid in range(1, 2001, 2):
        attack.feed(headers_frame(sid, attack.block()))
        attack.feed(rst(sid))
        if isinstance(attack.events[-1], h2a.ConnectionFailed):
            break
    requests = sum(isinstance(e, h2a.Request) for e in attack.events)
    assert attack.failed.error.error_code == CALM
    assert requests <= h2a.Limits().reset_budget + 1


def test_clean_streams_earn_resets_back() -> None:
    """A browser that cancels some requests and completes others is never cut off."""
    attack = Attack()
    for sid in range(1, 4001, 2):
        attack.feed(headers_frame(sid, attack.block(), ("END_HEADERS", "END_STREAM")))
        if sid % 4 == 1:
            attack.server.send(h2a.Response(sid, 204))
            attack.server.send(h2a.EndOfMessage(sid))
        else:
            attack.feed(rst(sid))
    assert not any(isinstance(e, h2a.ConnectionFailed) for e in attack.events)


def test_made_you_reset_cve_2025_8671() -> None:
    """Frames that make the server reset streams count like the client's own resets."""
    attack = Attack()
    fields = request_headers(method=b"POST", extra=[(b"content-length", b"1")])
    wire = b"".join(
        headers_frame(sid, attack.block(fields)) + data_frame(sid, b"too long")
        for sid in range(1, 4001, 2)
    )
    spent = cpu(lambda: attack.feed(wire))
    assert attack.failed.error.error_code == CALM
    assert spent < 0.5


def test_made_you_reset_by_window_overflow() -> None:
    attack = Attack()
    wire = b"".join(
        headers_frame(sid, attack.block()) + window_update(sid, (1 << 31) - 1)
        for sid in range(1, 4001, 2)
    )
    attack.feed(wire)
    assert attack.failed.error.error_code == CALM


def test_continuation_flood_frame_count() -> None:
    attack = Attack()
    block = attack.block()
    wire = headers_frame(1, block[:1], ()) + b"".join(continuation(1, b"") for _ in range(100_000))
    spent = cpu(lambda: attack.feed(wire))
    assert attack.failed.error.error_code == CALM
    assert spent < 0.2


def test_continuation_nine_frames_is_over_the_default() -> None:
    attack = Attack()
    block = attack.block()
    frames = [headers_frame(1, block[:1], ())]
    frames += [continuation(1, block[1:2] if i == 0 else b"") for i in range(8)]
    attack.feed(b"".join(frames))
    assert not attack.events  # 8 CONTINUATION frames: still fine
    attack.feed(continuation(1, block[2:], end=True))
    assert attack.failed.error.error_code == CALM


def test_huge_header_block_rejected_before_hpack_decoding() -> None:
    """1 MiB of Huffman-coded literal: rejected by its encoded size, never decoded."""
    attack = Attack()
    # A literal field whose value claims Huffman coding: 1 MiB the decoder would have to walk.
    literal = b"\x00\x01x\xff\xff\xff\xff\x03" + b"\xaa" * (1 << 20)
    frames = [headers_frame(1, literal[:16_384], ())]
    frames += [
        continuation(1, literal[i : i + 16_384]) for i in range(16_384, len(literal), 16_384)
    ]
    spent = cpu(lambda: attack.feed(b"".join(frames)))
    assert attack.failed.error.error_code == CALM
    assert spent < 0.05


def test_hpack_bomb_stops_at_the_decoder_cap() -> None:
    """RFC 7541 §7.3: one 4 KiB table entry referenced thousands of times."""
    attack = Attack()
    big = hpack.Encoder()
    setup = big.encode([(b"x-big", b"a" * 4000)])  # literal with incremental indexing
    refs = b"\xbe" * 16_000  # indexed field 62: the entry just added, 16k times (64 MB)
    wire = headers_frame(1, setup + refs[: 16_000 - len(setup)], ())
    wire += continuation(1, refs, end=True)
    spent = cpu(lambda: attack.feed(wire))
    assert attack.failed.error.error_code == CALM
    assert spent < 0.2


def test_header_list_just_over_the_limit_is_431_not_a_connection_error() -> None:
    attack = Attack()
    fields = [*request_headers(), *[(b"x-%d" % i, b"a" * 7000) for i in range(10)]]
    block = attack.block(fields)  # ~70 KB decoded, ~44 KB encoded (Huffman)
    assert len(block) < 65_536
    frames = [headers_frame(1, block[:16_384], ("END_STREAM",))]
    frames += [continuation(1, block[i : i + 16_384]) for i in range(16_384, len(block), 16_384)]
    frames[-1] = continuation(1, block[16_384 * (len(frames) - 1) :], end=True)
    attack.feed(b"".join(frames))
    [event] = attack.events
    assert isinstance(event, h2a.StreamFailed) and event.error.status_hint == 431


FLOODS = {
    "ping": lambda: ping(),
    "settings": lambda: settings(),
    "empty data": None,  # needs an open stream
    "window update": lambda: window_update(0, 1),
    "priority": lambda: priority(7),
    "unknown": lambda: raw_frame(0xFA, 0, 0, b""),
    "rst on closed": lambda: rst(1),
}


@pytest.mark.parametrize("kind", list(FLOODS))
def test_control_frame_floods(kind: str) -> None:
    attack = Attack()
    if kind == "empty data":
        attack.feed(headers_frame(1, attack.block()))
        unit = data_frame(1, b"")
    elif kind == "rst on closed":
        attack.feed(headers_frame(1, attack.block()) + rst(1))
        unit = rst(1)
    else:
        make = FLOODS[kind]
        assert make is not None
        unit = make()
    wire = unit * 20_000
    spent = cpu(lambda: attack.feed(wire))
    assert attack.failed.error.error_code == CALM
    assert spent < 0.5
    # PING and SETTINGS acks queued for a peer that may never read stay bounded.
    assert len(attack.out) < 1000 * 20


def test_data_flood_on_a_reset_stream() -> None:
    attack = Attack()
    attack.feed(headers_frame(1, attack.block()))
    attack.server.send(h2a.StreamReset(1, h2a.ErrorCode.CANCEL))
    spent = cpu(lambda: attack.feed(data_frame(1, b"x" * 100) * 20_000))
    assert attack.failed.error.error_code == CALM
    assert spent < 0.5


def test_streams_left_open_are_refused_then_the_connection_is_closed() -> None:
    attack = Attack()
    wire = b"".join(headers_frame(sid, attack.block()) for sid in range(1, 2001, 2))
    attack.feed(wire, chunk=1 << 30)
    requests = [e for e in attack.events if isinstance(e, h2a.Request)]
    assert len(requests) == 100  # max_concurrent_streams; the rest got REFUSED_STREAM
    resets = [f for f in server_frames(attack.out) if f[0] == 0x3]
    assert all(int.from_bytes(f[3], "big") == h2a.ErrorCode.REFUSED_STREAM for f in resets)
    assert attack.failed.error.error_code == CALM


def test_new_streams_per_read() -> None:
    attack = Attack(h2a.Limits(max_concurrent_streams=1000, max_new_streams_per_read=10))
    wire = b"".join(headers_frame(sid, attack.block()) for sid in range(1, 41, 2))
    attack.feed(wire, chunk=1 << 30)
    assert sum(isinstance(e, h2a.Request) for e in attack.events) == 10
    attack.feed(headers_frame(41, attack.block()))
    assert isinstance(attack.events[-1], h2a.Request)  # the next read may open more


def test_max_requests_ends_with_a_graceful_goaway() -> None:
    attack = Attack(h2a.Limits(max_requests=3))
    for sid in (1, 3, 5, 7):
        attack.feed(headers_frame(sid, attack.block(), ("END_HEADERS", "END_STREAM")))
    assert [e.stream_id for e in attack.events if isinstance(e, h2a.Request)] == [1, 3, 5]
    goaway = [f for f in server_frames(attack.out) if f[0] == 0x7][-1]
    assert int.from_bytes(goaway[3][:4], "big") == 5 and attack.goaway_code() == 0
    for sid in (1, 3, 5):
        assert not attack.server.close_expected()
        attack.server.send(h2a.Response(sid, 200))
        attack.server.send(h2a.EndOfMessage(sid))
    assert attack.server.close_expected()
