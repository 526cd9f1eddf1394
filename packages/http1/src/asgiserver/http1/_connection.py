"""ServerConnection: the sans-IO contract, glue between the parser, the writer and ``_state``."""

from __future__ import annotations

from ._abnf import HOST
from ._body import AFTER_BODY, EOM, FIXED, HEAD, BodyReader
from ._errors import (
    IncompleteMessage,
    LocalProtocolError,
    RemoteProtocolError,
    RequestTimeout,
)
from ._events import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    Headers,
    InformationalResponse,
    Request,
    Response,
)
from ._limits import Limits
from ._parser import (
    NamesCache,
    check_transfer_encoding,
    combined,
    comma_tokens,
    parse_content_length,
    parse_fields,
    parse_request_line,
    scan_request_line,
    scan_section,
)
from ._state import ConnectionState, Input, State
from ._writer import STATUS_LINES, encode_fields, status_line

# The compiled accelerator if the install built it (a C compiler was there), else None and the
# Python parser, which is the reference, does all the work.  parse_head only takes a complete,
# valid, common head; for anything else it returns None and the Python path below decides.  The
# tests set this name to None to run the whole suite on the pure path too.
# fast_encode_fields is the same for a response's fields: common input only, else None and
# _writer.encode_fields (the reference) decides.
try:
    from ._speedups import encode_fields as fast_encode_fields
    from ._speedups import parse_head
except ImportError:  # pragma: no cover - built without a compiler
    parse_head = None  # type: ignore[assignment]
    fast_encode_fields = None  # type: ignore[assignment]

__all__ = ["ServerConnection"]

# What the reader expects next (body modes in _body).  Per-chunk bookkeeping, not protocol
# state: the message-level transitions live in _state; these only say which bytes come next.
_HEAD = HEAD  # a request head (client IDLE)
_PAUSED = AFTER_BODY  # request complete: buffer input until our response is complete
_STOPPED = AFTER_BODY + 1  # failed, switched or closed: discard input

# How the response body is framed.
_NO_BODY = 0  # HEAD, 204, 304: Data is discarded
_SIZED = 1  # Content-Length
_CHUNKED = 2
_UNTIL_CLOSE = 3  # close-delimited (HTTP/1.0, or nothing else is possible)

_EOM = EOM
_LAST_CHUNK = b"0\r\n\r\n"
_CLOSE_FIELD = b"connection: close\r\n"
_KEEP_ALIVE_FIELD = b"connection: keep-alive\r\n"
_CHUNKED_FIELD = b"transfer-encoding: chunked\r\n"

_SPECIAL_NAMES = frozenset(
    (
        b"host",
        b"connection",
        b"content-length",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"te",
        b"content-type",
    )
)

_HOST_CONNECTION = frozenset((b"host", b"connection"))

_IDLE = State.IDLE
_SEND_RESPONSE = State.SEND_RESPONSE
_SEND_BODY = State.SEND_BODY
_MUST_CLOSE = State.MUST_CLOSE
_CLOSED = State.CLOSED
_ERROR = State.ERROR
_MIGHT_SWITCH = State.MIGHT_SWITCH_PROTOCOL

_END_OF_MESSAGE = Input.END_OF_MESSAGE
_INFORMATIONAL = Input.INFORMATIONAL
_SWITCH = Input.SWITCH
_CONNECTION_CLOSED = Input.CONNECTION_CLOSED

_DEFAULT_LIMITS = Limits()


_ABSENT = -1
_REPEATED = -2


class _Shape:
    """What a request's field names alone determine, so a kept-alive client that repeats its
    names (the usual case) skips this work: their lowercase forms, which framing fields are
    present, and where Host and Connection are (an index, _ABSENT or _REPEATED)."""

    __slots__ = ("cache", "connection_at", "host_at", "present", "rare")

    def __init__(self, raw: tuple[bytes, ...], names: list[bytes]) -> None:
        present = _SPECIAL_NAMES.intersection(names)
        self.cache: NamesCache = (raw, names, present)
        self.present = present
        self.host_at = _where(names, b"host") if b"host" in present else _ABSENT
        self.connection_at = _where(names, b"connection") if b"connection" in present else _ABSENT
        self.rare = not present <= _HOST_CONNECTION  # fields handled by _on_framing


def _where(names: list[bytes], name: bytes) -> int:
    return names.index(name) if names.count(name) == 1 else _REPEATED


_NO_FIELDS = _Shape((), [])


class ServerConnection(BodyReader):
    """One HTTP/1.1 server connection, no I/O.

    Feed bytes with :meth:`receive_data` / :meth:`receive_eof`, drain :meth:`events_received`,
    answer with :meth:`send`, drain :meth:`data_to_send`, and close the transport when
    :meth:`close_expected` says so.  Drain both queues after every call.

    Pipelining: after a request's ``EndOfMessage`` the parser stops and buffers input.  When
    ``send(EndOfMessage())`` completes our response and the connection is kept alive, the next
    cycle starts inside that call and the next request's events (parsed from what was buffered)
    are already queued: drain ``events_received()`` after every ``send()``.
    """

    __slots__ = (
        "_buf",
        "_cs",
        "_eof",
        "_expect",
        "_held",
        "_held_pos",
        "_host",
        "_http10",
        "_is_head",
        "_line",
        "_send_mode",
        "_send_remaining",
        "_shape",
        "_te_trailers",
        "_trailing",
        "_upgrade",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = _DEFAULT_LIMITS if limits is None else limits
        self._cs = ConnectionState()
        self._buf = bytearray()  # unconsumed input, starting at the unit being read
        # While paused: the bytes object the parser stopped in, and where.  Kept instead of a
        # copy, so many small pipelined requests in one read are not copied once each.
        self._held = b""
        self._held_pos = 0
        self._scan = 0  # how far the current unit has been searched, relative to _buf
        self._line: tuple[bytes, bytes, bytes, int] | None = None  # parsed request line
        self._shape = _NO_FIELDS  # what the previous request's field names determined
        self._host = b""  # the last Host value found valid
        self._mode = _HEAD
        self._remaining = 0
        self._body_total = 0
        self._ext_total = 0
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._eof = False
        self._is_head = False
        self._http10 = False
        self._expect = False
        self._upgrade: bytes | None = None
        self._te_trailers = False
        self._send_mode = _NO_BODY
        self._send_remaining = 0
        self._trailing = b""

    # ------------------------------------------------------------------ properties

    @property
    def their_state(self) -> State:
        return self._cs.client

    @property
    def our_state(self) -> State:
        return self._cs.server

    @property
    def expect_continue(self) -> bool:
        """A ``100 Continue`` is owed: the current request said ``Expect: 100-continue``
        (HTTP/1.1), no response and no 100 has been sent, and its body is not complete."""
        cs = self._cs
        return self._expect and cs.client is _SEND_BODY and cs.server is _SEND_RESPONSE

    @property
    def keep_alive(self) -> bool:
        """Will the connection be reused after this cycle (as far as is known now)?"""
        return self._cs.keep_alive

    @property
    def upgrade(self) -> bytes | None:
        """Lowercased ``Upgrade`` value of the current request if it also had
        ``Connection: upgrade`` (HTTP/1.1 only, RFC 9110 §7.8), else None."""
        return self._upgrade

    @property
    def trailing_data(self) -> bytes:
        """After ``101 Switching Protocols``: the bytes received after the request."""
        return self._trailing

    @property
    def trailers_accepted(self) -> bool:
        """The current request carried ``TE: trailers`` (RFC 9110 §10.1.4)."""
        return self._te_trailers

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet turned into events (a partial head, a partial chunk line,
        or a pipelined request waiting for our response)."""
        return len(self._buf) + len(self._held) - self._held_pos

    # ------------------------------------------------------------------ the contract

    def close_expected(self) -> bool:
        """True when the transport should be closed once ``data_to_send()`` is written:
        our response is complete (or we failed) and the connection will not be reused."""
        server = self._cs.server
        return server is _MUST_CLOSE or server is _ERROR or server is _CLOSED

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer.  Never raises for anything the peer sends: a protocol
        violation arrives as a final ``ConnectionFailed`` event and later input is discarded."""
        if self._eof:
            raise LocalProtocolError("receive_data() after receive_eof()")
        mode = self._mode
        if mode >= _PAUSED:
            if mode == _PAUSED and data and (self._cs.keep_alive or self._cs.pending_switch):
                if self._held:  # pipelined: parsed when our response is complete
                    self._buf = bytearray(memoryview(self._held)[self._held_pos :])
                    self._held = b""
                    self._held_pos = 0
                self._buf += data
            return
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)
        if mode == FIXED and len(data) < self._remaining:
            # The middle of a Content-Length body (every read of a large upload but its last):
            # the whole read is body, handed on as it is. Nothing is buffered in this mode.
            self._events.append(Data(data))
            self._remaining -= len(data)
            return
        buf = self._buf
        if buf:
            buf += data
            try:
                if not self._unit_complete(buf):
                    return
            except RemoteProtocolError as exc:
                self._fail(exc)
                return
            data = bytes(buf)
            self._buf = bytearray()
        self._parse(data)

    def receive_eof(self) -> None:
        """The peer closed its sending side.  At a message boundary this gives
        ``ConnectionClosed``; inside a request, ``ConnectionFailed(IncompleteMessage)``.  If a
        pipelined request is buffered, it is still served first."""
        if self._eof:
            return
        self._eof = True
        self._on_eof()

    def timed_out(self) -> None:
        """The caller's deadline for the peer expired; the package itself never reads a clock.

        While a request is being received (part of a head is buffered, or its body is unfinished)
        the connection fails in band with ``RequestTimeout`` (408, RFC 9110 §15.5.9), exactly like
        a malformed request: drain ``events_received()``, send the error response if none has
        started, then close. Between requests there is nothing to answer and this does nothing;
        the caller simply closes.
        """
        if self._mode == _STOPPED or self._eof:
            return
        client = self._cs.client
        if client is State.SEND_BODY or (client is State.IDLE and self.pending_bytes):
            self._fail(RequestTimeout("the request was not received in time"))

    def send(self, event: Event) -> None:
        """Queue an event for the peer; raises LocalProtocolError on misuse.

        A rejected event changes nothing (so, e.g., a 500 can follow a rejected ``Response``),
        except a body that overruns or falls short of its Content-Length: the message cannot be
        completed any more, so our side goes to ERROR and ``close_expected()`` becomes True.
        """
        kind = type(event)
        if kind is Data:
            self._send_data(event.data)  # type: ignore[union-attr]
        elif kind is EndOfMessage:
            self._send_end(event.headers)  # type: ignore[union-attr]
        elif kind is Response:
            self._send_response(event.status, event.headers, event.reason)  # type: ignore[union-attr]
        elif kind is InformationalResponse:
            self._send_informational(event)  # type: ignore[arg-type]
        else:
            raise LocalProtocolError(f"cannot send {kind.__name__}")

    def send_response(
        self, status: int, headers: Headers, body: bytes = b"", end: bool = False
    ) -> None:
        """``send(Response(status, headers))``, then ``send(Data(body))`` if ``body``, then
        ``send(EndOfMessage())`` if ``end``: the same checks and bytes in one call, without the
        event objects (a server's usual response is a head and its whole body). As with the
        separate calls, a part that is rejected leaves the parts before it sent."""
        self._send_response(status, headers, b"")
        if end and self._send_mode == _SIZED and len(body) == self._send_remaining:
            # The whole sized body with its end, the usual response: _send_data() and
            # _send_end() would find nothing to check (the head just went, its length matches).
            if body:
                self._out.append(body)
            self._send_remaining = 0
            if self._cs.server_end():
                self._next_cycle()
            return
        if body:
            self._send_data(body)
        if end:
            self._send_end(())

    def send_body(self, body: bytes, end: bool = False) -> None:
        """``send(Data(body))`` if ``body``, then ``send(EndOfMessage())`` if ``end``, in one
        call (see :meth:`send_response`)."""
        if body:
            self._send_data(body)
        if end:
            self._send_end(())

    def reserve_body(self, size: int) -> bool:
        """Let the caller write ``size`` bytes of the response body itself, unframed (a file
        sent with ``sendfile``), as if they had been sent as ``Data``.

        Only a body framed by Content-Length or by the close (RFC 9112 §6.3) carries raw bytes;
        for a chunked body (or none) nothing changes and False is returned: send ``Data``
        instead.  Raises LocalProtocolError, as ``Data`` would, for more bytes than the
        Content-Length.  Write ``data_to_send()`` before the reserved bytes.
        """
        if self._cs.server is not _SEND_BODY:
            raise LocalProtocolError(f"cannot send Data in state {self._cs.server.name}")
        mode = self._send_mode
        if mode == _SIZED:
            if size > self._send_remaining:
                self._cs.server_failed()
                raise LocalProtocolError("response body longer than its content-length")
            self._send_remaining -= size
            return True
        return mode == _UNTIL_CLOSE

    # ------------------------------------------------------------------ receiving

    def _fail(self, exc: RemoteProtocolError) -> None:
        self._events.append(ConnectionFailed(exc))
        self._mode = _STOPPED
        self._buf = bytearray()
        self._held = b""
        self._held_pos = 0
        self._line = None
        self._cs.client_failed()

    def _on_eof(self) -> None:
        mode = self._mode
        if mode == _STOPPED:
            return
        if mode == _PAUSED:
            if (self._buf or self._held) and (self._cs.keep_alive or self._cs.pending_switch):
                return  # a buffered pipelined request comes first; EOF is seen after it
        elif mode != _HEAD or self._buf:
            where = "head" if mode == _HEAD else "body"
            self._fail(IncompleteMessage(f"connection closed in the middle of a request {where}"))
            return
        self._mode = _STOPPED
        self._buf = bytearray()
        self._held = b""
        self._held_pos = 0
        self._events.append(ConnectionClosed())
        self._cs.client_event(_CONNECTION_CLOSED)

    def _unit_complete(self, buf: bytearray) -> bool:
        """Cheap check on the accumulated bytearray: can ``_parse`` make progress now?"""
        if self._mode == _HEAD:
            while buf.startswith(b"\r\n"):
                del buf[:2]  # RFC 9112 §2.2: empty lines before the request line are ignored
                self._scan = 0
            if not buf or buf == b"\r":
                return False
            return self._scan_head(buf, 0) >= 0
        return self._body_unit_complete(buf)

    def _scan_head(self, buf: bytes | bytearray, pos: int) -> int:
        """Index just past the head starting at ``pos``, or -1; validates the request line as
        soon as it is complete (its verdict then cannot depend on later bytes)."""
        limits = self._limits
        line = self._line
        if line is None:
            le = scan_request_line(buf, pos, self._scan, limits.max_request_line_bytes)
            if le < 0:
                self._scan = max(0, len(buf) - pos - 1)
                return -1
            method, target, version = parse_request_line(bytes(buf[pos:le]), 0, le - pos)
            self._line = line = (method, target, version, le - pos)
            self._scan = le - pos + 2
        start = pos + line[3] + 2
        e = scan_section(buf, start, max(0, self._scan - line[3] - 2), limits.max_header_bytes)
        if e < 0:
            self._scan = max(line[3] + 2, len(buf) - pos - 3)
        return e

    def _parse(self, data: bytes, pos: int = 0) -> None:
        """Turn as much of ``data[pos:]`` (the start of the current unit) into events as
        allowed."""
        end = len(data)
        limits = self._limits
        try:
            while pos < end:
                mode = self._mode
                if mode == _HEAD:
                    if data[pos] == 0x0D:  # RFC 9112 §2.2: ignore empty lines before a request
                        while data.startswith(b"\r\n", pos):
                            pos += 2
                        if pos == end or (end - pos == 1 and data[pos] == 0x0D):
                            break
                        self._scan = 0
                    line = self._line
                    if line is None:
                        if parse_head is not None:
                            shape = self._shape
                            head = parse_head(
                                data,
                                pos,
                                limits.max_request_line_bytes,
                                limits.max_header_bytes,
                                limits.max_header_count,
                                shape.cache,
                            )
                            if head is not None:
                                method, target, version, headers, names, raw, e = head
                                if names is not shape.cache[1]:
                                    shape = self._shape = _Shape(raw, names)
                                pos = self._on_request(method, target, version, headers, shape, e)
                                continue
                        # Fast path: the whole head is here, found with two find() calls.
                        le = data.find(b"\r\n", pos, pos + limits.max_request_line_bytes + 2)
                        if le >= 0:
                            method, target, version = parse_request_line(data, pos, le)
                            window = le + limits.max_header_bytes + 4
                            i = data.find(b"\r\n\r\n", le, window)
                            if i >= 0:
                                pos = self._on_head(data, le, i + 4, method, target, version)
                                continue
                            self._line = (method, target, version, le - pos)
                            self._scan = le - pos + 2
                    e = self._scan_head(data, pos)  # incremental: windows, early rejection
                    if e < 0:
                        break
                    line = self._line
                    assert line is not None  # internal invariant: set by _scan_head
                    self._line = None
                    pos = self._on_head(data, pos + line[3], e, line[0], line[1], line[2])
                elif mode < _PAUSED:
                    pos = self._read_body(data, pos)
                    if self._mode < _PAUSED:
                        break  # the body needs more input
                else:
                    break  # paused or stopped
        except RemoteProtocolError as exc:
            self._fail(exc)
            return
        if pos < end:
            mode = self._mode
            if mode < _PAUSED:
                self._buf = bytearray(memoryview(data)[pos:])  # a partial unit: small
            elif mode == _PAUSED and (self._cs.keep_alive or self._cs.pending_switch):
                self._held = data
                self._held_pos = pos
        if self._eof:
            self._on_eof()

    def _on_head(
        self, data: bytes, le: int, e: int, method: bytes, target: bytes, version: bytes
    ) -> int:
        """Emit the Request whose head ends at ``e`` (request line ends at ``le``); set up body
        reading; return ``e``."""
        if e == le + 4:
            return self._on_request(method, target, version, [], _NO_FIELDS, e)
        shape = self._shape
        headers, names, raw = parse_fields(
            data[le + 2 : e - 4], self._limits.max_header_count, shape.cache
        )
        if names is not shape.cache[1]:
            shape = self._shape = _Shape(raw, names)
        return self._on_request(method, target, version, headers, shape, e)

    def _on_request(
        self,
        method: bytes,
        target: bytes,
        version: bytes,
        headers: list[tuple[bytes, bytes]],
        shape: _Shape,
        e: int,
    ) -> int:
        """Emit the Request with these parts (``shape`` describes the names of ``headers``),
        whose head ends at ``e``; set up body reading; return ``e``."""
        self._scan = 0
        names = shape.cache[1]
        present = shape.present
        http10 = version == b"1.0"

        # Framing fields, extracted once; repeated fields are combined (RFC 9110 §5.3).
        host_at = shape.host_at
        if host_at >= 0:
            # RFC 9112 §3.2: a valid Host (an empty one is allowed: no authority in the target).
            host = headers[host_at][1]
            if host and host != self._host:
                if HOST.fullmatch(host) is None:
                    raise RemoteProtocolError("invalid Host")
                self._host = host  # kept-alive clients repeat it: validate it once
        elif host_at == _REPEATED:
            raise RemoteProtocolError("more than one Host field")  # RFC 9112 §3.2
        elif not http10:
            raise RemoteProtocolError("HTTP/1.1 request without Host")  # RFC 9112 §3.2

        # Persistence, RFC 9112 §9.3.
        keep_alive = not http10
        can_upgrade = False
        connection_at = shape.connection_at
        if connection_at != _ABSENT:
            if connection_at >= 0:
                connection = headers[connection_at][1]
            else:
                connection = combined(headers, names, b"connection")
            if connection == b"keep-alive":
                keep_alive = True
            elif connection == b"close":
                keep_alive = False
            else:
                tokens = comma_tokens(connection)
                if b"close" in tokens:
                    keep_alive = False
                elif http10 and b"keep-alive" in tokens:
                    keep_alive = True
                can_upgrade = not http10 and b"upgrade" in tokens

        self._is_head = method == b"HEAD"
        self._http10 = http10
        request = Request(method, target, headers, version)
        if shape.rare:
            # Rarer fields: body framing, upgrade, expectations, TE.
            return self._on_framing(request, names, present, http10, keep_alive, can_upgrade, e)
        self._upgrade = None
        self._expect = False
        self._te_trailers = False
        events = self._events
        events.append(request)
        events.append(_EOM)
        self._mode = _PAUSED
        self._cs.request(keep_alive, False, True)
        return e

    def _on_framing(
        self,
        request: Request,
        names: list[bytes],
        present: frozenset[bytes],
        http10: bool,
        keep_alive: bool,
        can_upgrade: bool,
        e: int,
    ) -> int:
        """The part of ``_on_head`` for requests with fields beyond Host (and Connection)."""
        headers = request.headers
        if names.count(b"content-type") > 1:
            # A singleton field (RFC 9110 §8.3, §5.3); two values mean two parsers could
            # disagree on the body (gunicorn 26.0 hardening).
            raise RemoteProtocolError("more than one Content-Type field")
        length = 0
        chunked = False
        if b"transfer-encoding" in present:
            if b"content-length" in present:
                # RFC 9112 §6.1 / §6.3: both is a smuggling attempt; reject and close.
                raise RemoteProtocolError("both Transfer-Encoding and Content-Length")
            if http10:
                # §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
                raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 request")
            check_transfer_encoding(combined(headers, names, b"transfer-encoding"))
            chunked = True
        elif b"content-length" in present:
            length = parse_content_length(
                combined(headers, names, b"content-length"), self._limits.max_body_bytes
            )
        # RFC 9110 §7.8: Upgrade needs "Connection: upgrade"; ignored in HTTP/1.0.
        upgrade = None
        if can_upgrade and b"upgrade" in present:
            upgrade = combined(headers, names, b"upgrade").lower() or None
        self._upgrade = upgrade
        # RFC 9110 §10.1.1: 100-continue is ignored in HTTP/1.0; other expectations are ignored.
        self._expect = (
            b"expect" in present
            and not http10
            and b"100-continue" in comma_tokens(combined(headers, names, b"expect"))
        )
        # RFC 9110 §10.1.4: "TE: trailers" says the client accepts a trailer section.
        self._te_trailers = b"te" in present and any(
            t.partition(b";")[0].rstrip(b" \t") == b"trailers"
            for t in comma_tokens(combined(headers, names, b"te"))
        )
        self._events.append(request)
        if chunked:
            self._start_chunked()
            self._cs.request(keep_alive, upgrade is not None, False)
        elif length:
            self._mode = FIXED
            self._remaining = length
            self._cs.request(keep_alive, upgrade is not None, False)
        else:
            self._events.append(_EOM)
            self._mode = _PAUSED
            self._cs.request(keep_alive, upgrade is not None, True)
        return e

    def _end_body(self, eom: EndOfMessage) -> None:
        self._events.append(eom)
        self._mode = _PAUSED
        self._cs.client_event(_END_OF_MESSAGE)

    def _next_cycle(self) -> None:
        """Both sides finished a cycle and the connection is kept alive: read the next request."""
        self._mode = _HEAD
        self._scan = 0
        self._upgrade = None
        self._expect = False
        self._te_trailers = False
        self._is_head = False
        self._http10 = False
        # A pipelined request, if any; EOF behind it is handled by _parse.
        held = self._held
        if held:
            pos = self._held_pos
            self._held = b""
            self._held_pos = 0
            self._parse(held, pos)
        elif self._buf:
            buf = self._buf
            self._buf = bytearray()
            self._parse(bytes(buf))

    # ------------------------------------------------------------------ sending

    def _send_data(self, data: bytes) -> None:
        if self._cs.server is not _SEND_BODY:
            raise LocalProtocolError(f"cannot send Data in state {self._cs.server.name}")
        if type(data) is not bytes:
            data = bytes(data)
        mode = self._send_mode
        if mode == _SIZED:
            if len(data) > self._send_remaining:
                self._cs.server_failed()
                raise LocalProtocolError("response body longer than its content-length")
            self._send_remaining -= len(data)
            if data:
                self._out.append(data)
        elif mode == _CHUNKED and data:
            self._out += (b"%x\r\n" % len(data), data, b"\r\n")
        elif mode == _UNTIL_CLOSE and data:
            self._out.append(data)
        # _NO_BODY: HEAD, 204 and 304 responses have no content (RFC 9110 §9.3.2, §15.3.5,
        # §15.4.5): the data is dropped.

    def _send_end(self, trailers: Headers) -> None:
        cs = self._cs
        if cs.server is not _SEND_BODY:
            raise LocalProtocolError(f"cannot send EndOfMessage in state {cs.server.name}")
        mode = self._send_mode
        last = None
        if mode == _CHUNKED:
            last = _LAST_CHUNK
            if trailers and self._te_trailers:
                # RFC 9112 §7.1.2: trailer section after the last chunk; only sent when the
                # client said "TE: trailers" (RFC 9110 §6.5.1), otherwise dropped.
                block, length, coding, connection = encode_fields(trailers)
                if length is not None or coding is not None or connection is not None:
                    raise LocalProtocolError("framing fields are not allowed in trailers")
                last = b"0\r\n" + block + b"\r\n"
        elif mode == _SIZED and self._send_remaining:
            cs.server_failed()
            raise LocalProtocolError(
                f"response body {self._send_remaining} bytes short of its content-length"
            )
        new_cycle = cs.server_end()
        if last is not None:
            self._out.append(last)
        if new_cycle:
            self._next_cycle()

    def _send_response(self, status: int, headers: Headers, reason: bytes) -> None:
        if type(status) is not int or not 200 <= status <= 999:
            raise LocalProtocolError(
                f"invalid final status {status!r}; 1xx use InformationalResponse"
            )
        line = STATUS_LINES.get(status) if not reason else None
        if line is None:
            line = status_line(status, reason)
        encoded = None if fast_encode_fields is None else fast_encode_fields(headers)
        block, length_value, coding, connection = (
            encode_fields(headers) if encoded is None else encoded
        )
        cs = self._cs
        keep_alive = cs.keep_alive
        if (
            length_value is not None
            and keep_alive
            and coding is None
            and connection is None
            and not self._http10
            and not self._is_head
            and status != 204
            and status != 304
        ):
            # The common response: sized, kept alive, nothing to add (the general case below
            # decides the same for it, in more steps).
            if not length_value.isdigit() or len(length_value) > 19:  # RFC 9110 §8.6: 1*DIGIT
                raise LocalProtocolError(f"invalid content-length {length_value!r}")
            cs.server_response()  # raises, changing nothing, if no response is due
            self._send_mode = _SIZED
            self._send_remaining = int(length_value)
            self._expect = False
            self._out.append(line + block + b"\r\n")
            return
        ka_token = False
        if connection is not None:
            tokens = comma_tokens(connection)
            if b"close" in tokens:
                keep_alive = False
            ka_token = b"keep-alive" in tokens
        http10 = self._http10
        no_request = cs.server is _IDLE  # answering a request whose head could not be parsed
        no_body = self._is_head or status == 204 or status == 304
        if length_value is not None and coding is not None:
            # RFC 9112 §6.2: a sender MUST NOT send Content-Length with Transfer-Encoding.
            raise LocalProtocolError("both content-length and transfer-encoding")
        if coding is not None:
            codings = comma_tokens(coding)
            if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
                raise LocalProtocolError("transfer-encoding must end in exactly one chunked")
        extra = b""
        length = 0
        if status == 204 and (length_value is not None or coding is not None):
            # RFC 9110 §8.6, RFC 9112 §6.1: no Content-Length or Transfer-Encoding in a 204.
            block = _strip_framing(headers)
            mode = _NO_BODY
        elif no_body:
            mode = _NO_BODY  # HEAD and 304 keep the app's framing fields as they are
        elif length_value is not None:
            if not length_value.isdigit() or len(length_value) > 19:  # RFC 9110 §8.6: 1*DIGIT
                raise LocalProtocolError(f"invalid content-length {length_value!r}")
            length = int(length_value)
            mode = _SIZED
        elif http10 or no_request:
            if coding is not None:
                # RFC 9112 §6.1: no Transfer-Encoding unless the request was HTTP/1.1.
                if comma_tokens(coding) != [b"chunked"]:
                    raise LocalProtocolError("cannot apply transfer codings for this client")
                block = _strip_framing(headers)
            mode = _UNTIL_CLOSE  # RFC 9112 §6.3 item 8: the body ends when the connection closes
            keep_alive = False
        else:
            mode = _CHUNKED
            if coding is None:
                extra = _CHUNKED_FIELD
        if not keep_alive:
            if connection is None or b"close" not in comma_tokens(connection):
                extra += _CLOSE_FIELD  # RFC 9112 §9.6
        elif http10 and not ka_token:
            extra += _KEEP_ALIVE_FIELD  # RFC 9112 §9.3: HTTP/1.0 persistence is opt-in
        cs.server_response()  # raises, changing nothing, if no response is due
        if not keep_alive and cs.keep_alive:
            cs.disable_keep_alive()
        self._send_mode = mode
        self._send_remaining = length
        self._expect = False
        self._out.append(line + block + extra + b"\r\n" if extra else line + block + b"\r\n")

    def _send_informational(self, event: InformationalResponse) -> None:
        cs = self._cs
        status = event.status
        if type(status) is not int or not 100 <= status <= 199:
            raise LocalProtocolError(f"invalid informational status {status!r}")
        line = status_line(status, event.reason)
        block, length, coding, _ = encode_fields(event.headers)
        if length is not None or coding is not None:
            # RFC 9110 §8.6 / RFC 9112 §6.1: no Content-Length or Transfer-Encoding in a 1xx.
            raise LocalProtocolError("content-length/transfer-encoding in a 1xx response")
        if status == 101:
            cs.server_event(_SWITCH)  # only while an upgrade is pending (RFC 9110 §15.2.2)
            self._out.append(line + block + b"\r\n")
            self._trailing = self._held[self._held_pos :] + self._buf
            self._buf = bytearray()
            self._held = b""
            self._held_pos = 0
            self._mode = _STOPPED
            return
        if cs.server is not _SEND_RESPONSE:
            raise LocalProtocolError(f"cannot send a 1xx response in state {cs.server.name}")
        if self._http10:
            return  # RFC 9110 §15.2: a server MUST NOT send 1xx to an HTTP/1.0 client
        if status == 100:
            if not self.expect_continue:
                return  # no 100 is owed (RFC 9110 §10.1.1): dropped, see the module docs
            self._expect = False
        cs.server_event(_INFORMATIONAL)
        self._out.append(line + block + b"\r\n")


def _strip_framing(headers: Headers) -> bytes:
    framing = (b"content-length", b"transfer-encoding")
    return encode_fields([(n, v) for n, v in headers if n.lower() not in framing])[0]
