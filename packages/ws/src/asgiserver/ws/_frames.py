"""Frame-level helpers (RFC 6455 §5): masking, headers, close payloads."""

from __future__ import annotations

import struct
from typing import Final

from ._events import BytesMessage, Event, TextMessage

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "close_code_valid",
    "close_payload",
    "frame_header",
    "scan_messages",
    "scan_messages_python",
    "unmask",
    "unmask_python",
]

# §5.2 opcodes.
OP_CONT: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA


_CHUNK: Final = 1 << 14
_from_bytes = int.from_bytes
_pack_16: Final = struct.Struct("!BBH").pack
_pack_64: Final = struct.Struct("!BBQ").pack


def unmask_python(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask`` (§5.3); an empty mask changes nothing.

    The reference behaviour: the compiled ``_speedups.unmask``, when it was built, must give the
    same bytes for the same inputs (tests/test_unmask.py), only faster.

    One big-integer XOR per 16 KiB chunk. Chosen on measurements (bench/run.py, CPython 3.11):
    0.8 µs for 100 B against 2.0 µs with ``bytes.translate`` tables, and 1.55 ms per MiB against
    2.1 ms (tables) or 4.1 ms (one integer for the whole payload: 16 KiB chunks stay in cache); a
    byte loop is ~50x slower. A later run on another machine had tables ahead from 4 KiB up
    (README, Speed); the compiled function makes that moot where there is a compiler. The chunk
    is a multiple of 4, so every chunk starts at mask phase 0.
    """
    n = len(data)
    if n <= _CHUNK:
        m = mask * (n >> 2) + mask[: n & 3]
        return (_from_bytes(data, "little") ^ _from_bytes(m, "little")).to_bytes(n, "little")
    key = _from_bytes(mask * (_CHUNK >> 2), "little")
    view = memoryview(data)
    parts = [
        (_from_bytes(view[i : i + _CHUNK], "little") ^ key).to_bytes(_CHUNK, "little")
        for i in range(0, n - _CHUNK + 1, _CHUNK)
    ]
    rest = n % _CHUNK
    if rest:
        parts.append(unmask_python(view[n - rest :], mask))
    return b"".join(parts)


def scan_messages_python(
    buf: bytearray,
    pos: int,
    max_length: int,
    events: list[Event],
    text_type: type[TextMessage],
    bytes_type: type[BytesMessage],
) -> int:
    """Take the client frames from ``buf[pos:]`` that are whole messages of the plainest kind, as
    far as they go; return the position of the first frame left (which may be ``pos``).

    The reference behaviour; the compiled ``_speedups.scan_messages`` must do the same
    (tests/test_scan.py). Each frame taken is final, without reserved bits (§5.2), text or binary,
    masked (§5.1), with a 7-bit or minimal 16-bit length of at most ``max_length`` (the engine's
    limits), complete in ``buf``, and, for text, valid UTF-8 (§8.1); it is unmasked (§5.3) and
    appended to ``events`` as ``text_type(str)`` or ``bytes_type(bytes)``. Anything else stops the
    scan and is left to the engine's general parser, which reports every error: this function
    decides no failure. The caller guarantees no fragmented message is in progress (§5.4), so a
    whole text or binary frame cannot be out of place.
    """
    n = len(buf)
    while n - pos >= 6:
        b0 = buf[pos]
        b1 = buf[pos + 1]
        if (b0 != 0x81 and b0 != 0x82) or b1 < 0x80:
            break
        length = b1 & 0x7F
        if length < 126:
            start = pos + 6
        elif length == 126:
            if n - pos < 8:
                break
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            if length < 126:  # not minimal (§5.2): the general parser fails it
                break
            start = pos + 8
        else:
            break
        end = start + length
        if length > max_length or end > n:
            break
        payload = unmask_python(buf[start:end], buf[start - 4 : start])
        if b0 == 0x82:
            events.append(bytes_type(payload))
        else:
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                break
            events.append(text_type(text))
        pos = end
    return pos


# The compiled accelerator if the install built it (a C compiler was there), else the reference.
# The engine calls this name (it inlines the reference for small payloads when this is the
# reference); the tests rebind it to unmask_python to run the whole suite on both.
try:
    from ._speedups import scan_messages, unmask
except ImportError:  # pragma: no cover - built without a compiler
    unmask = unmask_python
    scan_messages = scan_messages_python


def frame_header(first: int, length: int) -> bytes:
    """Header of an unmasked frame (servers never mask, §5.1) with the minimal length (§5.2)."""
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return _pack_16(first, 126, length)
    return _pack_64(first, 127, length)


def close_code_valid(code: int) -> bool:
    """§7.4.1/§7.4.2 and the IANA registry: codes that may appear in a close frame.

    1004-1006 and 1015 are reserved, 0-999 unused, 1016-2999 for future RFCs (not yet
    allowed on the wire), 3000-4999 for libraries and applications.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """Close frame body (§5.5.1); 1005 means "no status" and is sent as an empty body."""
    if code == 1005:
        return b""
    return code.to_bytes(2, "big") + reason
