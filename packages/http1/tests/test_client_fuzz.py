"""ClientConnection properties: our client and our server talk through both packages (every
event on one side is what the other sent, however the bytes are split), random response bytes
only give our own errors, and response parsing agrees with h11's client role.

These run in the default suite (HYPOTHESIS_PROFILE=ci); the ``fuzz`` profile runs them longer.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from _helpers import normalize, split_at
from _strategies import field_names, field_values, hosts, methods, targets
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from asgiserver.http1 import (
    ClientConnection,
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Limits,
    RemoteProtocolError,
    Request,
    Response,
    ServerConnection,
    State,
)


@dataclass
class Cycle:
    request: Request
    body: list[bytes]
    trailers: list[tuple[bytes, bytes]]
    expect: bool
    early_hints: list[tuple[bytes, bytes]] | None
    response: Response
    response_body: list[bytes]
    response_trailers: list[tuple[bytes, bytes]]


_fields = st.lists(st.tuples(field_names, field_values), max_size=4)
_pieces = st.lists(st.binary(max_size=24), max_size=3)


@st.composite
def cycles(draw: st.DrawFn) -> Cycle:
    method = draw(methods.filter(lambda m: m not in (b"OPTIONS", b"CONNECT")))
    headers = [(b"Host", draw(hosts)), *draw(_fields)]
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    body = draw(_pieces) if framing != "none" else []
    trailers = draw(_fields) if framing == "chunked" else []
    if framing == "length":
        headers.append((b"Content-Length", b"%d" % sum(map(len, body))))
    elif framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
    expect = (framing == "chunked" or any(body)) and draw(st.booleans())
    if expect:
        headers.append((b"Expect", b"100-continue"))
    te_trailers = draw(st.booleans())
    if te_trailers:
        headers.append((b"TE", b"trailers"))
    request = Request(method, draw(targets), headers)

    status = draw(st.sampled_from([200, 201, 204, 304, 404, 500, 599]))
    response_headers = draw(_fields)
    response_body = draw(_pieces)
    sized = status not in (204, 304) and draw(st.booleans())
    if sized:
        response_headers.append((b"Content-Length", b"%d" % sum(map(len, response_body))))
    no_body = method == b"HEAD" or status in (204, 304)
    chunked = not sized and not no_body
    response_trailers = draw(_fields) if chunked and te_trailers else []
    hints = draw(st.none() | _fields)
    return Cycle(
        request,
        body,
        trailers,
        expect,
        hints,
        Response(status, response_headers),
        [] if no_body else response_body,
        response_trailers,
    )


def _lower(fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(n.lower(), v) for n, v in fields]


def _deliver(
    conn: ClientConnection | ServerConnection, data: bytes, cuts: list[int]
) -> list[Event]:
    events: list[Event] = []
    for chunk in split_at(data, cuts):
        conn.receive_data(chunk)
        events += conn.events_received()
    return events


def _stripped(fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(n.lower(), v.strip(b" \t")) for n, v in fields]


@given(st.lists(cycles(), min_size=1, max_size=3), st.data())
@settings(max_examples=120)
def test_client_and_server_agree(sequence: list[Cycle], data: st.DataObject) -> None:
    """Each event one side receives is what the other sent; any split gives the same events."""
    client = ClientConnection()
    server = ServerConnection()
    cut = st.lists(st.integers(0, 400), max_size=6)
    for cycle in sequence:
        request = cycle.request
        client.send(request)
        head = b"".join(client.data_to_send())
        got = _deliver(server, head, data.draw(cut))
        assert normalize(got)[:1] == [
            ("request", request.method, request.target, tuple(_stripped(request.headers)), b"1.1")
        ]
        if cycle.expect:
            assert client.expect_continue and server.expect_continue
            server.send(InformationalResponse(100))
            got = _deliver(client, b"".join(server.data_to_send()), data.draw(cut))
            assert got == [InformationalResponse(100, [], b"Continue")]
            assert not client.expect_continue
        for piece in cycle.body:
            client.send(Data(piece))
        client.send(EndOfMessage(cycle.trailers))
        got += _deliver(server, b"".join(client.data_to_send()), data.draw(cut))
        expected_body = b"".join(cycle.body)
        tail = [("data", expected_body)] if expected_body else []
        assert normalize(got)[1:] == [*tail, ("end", tuple(_stripped(cycle.trailers)))]

        if cycle.early_hints is not None:
            server.send(InformationalResponse(103, cycle.early_hints))
        server.send(cycle.response)
        for piece in cycle.response_body:
            server.send(Data(piece))
        server.send(EndOfMessage(cycle.response_trailers))
        assert server.our_state is State.IDLE  # kept alive
        got = _deliver(client, b"".join(server.data_to_send()), data.draw(cut))
        if cycle.early_hints is not None:
            assert got.pop(0) == InformationalResponse(
                103, _stripped(cycle.early_hints), b"Early Hints"
            )
        response = got[0]
        assert type(response) is Response and response.status == cycle.response.status
        sent = _stripped(list(cycle.response.headers))
        assert response.headers[: len(sent)] == sent
        assert set(response.headers[len(sent) :]) <= {(b"transfer-encoding", b"chunked")}
        body = b"".join(cycle.response_body)
        tail = [("data", body)] if body else []
        expected_trailers = tuple(_stripped(cycle.response_trailers))
        assert normalize(got)[1:] == [*tail, ("end", expected_trailers)]
        assert client.our_state is client.their_state is State.IDLE
    client.receive_eof()
    assert client.events_received() == [ConnectionClosed()]


@given(st.lists(cycles(), min_size=2, max_size=4), st.data())
@settings(max_examples=60)
def test_pipelined_through_both_sides(sequence: list[Cycle], data: st.DataObject) -> None:
    """Requests sent back to back are answered in order; the client matches them up (HEAD,
    204 and 304 included, which only the request tells apart)."""
    sequence = [c for c in sequence if not c.expect]
    client = ClientConnection()
    server = ServerConnection()
    for cycle in sequence:
        client.send(cycle.request)
        for piece in cycle.body:
            client.send(Data(piece))
        client.send(EndOfMessage(cycle.trailers))
    wire = b"".join(client.data_to_send())
    assert client.pipelined == max(0, len(sequence) - 1)
    server.receive_data(wire)
    out: list[bytes] = []
    for cycle in sequence:
        events = server.events_received()
        assert type(events[0]) is Request and events[0].target == cycle.request.target
        server.send(cycle.response)
        for piece in cycle.response_body:
            server.send(Data(piece))
        server.send(EndOfMessage(cycle.response_trailers))
        out += server.data_to_send()
    got = _deliver(client, b"".join(out), data.draw(st.lists(st.integers(0, 2000), max_size=8)))
    statuses = [e.status for e in got if type(e) is Response]
    assert statuses == [c.response.status for c in sequence]
    bodies = b"".join(e.data for e in got if type(e) is Data)
    assert bodies == b"".join(b"".join(c.response_body) for c in sequence)
    assert client.pipelined == 0 and client.our_state is State.IDLE


_RESPONSE_PREFIXES = [
    b"",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n",
]
_small = Limits(
    max_status_line_bytes=32,
    max_header_bytes=128,
    max_header_count=4,
    max_body_bytes=100,
    max_chunk_extension_bytes=16,
)


@given(st.sampled_from(_RESPONSE_PREFIXES), st.binary(max_size=400), st.data(), st.booleans())
@example(b"", b"\r", None, True)
@example(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", b"1\r\nx\r", None, True)
def test_totality(prefix: bytes, blob: bytes, data: st.DataObject | None, head: bool) -> None:
    """Random response bytes only ever give our errors, in band and last; never an exception."""
    wire = prefix + blob
    chunks = [wire] if data is None else split_at(wire, data.draw(st.lists(st.integers(0, 500))))
    for limits in (None, _small):
        conn = ClientConnection(limits=limits)
        conn.send(Request(b"HEAD" if head else b"GET", b"/", [(b"host", b"a")]))
        conn.send(EndOfMessage())
        events: list[Event] = []
        for chunk in chunks:
            conn.receive_data(chunk)
            events += conn.events_received()
        conn.receive_eof()
        events += conn.events_received()
        assert events, "EOF always ends with an event"
        for i, ev in enumerate(events):
            assert type(ev) in (
                InformationalResponse,
                Response,
                Data,
                EndOfMessage,
                ConnectionClosed,
                ConnectionFailed,
            )
            if type(ev) in (ConnectionClosed, ConnectionFailed):
                assert i == len(events) - 1
            if type(ev) is ConnectionFailed:
                assert isinstance(ev.error, RemoteProtocolError)
                assert conn.close_expected()
        assert type(events[-1]) in (ConnectionClosed, ConnectionFailed)


# ---------------------------------------------------------------- differential against h11

_status_codes = st.sampled_from([b"100", b"103", b"200", b"204", b"206", b"304", b"404", b"599"])
_ows = st.sampled_from([b"", b" ", b"\t", b"  "])


@st.composite
def response_wires(draw: st.DrawFn) -> bytes:
    """A valid response (preceded by 1xx sometimes), framed any of the ways RFC 9112 allows."""
    wire = b""
    if draw(st.booleans()):
        wire += b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
    code = draw(_status_codes.filter(lambda c: not c.startswith(b"1")))
    reason = draw(st.sampled_from([b" OK", b" ", b" Some reason", b" caf\xe9"]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    head = b"HTTP/%s %s%s\r\n" % (version, code, reason)
    for name, value in draw(_fields):
        head += name + b":" + draw(_ows) + value + draw(_ows) + b"\r\n"
    body = draw(st.binary(max_size=40))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    if version == b"1.0" and framing == "chunked":
        framing = "length"
    if framing == "length":
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        rest = body
    elif framing == "chunked":
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        rest = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n"
        for name, value in draw(_fields):
            rest += name + b": " + value + b"\r\n"
        rest += b"\r\n"
    else:
        head += b"\r\n"
        rest = body
    if code in (b"204", b"304"):
        rest = b""
    return wire + head + rest


_MUTATIONS = [
    lambda w: w.replace(b"\r\n", b"\n", 1),
    lambda w: w.replace(b"\r\n\r\n", b"\r\n\n", 1),
    lambda w: w.replace(b"\r\n", b"\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n", 1),
    lambda w: w.replace(b"\r\n", b"\r\nContent-Length: 1\r\nContent-Length: 2\r\n", 1),
    lambda w: w.replace(b"\r\n", b"\r\nX-Fold: a\r\n b\r\n", 1),
    lambda w: w.replace(b"\r\n", b"\r\nX-Sp : a\r\n", 1),
    lambda w: w.replace(b"\r\n", b"\r\nX: a\x00b\r\n", 1),
    lambda w: w.replace(b"\r\n", b"\r\nContent-Length: -1\r\n", 1),
    lambda w: w.replace(b"HTTP/1.", b"HTTP/2.", 1),
    lambda w: w.replace(b"HTTP/1.1 ", b"HTTP/1.1  ", 1),
    lambda w: w[: len(w) // 2],
    lambda w: w.replace(b"0\r\n\r\n", b"0\r\n", 1),
    lambda w: w.replace(b"\r\n0\r\n", b"\r\nz\r\n", 1),
]


def _ours(wire: bytes) -> list[tuple[object, ...]] | None:
    conn = ClientConnection()
    conn.send(Request(b"GET", b"/", [(b"host", b"a")]))
    conn.send(EndOfMessage())
    conn.receive_data(wire)
    conn.receive_eof()
    events = conn.events_received()
    if any(type(e) is ConnectionFailed for e in events):
        return None
    out: list[tuple[object, ...]] = []
    for ev in events:
        if type(ev) in (InformationalResponse, Response):
            out.append((type(ev).__name__, ev.status, tuple(ev.headers), ev.reason))  # type: ignore[union-attr]
        else:
            out += normalize([ev])
    return out


def _h11(wire: bytes) -> list[tuple[object, ...]] | None:
    h11 = pytest.importorskip("h11")
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("host", "a")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(wire)
    conn.receive_data(b"")
    out: list[tuple[object, ...]] = []
    try:
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                return out
            if type(ev) in (h11.InformationalResponse, h11.Response):
                name = (
                    "InformationalResponse" if type(ev) is h11.InformationalResponse else "Response"
                )
                out.append((name, ev.status_code, tuple(ev.headers), ev.reason))
            elif type(ev) is h11.Data:
                if out and out[-1][0] == "data":
                    out[-1] = ("data", out[-1][1] + bytes(ev.data))  # type: ignore[operator]
                else:
                    out.append(("data", bytes(ev.data)))
            elif type(ev) is h11.EndOfMessage:
                out.append(("end", tuple(ev.headers)))
            elif type(ev) is h11.ConnectionClosed:
                out.append(("ConnectionClosed",))
                return out
    except h11.RemoteProtocolError:
        return None


def _te_lowered(events: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """h11 lowercases Transfer-Encoding values; compare on that footing."""
    return [
        (
            e[0],
            e[1],
            tuple((n, v.lower() if n == b"transfer-encoding" else v) for n, v in e[2]),
            e[3],
        )  # type: ignore[union-attr, attr-defined]
        if e[0] in ("Response", "InformationalResponse")
        else e
        for e in events
    ]


@given(response_wires(), st.sampled_from([None, *range(len(_MUTATIONS))]))
def test_agrees_with_h11_client(wire: bytes, mutation: int | None) -> None:
    """Differential: on valid responses h11's client role sees the same events; on near-valid
    ones we are never more lenient than h11 (and reject some it takes, e.g. a bare LF)."""
    if mutation is not None:
        mutated = _MUTATIONS[mutation](wire)
        assume(mutated != wire)
        wire = mutated
    theirs = _h11(wire)
    ours = _ours(wire)
    if mutation is None:
        assert theirs is not None
        assert ours is not None and _te_lowered(ours) == theirs
    elif ours is not None:
        assert theirs is not None and _te_lowered(ours) == theirs
