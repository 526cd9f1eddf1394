"""Hypothesis properties: round trip, split invariance, totality, lying lengths, and a stateful
model of the whole connection. They run in the default suite (HYPOTHESIS_PROFILE=ci)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from uwsgi_wire import drive, encode_vars, failure, header, nginx_vars, normalize, packet, split

from asgiserver.uwsgi import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Response,
    ServerConnection,
    State,
)

Pairs = list[tuple[bytes, bytes]]

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Header names that survive HTTP_NAME -> name: lowercase, no "_" (it reads back as "-").
NAME_CHARS = "!#$%&'*+-.^`|~0123456789abcdefghijklmnopqrstuvwxyz"
SPECIAL = {b"host", b"content-type", b"content-length", b"transfer-encoding"}
KNOWN = {
    b"REQUEST_METHOD",
    b"REQUEST_URI",
    b"PATH_INFO",
    b"QUERY_STRING",
    b"SCRIPT_NAME",
    b"SERVER_PROTOCOL",
    b"REQUEST_SCHEME",
    b"UWSGI_SCHEME",
    b"HTTPS",
    b"CONTENT_TYPE",
    b"CONTENT_LENGTH",
    b"REMOTE_ADDR",
    b"REMOTE_PORT",
    b"SERVER_NAME",
    b"SERVER_ADDR",
    b"SERVER_PORT",
}
PATH_SAFE = "/!$&'()*+,;=:@"  # RFC 3986 pchar, besides quote()'s own unreserved set
HINTS = {400, 413, 431, 501}


def no_crlf_nul(b: bytes) -> bytes:
    return b.translate(None, b"\r\n\x00")


def ascii_from(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[bytes]:
    chars = [c.encode() for c in alphabet]
    return st.lists(st.sampled_from(chars), min_size=min_size, max_size=max_size).map(b"".join)


# No st.text() or st.characters() in this file: nox runs pytest under `python -bb`, and
# Hypothesis' internal caches then compare a str choice with a bytes choice of equal hash
# (hash("ab") == hash(b"ab")) and fail with BytesWarning. Text is built from int choices.
code_points = st.one_of(st.integers(0x20, 0x7E), st.integers(0, 0x10FFFF)).filter(
    lambda c: not 0xD800 <= c <= 0xDFFF
)
values = st.binary(max_size=16).map(no_crlf_nul)
methods = ascii_from(TCHAR, 1, 8)
header_names = ascii_from(NAME_CHARS, 1, 10)
paths = st.lists(code_points, max_size=12).map(lambda cs: "/" + "".join(map(chr, cs)))
ports = st.integers(0, 65535)
hosts = ascii_from("abcdefghijklmnopqrstuvwxyz0123456789.-:", 1, 12).map(bytes.decode)
SCHEMES: list[tuple[str, Pairs]] = [
    ("http", []),
    ("http", [(b"REQUEST_SCHEME", b"http")]),
    ("https", [(b"REQUEST_SCHEME", b"https")]),
    ("https", [(b"HTTPS", b"on")]),
    ("https", [(b"REQUEST_SCHEME", b"http"), (b"HTTPS", b"on")]),
    ("http", [(b"UWSGI_SCHEME", b"http"), (b"HTTPS", b"on")]),
    ("https", [(b"UWSGI_SCHEME", b"https"), (b"REQUEST_SCHEME", b"http")]),
]
VERSIONS: list[tuple[str, Pairs]] = [
    ("1.0", [(b"SERVER_PROTOCOL", b"HTTP/1.0")]),
    ("1.1", [(b"SERVER_PROTOCOL", b"HTTP/1.1")]),
    ("2", [(b"SERVER_PROTOCOL", b"HTTP/2.0")]),
    ("1.1", []),
]


@dataclass
class Case:
    """A request as nginx would encode it, and the Request the parser must give back."""

    pairs: Pairs
    body: bytes
    expected: Request


@st.composite
def cases(draw: st.DrawFn) -> Case:
    method = draw(methods)
    path = draw(paths)
    path_bytes = path.encode()
    raw_path = quote(path_bytes, safe=PATH_SAFE).encode()
    query = draw(st.binary(max_size=12))
    target = draw(st.sampled_from(["nginx", "no-query-var", "no-path-info", "no-uri"]))
    cgi: Pairs = [(b"REQUEST_METHOD", method)]
    if target != "no-uri":
        cgi.append((b"REQUEST_URI", raw_path + (b"?" + query if query else b"")))
    if target != "no-path-info":
        cgi.append((b"PATH_INFO", path_bytes))
    if target != "no-query-var":
        cgi.append((b"QUERY_STRING", query))
    root_path = draw(st.one_of(st.just(""), paths))
    if root_path:
        cgi.append((b"SCRIPT_NAME", root_path.encode()))
    version, version_pairs = draw(st.sampled_from(VERSIONS))
    scheme, scheme_pairs = draw(st.sampled_from(SCHEMES))
    cgi += version_pairs + scheme_pairs

    body = draw(st.binary(max_size=64))
    length = b"%d" % len(body) if body else draw(st.sampled_from([b"", b"0", None]))
    content_type = draw(st.none() | values.filter(bool))
    front: Pairs = []
    if content_type is not None:
        cgi.append((b"CONTENT_TYPE", content_type))
        front.append((b"content-type", content_type))
    if length is not None:
        cgi.append((b"CONTENT_LENGTH", length))
        if length:
            front.append((b"content-length", length))

    client = draw(st.none() | st.tuples(hosts, ports))
    if client is not None:
        cgi += [(b"REMOTE_ADDR", client[0].encode()), (b"REMOTE_PORT", b"%d" % client[1])]
    server = draw(st.none() | st.tuples(hosts, st.none() | ports))
    if server is not None:
        cgi.append((b"SERVER_NAME", server[0].encode()))
        if server[1] is not None:
            cgi.append((b"SERVER_PORT", b"%d" % server[1]))
    cgi += draw(
        st.lists(
            st.tuples(
                st.binary(max_size=8).filter(lambda k: k not in KNOWN and k[:5] != b"HTTP_"),
                st.binary(max_size=8),
            ),
            max_size=4,
        )
    )
    cgi = draw(st.permutations(cgi))

    headers: Pairs = []
    host = draw(st.none() | values)
    if host is not None:
        headers.append((b"host", host))
    names = header_names.filter(lambda n: n not in SPECIAL)
    headers += draw(st.lists(st.tuples(names, values), max_size=6))
    http: Pairs = [(b"HTTP_" + n.upper().replace(b"-", b"_"), v) for n, v in headers]
    if content_type is not None:
        http.append((b"HTTP_CONTENT_TYPE", content_type))  # nginx sends both; we keep one
    if body:
        http.append((b"HTTP_CONTENT_LENGTH", length or b""))
    # Interleave the HTTP_* vars (in order) among the CGI vars.
    slots = draw(st.lists(st.booleans(), min_size=len(cgi) + len(http)))
    pairs: Pairs = []
    ci, hi = iter(cgi), iter(http)
    for take_http in slots:
        nxt = next(hi if take_http else ci, None) or next(ci if take_http else hi, None)
        if nxt is not None:
            pairs.append(nxt)
    pairs += list(ci) + list(hi)
    assert len(pairs) == len(cgi) + len(http)

    expected = Request(
        method,
        raw_path,
        path,
        query,
        root_path,
        version,
        scheme,
        front + headers,
        client,
        server,
        dict(pairs),
    )
    return Case(pairs, body, expected)


def expected_events(case: Case) -> list[object]:
    events: list[Event] = [case.expected]
    if case.body:
        events.append(Data(case.body))
    events += [EndOfMessage(), ConnectionClosed()]
    return normalize(events)


# -- 1. round trip -------------------------------------------------------------------------


@given(cases())
def test_round_trip(case: Case) -> None:
    conn, events = drive([packet(case.pairs, case.body)])
    assert normalize(events) == expected_events(case)
    assert conn.their_state is State.CLOSED


# -- 2. split invariance -------------------------------------------------------------------


@st.composite
def near_valid_wires(draw: st.DrawFn) -> bytes:
    case = draw(cases())
    wire = packet(case.pairs, case.body) + draw(st.binary(max_size=8))
    how = draw(st.sampled_from(["as is", "flip", "truncate", "insert", "delete"]))
    at = draw(st.integers(0, len(wire) - 1))
    if how == "flip":
        wire = wire[:at] + bytes([draw(st.integers(0, 255))]) + wire[at + 1 :]
    elif how == "truncate":
        wire = wire[:at]
    elif how == "insert":
        wire = wire[:at] + draw(st.binary(min_size=1, max_size=4)) + wire[at:]
    elif how == "delete":
        wire = wire[:at] + wire[at + 1 :]
    return wire


@given(wire=near_valid_wires(), data=st.data())
def test_split_invariance(wire: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=12))
    whole = normalize(drive([wire])[1])
    assert normalize(drive(split(wire, cuts))[1]) == whole


@given(case=cases())
def test_one_byte_at_a_time(case: Case) -> None:
    wire = packet(case.pairs, case.body)
    events = drive([wire[i : i + 1] for i in range(len(wire))])[1]
    assert normalize(events) == expected_events(case)


# -- 3. totality ---------------------------------------------------------------------------


def check_total(chunks: list[bytes], limits: Limits, eof: bool) -> None:
    conn = ServerConnection(limits)
    events: list[Event] = []
    bound = 4 + limits.max_vars_bytes
    for chunk in chunks:
        conn.receive_data(chunk)
        events += conn.events_received()
        assert conn.pending_bytes <= bound
    if eof:
        conn.receive_eof()
        events += conn.events_received()
    kinds = (Request, Data, EndOfMessage, ConnectionClosed, ConnectionFailed)
    assert all(type(e) in kinds for e in events)
    assert all(type(e) is not ConnectionFailed for e in events[:-1])
    if events and type(events[-1]) is ConnectionFailed:
        error = events[-1].error
        assert isinstance(error, RemoteProtocolError)
        assert error.status_hint in HINTS
        assert conn.their_state is State.ERROR
        assert conn.pending_bytes == 0
    elif eof:
        assert events[-1] == ConnectionClosed()
        assert conn.their_state is State.CLOSED
    requests = [e for e in events if type(e) is Request]
    assert len(requests) <= 1


random_blobs = st.one_of(
    st.binary(max_size=512),
    # Reach the vars parser: a valid packet header before random bytes.
    st.tuples(st.integers(0, 600), st.binary(max_size=600)).map(lambda t: header(t[0]) + t[1]),
    near_valid_wires(),
)
limits = st.builds(
    Limits,
    max_vars_bytes=st.sampled_from([0, 16, 300, 64 * 1024]),
    max_body_bytes=st.sampled_from([None, 0, 10]),
)


@example(blob=b"\x00\x00\x00\x00", lim=Limits(), cuts=[], eof=True)
@example(blob=header(3) + b"\x01\x00", lim=Limits(), cuts=[5], eof=False)
@given(blob=random_blobs, lim=limits, cuts=st.lists(st.integers(0, 1200)), eof=st.booleans())
def test_totality(blob: bytes, lim: Limits, cuts: list[int], eof: bool) -> None:
    check_total(split(blob, [c for c in cuts if c <= len(blob)]), lim, eof)


# -- 4. lengths that lie are always rejected -----------------------------------------------


def offsets(pairs: Pairs) -> list[tuple[int, int]]:
    """(offset of the key length field, offset of the value length field) per pair."""
    out, pos = [], 0
    for k, v in pairs:
        out.append((pos, pos + 2 + len(k)))
        pos += 4 + len(k) + len(v)
    return out


@given(case=cases(), data=st.data())
def test_overstated_key_or_value_length(case: Case, data: st.DataObject) -> None:
    block = bytearray(encode_vars(case.pairs))
    index = data.draw(st.integers(0, len(case.pairs) - 1))
    field = offsets(case.pairs)[index][data.draw(st.integers(0, 1))]
    # Any length whose end lies past the block end.
    room = len(block) - (field + 2)
    assume(room < 0xFFFF)
    struct.pack_into("<H", block, field, data.draw(st.integers(room + 1, 0xFFFF)))
    _conn, events = drive([header(len(block)) + bytes(block) + case.body])
    error = failure(events).error
    assert error.status_hint == 400
    assert len(events) == 1  # no Request built from a lying block


@given(case=cases(), data=st.data())
def test_datasize_cutting_inside_a_pair(case: Case, data: st.DataObject) -> None:
    block = encode_vars(case.pairs)
    boundaries = {0}
    for k, v in case.pairs:
        boundaries.add(max(boundaries) + 4 + len(k) + len(v))
    inside = [i for i in range(1, len(block)) if i not in boundaries]
    assume(inside)
    size = data.draw(st.sampled_from(inside))
    _conn, events = drive([header(size) + block + case.body])
    error = failure(events).error
    assert error.status_hint == 400
    assert len(events) == 1


@given(case=cases(), extra=st.integers(1, 100))
def test_datasize_past_the_input(case: Case, extra: int) -> None:
    block = encode_vars(case.pairs)
    _conn, events = drive([header(len(block) + extra) + block])
    assert str(failure(events).error).startswith("EOF after")
    assert len(events) == 1


@given(case=cases(), missing=st.integers(1, 100))
def test_content_length_past_the_input(case: Case, missing: int) -> None:
    assume(case.body)
    pairs = [(k, v) for k, v in case.pairs if k not in (b"CONTENT_LENGTH", b"HTTP_CONTENT_LENGTH")]
    pairs.append((b"CONTENT_LENGTH", b"%d" % (len(case.body) + missing)))
    _conn, events = drive([packet(pairs, case.body)])
    assert str(failure(events).error).startswith(f"EOF after {len(case.body)} of")
    assert b"".join(e.data for e in events if type(e) is Data) == case.body


# -- 5. stateful model ---------------------------------------------------------------------


class ConnectionMachine(RuleBasedStateMachine):
    """Random interleavings of input, EOF and sends, checked against a small model."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = ServerConnection()
        self.events: list[Event] = []
        self.out = b""
        self.offset = 0
        self.eof = False
        self.our = State.IDLE
        self.expected_out = b""
        self.declared: int | None = None
        self.sent = 0
        self.no_body = False

    @initialize(method=st.sampled_from([b"GET", b"HEAD", b"POST"]), body=st.binary(max_size=40))
    def setup(self, method: bytes, body: bytes) -> None:
        self.method = method
        self.body = body
        self.wire = packet(nginx_vars(method, body=body), body)
        self.head_len = len(self.wire) - len(body)

    def their_model(self) -> State:
        if self.eof:
            clean = self.offset == 0 or self.offset >= len(self.wire)
            return State.CLOSED if clean else State.ERROR
        if self.offset == 0:
            return State.IDLE
        if self.offset < self.head_len:
            return State.HEAD
        if self.offset < len(self.wire):
            return State.SEND_BODY
        return State.DONE

    def drain(self) -> None:
        self.events += self.conn.events_received()
        self.out += b"".join(self.conn.data_to_send())

    @precondition(lambda self: not self.eof)
    @rule(n=st.integers(1, 80))
    def feed(self, n: int) -> None:
        chunk = self.wire[self.offset : self.offset + n] or b"ignored"
        self.offset += len(chunk) if self.offset < len(self.wire) else 0
        self.conn.receive_data(chunk)
        self.drain()

    @precondition(lambda self: not self.eof)
    @rule()
    def eof_(self) -> None:
        before = self.their_model()
        self.eof = True
        self.conn.receive_eof()
        self.drain()
        if before is State.IDLE and self.our is State.IDLE:
            self.our = State.MUST_CLOSE
        if self.their_model() is State.ERROR and self.our is State.SEND_BODY:
            self.our = State.MUST_CLOSE

    @rule(status=st.sampled_from([200, 204, 404]), length=st.none() | st.integers(0, 6))
    def respond(self, status: int, length: int | None) -> None:
        headers = [] if length is None else [(b"content-length", b"%d" % length)]
        allowed = self.our is State.IDLE and self.their_model() not in (State.IDLE, State.HEAD)
        try:
            self.conn.send(Response(status, headers))
        except LocalProtocolError:
            assert not allowed
            return
        assert allowed
        self.our = State.SEND_BODY
        # The method is known only once the head has parsed (pinned in test_send.py).
        head_request = self.method == b"HEAD" and self.offset >= self.head_len
        self.no_body = head_request or status == 204
        self.declared = None if self.no_body else length
        self.expected_out += b"HTTP/1.1 %d " % status
        self.drain()
        if status == 204:  # RFC 9110 section 8.6
            assert b"content-length" not in self.out

    @rule(data=st.binary(max_size=4))
    def send_data(self, data: bytes) -> None:
        allowed = self.our is State.SEND_BODY
        over = self.declared is not None and self.sent + len(data) > self.declared
        try:
            self.conn.send(Data(data))
        except LocalProtocolError:
            assert not allowed or over
            if allowed:
                self.our = State.ERROR
            return
        assert allowed and not over
        self.sent += len(data)
        if not self.no_body:
            self.expected_out += data
        self.drain()

    @rule()
    def send_end(self) -> None:
        allowed = self.our is State.SEND_BODY
        short = self.declared is not None and self.sent < self.declared
        try:
            self.conn.send(EndOfMessage())
        except LocalProtocolError:
            assert not allowed or short
            if allowed:
                self.our = State.ERROR
            return
        assert allowed and not short
        self.our = State.DONE

    @invariant()
    def states_follow_the_model(self) -> None:
        if not hasattr(self, "wire"):
            return
        assert self.conn.their_state is self.their_model()
        assert self.conn.our_state is self.our
        assert self.conn.close_expected() is (
            self.our in (State.DONE, State.MUST_CLOSE, State.ERROR)
        )

    @invariant()
    def events_follow_the_model(self) -> None:
        if not hasattr(self, "wire"):
            return
        kinds = [type(e) for e in self.events]
        assert kinds.count(Request) == (1 if self.offset >= self.head_len else 0)
        body = b"".join(e.data for e in self.events if type(e) is Data)
        assert body == self.body[: max(0, self.offset - self.head_len)]
        assert kinds.count(EndOfMessage) == (1 if self.offset >= len(self.wire) else 0)
        their = self.their_model()
        assert kinds.count(ConnectionClosed) == (1 if their is State.CLOSED else 0)
        assert kinds.count(ConnectionFailed) == (1 if their is State.ERROR else 0)
        if their is State.ERROR:
            assert kinds[-1] is ConnectionFailed

    @invariant()
    def output_follows_the_model(self) -> None:
        # Heads are compared up to the reason phrase; bodies exactly.
        out, expected = self.out, self.expected_out
        if expected:
            status_line = expected[: len(b"HTTP/1.1 200 ")]
            assert out.startswith(status_line)
            head_end = out.index(b"\r\n\r\n") + 4
            assert out[head_end:] == expected[len(status_line) :]
        else:
            assert out == b""


TestConnectionMachine = ConnectionMachine.TestCase
