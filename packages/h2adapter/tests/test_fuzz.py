"""Property tests: split invariance, totality, a stateful client model, and round trips."""

from __future__ import annotations

import typing

import h2.events
import h2.exceptions
from _helpers import PREFACE, Pair, raw_frame, request_headers, settings
from hypothesis import HealthCheck, assume, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from asgiserver import h2adapter as h2a

EVENT_TYPES = set(typing.get_args(h2a.Event))

token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).map(
    lambda s: s.encode()
)
_VCHAR = [9, *range(0x20, 0x7F), *range(0x80, 0x100)]
value = st.lists(st.sampled_from(_VCHAR), max_size=40).map(lambda v: bytes(v).strip(b" \t"))
field = st.tuples(
    token.filter(
        lambda n: (
            n
            not in (
                b"connection",
                b"keep-alive",
                b"proxy-connection",
                b"transfer-encoding",
                b"upgrade",
                b"te",
                b"host",
                b"cookie",
                b"content-length",
            )
        )
    ),
    value,
)


# -- a client session, as actions replayed against a Pair ------------------------------------------------

action = st.one_of(
    st.tuples(st.just("open"), st.booleans(), st.lists(field, max_size=4)),
    st.tuples(st.just("data"), st.integers(0, 3), st.binary(max_size=3000)),
    st.tuples(st.just("end"), st.integers(0, 3), st.lists(field, max_size=2)),
    st.tuples(st.just("reset"), st.integers(0, 3), st.sampled_from([0, 8])),
    st.tuples(st.just("ping"), st.binary(min_size=8, max_size=8)),
)


def client_session(actions: list[tuple[typing.Any, ...]]) -> bytes:
    """Run the actions through h2's client against a server; return the client's bytes."""
    pair = Pair()
    open_ids: list[int] = []
    next_id = 1
    for act in actions:
        kind = act[0]
        try:
            if kind == "open":
                pair.client.send_headers(next_id, request_headers(extra=act[2]), end_stream=act[1])
                if not act[1]:
                    open_ids.append(next_id)
                next_id += 2
            elif kind == "ping":
                pair.client.ping(act[1])
            elif open_ids:
                sid = open_ids[act[1] % len(open_ids)]
                if kind == "data":
                    pair.send_body(sid, act[2])
                elif kind == "end":
                    if act[2]:
                        pair.client.send_headers(sid, act[2], end_stream=True)
                    else:
                        pair.client.end_stream(sid)
                    open_ids.remove(sid)
                else:
                    pair.client.reset_stream(sid, act[2])
                    open_ids.remove(sid)
        except h2.exceptions.FlowControlError:
            pass
        pair.pump()
    return pair.wire


def replay(wire: bytes, cuts: list[int]) -> tuple[list[h2a.Event], bytes]:
    server = h2a.ServerConnection()
    server.initiate()
    out = b""
    points = sorted({c % (len(wire) + 1) for c in cuts})
    last = 0
    for point in [*points, len(wire)]:
        server.receive_data(wire[last:point])
        out += b"".join(server.data_to_send())
        last = point
    return server.events_received(), out


@given(st.lists(action, max_size=12), st.lists(st.integers(0, 1 << 20), max_size=20))
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_split_invariance(actions: list[tuple[typing.Any, ...]], cuts: list[int]) -> None:
    """Any split of the client's bytes gives the same events (drained at the end) and output."""
    wire = client_session(actions)
    whole = replay(wire, [])
    assert replay(wire, cuts) == whole
    assert not any(isinstance(e, h2a.ConnectionFailed) for e in whole[0])


# -- totality --------------------------------------------------------------------------------------------

frames = st.lists(
    st.builds(
        raw_frame,
        st.integers(0, 12),
        st.integers(0, 255),
        st.sampled_from([0, 1, 2, 3, 5, 0x7FFFFFFF, 0x80000001]),
        st.binary(max_size=64),
    ),
    max_size=12,
)


def check_total(server: h2a.ServerConnection, chunks: list[bytes]) -> None:
    events: list[h2a.Event] = []
    for chunk in chunks:
        server.receive_data(chunk)
        events += server.events_received()
        server.data_to_send()
    server.receive_eof()
    events += server.events_received()
    assert all(type(e) in EVENT_TYPES for e in events)
    ends = [
        i
        for i, e in enumerate(events)
        if isinstance(e, (h2a.ConnectionFailed, h2a.ConnectionClosed))
    ]
    assert len(ends) == 1 and ends[0] == len(events) - 1
    for e in events:
        if isinstance(e, (h2a.ConnectionFailed, h2a.StreamFailed)):
            assert isinstance(e.error, h2a.RemoteProtocolError)
            assert isinstance(e.error.error_code, int)
    assert server.close_expected()


@given(frames, st.integers(1, 50))
@example([raw_frame(1, 4, 1, b"\x82\x84\x87\x41\x8a")], 1)  # a request with a truncated literal
@example([raw_frame(0, 8, 1, b"\x05abc")], 3)  # pad length past the payload
def test_totality_random_frames(frame_list: list[bytes], step: int) -> None:
    """Random frames after a valid preface only ever give our events and our errors."""
    server = h2a.ServerConnection()
    server.initiate()
    wire = PREFACE + settings() + b"".join(frame_list)
    check_total(server, [wire[i : i + step] for i in range(0, len(wire), step)])


@given(st.binary(max_size=300), st.booleans())
def test_totality_random_bytes(data: bytes, with_preface: bool) -> None:
    server = h2a.ServerConnection()
    wire = (PREFACE + settings() if with_preface else b"") + data
    check_total(server, [wire])


# -- stateful model --------------------------------------------------------------------------------------


class Streams(RuleBasedStateMachine):
    """Interleaved streams: requests, bodies, resets, early responses, consumption."""

    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair(h2a.Limits(initial_window_size=65_535, connection_window=200_000))
        self.next_id = 1
        self.sending: list[int] = []  # client may still send body
        self.waiting: list[int] = []  # server has not responded
        self.unconsumed: dict[int, int] = {}
        self.bodies: dict[int, bytes] = {}

    def handle(self, events: list[h2a.Event]) -> None:
        for e in events:
            assert type(e) in EVENT_TYPES
            assert not isinstance(e, (h2a.ConnectionFailed, h2a.StreamFailed)), e
            if isinstance(e, h2a.Request):
                self.waiting.append(e.stream_id)
            elif isinstance(e, h2a.Data):
                self.unconsumed[e.stream_id] = self.unconsumed.get(e.stream_id, 0) + len(e.data)
                self.bodies[e.stream_id] = self.bodies.get(e.stream_id, b"") + e.data
            elif isinstance(e, h2a.StreamReset) and e.stream_id in self.waiting:
                self.waiting.remove(e.stream_id)

    @precondition(lambda self: len(self.sending) + len(self.waiting) < 20)
    @rule(post=st.booleans())
    def open(self, post: bool) -> None:
        sid = self.next_id
        self.next_id += 2
        self.pair.client.send_headers(
            sid, request_headers(method=b"POST" if post else b"GET"), end_stream=not post
        )
        if post:
            self.sending.append(sid)
        self.handle(self.pair.pump())

    @precondition(lambda self: self.sending)
    @rule(i=st.integers(0, 100), size=st.integers(0, 40_000), end=st.booleans())
    def send(self, i: int, size: int, end: bool) -> None:
        sid = self.sending[i % len(self.sending)]
        if sid not in self.pair.client.streams or not self.pair.client.streams[sid].open:
            self.sending.remove(sid)
            return
        size = min(size, self.pair.client.local_flow_control_window(sid))
        self.pair.send_body(sid, b"b" * size, end=end)
        if end:
            self.sending.remove(sid)
        self.handle(self.pair.pump())

    @precondition(lambda self: self.sending)
    @rule(i=st.integers(0, 100))
    def client_reset(self, i: int) -> None:
        sid = self.sending.pop(i % len(self.sending))
        if sid in self.pair.client.streams and self.pair.client.streams[sid].open:
            self.pair.client.reset_stream(sid, 8)
        self.handle(self.pair.pump())

    @precondition(lambda self: self.unconsumed)
    @rule(i=st.integers(0, 100), part=st.integers(0, 40_000))
    def consume(self, i: int, part: int) -> None:
        sid = sorted(self.unconsumed)[i % len(self.unconsumed)]
        n = min(part, self.unconsumed[sid])
        self.pair.server.consumed(sid, n)
        self.unconsumed[sid] -= n
        if not self.unconsumed[sid]:
            del self.unconsumed[sid]
        self.handle(self.pair.pump())

    @precondition(lambda self: self.waiting)
    @rule(i=st.integers(0, 100), size=st.integers(0, 100_000), reset=st.booleans())
    def respond(self, i: int, size: int, reset: bool) -> None:
        sid = self.waiting.pop(i % len(self.waiting))
        if reset:
            self.pair.server.send(h2a.StreamReset(sid, 2))
        else:
            self.pair.respond(sid, b"r" * size)
        self.handle(self.pair.pump())

    @rule()
    def client_reads(self) -> None:
        # The client consumes every response byte, reopening the server's send windows.
        for e in self.pair.client_of(h2.events.DataReceived):
            if e.flow_controlled_length and e.stream_id in self.pair.client.streams:
                self.pair.client.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        self.pair.client_events.clear()
        self.handle(self.pair.pump())

    @invariant()
    def credit_is_never_leaked(self) -> None:
        if self.pair.server.open_streams == 0:
            assert self.pair.server_window() == 200_000
        assert not self.pair.server.close_expected()


Streams.TestCase.settings = hsettings(max_examples=40, stateful_step_count=30, deadline=None)
test_stateful_streams = Streams.TestCase


# -- round trips ---------------------------------------------------------------------------------------


@given(
    st.lists(field, max_size=8),
    st.lists(st.binary(max_size=5000), max_size=4),
    st.lists(field, max_size=3),
    st.lists(st.binary(min_size=1, max_size=30), max_size=3),
)
def test_round_trip_request(
    fields: list[tuple[bytes, bytes]],
    chunks: list[bytes],
    trailers: list[tuple[bytes, bytes]],
    cookies: list[bytes],
) -> None:
    cookies = [c for c in cookies if all(0x21 <= b <= 0x7E and b != 0x3B for b in c)]
    pair = Pair()
    extra = fields + [(b"cookie", c) for c in cookies]
    pair.client.send_headers(1, request_headers(method=b"POST", extra=extra))
    for chunk in chunks:
        pair.client.send_data(1, chunk)
    if trailers:
        pair.client.send_headers(1, trailers, end_stream=True)
    else:
        pair.client.end_stream(1)
    events = pair.pump()
    request = events[0]
    assert isinstance(request, h2a.Request)
    expected = [(b"host", b"example.com"), *fields]
    if cookies:
        expected.append((b"cookie", b"; ".join(cookies)))
    assert request.headers == expected
    assert b"".join(e.data for e in events if isinstance(e, h2a.Data)) == b"".join(chunks)
    assert events[-1] == h2a.EndOfMessage(1, trailers) if trailers else h2a.EndOfMessage(1)


@given(
    st.integers(200, 599),
    st.lists(field, max_size=8),
    st.lists(st.binary(max_size=40_000), max_size=4),
    st.lists(field, max_size=3),
)
def test_round_trip_response(
    status: int,
    fields: list[tuple[bytes, bytes]],
    chunks: list[bytes],
    trailers: list[tuple[bytes, bytes]],
) -> None:
    assume(all(n[0:1] != b":" for n, _ in fields))
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, status, fields))
    for chunk in chunks:
        pair.server.send(h2a.Data(1, chunk))
    pair.server.send(h2a.EndOfMessage(1, trailers))
    acked = 0
    for _ in range(20):
        pair.pump()
        received = pair.client_of(h2.events.DataReceived)[acked:]
        acked += len(received)
        for e in received:
            if e.flow_controlled_length and 1 in pair.client.streams:
                pair.client.acknowledge_received_data(e.flow_controlled_length, 1)
        if pair.ended(1):
            break
    [resp] = pair.client_of(h2.events.ResponseReceived)
    assert resp.headers == [(b":status", b"%d" % status), *fields]
    assert pair.response_body(1) == b"".join(chunks)
    got_trailers = pair.client_of(h2.events.TrailersReceived)
    assert [t.headers for t in got_trailers] == ([trailers] if trailers else [])
    assert pair.ended(1) and pair.server.open_streams == 0
