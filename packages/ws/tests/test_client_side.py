"""The client side: opening handshake (RFC 6455 §4.1, RFC 8441), masking (§5.1, §5.3),
permessage-deflate as the client (RFC 7692), and closing from the client's side (§7.1.1).
Our client talks to our server, and to the independent test codec of ws_helpers."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ws_helpers import KEY, xor

from asgiserver.ws import (
    BytesMessage,
    ClientConnection,
    ClientHandshake,
    Close,
    CloseReceived,
    ConnectionClosed,
    ConnectionFailed,
    DeflateOptions,
    Event,
    HandshakeRejection,
    HandshakeRequest,
    HandshakeResponse,
    LocalProtocolError,
    PerMessageDeflate,
    Ping,
    Pong,
    ServerConnection,
    State,
    TextMessage,
    accept,
    accept_key,
    open_handshake,
    validate_request,
    validate_response,
)


def counter() -> Callable[[int], bytes]:
    """A deterministic random source: 0, 1, 2, ... as bytes."""
    it = itertools.count()
    return lambda n: bytes(next(it) % 256 for _ in range(n))


def handshake(**kwargs: object) -> tuple[ClientHandshake, HandshakeResponse]:
    """Our client's handshake, answered by our server's accept()."""
    hs = open_handshake(random=counter(), **kwargs)  # type: ignore[arg-type]
    version = b"2" if hs.extended_connect else b"1.1"
    request = validate_request(hs.method, version, [(b"host", b"example.com"), *hs.headers])
    assert isinstance(request, HandshakeRequest), request
    response = accept(request, subprotocol=hs.subprotocols[0] if hs.subprotocols else None)
    result = validate_response(hs, response.status, response.headers)
    assert isinstance(result, HandshakeResponse), result
    assert result.extensions == response.extensions
    return hs, result


def pair(
    extensions: list[PerMessageDeflate] | None = None,
) -> tuple[ClientConnection, ServerConnection]:
    ext = extensions or []
    return ClientConnection(extensions=ext, random=counter()), ServerConnection(extensions=ext)


def pump(
    src: ClientConnection | ServerConnection, dst: ClientConnection | ServerConnection
) -> list[Event]:
    dst.receive_data(b"".join(src.data_to_send()))
    return dst.events_received()


class TestSection4_1OpeningHandshake:
    def test_request_headers_and_key_from_the_random_source(self) -> None:
        hs = open_handshake(random=lambda n: b"the sample nonce"[:n], deflate=None)
        assert hs.key == KEY  # RFC 6455 §1.3's example nonce
        assert hs.method == b"GET"
        assert hs.headers == [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-key", KEY),
            (b"sec-websocket-version", b"13"),
        ]

    def test_fresh_key_by_default(self) -> None:
        assert open_handshake().key != open_handshake().key

    def test_accepted_by_our_server(self) -> None:
        _hs, result = handshake(subprotocols=["chat.v2", "chat.v1"])
        assert result.subprotocol == "chat.v2" and result.status == 101
        assert result.extensions == [PerMessageDeflate()]

    def test_subprotocols_must_be_tokens(self) -> None:
        with pytest.raises(LocalProtocolError):
            open_handshake(subprotocols=["a b"])

    def test_random_source_must_give_16_bytes(self) -> None:
        with pytest.raises(LocalProtocolError):
            open_handshake(random=lambda n: b"short")

    def _good(self) -> tuple[ClientHandshake, list[tuple[bytes, bytes]]]:
        hs = open_handshake(subprotocols=["chat"], random=counter())
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", accept_key(hs.key)),
        ]
        return hs, headers

    @pytest.mark.parametrize(
        ("status", "change", "item"),
        [
            (200, None, "item 1: not 101"),
            (403, None, "item 1: refused"),
            (101, (b"upgrade", None), "item 2: no Upgrade"),
            (101, (b"upgrade", b"h2c"), "item 2: wrong Upgrade"),
            (101, (b"upgrade", b"websocket, h2c"), "item 2: two protocols"),
            (101, (b"connection", None), "item 3: no Connection"),
            (101, (b"connection", b"keep-alive"), "item 3: no upgrade token"),
            (101, (b"sec-websocket-accept", None), "item 4: no accept"),
            (101, (b"sec-websocket-accept", b"x" * 28), "item 4: wrong accept"),
        ],
    )
    def test_response_checks(
        self, status: int, change: tuple[bytes, bytes | None] | None, item: str
    ) -> None:
        hs, headers = self._good()
        if change is not None:
            headers = [(n, v) for n, v in headers if n != change[0]]
            if change[1] is not None:
                headers.append((change[0], change[1]))
        result = validate_response(hs, status, headers)
        assert isinstance(result, HandshakeRejection), item
        assert result.status == status and result.headers == headers

    def test_case_insensitive_tokens(self) -> None:
        hs, headers = self._good()
        headers[0] = (b"upgrade", b"WebSocket")
        headers[1] = (b"connection", b"keep-alive, UPGRADE")
        assert isinstance(validate_response(hs, 101, headers), HandshakeResponse)

    @pytest.mark.parametrize("value", [b"other", b"chat, chat", b"chat, other"])
    def test_item6_subprotocol_not_offered(self, value: bytes) -> None:
        hs, headers = self._good()
        headers.append((b"sec-websocket-protocol", value))
        assert isinstance(validate_response(hs, 101, headers), HandshakeRejection)

    def test_item6_no_subprotocol_is_fine(self) -> None:
        hs, headers = self._good()
        result = validate_response(hs, 101, headers)
        assert isinstance(result, HandshakeResponse) and result.subprotocol is None

    @pytest.mark.parametrize(
        "value",
        [
            b"x-unknown",
            b"permessage-deflate, permessage-deflate",
            b"permessage-deflate; foo",
            b"permessage-deflate; server_max_window_bits",
            b"permessage-deflate; server_no_context_takeover=1",
            b"permessage-deflate; client_max_window_bits=16",
            b"permessage-deflate; client_max_window_bits=8",  # zlib cannot compress with 8
            b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            b"permessage-deflate;;",
        ],
    )
    def test_item5_extensions_not_offered_or_malformed(self, value: bytes) -> None:
        hs, headers = self._good()
        headers.append((b"sec-websocket-extensions", value))
        assert isinstance(validate_response(hs, 101, headers), HandshakeRejection)

    def test_item5_extension_when_none_was_offered(self) -> None:
        hs = open_handshake(deflate=None, random=counter())
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"upgrade"),
            (b"sec-websocket-accept", accept_key(hs.key)),
            (b"sec-websocket-extensions", b"permessage-deflate"),
        ]
        assert isinstance(validate_response(hs, 101, headers), HandshakeRejection)


class TestRfc8441ExtendedConnect:
    def test_handshake_over_http2(self) -> None:
        hs, result = handshake(extended_connect=True, subprotocols=["chat"])
        assert hs.method == b"CONNECT" and hs.key == b""
        assert (b":protocol", b"websocket") in hs.headers
        assert not any(
            n in (b"upgrade", b"connection", b"sec-websocket-key") for n, _ in hs.headers
        )
        assert result.status == 200 and result.subprotocol == "chat"

    def test_non_2xx_is_refused(self) -> None:
        hs = open_handshake(extended_connect=True)
        assert isinstance(validate_response(hs, 400, []), HandshakeRejection)


class TestRfc7692ClientNegotiation:
    @pytest.mark.parametrize(
        ("options", "offer"),
        [
            (DeflateOptions(), b"permessage-deflate; client_max_window_bits"),
            (
                DeflateOptions(
                    server_no_context_takeover=True,
                    client_no_context_takeover=True,
                    server_max_window_bits=10,
                    client_max_window_bits=12,
                ),
                b"permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
                b" server_max_window_bits=10; client_max_window_bits=12",
            ),
        ],
    )
    def test_offer(self, options: DeflateOptions, offer: bytes) -> None:
        hs = open_handshake(deflate=options)
        assert (b"sec-websocket-extensions", offer) in hs.headers

    @pytest.mark.parametrize(
        "server",
        [
            DeflateOptions(),
            DeflateOptions(server_no_context_takeover=True),
            DeflateOptions(client_no_context_takeover=True),
            DeflateOptions(server_max_window_bits=9),
            DeflateOptions(client_max_window_bits=9),
        ],
    )
    @pytest.mark.parametrize(
        "client",
        [
            DeflateOptions(),
            DeflateOptions(server_no_context_takeover=True, client_no_context_takeover=True),
            DeflateOptions(server_max_window_bits=11, client_max_window_bits=10),
        ],
    )
    def test_every_parameter_agrees_with_our_server(
        self, server: DeflateOptions, client: DeflateOptions
    ) -> None:
        """Whatever both sides agree on, messages cross both ways, many times (context kept or
        not), and the agreement each side holds is the same."""
        hs = open_handshake(deflate=client, random=counter())
        request = validate_request(hs.method, b"1.1", [(b"host", b"a"), *hs.headers])
        assert isinstance(request, HandshakeRequest)
        response = accept(request, deflate=server)
        result = validate_response(hs, 101, response.headers)
        assert isinstance(result, HandshakeResponse), result
        assert result.extensions and response.extensions
        ours, theirs = result.extensions[0], response.extensions[0]
        assert ours.server_no_context_takeover == theirs.server_no_context_takeover
        assert ours.client_no_context_takeover == theirs.client_no_context_takeover
        assert ours.client_max_window_bits == theirs.client_max_window_bits
        c = ClientConnection(extensions=result.extensions, random=counter())
        s = ServerConnection(extensions=response.extensions)
        for text in ("hello " * 50, "hello " * 50, "other", ""):
            c.send(TextMessage(text))
            assert pump(c, s) == [TextMessage(text)]
            s.send(BytesMessage(text.encode() * 3))
            assert pump(s, c) == [BytesMessage(text.encode() * 3)]

    def test_server_window_granted_above_the_offer(self) -> None:
        hs = open_handshake(deflate=DeflateOptions(server_max_window_bits=10), random=counter())
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"upgrade"),
            (b"sec-websocket-accept", accept_key(hs.key)),
            (b"sec-websocket-extensions", b"permessage-deflate; server_max_window_bits=12"),
        ]
        assert isinstance(validate_response(hs, 101, headers), HandshakeRejection)

    def test_server_no_context_takeover_not_granted(self) -> None:
        options = DeflateOptions(server_no_context_takeover=True)
        hs = open_handshake(deflate=options, random=counter())
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"upgrade"),
            (b"sec-websocket-accept", accept_key(hs.key)),
            (b"sec-websocket-extensions", b"permessage-deflate"),
        ]
        assert isinstance(validate_response(hs, 101, headers), HandshakeRejection)

    def test_client_compresses_with_its_own_window(self) -> None:
        """RFC 7692 §7.1.2.2: our output must inflate with client_max_window_bits."""
        agreed = PerMessageDeflate(client_max_window_bits=9, client_no_context_takeover=True)
        c = ClientConnection(extensions=[agreed], random=lambda n: b"\0" * n)
        text = "abcdefghij" * 200
        c.send(TextMessage(text))
        frame = b"".join(c.data_to_send())
        assert frame[0] == 0xC1  # FIN, RSV1, text
        payload = frame[8:] if frame[1] & 0x7F == 126 else frame[6:]
        inflater = zlib.decompressobj(-9)
        assert inflater.decompress(payload + b"\x00\x00\xff\xff").decode() == text


class TestSection5Masking:
    def test_every_frame_is_masked_with_a_fresh_key(self) -> None:
        """§5.3: a new key per frame from the random source; the payload is XORed with it."""
        c = ClientConnection(random=counter())
        c.send(TextMessage("hi"))
        c.send(BytesMessage(b"x" * 200))
        c.send(Ping(b"p"))
        frames = c.data_to_send()
        assert frames[0] == b"\x81\x82" + bytes([0, 1, 2, 3]) + xor(b"hi", bytes([0, 1, 2, 3]))
        key = bytes([4, 5, 6, 7])
        assert frames[1] == b"\x82\xfe\x00\xc8" + key + xor(b"x" * 200, key)
        assert frames[2] == b"\x89\x81" + bytes([8, 9, 10, 11]) + xor(b"p", bytes([8, 9, 10, 11]))

    def test_large_frames_are_masked(self) -> None:
        c, s = pair()
        data = bytes(range(256)) * 300
        c.send(BytesMessage(data))
        out = c.data_to_send()
        assert len(out) == 2  # header and payload unjoined above 4 KiB
        s.receive_data(b"".join(out))
        assert s.events_received() == [BytesMessage(data)]

    def test_masked_server_frame_fails(self) -> None:
        """§5.1: a client MUST close the connection on a masked frame."""
        c = ClientConnection(random=counter())
        c.receive_data(b"\x81\x82" + b"\x01\x02\x03\x04" + xor(b"hi", b"\x01\x02\x03\x04"))
        events = c.events_received()
        assert type(events[-1]) is ConnectionFailed and events[-1].error.close_code == 1002
        assert (c.state, c.data_to_send(), c.close_expected()) == (State.FAILING, [], False)
        c.send(Close(1002))
        assert c.close_expected()  # §7.1.7: the client closes, not waiting for the server
        close = c.data_to_send()[0]
        assert close[0] == 0x88 and close[1] & 0x80  # our close frame, masked

    def test_eof_after_a_failure_ends_it_without_our_close(self) -> None:
        c = ClientConnection(random=counter())
        c.receive_data(b"\x81\x82" + b"\x01\x02\x03\x04" + xor(b"hi", b"\x01\x02\x03\x04"))
        c.events_received()
        c.receive_eof()
        assert (c.state, c.events_received(), c.close_expected()) == (State.CLOSED, [], True)

    def test_bad_random_source(self) -> None:
        c = ClientConnection(random=lambda n: b"")
        with pytest.raises(LocalProtocolError):
            c.send(TextMessage("x"))


class TestSection8_1ClientSide:
    def test_server_text_frames_are_validated_as_they_arrive(self) -> None:
        """§8.1 applies to the client as well: an unmasked text frame in pieces fails at the bad
        byte; a valid one in pieces is whole."""
        c = ClientConnection(random=counter())
        wire = b"\x81\x0a" + "héllo".encode() + b"\xff" + b"abc"
        c.receive_data(wire[:8])
        assert c.events_received() == []
        c.receive_data(wire[8:9])
        assert [type(e) for e in c.events_received()] == [ConnectionFailed]
        c = ClientConnection(random=counter())
        wire = b"\x81\x06" + "héllo".encode()
        for i in range(len(wire)):
            c.receive_data(wire[i : i + 1])
        assert c.events_received() == [TextMessage("héllo")]


class TestSection5_5Control:
    def test_ping_is_answered_with_a_masked_pong(self) -> None:
        c, s = pair()
        s.send(Ping(b"abc"))
        assert pump(s, c) == [Ping(b"abc")]
        assert pump(c, s) == [Pong(b"abc")]


class TestSection7_1_1Closing:
    def test_client_starts_the_close(self) -> None:
        c, s = pair()
        c.send(Close(1000, "bye"))
        assert c.state is State.CLOSING
        assert pump(c, s) == [CloseReceived(1000, "bye")]
        assert s.close_expected()  # the server closes TCP first
        assert pump(s, c) == [CloseReceived(1000, "")]
        assert c.state is State.CLOSED and not c.close_expected()
        c.receive_eof()
        assert c.events_received() == [] and c.close_expected()

    def test_server_starts_the_close(self) -> None:
        c, s = pair()
        s.send(Close(1001))
        assert pump(s, c) == [CloseReceived(1001, "")]
        assert c.state is State.CLOSED and not c.close_expected()  # wait for the server's FIN
        assert pump(c, s) == [CloseReceived(1001, "")]
        c.receive_eof()
        assert c.close_expected()

    def test_eof_without_close(self) -> None:
        c, _ = pair()
        c.receive_eof()
        assert c.events_received() == [ConnectionClosed(1006)]
        assert c.close_expected()


# Text is drawn as bytes: hypothesis's example cache compares str and bytes choices, which
# -bb turns into an error when one test draws both.
_texts = st.binary(max_size=300).map(
    lambda b: TextMessage(b.decode("latin-1") + "€😀"[: len(b) % 3])
)
_messages = st.lists(st.one_of(_texts, st.binary(max_size=300).map(BytesMessage)), max_size=6)
_agreements = st.one_of(
    st.none(),
    st.builds(
        PerMessageDeflate,
        server_no_context_takeover=st.booleans(),
        client_no_context_takeover=st.booleans(),
        server_max_window_bits=st.integers(9, 15),
        client_max_window_bits=st.integers(9, 15),
    ),
)


@given(_messages, _messages, _agreements, st.data())
def test_client_and_server_agree(
    up: list[TextMessage | BytesMessage],
    down: list[TextMessage | BytesMessage],
    agreement: PerMessageDeflate | None,
    data: st.DataObject,
) -> None:
    """Every message one side sends arrives unchanged on the other, whatever the split of the
    bytes, with or without compression, then both close cleanly."""
    ext = [agreement] if agreement else []
    c = ClientConnection(extensions=ext, random=counter())
    s = ServerConnection(extensions=ext)
    for m in up:
        c.send(m)
    for m in down:
        s.send(m)
    cuts = st.lists(st.integers(0, 4000), max_size=8)
    for src, dst, sent in ((c, s, up), (s, c, down)):
        wire = b"".join(src.data_to_send())
        points = sorted(set(data.draw(cuts)))
        got: list[Event] = []
        for a, b in itertools.pairwise([0, *points, len(wire)]):
            dst.receive_data(wire[a:b])
            got += dst.events_received()
        assert got == sent
    c.send(Close(1000))
    assert pump(c, s) == [CloseReceived(1000, "")]
    assert pump(s, c) == [CloseReceived(1000, "")]
    c.receive_eof()
    assert c.close_expected() and s.close_expected()


@given(st.binary(max_size=300), st.booleans())
def test_totality_of_server_bytes(blob: bytes, deflate: bool) -> None:
    """Random bytes from the server only give our errors, in band and last."""
    c = ClientConnection(extensions=[PerMessageDeflate()] if deflate else [], random=counter())
    c.receive_data(blob)
    c.receive_eof()
    events = c.events_received()
    for i, ev in enumerate(events):
        if type(ev) in (ConnectionFailed, ConnectionClosed, CloseReceived):
            assert i == len(events) - 1 or type(ev) is CloseReceived
    assert c.close_expected()
    for chunk in c.data_to_send():
        assert chunk[1] & 0x80  # everything we answered was masked
