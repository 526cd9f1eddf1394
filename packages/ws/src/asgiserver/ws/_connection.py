"""An open WebSocket connection, server or client side (RFC 6455 §5-§7, RFC 7692 §6-§7).

One class does the work; the two roles differ only in masking (RFC 6455 §5.1, §5.3), which
window each deflate direction uses (RFC 7692 §7.1), and who closes TCP first (§7.1.1).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Sequence
from typing import ClassVar, Final

from ._deflate import Compressor, Decompressor, PerMessageDeflate
from ._errors import LocalProtocolError, MessageTooBig, RemoteProtocolError
from ._events import (
    BytesMessage,
    Close,
    CloseReceived,
    ConnectionClosed,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    SendEvent,
    TextMessage,
)
from ._frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_code_valid,
    close_payload,
    frame_header,
    scan_messages,
    unmask,
    unmask_python,
)
from ._limits import Limits
from ._state import TRANSITIONS, Input, State

__all__ = ["ClientConnection", "ServerConnection"]

_OPEN: Final = State.OPEN
_CLOSING: Final = State.CLOSING
_FAILING: Final = State.FAILING
_CLOSED: Final = State.CLOSED
_DEFAULT_LIMITS: Final = Limits()
_utf8_decode: Final = codecs.utf_8_decode
_from_bytes = int.from_bytes
# Up to this size the pure unmasking is inlined (a call costs more than the XOR); the compiled one
# is called on a slice (~0.1 µs), larger payloads on a memoryview of the buffer (no slice copy).
_INLINE_UP_TO: Final = 4096
# Below this size a frame goes out as one bytes object; above, header and payload are separate
# items so a large payload is never copied again.
_JOIN_BELOW: Final = 4096
_BAD_UTF8: Final = "invalid UTF-8 in a text message (RFC 6455 §8.1)"
# Headers of whole unmasked frames with a 7-bit length (§5.2), by length: a server's small messages
# take their header from here instead of building one.
_TEXT_HEADERS: Final = tuple(bytes((0x80 | OP_TEXT, n)) for n in range(126))
_BINARY_HEADERS: Final = tuple(bytes((0x80 | OP_BINARY, n)) for n in range(126))


class _Connection:
    """The protocol engine; see ``ServerConnection`` and ``ClientConnection``."""

    # RFC 6455 §5.1: a server's frames are never masked, a client's always are.
    _client: ClassVar[bool] = False
    _MASK_ERROR: ClassVar[str] = "unmasked client frame (RFC 6455 §5.1)"
    # Received frames: the mask bit that is an error once XORed with _flip, and the mask key
    # length (a client's frames carry one, a server's none, so the client unmasks with an empty
    # key, which is a no-op). Class attributes: no per-connection memory.
    _flip: ClassVar[int] = 0
    _mask_len: ClassVar[int] = 4

    __slots__ = (
        "_buf",
        "_compressor",
        "_decompressor",
        "_deflate",
        "_events",
        "_frame_fin",
        "_frame_left",
        "_frame_mask",
        "_msg_deflate",
        "_msg_op",
        "_msg_parts",
        "_msg_size",
        "_need",
        "_out",
        "_plain_out",
        "_rsv1",
        "_state",
        "_text_held",
        "_text_parts",
        "limits",
    )

    def __init__(
        self,
        *,
        limits: Limits = _DEFAULT_LIMITS,
        extensions: Sequence[PerMessageDeflate] = (),
        trailing_data: bytes = b"",
    ) -> None:
        if len(extensions) > 1:
            # RFC 7692 §5: two extensions cannot share RSV1.
            raise LocalProtocolError("at most one permessage-deflate agreement can be in force")
        self.limits: Final = limits
        self._state = _OPEN
        self._buf = bytearray()
        self._need = 2  # bytes the buffer must hold before parsing can make progress
        # A text frame consumed as it arrives (§8.1 fail-fast): payload bytes still to come, the
        # mask rotated to the next one, and its FIN bit. _frame_left is 0 between frames.
        self._frame_left = 0
        self._frame_mask = b""
        self._frame_fin = False
        # Created by the first event or write after a drain: an idle connection holds no list.
        self._events: list[Event] | None = None
        self._out: list[bytes] | None = None
        # A fragmented or compressed message in progress (§5.4); _msg_op is 0 between messages.
        self._msg_op = 0
        self._msg_deflate = False
        self._msg_size = 0
        # The pieces of that message, binary or text; created when it starts (an idle
        # connection holds no list).
        self._msg_parts: list[bytes] | None = None
        self._text_parts: list[str] | None = None
        # A text message in progress: the bytes of a character not yet complete; None otherwise.
        self._text_held: bytes | None = None
        self._deflate = extensions[0] if extensions else None
        # RFC 7692 §6: RSV1 marks a compressed message, only if the extension was agreed.
        self._rsv1 = 0x40 if self._deflate else -1
        self._decompressor = Decompressor(self._deflate, self._client) if self._deflate else None
        self._compressor: Compressor | None = None  # created on first send: saves ~256 KiB
        # Messages go out as they are: no mask (a server, §5.1) and no compression.
        self._plain_out = not self._client and self._deflate is None
        if trailing_data:
            self.receive_data(trailing_data)

    # -- the contract ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """OPEN, CLOSING (our close is sent, the peer's is awaited) or CLOSED."""
        return self._state

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer. Never raises for a misbehaving peer: a protocol error ends
        the event list with ``ConnectionFailed`` (see :meth:`send` for the close frame it calls
        for). Ignored once FAILING or CLOSED. Then drain :meth:`events_received` and
        :meth:`data_to_send`."""
        state = self._state
        if state is _CLOSED or state is _FAILING:
            return
        buf = self._buf
        buf += data
        if len(buf) >= self._need:
            self._parse()

    def receive_eof(self) -> None:
        """The peer closed its side. Without a closing handshake this is ``ConnectionClosed(1006)``
        (RFC 6455 §7.1.5); after one, or after a failure, it reports nothing."""
        if self._state is _OPEN or self._state is _CLOSING:
            self._event(ConnectionClosed(1006))
            self._discard()
        self._state = TRANSITIONS[self._state, Input.RECV_EOF]

    def events_received(self) -> list[Event]:
        """Events parsed so far, oldest first, drained. ``state`` already reflects them."""
        events = self._events
        self._events = None
        return [] if events is None else events

    def data_to_send(self) -> list[bytes]:
        """Bytes to write, in order (including automatic pongs and close frames); drained."""
        out = self._out
        self._out = None
        return [] if out is None else out

    def close_expected(self) -> bool:
        """True once the transport should be closed: the closing handshake is complete, the
        close that answers a failure is queued, or input ended. The server closes TCP first
        (RFC 6455 §7.1.1)."""
        return self._state is _CLOSED

    def send(self, event: SendEvent) -> None:
        """Queue a message, a ping/pong or our close frame; then drain :meth:`data_to_send`.

        After ``ConnectionFailed`` (state FAILING) the caller may still answer the messages that
        came before it, then must send ``Close(error.close_code)``: that queues the close frame
        and makes the connection CLOSED (RFC 6455 §7.1.7). After a failure in CLOSING our close
        is already out and the connection is CLOSED at once.

        Raises :class:`LocalProtocolError` for what the protocol forbids: a message after our
        close (§5.5.1), anything once CLOSED, a control payload over 125 bytes (§5.5), or a close
        code or reason that may not be sent (§7.4, §5.5.1).
        """
        kind = type(event)
        if type(event) is TextMessage:
            try:
                payload = event.text.encode()
            except UnicodeEncodeError:
                raise LocalProtocolError("text is not encodable as UTF-8") from None
            self._send_message(0x80 | OP_TEXT, payload)
        elif type(event) is BytesMessage:
            self._send_message(0x80 | OP_BINARY, event.data)
        elif type(event) is Ping or type(event) is Pong:
            if len(event.data) > 125:
                raise LocalProtocolError("control frame payload over 125 bytes (RFC 6455 §5.5)")
            self._transition(Input.SEND_CONTROL, kind)
            self._queue(0x80 | (OP_PING if kind is Ping else OP_PONG), event.data)
        elif type(event) is Close:
            if not close_code_valid(event.code):
                raise LocalProtocolError(f"close code {event.code} may not be sent (RFC 6455 §7.4)")
            try:
                reason = event.reason.encode()
            except UnicodeEncodeError:
                raise LocalProtocolError("close reason is not encodable as UTF-8") from None
            if len(reason) > 123:
                raise LocalProtocolError("close reason over 123 bytes (RFC 6455 §5.5.1)")
            self._transition(Input.SEND_CLOSE, kind)
            self._queue(0x80 | OP_CLOSE, close_payload(event.code, reason))
        else:
            raise LocalProtocolError(f"{kind.__name__} cannot be sent")

    def send_text(self, text: str) -> None:
        """``send(TextMessage(text))`` without the event object, and for a server's small frame
        without the general path (which stays the reference: tests/test_properties.py)."""
        try:
            payload = text.encode()
        except UnicodeEncodeError:
            raise LocalProtocolError("text is not encodable as UTF-8") from None
        self._send_data_message(_TEXT_HEADERS, OP_TEXT, payload)

    def send_bytes(self, data: bytes) -> None:
        """``send(BytesMessage(data))`` without the event object, and for a server's small frame
        without the general path."""
        self._send_data_message(_BINARY_HEADERS, OP_BINARY, data)

    def _send_data_message(self, headers: tuple[bytes, ...], opcode: int, payload: bytes) -> None:
        """One whole message; a server's small unmasked, uncompressed frame takes its header from
        ``headers`` (by length), anything else goes through ``_send_message``."""
        n = len(payload)
        if n < 126 and self._plain_out and self._state is _OPEN:
            frame = headers[n] + payload
            out = self._out
            if out is None:
                self._out = [frame]
            else:
                out.append(frame)
        else:
            self._send_message(0x80 | opcode, payload)

    # -- internals -----------------------------------------------------------------------------

    def _transition(self, inp: Input, kind: type) -> None:
        new = TRANSITIONS.get((self._state, inp))
        if new is None:
            raise LocalProtocolError(f"cannot send {kind.__name__} in state {self._state.name}")
        self._state = new

    def _send_message(self, first: int, payload: bytes) -> None:
        # Hot path: the table keeps an OPEN connection OPEN on a message (test_state checks it),
        # so only other states need the lookup, which raises for them.
        if self._state is not _OPEN:
            self._transition(Input.SEND_MESSAGE, TextMessage if first & 1 else BytesMessage)
        if self._deflate is not None:
            compressor = self._compressor
            if compressor is None:
                compressor = self._compressor = Compressor(self._deflate, self._client)
            payload = compressor.compress(payload)
            first |= 0x40  # RFC 7692 §6: RSV1 on the first (here the only) frame
        self._queue(first, payload)

    def _queue(self, first: int, payload: bytes) -> None:
        header = frame_header(first, len(payload))
        out = self._out
        if out is None:
            out = self._out = []
        if len(payload) < _JOIN_BELOW:
            out.append(header + payload)
        else:
            out += (header, payload)

    def _event(self, event: Event) -> None:
        events = self._events
        if events is None:
            self._events = [event]
        else:
            events.append(event)

    def _discard(self) -> None:
        """Stop parsing for good and free what a message in progress held."""
        self._buf = bytearray()
        self._frame_left = 0
        self._msg_parts = None
        self._text_parts = None
        self._text_held = None
        self._decompressor = None

    def _fail(self, error: RemoteProtocolError) -> None:
        """§7.1.7: stop reading for good and report the error, after the events before it. From
        OPEN the caller's close frame is still owed (FAILING): queuing ours here would cut off its
        answers to those events."""
        self._state = TRANSITIONS[self._state, Input.FAIL]
        self._event(ConnectionFailed(error))
        self._discard()

    def _parse(self) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        need = 2
        events = self._events
        if events is None:  # the helpers called below append to this same list
            events = self._events = []
        limits = self.limits
        max_frame = limits.max_frame_bytes
        max_message = limits.max_message_bytes
        flip = self._flip
        ml = self._mask_len
        # A server takes the plainest whole messages in one call (_frames.scan_messages) while
        # no fragmented message is in progress; whatever it leaves, the loop below parses.
        scan_up_to = -1 if self._client else min(max_frame, max_message)
        try:
            if self._frame_left:
                pos = self._rest_of_frame(buf, n)
                if self._frame_left:
                    del buf[:pos]
                    self._need = 1
                    return
            while n - pos >= 2:
                if scan_up_to >= 0 and not self._msg_op:
                    pos = scan_messages(buf, pos, scan_up_to, events, TextMessage, BytesMessage)
                    if n - pos < 2:
                        break
                b0 = buf[pos]
                b1 = buf[pos + 1]
                opcode = b0 & 0x0F
                rsv = b0 & 0x70
                length = b1 & 0x7F
                # Everything the first two bytes can tell is checked before waiting for more.
                # §5.1: a server MUST fail on an unmasked frame, a client on a masked one.
                if (b1 ^ flip) < 0x80:
                    raise RemoteProtocolError(self._MASK_ERROR)
                if rsv and (rsv != self._rsv1 or opcode == 0 or opcode > 2):
                    # §5.2: RSV bits need a negotiated extension; RFC 7692 §6 allows RSV1 only
                    # on the first frame of a data message.
                    raise RemoteProtocolError(f"reserved bits {rsv >> 4:#05b} set (RFC 6455 §5.2)")
                if opcode < 8:
                    if opcode == 0:
                        if not self._msg_op:
                            raise RemoteProtocolError("continuation without a message (§5.4)")
                    elif opcode < 3:
                        if self._msg_op:
                            raise RemoteProtocolError("new message inside a fragmented one (§5.4)")
                    else:
                        raise RemoteProtocolError(f"reserved opcode {opcode:#x} (RFC 6455 §5.2)")
                else:
                    if opcode > 0xA:
                        raise RemoteProtocolError(f"reserved opcode {opcode:#x} (RFC 6455 §5.2)")
                    if length > 125:
                        raise RemoteProtocolError("control frame over 125 bytes (RFC 6455 §5.5)")
                    if b0 < 0x80:
                        raise RemoteProtocolError("fragmented control frame (RFC 6455 §5.5)")
                if length < 126:
                    start = pos + 2 + ml
                elif length == 126:
                    if n - pos < 4:
                        need = 4
                        break
                    length = (buf[pos + 2] << 8) | buf[pos + 3]
                    if length < 126:
                        # §5.2: "the minimal number of bytes MUST be used"; we hold peers to it.
                        raise RemoteProtocolError("non-minimal 16-bit length (RFC 6455 §5.2)")
                    start = pos + 4 + ml
                else:
                    if n - pos < 10:
                        need = 10
                        break
                    length = _from_bytes(buf[pos + 2 : pos + 10], "big")
                    if length > 0x7FFFFFFFFFFFFFFF:
                        raise RemoteProtocolError("64-bit length with the high bit set (§5.2)")
                    if length < 65536:
                        raise RemoteProtocolError("non-minimal 64-bit length (RFC 6455 §5.2)")
                    start = pos + 10 + ml
                if opcode < 8:
                    # Limits, before the payload is buffered. A compressed message is counted
                    # as it inflates instead (Decompressor.feed).
                    if length > max_frame:
                        raise MessageTooBig(f"frame of {length} bytes exceeds max_frame_bytes")
                    if opcode:
                        if not rsv and length > max_message:
                            raise MessageTooBig("message exceeds max_message_bytes")
                    elif not self._msg_deflate and self._msg_size + length > max_message:
                        raise MessageTooBig("message exceeds max_message_bytes")
                end = start + length
                if end > n:
                    # §8.1: invalid UTF-8 fails "as soon as" it arrives, so an uncompressed
                    # text frame is consumed as far as it has come instead of waiting.
                    if (opcode == OP_TEXT and not rsv) or (
                        not opcode and self._text_held is not None and not self._msg_deflate
                    ):
                        if n > start:
                            self._start_of_frame(buf, start, n, end, b0)
                            pos = n
                            need = 1
                        else:  # the header is in: parse again at the first payload byte
                            need = min(end, start + 1) - pos
                    else:
                        need = end - pos
                    break
                mask = buf[start - ml : start]
                if length > _INLINE_UP_TO:
                    with memoryview(buf) as view:  # spares a copy of a large payload
                        payload = unmask(view[start:end], mask)
                elif unmask is unmask_python:
                    # unmask_python() inlined for the common small frame (§5.3).
                    payload = (
                        _from_bytes(buf[start:end], "little")
                        ^ _from_bytes(mask * (length >> 2) + mask[: length & 3], "little")
                    ).to_bytes(length, "little")
                else:
                    payload = unmask(buf[start:end], mask)
                pos = end
                if opcode and b0 >= 0x80 and not rsv:
                    # The common case: a whole, uncompressed message in one frame.
                    if opcode == OP_BINARY:
                        events.append(BytesMessage(payload))
                    elif opcode == OP_TEXT:
                        try:
                            events.append(TextMessage(payload.decode()))
                        except UnicodeDecodeError:
                            raise RemoteProtocolError(_BAD_UTF8, close_code=1007) from None
                    elif opcode == OP_PING:
                        events.append(Ping(payload))
                        # §5.5.2: answer with the same payload; we are OPEN or CLOSING here.
                        self._queue(0x80 | OP_PONG, payload)
                    elif opcode == OP_PONG:
                        events.append(Pong(payload))
                    else:
                        self._close_received(payload)
                        return
                else:
                    self._fragment(opcode, b0 >= 0x80, rsv != 0, payload)
        except RemoteProtocolError as error:
            self._fail(error)
            return
        if pos:
            del buf[:pos]
        self._need = need

    def _start_of_frame(self, buf: bytearray, start: int, n: int, end: int, b0: int) -> None:
        """Consume the first ``n - start`` payload bytes of a text frame that ends at ``end``."""
        mask = buf[start - self._mask_len : start]
        got = n - start
        if got <= _INLINE_UP_TO and unmask is unmask_python:  # inlined, as in _parse
            piece = (
                _from_bytes(buf[start:n], "little")
                ^ _from_bytes(mask * (got >> 2) + mask[: got & 3], "little")
            ).to_bytes(got, "little")
        elif got <= _INLINE_UP_TO:
            piece = unmask(buf[start:n], mask)
        else:
            with memoryview(buf) as view:  # no copy of the piece before unmasking it
                piece = unmask(view[start:n], mask)
        self._frame_left = end - n
        self._frame_fin = b0 >= 0x80
        turn = got & 3
        self._frame_mask = bytes(mask[turn:] + mask[:turn])
        if b0 & 0x0F:  # a new message: its first fragment, as far as it has come
            self._msg_op = OP_TEXT
            self._msg_deflate = False
            self._msg_size = len(piece)
            self._text_held = b""
            self._text_parts = [self._decode(piece, False)]
        else:
            parts = self._text_parts
            assert parts is not None  # _text_held is set: a text message is in progress
            self._msg_size += len(piece)
            parts.append(self._decode(piece, False))

    def _rest_of_frame(self, buf: bytearray, n: int) -> int:
        """Consume more of the text frame in progress; return how many bytes of ``buf`` it took."""
        left = self._frame_left
        take = n if n < left else left
        mask = self._frame_mask
        if take <= _INLINE_UP_TO:
            piece = unmask(buf[:take], mask)
        else:
            with memoryview(buf) as view:  # no copy of the piece before unmasking it
                piece = unmask(view[:take], mask)
        left -= take
        self._frame_left = left
        self._msg_size += take
        parts = self._text_parts
        assert parts is not None  # a text frame is in progress
        if left:
            turn = take & 3
            self._frame_mask = mask[turn:] + mask[:turn]
            parts.append(self._decode(piece, False))
        elif self._frame_fin:
            parts.append(self._decode(piece, True))
            self._event(TextMessage("".join(parts)))
            self._text_parts = None
            self._text_held = None
            self._msg_op = 0
            self._msg_size = 0
        else:
            parts.append(self._decode(piece, False))
        return take

    def _decode(self, data: bytes, fin: bool) -> str:
        """§8.1: the text of a message in progress, failing at the first byte that cannot be UTF-8;
        a character cut at the end is held for the next piece (until ``fin``)."""
        held = self._text_held
        if held:
            data = held + data
        try:
            text, used = _utf8_decode(data, None, fin)
        except UnicodeDecodeError:
            raise RemoteProtocolError(_BAD_UTF8, close_code=1007) from None
        if used < len(data):
            held = data[used:]
            # CPython's decoder holds ED A0..BF (a UTF-16 surrogate, never valid UTF-8) until a
            # third byte comes; §8.1 wants the failure at the second.
            if len(held) > 1 and held[0] == 0xED and held[1] > 0x9F:
                raise RemoteProtocolError(_BAD_UTF8, close_code=1007)
            self._text_held = held
        elif held:
            self._text_held = b""
        return text

    def _fragment(self, opcode: int, fin: bool, compressed: bool, payload: bytes) -> None:
        """A data frame that is part of a fragmented (§5.4) or compressed (RFC 7692) message."""
        if opcode:
            self._msg_op = opcode
            self._msg_deflate = compressed
            self._msg_size = 0
            # §8.1: validate text as it arrives, failing at the first invalid byte.
            if opcode == OP_TEXT:
                self._text_held = b""
                self._text_parts = []
            else:
                self._text_held = None
                self._msg_parts = []
        if self._msg_deflate:
            decompressor = self._decompressor
            assert decompressor is not None  # RSV1 was only accepted with deflate agreed
            room = self.limits.max_message_bytes - self._msg_size
            chunk = decompressor.feed(payload, room)
            if fin:
                rest = decompressor.finish(room - len(chunk))
                if rest:  # usually empty: a sync-flushed stream is inflated before its tail
                    chunk += rest
        else:
            chunk = payload
        self._msg_size += len(chunk)
        message: Event
        if self._text_held is not None:
            text_parts = self._text_parts
            assert text_parts is not None  # created with _text_held
            text_parts.append(self._decode(chunk, fin))
            if not fin:
                return
            message = TextMessage("".join(text_parts))
            self._text_parts = None
            self._text_held = None
        else:
            msg_parts = self._msg_parts
            assert msg_parts is not None  # created when the message started
            msg_parts.append(chunk)
            if not fin:
                return
            message = BytesMessage(b"".join(msg_parts))
            self._msg_parts = None
        self._event(message)
        self._msg_op = 0
        self._msg_size = 0

    def _close_received(self, payload: bytes) -> None:
        """§5.5.1 / §7.1.5-§7.1.6: parse the peer's close, echo it, and stop parsing."""
        if not payload:
            code, reason = 1005, ""
        elif len(payload) == 1:
            raise RemoteProtocolError("close frame with a 1-byte payload (RFC 6455 §5.5.1)")
        else:
            code = (payload[0] << 8) | payload[1]
            if not close_code_valid(code):
                raise RemoteProtocolError(f"invalid close code {code} (RFC 6455 §7.4.1)")
            try:
                reason = payload[2:].decode()
            except UnicodeDecodeError:
                raise RemoteProtocolError(
                    "invalid UTF-8 in the close reason (RFC 6455 §5.5.1)", close_code=1007
                ) from None
        if self._state is _OPEN:
            # §5.5.1: echo the status code received (an empty body for 1005).
            self._queue(0x80 | OP_CLOSE, close_payload(code))
        self._state = TRANSITIONS[self._state, Input.RECV_CLOSE]
        self._event(CloseReceived(code, reason))
        self._discard()


class ServerConnection(_Connection):
    """A server-side WebSocket connection after a successful opening handshake.

    Feed it with :meth:`receive_data` / :meth:`receive_eof`, give it :meth:`send` commands, and
    after *every* call drain :meth:`events_received` and :meth:`data_to_send`; close the transport
    once :meth:`close_expected` is true. Pongs and the closing handshake are handled here: a ping
    is answered and a close is echoed without the caller's help. A peer error is the one case
    that needs the caller: after ``ConnectionFailed`` (state FAILING) answer what came before it,
    if anything, then send ``Close(error.close_code)`` (RFC 6455 §7.1.7).

    ``extensions`` is ``HandshakeResponse.extensions``; ``trailing_data`` is whatever followed the
    upgrade request in the same read (it is parsed at once, so drain the queues after construction).
    """

    __slots__ = ()


class ClientConnection(_Connection):
    """A client-side WebSocket connection after a successful opening handshake.

    The same contract as :class:`ServerConnection`. Every frame we send is masked with a fresh
    key from ``random`` (RFC 6455 §5.3: unpredictable, so ``os.urandom`` by default; inject a
    deterministic source in tests); masked frames from the server fail the connection (§5.1).
    ``extensions`` is ``HandshakeResponse.extensions`` from :func:`validate_response`.

    Closing (§7.1.1): the server closes TCP first, so after the closing handshake
    :meth:`close_expected` stays false until :meth:`receive_eof`; the caller may close anyway
    after a deadline of its own. A failed connection is closed by the client, as soon as its
    ``Close`` is queued (§7.1.7).
    """

    _client = True
    _MASK_ERROR = "masked server frame (RFC 6455 §5.1)"
    _flip = 0x80
    _mask_len = 0

    __slots__ = ("_done", "_random")

    def __init__(
        self,
        *,
        limits: Limits = _DEFAULT_LIMITS,
        extensions: Sequence[PerMessageDeflate] = (),
        trailing_data: bytes = b"",
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._random = random
        self._done = False  # end of input seen, or we failed: the transport may close
        super().__init__(limits=limits, extensions=extensions, trailing_data=trailing_data)

    def receive_eof(self) -> None:
        """The server closed its side: after the closing handshake, the normal end; without
        one, ``ConnectionClosed(1006)``."""
        self._done = True
        super().receive_eof()

    def close_expected(self) -> bool:
        """True once the server has closed TCP (§7.1.1) or the connection failed (§7.1.7)."""
        return self._done and self._state is _CLOSED

    def _fail(self, error: RemoteProtocolError) -> None:
        self._done = True
        super()._fail(error)

    def _queue(self, first: int, payload: bytes) -> None:
        # RFC 6455 §5.3: a fresh, unpredictable 32-bit key per frame, and the mask bit set.
        key = self._random(4)
        if type(key) is not bytes or len(key) != 4:
            raise LocalProtocolError("the random source must return 4 bytes for a masking key")
        header = bytearray(frame_header(first, len(payload)))
        header[1] |= 0x80
        header += key
        out = self._out
        if out is None:
            out = self._out = []
        if len(payload) < _JOIN_BELOW:
            header += unmask(payload, key)
            out.append(bytes(header))
        else:
            out += (bytes(header), unmask(payload, key))
