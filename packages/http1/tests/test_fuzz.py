"""Hypothesis properties: round trip, split invariance, totality, near-valid mutations, agreement
with h11 (if installed) and a stateful machine driving both directions.

These run in the default suite (HYPOTHESIS_PROFILE=ci); the ``fuzz`` profile runs them longer.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _helpers import normalize, split_at
from _strategies import MUTATIONS, Wire, cuts_for, pipelines, requests
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from asgiserver.http1 import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Response,
    ServerConnection,
    State,
)

_RESPONDING = (State.DONE, State.MUST_CLOSE, State.CLOSED, State.MIGHT_SWITCH_PROTOCOL, State.ERROR)


def _answer(conn: ServerConnection, events: list[Event]) -> None:
    """Drain events; answer every complete (or failed) request with a small sized response."""
    while True:
        new = conn.events_received()
        events += new
        if conn.our_state in (State.IDLE, State.SEND_RESPONSE) and conn.their_state in _RESPONDING:
            if conn.our_state is State.IDLE and conn.their_state is not State.ERROR:
                return
            conn.send(Response(200, [(b"content-length", b"2")]))
            conn.send(Data(b"ok"))
            conn.send(EndOfMessage())
            conn.data_to_send()
            continue
        if not new:
            return


def serve(chunks: list[bytes], *, eof: bool = True, limits: Limits | None = None) -> list[Event]:
    """A minimal server loop: feed each chunk, answer complete requests, then EOF."""
    conn = ServerConnection(limits=limits)
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        _answer(conn, events)
    if eof:
        conn.receive_eof()
        _answer(conn, events)
    return events


def expected(wires: list[Wire]) -> list[tuple[object, ...]]:
    out = [e for w in wires for e in w.expected()]
    return [*out, ("ConnectionClosed",)]


def _check_well_formed(events: list[Event]) -> None:
    for i, ev in enumerate(events):
        assert type(ev) in (Request, Data, EndOfMessage, ConnectionClosed, ConnectionFailed)
        if type(ev) is ConnectionFailed:
            assert i == len(events) - 1, "ConnectionFailed must be last"
            assert isinstance(ev.error, RemoteProtocolError)
            assert ev.error.status_hint in (400, 413, 414, 431, 501, 505)
        if type(ev) is ConnectionClosed:
            assert i == len(events) - 1
        if type(ev) is Data:
            assert type(ev.data) is bytes and ev.data
        if type(ev) is Request:
            assert type(ev.headers) is list
            assert all(type(n) is bytes and type(v) is bytes for n, v in ev.headers)


@given(pipelines)
@example([Wire(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET", b"/", [(b"host", b"a")], b"1.1", b"")])
def test_round_trip(wires: list[Wire]) -> None:
    """Serialize random valid requests (pipelined) and parse them back unchanged."""
    events = serve([b"".join(w.data for w in wires)])
    assert normalize(events) == expected(wires)


@given(pipelines, st.data())
def test_split_invariance(wires: list[Wire], data: st.DataObject) -> None:
    """The same bytes at arbitrary split points give the same events (Data merged)."""
    wire = b"".join(w.data for w in wires)
    cuts = data.draw(cuts_for(wire))
    assert normalize(serve(split_at(wire, cuts))) == expected(wires)


@given(pipelines)
@settings(max_examples=40)
def test_one_byte_at_a_time(wires: list[Wire]) -> None:
    wire = b"".join(w.data for w in wires)
    assert normalize(serve([wire[i : i + 1] for i in range(len(wire))])) == expected(wires)


_prefixes = st.sampled_from(
    [
        b"",
        b"GET / HTTP/1.1\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
)
_small = Limits(
    max_request_line_bytes=64,
    max_header_bytes=128,
    max_header_count=4,
    max_body_bytes=100,
    max_chunk_extension_bytes=16,
)


@given(_prefixes, st.binary(max_size=512), st.data())
@example(b"", b"\r", None)
@example(b"", b"\r\n\r\n\r", None)
@example(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r", None)
def test_totality(prefix: bytes, blob: bytes, data: st.DataObject | None) -> None:
    """Arbitrary bytes only ever give our errors, in band and last; never an exception."""
    wire = prefix + blob
    chunks = [wire] if data is None else split_at(wire, data.draw(cuts_for(wire)))
    for limits in (None, _small):
        events = serve(chunks, limits=limits)
        _check_well_formed(events)
        assert type(events[-1]) in (ConnectionClosed, ConnectionFailed)


@given(st.binary(max_size=300))
def test_buffers_stay_bounded(blob: bytes) -> None:
    """Without a request in flight, what is buffered never exceeds the head limits."""
    conn = ServerConnection(limits=_small)
    bound = 64 + 2 + 128 + 2
    for i in range(0, len(blob), 7):
        conn.receive_data(blob[i : i + 7])
        conn.events_received()
        if conn.their_state in (State.IDLE, State.SEND_BODY):
            assert conn.pending_bytes <= bound


@given(requests(), st.sampled_from(MUTATIONS), st.data())
def test_near_valid_mutations_never_smuggle(
    wire: Wire, mutate: Callable[[Wire], bytes], data: st.DataObject
) -> None:
    """Bare LF, conflicting framing, oversized lengths...: the request fails and the request
    behind it is never parsed, however the bytes are split."""
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
    bad = mutate(wire) + smuggled
    chunks = split_at(bad, data.draw(cuts_for(bad)))
    events = serve(chunks)
    _check_well_formed(events)
    assert type(events[-1]) is ConnectionFailed
    assert not any(type(e) is Request and e.target == b"/smuggled" for e in events)


@given(st.lists(requests().filter(lambda w: w.version == b"1.1"), min_size=1, max_size=3))
def test_agrees_with_h11(wires: list[Wire]) -> None:
    """Differential: on valid input h11 (a reference parser) sees the same requests.  HTTP/1.1
    only: h11 never keeps an HTTP/1.0 connection alive."""
    h11_mod = pytest.importorskip("h11")
    wire = b"".join(w.data for w in wires)
    # h11 rejects the BWS before ";" that RFC 9112 §7.1.1 allows in chunk extensions.
    assume(b" ;" not in wire and b"\t;" not in wire)
    conn = h11_mod.Connection(h11_mod.SERVER)
    conn.receive_data(wire)
    conn.receive_data(b"")
    seen: list[tuple[object, ...]] = []
    while True:
        ev = conn.next_event()
        if ev is h11_mod.PAUSED:
            conn.send(h11_mod.Response(status_code=200, headers=[(b"content-length", b"0")]))
            conn.send(h11_mod.EndOfMessage())
            conn.start_next_cycle()
            continue
        if type(ev) is h11_mod.Request:
            headers = tuple((n, v) for n, v in ev.headers)  # h11 lowercases TE values:
            ours = wires[sum(1 for x in seen if x[0] == "request")]
            headers = tuple(
                (n, o) if n == b"transfer-encoding" else (n, v)
                for (n, v), (_, o) in zip(headers, ours.headers, strict=True)
            )
            seen.append(("request", ev.method, ev.target, headers, ev.http_version))
        elif type(ev) is h11_mod.Data:
            if seen[-1][0] == "data":
                seen[-1] = ("data", seen[-1][1] + bytes(ev.data))  # type: ignore[operator]
            else:
                seen.append(("data", bytes(ev.data)))
        elif type(ev) is h11_mod.EndOfMessage:
            seen.append(("end", tuple((n, v) for n, v in ev.headers)))
        elif type(ev) is h11_mod.ConnectionClosed:
            seen.append(("ConnectionClosed",))
            break
        else:  # pragma: no cover
            raise AssertionError(ev)
    assert normalize(serve([wire])) == seen


@given(
    requests(),
    requests(),
    st.sampled_from([None, *MUTATIONS]),
    st.booleans(),
    st.lists(st.binary(max_size=4), max_size=8),
)
def test_history_does_not_change_parsing(
    first: Wire,
    second: Wire,
    mutate: Callable[[Wire], bytes] | None,
    same_names: bool,
    raw_values: list[bytes],
) -> None:
    """A request parses the same on a kept-alive connection as on a fresh one (the field-names
    cache must not let anything through), valid or mutated, with or without the names of the
    previous request."""
    if same_names:  # the second request reuses the first one's field names, with its values
        values = raw_values + [v for _, v in second.headers] + [b"v"] * len(first.headers)
        lines = b"".join(
            n + b": " + v + b"\r\n"
            for (n, _), v in zip(first.headers, values, strict=False)
            if n not in (b"content-length", b"transfer-encoding")
        )
        data = b"GET / HTTP/1.1\r\n" + lines + b"\r\n"
    else:
        data = second.data if mutate is None else mutate(second)
    fresh = serve([data])
    kept = serve([first.data + data])
    assert normalize(kept)[len(first.expected()) :] == normalize(fresh)


class ConnectionMachine(RuleBasedStateMachine):
    """Random interleavings of receive / send / EOF: only documented outcomes ever happen."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = ServerConnection(limits=_small)
        self.events: list[Event] = []
        self.eof = False

    def _drain(self) -> None:
        self.events += self.conn.events_received()
        out = self.conn.data_to_send()
        assert all(type(b) is bytes for b in out)

    @precondition(lambda self: not self.eof)
    @rule(wire=requests(keep_alive=False), cut=st.integers(0, 1000))
    def receive_request(self, wire: Wire, cut: int) -> None:
        cut = min(cut, len(wire.data))
        self.conn.receive_data(wire.data[:cut])
        self._drain()
        self.conn.receive_data(wire.data[cut:])
        self._drain()

    @precondition(lambda self: not self.eof)
    @rule(blob=st.binary(max_size=40))
    def receive_garbage(self, blob: bytes) -> None:
        self.conn.receive_data(blob)
        self._drain()

    @rule()
    def receive_eof(self) -> None:
        self.eof = True
        self.conn.receive_eof()
        self._drain()

    @rule(
        event=st.one_of(
            st.builds(
                Response,
                st.sampled_from([200, 204, 304, 404, 500]),
                st.sampled_from([[], [(b"content-length", b"3")], [(b"connection", b"close")]]),
            ),
            st.builds(InformationalResponse, st.sampled_from([100, 101, 103])),
            st.builds(Data, st.sampled_from([b"", b"abc", b"abcd"])),
            st.builds(EndOfMessage, st.sampled_from([(), [(b"x-t", b"1")]])),
        )
    )
    def send(self, event: Event) -> None:
        before = (self.conn.our_state, self.conn.their_state)
        try:
            self.conn.send(event)
        except LocalProtocolError:
            # Only body-length violations change our state (to ERROR).
            assert self.conn.our_state in (before[0], State.ERROR)
        self._drain()

    @invariant()
    def well_formed(self) -> None:
        _check_well_formed(self.events)
        assert isinstance(self.conn.our_state, State) and isinstance(self.conn.their_state, State)
        if self.conn.close_expected():
            assert self.conn.our_state in (State.MUST_CLOSE, State.ERROR, State.CLOSED)
        if self.conn.expect_continue:
            assert self.conn.their_state is State.SEND_BODY
        if any(type(e) is ConnectionFailed for e in self.events):
            assert self.conn.their_state is State.ERROR and not self.conn.keep_alive


def test_connection_machine() -> None:
    # A function, not ConnectionMachine.TestCase: unittest classes cannot take the conftest
    # fixture that runs the suite with each head parser (compiled and pure).
    run_state_machine_as_test(
        ConnectionMachine, settings=settings(max_examples=60, stateful_step_count=20, deadline=None)
    )
