"""ClientConnection: the client role of the same contract, sharing the parser, the body reader,
the writer's field validation and the state tables with ``ServerConnection``."""

from __future__ import annotations

from collections import deque

from ._abnf import FIELD_VALUE_CHARS, HOST, REQUEST_LINE
from ._body import AFTER_BODY, EOM, FIXED, HEAD, BodyReader
from ._errors import IncompleteMessage, LocalProtocolError, RemoteProtocolError
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
    check_transfer_encoding,
    combined,
    comma_tokens,
    parse_content_length,
    parse_fields,
    parse_status_line,
    scan_section,
    scan_status_line,
    target_error,
)
from ._state import ConnectionState, Input, State
from ._writer import encode_fields

__all__ = ["ClientConnection"]

# What the reader expects next (HEAD and the body modes come from _body).
_UNTIL_CLOSE = AFTER_BODY  # close-delimited response body (RFC 9112 §6.3 item 8)
_WAITING = AFTER_BODY + 1  # no response is due: any input is an error
_STOPPED = AFTER_BODY + 2  # failed, switched or closed: discard input

# How our request body is framed.
_NO_BODY = 0
_SIZED = 1
_CHUNKED = 2

_IDLE = State.IDLE
_SEND_BODY = State.SEND_BODY
_SEND_RESPONSE = State.SEND_RESPONSE
_MUST_CLOSE = State.MUST_CLOSE
_CLOSED = State.CLOSED
_ERROR = State.ERROR

_REQUEST_SPECIAL = frozenset((b"host", b"content-type", b"upgrade", b"expect"))
_RESPONSE_SPECIAL = frozenset((b"content-length", b"transfer-encoding", b"connection"))
# What may stand in a field block we write: names, ": ", CRLFs and RFC 9110 §5.5 values.
_BLOCK_CHARS = FIELD_VALUE_CHARS + b"\r\n"
_DEFAULT_LIMITS = Limits()


class _Sent:
    """What the response framing and the next cycle need to know about a request we sent."""

    __slots__ = ("complete", "connect", "expect", "is_head", "keep_alive", "upgrade")

    def __init__(
        self, is_head: bool, connect: bool, upgrade: bool, keep_alive: bool, expect: bool
    ) -> None:
        self.is_head = is_head
        self.connect = connect  # a 2xx turns the connection into a tunnel (RFC 9110 §9.3.6)
        self.upgrade = upgrade  # a 101 may switch protocols (RFC 9110 §7.8)
        self.keep_alive = keep_alive
        self.expect = expect  # Expect: 100-continue, no 100 or final response yet
        self.complete = False  # our EndOfMessage was sent


class ClientConnection(BodyReader):
    """One HTTP/1.1 client connection, no I/O.

    ``send(Request(...))``, ``send(Data(...))`` and ``send(EndOfMessage())`` queue a request;
    ``receive_data`` turns the server's bytes into ``InformationalResponse`` (1xx), ``Response``,
    ``Data`` and ``EndOfMessage`` events, ending with ``ConnectionClosed`` or
    ``ConnectionFailed``.  Drain both queues after every call.

    Requests may be pipelined once the previous one is complete and the connection is kept alive;
    responses are matched to them in order.  ``our_state`` and ``their_state`` describe the
    oldest request not yet answered.
    """

    __slots__ = (
        "_ahead",
        "_buf",
        "_cs",
        "_current",
        "_eof",
        "_last",
        "_line",
        "_names",
        "_send_mode",
        "_send_remaining",
        "_trailing",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = _DEFAULT_LIMITS if limits is None else limits
        self._cs = ConnectionState()
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._buf = bytearray()
        self._scan = 0
        self._line: tuple[bytes, int, bytes, int] | None = None  # parsed status line
        self._names: tuple[tuple[bytes, ...], list[bytes], frozenset[bytes]] | None = None
        self._mode = _WAITING
        self._remaining = 0
        self._body_total = 0
        self._ext_total = 0
        self._eof = False
        self._current: _Sent | None = None  # the request whose response is being read
        self._ahead: deque[_Sent] = deque()  # pipelined behind it
        self._last: _Sent | None = None  # the request whose body we are sending
        self._send_mode = _NO_BODY
        self._send_remaining = 0
        self._trailing = b""

    # ------------------------------------------------------------------ properties

    @property
    def our_state(self) -> State:
        return self._cs.client

    @property
    def their_state(self) -> State:
        return self._cs.server

    @property
    def expect_continue(self) -> bool:
        """We sent ``Expect: 100-continue`` and neither a 100 nor a final response has arrived:
        wait (with a deadline of your own, RFC 9110 §10.1.1) before sending the body."""
        current = self._current
        return current is not None and current.expect and self._cs.server is _SEND_RESPONSE

    @property
    def keep_alive(self) -> bool:
        """Will the connection be reused after this cycle (as far as is known now)?"""
        return self._cs.keep_alive

    @property
    def pipelined(self) -> int:
        """Requests sent behind the one whose response is being read."""
        return len(self._ahead)

    @property
    def trailing_data(self) -> bytes:
        """After a switch (101, or a 2xx to CONNECT): the bytes received after the response."""
        return self._trailing

    # ------------------------------------------------------------------ the contract

    def close_expected(self) -> bool:
        """True when the transport should be closed: the response is complete and the connection
        will not be reused, the server closed, or either side failed."""
        cs = self._cs
        server = cs.server
        return server is _MUST_CLOSE or server is _CLOSED or server is _ERROR or cs.client is _ERROR

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server.  Never raises for anything the server sends: a violation
        arrives as a final ``ConnectionFailed`` event and later input is discarded."""
        if self._eof:
            raise LocalProtocolError("receive_data() after receive_eof()")
        if not data or self._mode == _STOPPED:
            return
        if type(data) is not bytes:
            data = bytes(data)
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
        """The server closed its side.  A close-delimited body ends here; at a message boundary
        this gives ``ConnectionClosed``; inside a response, ``ConnectionFailed``."""
        if self._eof:
            return
        self._eof = True
        mode = self._mode
        if mode == _STOPPED:
            return
        try:
            if mode == _UNTIL_CLOSE:
                self._end_body(EOM)  # RFC 9112 §6.3 item 8: the close ends the body
                if self._mode == _STOPPED:
                    return
            elif mode != _WAITING:
                raise IncompleteMessage("connection closed before the response was complete")
            self._mode = _STOPPED
            self._events.append(ConnectionClosed())
            self._cs.server_event(Input.CONNECTION_CLOSED, local=False)
        except RemoteProtocolError as exc:
            self._fail(exc)

    def send(self, event: Event) -> None:
        """Queue a ``Request``, ``Data`` or ``EndOfMessage``; LocalProtocolError on misuse.

        A rejected event changes nothing, except a body that overruns or falls short of its
        Content-Length: the request cannot be completed, so our side goes to ERROR.
        """
        kind = type(event)
        if kind is Data:
            self._send_data(event.data)  # type: ignore[union-attr]
        elif kind is EndOfMessage:
            self._send_end(event.headers)  # type: ignore[union-attr]
        elif kind is Request:
            self._send_request(event)  # type: ignore[arg-type]
        else:
            raise LocalProtocolError(f"a client cannot send {kind.__name__}")

    # ------------------------------------------------------------------ sending

    def _send_request(self, event: Request) -> None:
        method, target, version = event.method, event.target, event.http_version
        if type(method) is not bytes or type(target) is not bytes or type(version) is not bytes:
            raise LocalProtocolError("method, target and http_version must be bytes")
        if version != b"1.1" and version != b"1.0":
            raise LocalProtocolError(f"cannot send HTTP/{version!r} requests")
        # RFC 9112 §3: method token, VCHAR target, single SPs: what the server side accepts.
        line = b"%s %s HTTP/%s" % (method, target, version)
        if REQUEST_LINE.fullmatch(line) is None:
            raise LocalProtocolError(f"invalid method or request-target in {line!r}")
        error = target_error(method, target)
        if error is not None:
            raise LocalProtocolError(error)
        headers = event.headers
        block, length, coding, connection = encode_fields(headers)
        if block.translate(None, _BLOCK_CHARS):
            # RFC 9110 §5.5: no CTL but HTAB in a value (encode_fields only stops CR, LF, NUL).
            raise LocalProtocolError("control character in a field value")
        http10 = version == b"1.0"
        hosts: list[bytes] = []
        content_types = 0
        upgrade = expect = False
        for name, value in headers:
            lower = name.lower()
            if lower in _REQUEST_SPECIAL:
                if lower == b"host":
                    hosts.append(value.strip(b" \t"))
                elif lower == b"content-type":
                    content_types += 1
                elif lower == b"upgrade":
                    upgrade = True
                elif b"100-continue" in comma_tokens(value):
                    expect = not http10  # RFC 9110 §10.1.1: ignored in HTTP/1.0
        # RFC 9112 §3.2: exactly one valid Host in HTTP/1.1 (at most one in HTTP/1.0).
        if len(hosts) > 1 or (not hosts and not http10):
            raise LocalProtocolError("an HTTP/1.1 request needs exactly one host field")
        if hosts and HOST.fullmatch(hosts[0]) is None:
            raise LocalProtocolError(f"invalid host {hosts[0]!r}")
        if content_types > 1:
            raise LocalProtocolError("more than one content-type field")  # RFC 9110 §8.3
        mode = _NO_BODY
        size = 0
        if coding is not None:
            if length is not None:
                raise LocalProtocolError("both content-length and transfer-encoding")  # §6.2
            if http10:
                raise LocalProtocolError("transfer-encoding in an HTTP/1.0 request")  # §6.1
            if comma_tokens(coding) != [b"chunked"]:
                raise LocalProtocolError("a request's transfer-encoding must be chunked alone")
            mode = _CHUNKED
        elif length is not None:
            try:
                size = parse_content_length(length, None)
            except RemoteProtocolError:
                raise LocalProtocolError(f"invalid content-length {length!r}") from None
            mode = _SIZED
        if expect and not size and mode != _CHUNKED:
            # RFC 9110 §10.1.1: a client MUST NOT send 100-continue without content.
            raise LocalProtocolError("expect: 100-continue on a request without content")
        keep_alive = not http10
        tokens = comma_tokens(connection) if connection is not None else []
        if b"close" in tokens:
            keep_alive = False
        elif http10 and b"keep-alive" in tokens:
            keep_alive = True  # RFC 9112 §9.3: HTTP/1.0 persistence is opt-in
        connect = method == b"CONNECT"
        # RFC 9110 §7.8: Upgrade needs "Connection: upgrade", and HTTP/1.1.
        upgrade = upgrade and not http10 and b"upgrade" in tokens
        sent = _Sent(method == b"HEAD", connect, upgrade, keep_alive, expect)
        cs = self._cs
        last = self._last
        if cs.client is _IDLE and cs.server is _IDLE:
            cs.request(keep_alive, upgrade or connect, False, local=True)
            self._current = sent
            self._mode = HEAD
        elif last is not None and last.complete and last.keep_alive and cs.may_pipeline():
            if last.upgrade or last.connect:
                raise LocalProtocolError("no request may follow one that can switch protocols")
            self._ahead.append(sent)  # RFC 9112 §9.3.2: pipelined
        else:
            raise LocalProtocolError(
                f"cannot send a request in state {cs.client.name} (server {cs.server.name})"
            )
        self._last = sent
        self._send_mode = mode
        self._send_remaining = size
        self._out.append(line + b"\r\n" + block + b"\r\n")

    def _sending(self) -> _Sent:
        last = self._last
        if last is None or last.complete or self._cs.client is _ERROR:
            raise LocalProtocolError("no request body is being sent")
        return last

    def _send_data(self, data: bytes) -> None:
        self._sending()
        if type(data) is not bytes:
            data = bytes(data)
        mode = self._send_mode
        if mode == _SIZED:
            if len(data) > self._send_remaining:
                self._cs.client_failed()
                raise LocalProtocolError("request body longer than its content-length")
            self._send_remaining -= len(data)
            if data:
                self._out.append(data)
        elif mode == _CHUNKED:
            if data:
                self._out += (b"%x\r\n" % len(data), data, b"\r\n")
        elif data:
            # RFC 9112 §6.3 item 7: without Content-Length or Transfer-Encoding a request has
            # no body.
            raise LocalProtocolError("request without content-length or transfer-encoding")

    def _send_end(self, trailers: Headers) -> None:
        sent = self._sending()
        mode = self._send_mode
        last = None
        if mode == _CHUNKED:
            last = b"0\r\n\r\n"
            if trailers:
                # RFC 9112 §7.1.2: a trailer section after the last chunk, no framing fields.
                block, length, coding, connection = encode_fields(trailers)
                if length is not None or coding is not None or connection is not None:
                    raise LocalProtocolError("framing fields are not allowed in trailers")
                if block.translate(None, _BLOCK_CHARS):
                    raise LocalProtocolError("control character in a trailer value")
                last = b"0\r\n" + block + b"\r\n"
        elif trailers:
            raise LocalProtocolError("trailers need a chunked request")
        elif mode == _SIZED and self._send_remaining:
            self._cs.client_failed()
            raise LocalProtocolError(
                f"request body {self._send_remaining} bytes short of its content-length"
            )
        sent.complete = True
        if last is not None:
            self._out.append(last)
        if sent is self._current and self._cs.client_event(Input.END_OF_MESSAGE, local=True):
            self._next_cycle()

    # ------------------------------------------------------------------ receiving

    def _fail(self, exc: RemoteProtocolError) -> None:
        self._events.append(ConnectionFailed(exc))
        self._mode = _STOPPED
        self._buf = bytearray()
        self._line = None
        if self._cs.server is not _ERROR:
            self._cs.server_failed()

    def _unit_complete(self, buf: bytearray) -> bool:
        """Cheap check on the accumulated bytearray: can ``_parse`` make progress now?"""
        if self._mode == HEAD:
            return self._scan_head(buf, 0) >= 0
        return self._body_unit_complete(buf)

    def _scan_head(self, buf: bytes | bytearray, pos: int) -> int:
        """Index just past the head starting at ``pos``, or -1; validates the status line as
        soon as it is complete."""
        limits = self._limits
        line = self._line
        if line is None:
            le = scan_status_line(buf, pos, self._scan, limits.max_status_line_bytes)
            if le < 0:
                self._scan = max(0, len(buf) - pos - 1)
                return -1
            version, status, reason = parse_status_line(bytes(buf[pos:le]), 0, le - pos)
            self._line = line = (version, status, reason, le - pos)
            self._scan = le - pos + 2
        start = pos + line[3] + 2
        e = scan_section(buf, start, max(0, self._scan - line[3] - 2), limits.max_header_bytes)
        if e < 0:
            self._scan = max(line[3] + 2, len(buf) - pos - 3)
        return e

    def _parse(self, data: bytes, pos: int = 0) -> None:
        end = len(data)
        limits = self._limits
        try:
            while pos < end:
                mode = self._mode
                if mode == HEAD:
                    line = self._line
                    if line is None:
                        # Fast path: the whole head is here, found with two find() calls.
                        le = data.find(b"\r\n", pos, pos + limits.max_status_line_bytes + 2)
                        if le >= 0:
                            version, status, reason = parse_status_line(data, pos, le)
                            i = data.find(b"\r\n\r\n", le, le + limits.max_header_bytes + 4)
                            if i >= 0:
                                pos = self._on_head(data, le, i + 4, version, status, reason)
                                continue
                            self._line = (version, status, reason, le - pos)
                            self._scan = le - pos + 2
                    e = self._scan_head(data, pos)  # incremental: windows, early rejection
                    if e < 0:
                        break
                    line = self._line
                    assert line is not None  # internal invariant: set by _scan_head
                    self._line = None
                    pos = self._on_head(data, pos + line[3], e, line[0], line[1], line[2])
                elif mode < AFTER_BODY:
                    pos = self._read_body(data, pos)
                    if HEAD < self._mode < AFTER_BODY:
                        break  # the body needs more input
                elif mode == _UNTIL_CLOSE:
                    self._events.append(Data(data[pos:] if pos else data))
                    pos = end
                elif mode == _WAITING:
                    # Nothing was asked: a response here would be matched to the wrong request
                    # (response splitting), so nothing after it is parsed.
                    raise RemoteProtocolError("data from the server with no request outstanding")
                else:
                    return  # stopped (switched: see _switch)
        except RemoteProtocolError as exc:
            self._fail(exc)
            return
        if pos < end and self._mode != _STOPPED:
            self._buf = bytearray(memoryview(data)[pos:])

    def _on_head(
        self, data: bytes, le: int, e: int, version: bytes, status: int, reason: bytes
    ) -> int:
        """Emit the response head ending at ``e``; set up body reading; return ``e``."""
        self._scan = 0
        if e == le + 4:
            headers: list[tuple[bytes, bytes]] = []
            names: list[bytes] = []
            present: frozenset[bytes] = frozenset()
        else:
            cache = self._names
            headers, names, raw = parse_fields(
                data[le + 2 : e - 4], self._limits.max_header_count, cache
            )
            if cache is not None and names is cache[1]:
                present = cache[2]
            else:
                present = _RESPONSE_SPECIAL.intersection(names)
                self._names = (raw, names, present)
        current = self._current
        assert current is not None  # internal invariant: a head is only read for a request
        cs = self._cs
        if status < 200:
            if b"content-length" in present or b"transfer-encoding" in present:
                # RFC 9110 §8.6, RFC 9112 §6.1: a server MUST NOT send these in a 1xx.
                raise RemoteProtocolError("Content-Length or Transfer-Encoding in a 1xx response")
            event = InformationalResponse(status, headers, reason)
            if status == 101:
                if not current.upgrade:
                    raise RemoteProtocolError("101 without an upgrade request (RFC 9110 §15.2.2)")
                cs.server_event(Input.SWITCH, local=False)
                self._events.append(event)
                return self._switch(data, e)
            cs.server_event(Input.INFORMATIONAL, local=False)
            if status == 100:
                current.expect = False
            self._events.append(event)
            return e  # RFC 9112 §6.3 item 1: no body; the final response follows
        current.expect = False
        http10 = version == b"1.0"
        # RFC 9112 §9.3: persistence from the response's Connection field and version.
        keep_alive = not http10
        length = -1
        chunked = False
        if present:
            if b"connection" in present:
                tokens = comma_tokens(combined(headers, names, b"connection"))
                if b"close" in tokens:
                    keep_alive = False
                elif http10 and b"keep-alive" in tokens:
                    keep_alive = True
            if b"transfer-encoding" in present:
                if b"content-length" in present:
                    # RFC 9112 §6.1 / §6.3: both is how responses are split or smuggled.
                    raise RemoteProtocolError("both Transfer-Encoding and Content-Length")
                if http10:
                    raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 response")  # §6.1
                check_transfer_encoding(combined(headers, names, b"transfer-encoding"))
                chunked = True
            elif b"content-length" in present:
                length = parse_content_length(
                    combined(headers, names, b"content-length"), self._limits.max_body_bytes
                )
        if current.connect and status < 300:
            # RFC 9110 §9.3.6, RFC 9112 §6.3 item 2: the connection is a tunnel after the head.
            cs.server_event(Input.SWITCH, local=False)
            self._events.append(Response(status, headers, reason))
            return self._switch(data, e)
        cs.server_event(Input.RESPONSE, local=False)
        if not keep_alive and cs.keep_alive:
            cs.disable_keep_alive()
        self._events.append(Response(status, headers, reason))
        if current.is_head or status == 204 or status == 304:
            self._end_body(EOM)  # RFC 9112 §6.3 item 1: no content, whatever the fields say
        elif chunked:
            self._start_chunked()
        elif length > 0:
            self._mode = FIXED
            self._remaining = length
        elif length == 0:
            self._end_body(EOM)
        else:
            # RFC 9112 §6.3 item 8: no framing, the body lasts until the server closes.
            self._mode = _UNTIL_CLOSE
            cs.disable_keep_alive()
        return e

    def _switch(self, data: bytes, e: int) -> int:
        """Hand the connection over: what follows the head belongs to the new protocol."""
        self._trailing = data[e:]
        self._mode = _STOPPED
        return len(data)

    def _end_body(self, eom: EndOfMessage) -> None:
        self._events.append(eom)
        self._mode = _WAITING
        if self._cs.server_event(Input.END_OF_MESSAGE, local=False):
            self._next_cycle()

    def _next_cycle(self) -> None:
        """Both sides finished a cycle on a kept-alive connection: the next pipelined request,
        if any, becomes current (its response is what comes next)."""
        self._current = None
        if self._ahead:
            sent = self._ahead.popleft()
            self._current = sent
            self._cs.request(sent.keep_alive, sent.upgrade or sent.connect, sent.complete, True)
            self._mode = HEAD
        else:
            self._mode = _WAITING
