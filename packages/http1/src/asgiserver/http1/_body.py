"""Reading a message body, shared by both connections: Content-Length and chunked framing.

Per-chunk bookkeeping, not protocol state: the message-level transitions live in ``_state``; the
mode only says which bytes come next.  Each connection subclasses ``BodyReader`` and says, in
``_end_body``, what the end of a body means for its role.
"""

from __future__ import annotations

from ._errors import BodyTooLarge, RemoteProtocolError
from ._events import Data, EndOfMessage, Event
from ._limits import Limits
from ._parser import parse_chunk_line, parse_fields, scan_chunk_line, scan_section

__all__ = [
    "HEAD",
    "FIXED",
    "CHUNK_LINE",
    "CHUNK_DATA",
    "CHUNK_END",
    "TRAILERS",
    "AFTER_BODY",
    "EOM",
    "BodyReader",
]

HEAD = 0  # a message head
FIXED = 1  # Content-Length body; _remaining bytes left
CHUNK_LINE = 2  # chunk-size line
CHUNK_DATA = 3  # chunk data; _remaining bytes left in this chunk
CHUNK_END = 4  # the CRLF after chunk data
TRAILERS = 5  # trailer section after the last chunk
AFTER_BODY = 6  # the first mode number each connection may use for itself

EOM = EndOfMessage()


class BodyReader:
    """What both connections share: the two queues, the limits and the body-reading half of
    the parser."""

    __slots__ = (
        "_body_total",
        "_events",
        "_ext_total",
        "_limits",
        "_mode",
        "_out",
        "_remaining",
        "_scan",
    )

    _body_total: int
    _events: list[Event]
    _ext_total: int
    _limits: Limits
    _mode: int
    _out: list[bytes]
    _remaining: int
    _scan: int

    @property
    def limits(self) -> Limits:
        return self._limits

    def events_received(self) -> list[Event]:
        events = self._events
        self._events = []
        return events

    def data_to_send(self) -> list[bytes]:
        out = self._out
        self._out = []
        return out

    def _end_body(self, eom: EndOfMessage) -> None:
        raise NotImplementedError

    def _start_chunked(self) -> None:
        self._mode = CHUNK_LINE
        self._body_total = 0
        self._ext_total = 0

    def _body_unit_complete(self, buf: bytearray) -> bool:
        """Cheap check on accumulated input: can ``_read_body`` make progress now?"""
        mode = self._mode
        if mode == CHUNK_LINE:
            budget = self._limits.max_chunk_extension_bytes - self._ext_total
            le = scan_chunk_line(buf, 0, self._scan, budget)
            if le < 0:
                self._scan = max(0, len(buf) - 1)
            return le >= 0
        if mode == TRAILERS:
            e = scan_section(buf, 0, self._scan, self._limits.max_header_bytes)
            if e < 0:
                self._scan = max(0, len(buf) - 3)
            return e >= 0
        return True  # CHUNK_END needs 2 bytes, _read_body checks them; data modes never wait

    def _read_body(self, data: bytes, pos: int) -> int:
        """Turn ``data[pos:]`` into body events until the body ends (``_end_body`` is called)
        or more input is needed; return the new position.  Raises RemoteProtocolError."""
        end = len(data)
        events = self._events
        limits = self._limits
        while pos < end:
            mode = self._mode
            if mode in (FIXED, CHUNK_DATA):
                remaining = self._remaining
                if end - pos < remaining:
                    events.append(Data(data[pos:] if pos else data))
                    self._remaining = remaining - (end - pos)
                    return end
                events.append(Data(data[pos : pos + remaining]))
                pos += remaining
                self._remaining = 0
                if mode == FIXED:
                    self._end_body(EOM)
                    return pos
                self._mode = CHUNK_END
            elif mode == CHUNK_END:
                # RFC 9112 §7.1: chunk-data is followed by exactly CRLF (CVE-2025-43859).
                if data[pos] != 0x0D or (end - pos > 1 and data[pos + 1] != 0x0A):
                    raise RemoteProtocolError("chunk data not followed by CRLF")
                if end - pos == 1:
                    return pos
                pos += 2
                self._mode = CHUNK_LINE
                self._scan = 0
            elif mode == CHUNK_LINE:
                budget = limits.max_chunk_extension_bytes - self._ext_total
                le = scan_chunk_line(data, pos, self._scan, budget)
                if le < 0:
                    self._scan = max(0, end - pos - 1)
                    return pos
                size, ext = parse_chunk_line(data, pos, le)
                if ext > budget:
                    raise RemoteProtocolError(
                        f"chunk extensions exceed {limits.max_chunk_extension_bytes} bytes"
                    )
                self._ext_total += ext
                total = self._body_total + size
                if limits.max_body_bytes is not None and total > limits.max_body_bytes:
                    raise BodyTooLarge(
                        f"chunked body exceeds the limit of {limits.max_body_bytes} bytes"
                    )
                self._body_total = total
                pos = le + 2
                self._scan = 0
                if size:
                    self._remaining = size
                    self._mode = CHUNK_DATA
                else:
                    self._mode = TRAILERS
            elif mode == TRAILERS:
                e = scan_section(data, pos, self._scan, limits.max_header_bytes)
                if e < 0:
                    self._scan = max(0, end - pos - 3)
                    return pos
                if e == pos + 2:
                    eom = EOM
                else:
                    trailers = parse_fields(data[pos : e - 4], limits.max_header_count)[0]
                    eom = EndOfMessage(trailers)
                self._end_body(eom)
                return e
            else:
                return pos
        return pos
