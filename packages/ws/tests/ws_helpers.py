"""A test-side WebSocket client codec, written independently of the package under test.

It frames and masks (with a plain byte loop, so it shares no code with the package's masking),
compresses per RFC 7692, and decodes what the server sends.
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pytest

from asgiserver.ws import (
    BytesMessage,
    Close,
    ConnectionFailed,
    Event,
    Limits,
    PerMessageDeflate,
    Ping,
    Pong,
    ServerConnection,
    State,
    TextMessage,
)

MASK = b"\x37\xfa\x21\x3d"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
TAIL = b"\x00\x00\xff\xff"


def handshake_headers(*extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"example.com"),
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-key", KEY),
        (b"sec-websocket-version", b"13"),
        *extra,
    ]


def xor(payload: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = MASK,
    length_size: int | None = None,
) -> bytes:
    """A client frame. ``mask=None`` sends it unmasked; ``length_size`` (0, 2 or 8) forces an
    encoding of the payload length, minimal or not."""
    n = len(payload)
    if length_size is None:
        length_size = 0 if n < 126 else 2 if n < 65536 else 8
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask is not None else 0
    if length_size == 0:
        head = bytes((b0, m | n))
    elif length_size == 2:
        head = bytes((b0, m | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, m | 127)) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + xor(payload, mask)


def close_frame(code: int | None = 1000, reason: bytes = b"", mask: bytes = MASK) -> bytes:
    body = b"" if code is None else code.to_bytes(2, "big") + reason
    return frame(0x8, body, mask=mask)


class Client:
    """Compresses like a zlib-based client that agreed to ``deflate``; decodes server frames."""

    def __init__(self, deflate: PerMessageDeflate | None = None) -> None:
        self.deflate = deflate
        if deflate is not None:
            # A client asked for 8 bits really uses 9: zlib cannot compress raw deflate with 8.
            self._cbits = max(9, deflate.client_max_window_bits)
            self._compressor = zlib.compressobj(6, zlib.DEFLATED, -self._cbits)
            self._decompressor = zlib.decompressobj(-deflate.server_max_window_bits)
        self._pending: list[tuple[int, int, bytes]] = []

    def compress(self, data: bytes) -> bytes:
        assert self.deflate is not None
        out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        if self.deflate.client_no_context_takeover:
            self._compressor = zlib.compressobj(6, zlib.DEFLATED, -self._cbits)
        assert out.endswith(TAIL)
        return out[:-4]

    def message(
        self,
        message: TextMessage | BytesMessage,
        *,
        cuts: Sequence[int] = (),
        masks: Sequence[bytes] = (),
        compress: bool | None = None,
    ) -> bytes:
        """Frame a message, split into fragments at ``cuts`` (offsets into the wire payload)."""
        if type(message) is TextMessage:
            opcode, data = 0x1, message.text.encode()
        else:
            assert type(message) is BytesMessage
            opcode, data = 0x2, message.data
        if compress is None:
            compress = self.deflate is not None
        rsv = 0
        if compress:
            data = self.compress(data)
            rsv = 0x40
        bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
        pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
        out = []
        for i, piece in enumerate(pieces):
            mask = masks[i % len(masks)] if masks else MASK
            out.append(
                frame(
                    opcode if i == 0 else 0x0,
                    piece,
                    fin=i == len(pieces) - 1,
                    rsv=rsv if i == 0 else 0,
                    mask=mask,
                )
            )
        return b"".join(out)

    def decode(self, data: bytes) -> list[TextMessage | BytesMessage | Ping | Pong | Close]:
        """Parse server frames (which must be unmasked and minimal) into messages."""
        out: list[TextMessage | BytesMessage | Ping | Pong | Close] = []
        pos = 0
        while pos < len(data):
            b0, b1 = data[pos], data[pos + 1]
            assert b1 & 0x80 == 0, "server frames are never masked (RFC 6455 §5.1)"
            n = b1 & 0x7F
            pos += 2
            if n == 126:
                n = int.from_bytes(data[pos : pos + 2], "big")
                assert n >= 126
                pos += 2
            elif n == 127:
                n = int.from_bytes(data[pos : pos + 8], "big")
                assert n >= 65536
                pos += 8
            payload = data[pos : pos + n]
            assert len(payload) == n, "truncated server frame"
            pos += n
            opcode = b0 & 0x0F
            if opcode >= 8:
                assert b0 & 0xF0 == 0x80
                if opcode == 0x9:
                    out.append(Ping(payload))
                elif opcode == 0xA:
                    out.append(Pong(payload))
                else:
                    assert opcode == 0x8
                    if payload:
                        out.append(Close(int.from_bytes(payload[:2], "big"), payload[2:].decode()))
                    else:
                        out.append(Close(1005))
                continue
            self._pending.append((b0, opcode, payload))
            if b0 & 0x80:
                first, op, _ = self._pending[0]
                body = b"".join(p for _, _, p in self._pending)
                self._pending = []
                if first & 0x40:
                    assert self.deflate is not None
                    body = self._decompressor.decompress(body + TAIL)
                    if self.deflate.server_no_context_takeover:
                        self._decompressor = zlib.decompressobj(
                            -self.deflate.server_max_window_bits
                        )
                out.append(TextMessage(body.decode()) if op == 1 else BytesMessage(body))
        return out


def drive(
    conn: ServerConnection, chunks: Iterable[bytes], *, eof: bool = False, answer: bool = True
) -> tuple[list[Event], bytes]:
    """Feed chunks, draining both queues after every call, as a server would; with ``answer``, a
    failure is answered at once with its close frame (RFC 6455 §7.1.7)."""
    events: list[Event] = []
    out: list[bytes] = []

    def drain() -> None:
        nonlocal events, out
        new = conn.events_received()
        events += new
        out += conn.data_to_send()
        if answer and new and type(new[-1]) is ConnectionFailed and conn.state is State.FAILING:
            conn.send(Close(new[-1].error.close_code))
            out += conn.data_to_send()

    for chunk in chunks:
        conn.receive_data(chunk)
        drain()
    if eof:
        conn.receive_eof()
        drain()
    return events, b"".join(out)


def normalize(events: Iterable[Event]) -> list[object]:
    """Events comparable across runs: a failure is compared by its class, code and message."""
    return [
        (type(e.error), e.error.close_code, str(e.error)) if type(e) is ConnectionFailed else e
        for e in events
    ]


@dataclass
class Fed:
    """The result of feeding a whole wire to a fresh connection."""

    events: list[Event]
    sent: bytes
    conn: ServerConnection


def feed(
    wire: bytes,
    *,
    eof: bool = False,
    limits: Limits | None = None,
    extensions: Sequence[PerMessageDeflate] = (),
    answer: bool = True,
) -> Fed:
    conn = ServerConnection(limits=limits or Limits(), extensions=extensions)
    events, sent = drive(conn, [wire], eof=eof, answer=answer)
    return Fed(events, sent, conn)


# Unicode Table 3-7, well-formed UTF-8: for each lead byte, the ranges of the bytes that follow.
_CONT = (0x80, 0xBF)
_UTF8_TAILS: dict[int, tuple[tuple[int, int], ...]] = {
    **dict.fromkeys(range(0xC2, 0xE0), (_CONT,)),
    0xE0: ((0xA0, 0xBF), _CONT),
    **dict.fromkeys([*range(0xE1, 0xED), 0xEE, 0xEF], (_CONT, _CONT)),
    0xED: ((0x80, 0x9F), _CONT),
    0xF0: ((0x90, 0xBF), _CONT, _CONT),
    **dict.fromkeys(range(0xF1, 0xF4), (_CONT, _CONT, _CONT)),
    0xF4: ((0x80, 0x8F), _CONT, _CONT),
}


def first_invalid_utf8(data: bytes) -> int | None:
    """Index of the first byte that no well-formed UTF-8 text can have there, or None.

    A byte-by-byte reading of the table, independent of any codec: ``data`` may still end inside
    a character (then None; only the end of the message makes that an error).
    """
    i, n = 0, len(data)
    while i < n:
        lead = data[i]
        if lead < 0x80:
            i += 1
            continue
        tails = _UTF8_TAILS.get(lead)
        if tails is None:
            return i
        for k, (low, high) in enumerate(tails, 1):
            if i + k >= n:
                return None
            if not low <= data[i + k] <= high:
                return i + k
        i += 1 + len(tails)
    return None


def compiled_unmask() -> Callable[[bytes | bytearray | memoryview, bytes | bytearray], bytes]:
    """The compiled unmask (RFC 6455 §5.3); skips when the install could not build it, but fails
    in CI, which must build and test it."""
    try:
        from asgiserver.ws._speedups import unmask
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("asgiserver.ws._speedups was not built (is there a C compiler?)")
        pytest.skip("asgiserver.ws._speedups was not built (no C compiler): pure path only")
    return unmask


def compiled_scan() -> Callable[..., int]:
    """The compiled scan_messages; skips or fails like :func:`compiled_unmask`."""
    compiled_unmask()
    from asgiserver.ws._speedups import scan_messages

    return scan_messages
