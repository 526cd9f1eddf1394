"""Hypothesis properties: round trips both ways, split invariance, totality, and a stateful model."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from ws_helpers import Client, close_frame, drive, first_invalid_utf8, frame, normalize

from asgiserver.ws import (
    BytesMessage,
    ClientConnection,
    Close,
    CloseReceived,
    ConnectionClosed,
    ConnectionFailed,
    Event,
    Limits,
    LocalProtocolError,
    PerMessageDeflate,
    Ping,
    Pong,
    ServerConnection,
    State,
    TextMessage,
)

EVENT_TYPES = (
    TextMessage,
    BytesMessage,
    Ping,
    Pong,
    CloseReceived,
    ConnectionClosed,
    ConnectionFailed,
)
SMALL = Limits(max_message_bytes=1000, max_frame_bytes=600)
KOSME = (
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5".decode()
)  # Greek "kosme", Autobahn's 6.4.x text

# Text is built from code points, not st.text(): under `python -bb` hypothesis' own cache compares
# a str choice with a bytes choice of equal hash (b"" and "") and raises BytesWarning.
code_points = st.one_of(
    st.integers(0x00, 0x7F),
    st.integers(0x80, 0x7FF),
    st.integers(0x800, 0xD7FF),
    st.integers(0xE000, 0x10FFFF),
)


def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.lists(code_points, max_size=max_size).map(lambda cps: "".join(map(chr, cps)))


messages = st.one_of(
    texts(200).map(TextMessage),
    st.binary(max_size=200).map(BytesMessage),
    # Compressible payloads, so back-references and context takeover are exercised.
    st.sampled_from([b"abc", b"Hello", b"\x00" * 7]).flatmap(
        lambda unit: st.integers(0, 300).map(lambda n: BytesMessage(unit * n))
    ),
)
masks = st.binary(min_size=4, max_size=4)
deflates = st.one_of(
    st.none(),
    st.builds(
        PerMessageDeflate,
        server_no_context_takeover=st.booleans(),
        client_no_context_takeover=st.booleans(),
        server_max_window_bits=st.integers(9, 15),
        client_max_window_bits=st.integers(8, 15),
    ),
)
control_payloads = st.binary(max_size=125)
close_reasons = texts(30)  # at most 120 bytes of UTF-8
valid_codes = st.one_of(st.integers(1000, 1003), st.integers(1007, 1014), st.integers(3000, 4999))


def connection(deflate: PerMessageDeflate | None, limits: Limits | None = None) -> ServerConnection:
    return ServerConnection(limits=limits or Limits(), extensions=[deflate] if deflate else [])


@st.composite
def client_wires(draw: st.DrawFn, deflate: PerMessageDeflate | None) -> bytes:
    """A valid client byte stream, possibly ending with a close or with a damaged byte."""
    client = Client(deflate)
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["message", "message", "ping", "pong", "close"]))
        if kind == "message":
            parts.append(
                client.message(
                    draw(messages),
                    cuts=draw(st.lists(st.integers(1, 400), max_size=3)),
                    masks=draw(st.lists(masks, min_size=1, max_size=2)),
                    compress=deflate is not None and draw(st.booleans()),
                )
            )
        elif kind == "ping" or kind == "pong":
            parts.append(frame(0x9 if kind == "ping" else 0xA, draw(control_payloads)))
        else:
            parts.append(close_frame(draw(valid_codes), draw(close_reasons).encode()))
    wire = b"".join(parts)
    if wire and draw(st.booleans()):
        i = draw(st.integers(0, len(wire) - 1))
        wire = wire[:i] + bytes([draw(st.integers(0, 255))]) + wire[i + 1 :]
    return wire


def check_total(conn: ServerConnection, events: list[Event], sent: bytes) -> None:
    """Only our events; a failure is last, carries 1002/1007/1009, and its close frame is sent."""
    assert all(type(e) in EVENT_TYPES for e in events)
    failures = [i for i, e in enumerate(events) if type(e) is ConnectionFailed]
    if failures:
        assert failures == [len(events) - 1]
        last = events[-1]
        assert type(last) is ConnectionFailed
        code = last.error.close_code
        assert code in (1002, 1007, 1009)
        close = Client().decode(sent[sent.rfind(b"\x88") :])[-1]
        assert type(close) is Close
        assert close.code == code
        assert conn.close_expected()
    # The buffer never holds more than one incomplete frame, bounded by the frame limit.
    assert len(conn._buf) < 14 + max(125, conn.limits.max_frame_bytes)


# -- round trips -----------------------------------------------------------------------------------


@given(deflate=deflates, data=st.data())
def test_client_messages_round_trip(deflate: PerMessageDeflate | None, data: st.DataObject) -> None:
    """Random messages, fragmentations, masks and compression parse back unchanged (§5.3, §5.4)."""
    client = Client(deflate)
    sent_messages = data.draw(st.lists(messages, max_size=6))
    wire = b"".join(
        client.message(
            m,
            cuts=data.draw(st.lists(st.integers(1, 400), max_size=4)),
            masks=data.draw(st.lists(masks, min_size=1, max_size=3)),
            compress=deflate is not None and data.draw(st.booleans()),
        )
        for m in sent_messages
    )
    # The tightest limit that fits: a message exactly at max_message_bytes is accepted.
    largest = max(
        (len(m.text.encode() if type(m) is TextMessage else m.data) for m in sent_messages),
        default=0,
    )
    events, sent = drive(connection(deflate, Limits(max_message_bytes=largest)), [wire])
    assert events == sent_messages
    assert sent == b""


@given(
    deflate=deflates,
    outgoing=st.lists(
        st.one_of(messages, control_payloads.map(Ping), control_payloads.map(Pong)), max_size=8
    ),
    close=st.one_of(st.none(), st.builds(Close, valid_codes, close_reasons)),
)
def test_server_frames_decode_to_what_was_sent(
    deflate: PerMessageDeflate | None,
    outgoing: list[TextMessage | BytesMessage | Ping | Pong],
    close: Close | None,
) -> None:
    """Our frames, read by an independent decoder, give back what was sent (§5.1, RFC 7692 §7.2.1)."""
    conn = connection(deflate)
    expected: list[object] = list(outgoing)
    for event in outgoing:
        conn.send(event)
    if close is not None:
        conn.send(close)
        expected.append(close)
    assert Client(deflate).decode(b"".join(conn.data_to_send())) == expected


# -- send_text / send_bytes are send() without the event object ------------------------------------


def _in_state(
    role: str, deflate: PerMessageDeflate | None, state: State
) -> ServerConnection | ClientConnection:
    """A connection of ``role`` brought to ``state`` through the public API."""
    ext = [deflate] if deflate else []
    if role == "server":
        conn: ServerConnection | ClientConnection = ServerConnection(extensions=ext)
        peer_close = close_frame(1000)
        bad = frame(0x2, b"x", mask=None)
    else:
        conn = ClientConnection(extensions=ext, random=lambda n: b"\x01\x80\xfe\x37")
        peer_close = frame(0x8, b"\x03\xe8", mask=None)
        bad = frame(0x2, b"x")
    if state is State.CLOSING:
        conn.send(Close())
    elif state is State.FAILING:
        conn.receive_data(bad)
    elif state is State.CLOSED:
        conn.receive_data(peer_close)
    conn.events_received()
    conn.data_to_send()
    assert conn.state is state
    return conn


@given(
    role=st.sampled_from(["server", "client"]),
    deflate=deflates,
    state=st.sampled_from(list(State)),
    outgoing=st.lists(
        st.one_of(messages, st.just(TextMessage("\ud800 lone surrogate"))), min_size=1, max_size=4
    ),
)
@example(  # around the last 7-bit length (§5.2), in characters and in bytes
    role="server",
    deflate=None,
    state=State.OPEN,
    outgoing=[
        BytesMessage(b""),
        BytesMessage(b"x" * 125),
        BytesMessage(b"x" * 126),
        TextMessage("é" * 62 + "x"),
        TextMessage("é" * 63),
    ],
)
def test_send_text_and_send_bytes_are_send_without_the_event(
    role: str,
    deflate: PerMessageDeflate | None,
    state: State,
    outgoing: list[TextMessage | BytesMessage],
) -> None:
    """Same bytes, same state, same refusals as ``send(TextMessage/BytesMessage)``, in every state,
    both roles, with and without deflate (the shortcut's fast path is a server's plain frame)."""
    # `deflates` is drawn for a server, whose inflater takes 8 bits; zlib cannot deflate with 8.
    assume(role == "server" or deflate is None or deflate.client_max_window_bits > 8)
    by_event = _in_state(role, deflate, state)
    by_method = _in_state(role, deflate, state)
    for message in outgoing:
        outcomes = []
        for conn, via_event in ((by_event, True), (by_method, False)):
            try:
                if via_event:
                    conn.send(message)
                elif type(message) is TextMessage:
                    conn.send_text(message.text)
                else:
                    conn.send_bytes(message.data)
            except LocalProtocolError as exc:
                outcomes.append(("refused", str(exc), conn.state, conn.data_to_send()))
            else:
                outcomes.append(("sent", "", conn.state, conn.data_to_send()))
        assert outcomes[0] == outcomes[1]


# -- split invariance --------------------------------------------------------------------------------


@given(deflate=deflates, data=st.data())
def test_split_points_do_not_matter(deflate: PerMessageDeflate | None, data: st.DataObject) -> None:
    wire = data.draw(client_wires(deflate))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    whole = drive(connection(deflate, SMALL), [wire], eof=True)
    split = drive(connection(deflate, SMALL), pieces, eof=True)
    assert (normalize(split[0]), split[1]) == (normalize(whole[0]), whole[1])


@given(deflate=deflates, data=st.data())
def test_one_byte_at_a_time(deflate: PerMessageDeflate | None, data: st.DataObject) -> None:
    wire = data.draw(client_wires(deflate))
    whole = drive(connection(deflate, SMALL), [wire])
    split = drive(connection(deflate, SMALL), [wire[i : i + 1] for i in range(len(wire))])
    assert (normalize(split[0]), split[1]) == (normalize(whole[0]), whole[1])


@given(
    text=texts(40),
    junk=st.binary(min_size=1, max_size=6),
    at=st.integers(0, 200),
    mask=masks,
    cuts=st.lists(st.integers(1, 300), max_size=6),
)
@example(text=KOSME + "edited", junk=b"\xf4\x90\x80\x80", at=11, mask=b"abcd", cuts=[17, 21])
@example(text=KOSME + "edited", junk=b"\xf4\x90\x80\x80", at=11, mask=b"abcd", cuts=[18, 19])
@example(text="ab", junk=b"\xed\xa0\x80", at=1, mask=b"abcd", cuts=[8, 9])
def test_invalid_utf8_fails_in_the_read_that_brings_the_first_bad_byte(
    text: str, junk: bytes, at: int, mask: bytes, cuts: list[int]
) -> None:
    """§8.1 "as soon as": one text frame, cut anywhere, fails in the read that holds the first
    byte no valid UTF-8 can have there (an independent reading of Unicode's table), not before
    and not later. The examples are Autobahn's 6.4.3 and 6.4.4, and a surrogate."""
    encoded = text.encode()
    payload = encoded[:at] + junk + encoded[at:]
    wire = frame(0x1, payload, mask=mask)
    bad = first_invalid_utf8(payload)
    first_bad = None if bad is None else len(wire) - len(payload) + bad
    bounds = [0, *sorted({c for c in cuts if c < len(wire)}), len(wire)]
    conn = ServerConnection()
    for start, end in itertools.pairwise(bounds):
        events = drive(conn, [wire[start:end]])[0]
        if first_bad is not None and end > first_bad:
            assert [type(e) for e in events] == [ConnectionFailed]
            assert events[0].error.close_code == 1007  # type: ignore[union-attr]
            return
        if end < len(wire):
            assert events == []
    assert first_bad is None
    try:
        expected = TextMessage(payload.decode())
    except UnicodeDecodeError:  # it ends inside a character: only the end of the message tells
        assert normalize(events)[-1][1] == 1007  # type: ignore[index]
    else:
        assert events == [expected]


# -- totality ----------------------------------------------------------------------------------------


@given(blob=st.binary(max_size=2048), deflate=deflates, eof=st.booleans())
@example(blob=b"\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", deflate=None, eof=False)
@example(blob=b"\xc2\x80\x00\x00\x00\x00", deflate=PerMessageDeflate(), eof=True)
@example(blob=b"\x88\x81\x00\x00\x00\x00\x03", deflate=None, eof=False)
def test_arbitrary_bytes_only_fail_in_band(
    blob: bytes, deflate: PerMessageDeflate | None, eof: bool
) -> None:
    conn = connection(deflate, SMALL)
    events, sent = drive(conn, [blob], eof=eof)
    check_total(conn, events, sent)


@given(deflate=deflates, data=st.data(), eof=st.booleans())
def test_near_valid_streams_only_fail_in_band(
    deflate: PerMessageDeflate | None, data: st.DataObject, eof: bool
) -> None:
    conn = connection(deflate, SMALL)
    events, sent = drive(conn, [data.draw(client_wires(deflate))], eof=eof)
    check_total(conn, events, sent)


# -- stateful ----------------------------------------------------------------------------------------


class ConnectionMachine(RuleBasedStateMachine):
    """Random interleavings of peer input, local sends and EOF against a model of RFC 6455 §7."""

    conn: ServerConnection
    client: Client

    @initialize(deflate=deflates)
    def start(self, deflate: PerMessageDeflate | None) -> None:
        self.conn = connection(deflate)
        self.client = Client(deflate)
        self.deflate = deflate is not None
        self.state = State.OPEN

    def receive(self, wire: bytes) -> tuple[list[Event], list[object]]:
        events, sent = drive(self.conn, [wire], answer=False)
        return events, list(self.client.decode(sent))

    @property
    def reading(self) -> bool:
        """Whether peer input is still parsed: not after a close or a failure (§7.1.7)."""
        return self.state is State.OPEN or self.state is State.CLOSING

    @rule(message=messages, cuts=st.lists(st.integers(1, 300), max_size=3))
    def peer_message(self, message: TextMessage | BytesMessage, cuts: list[int]) -> None:
        compress = self.deflate and self.reading  # keep the client's context in step
        events, sent = self.receive(self.client.message(message, cuts=cuts, compress=compress))
        assert (events, sent) == (([message], []) if self.reading else ([], []))

    @rule(payload=control_payloads)
    def peer_ping(self, payload: bytes) -> None:
        events, sent = self.receive(frame(0x9, payload))
        expected = ([Ping(payload)], [Pong(payload)]) if self.reading else ([], [])
        assert (events, sent) == expected

    @rule(code=valid_codes, reason=close_reasons)
    def peer_close(self, code: int, reason: str) -> None:
        events, sent = self.receive(close_frame(code, reason.encode()))
        if not self.reading:
            assert (events, sent) == ([], [])
            return
        assert events == [CloseReceived(code, reason)]
        assert sent == ([Close(code)] if self.state is State.OPEN else [])
        self.state = State.CLOSED

    @rule()
    def peer_breaks_the_protocol(self) -> None:
        events, sent = self.receive(frame(0x2, b"x", mask=None))
        if not self.reading:
            assert (events, sent) == ([], [])
            return
        assert normalize(events)[-1][1] == 1002  # type: ignore[index]
        assert sent == []  # from OPEN our close is owed (FAILING); from CLOSING it is out
        self.state = State.FAILING if self.state is State.OPEN else State.CLOSED

    @rule()
    def peer_eof(self) -> None:
        self.conn.receive_eof()
        events = self.conn.events_received()
        assert events == ([ConnectionClosed(1006)] if self.reading else [])
        assert self.conn.data_to_send() == []
        self.state = State.CLOSED

    @rule(message=messages)
    def send_message(self, message: TextMessage | BytesMessage) -> None:
        if self.state is not State.OPEN and self.state is not State.FAILING:
            with pytest.raises(LocalProtocolError):
                self.conn.send(message)
            return
        self.conn.send(message)
        assert self.client.decode(b"".join(self.conn.data_to_send())) == [message]

    @rule(payload=control_payloads)
    def send_ping(self, payload: bytes) -> None:
        if self.state is State.CLOSED:
            with pytest.raises(LocalProtocolError):
                self.conn.send(Ping(payload))
            return
        self.conn.send(Ping(payload))
        assert self.client.decode(b"".join(self.conn.data_to_send())) == [Ping(payload)]

    @precondition(lambda self: self.state is not State.CLOSED)
    @rule(code=valid_codes)
    def send_close(self, code: int) -> None:
        if self.state is State.CLOSING:
            with pytest.raises(LocalProtocolError):
                self.conn.send(Close(code))
            return
        self.conn.send(Close(code))
        assert self.client.decode(b"".join(self.conn.data_to_send())) == [Close(code)]
        self.state = State.CLOSING if self.state is State.OPEN else State.CLOSED

    @invariant()
    def state_matches_the_model(self) -> None:
        if hasattr(self, "conn"):
            assert self.conn.state is self.state
            assert self.conn.close_expected() is (self.state is State.CLOSED)


def test_connection_machine() -> None:
    # A function, not ConnectionMachine.TestCase: unittest classes cannot take the conftest
    # fixture that runs the suite with each unmasking implementation.
    run_state_machine_as_test(ConnectionMachine)
