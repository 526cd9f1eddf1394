"""ServerConnection: the sans-IO contract shared by every asgiserver protocol package."""

from __future__ import annotations

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    Response,
    SendEvent,
)
from ._limits import Limits
from ._parser import parse_packet_header, parse_vars
from ._state import CLOSE_EXPECTED, ConnectionState, Input, State
from ._writer import write_head

__all__ = ["ServerConnection"]

_NO_CONTENT = frozenset({204, 304})  # RFC 9110 sections 15.3.5 and 15.4.5


class ServerConnection:
    """One uwsgi connection, server side: one request in, one HTTP/1.x response out.

    After any call, drain both ``events_received()`` and ``data_to_send()``.
    """

    __slots__ = (
        "_body_length",
        "_buf",
        "_cs",
        "_declared",
        "_eof",
        "_events",
        "_head_request",
        "_no_body",
        "_out",
        "_remaining",
        "_sent",
        "_vars_size",
        "limits",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits if limits is not None else Limits()
        self._cs = ConnectionState()
        self._buf = bytearray()  # the packet head only: header + vars block, never body
        self._vars_size = -1  # datasize, once the 4-byte header is complete
        self._remaining = 0  # request body bytes still expected
        self._body_length = 0
        self._eof = False
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._head_request = False
        self._no_body = False  # the response carries no body bytes (HEAD, 204, 304)
        self._declared: int | None = None  # the response's content-length
        self._sent = 0

    # -- state -------------------------------------------------------------------------------

    @property
    def their_state(self) -> State:
        return self._cs.their

    @property
    def our_state(self) -> State:
        return self._cs.our

    @property
    def pending_bytes(self) -> int:
        """Bytes received and buffered but not yet turned into events (at most the packet head)."""
        return len(self._buf)

    def close_expected(self) -> bool:
        """True once nothing more will be sent: close the transport after writing."""
        return self._cs.our in CLOSE_EXPECTED

    # -- receiving ---------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the peer. Never raises for a misbehaving peer; b"" is not EOF."""
        if self._eof:
            raise LocalProtocolError("receive_data() after receive_eof()")
        if not data:
            return
        their = self._cs.their
        if their is State.SEND_BODY:
            self._receive_body(data)
        elif their is State.IDLE or their is State.HEAD:
            self._receive_head(data)
        # DONE: bytes after the declared body are ignored (nginx sends none); a request has
        # exactly CONTENT_LENGTH bytes of body. CLOSED, ERROR: discarded.

    def receive_eof(self) -> None:
        """The peer closed (or shut down) its sending side."""
        if self._eof:
            return
        self._eof = True
        their = self._cs.their
        if their is State.HEAD:
            if self._vars_size < 0:
                msg = f"EOF after {len(self._buf)} of the 4 packet header bytes"
            else:
                msg = f"EOF after {len(self._buf) - 4} of {self._vars_size} vars block bytes"
        elif their is State.SEND_BODY:
            done = self._body_length - self._remaining
            msg = f"EOF after {done} of {self._body_length} body bytes (CONTENT_LENGTH)"
        else:
            msg = ""
        new = self._cs.process_theirs(Input.EOF)
        if new is State.CLOSED:
            self._events.append(ConnectionClosed())
        elif msg:
            self._buf.clear()
            self._events.append(ConnectionFailed(RemoteProtocolError(msg, status_hint=400)))

    def events_received(self) -> list[Event]:
        """Drain the events parsed so far; the states already reflect them."""
        events = self._events
        self._events = []
        return events

    def _fail(self, error: RemoteProtocolError) -> None:
        self._buf.clear()
        self._cs.process_theirs(Input.FAILURE)
        self._events.append(ConnectionFailed(error))

    def _receive_head(self, data: bytes | bytearray | memoryview) -> None:
        buf = self._buf
        if self._cs.their is State.IDLE:
            self._cs.process_theirs(Input.BYTES)
        n = len(data)
        pos = 0
        size = self._vars_size
        if size < 0:
            # The 4-byte packet header, checked before any of the vars block is buffered: read
            # in place when this chunk holds it whole and nothing is buffered (the usual case).
            if not buf and n >= 4:
                header: bytes | bytearray | memoryview = data
            else:
                pos = 4 - len(buf)
                buf += data[:pos]
                if len(buf) < 4:
                    return
                header = buf
            try:
                size = parse_packet_header(header, self.limits.max_vars_bytes)
            except RemoteProtocolError as exc:
                self._fail(exc)
                return
            if header is data and n >= 4 + size:
                # Fast path: the whole head in this chunk: parse it in place, buffer nothing.
                self._receive_vars(bytes(data[4 : 4 + size]), data, 4 + size)
                return
            self._vars_size = size
        # Buffer exactly the bytes the head still lacks (buf holds the header, then the block).
        need = 4 + size - len(buf)
        if n - pos < need:
            buf += data[pos:]
            return
        buf += data[pos : pos + need]
        del buf[:4]
        block = bytes(buf)
        buf.clear()
        self._receive_vars(block, data, pos + need)

    def _receive_vars(self, block: bytes, data: bytes | bytearray | memoryview, pos: int) -> None:
        try:
            request, length = parse_vars(block, self.limits.max_body_bytes)
        except RemoteProtocolError as exc:
            self._fail(exc)
            return
        self._events.append(request)
        self._cs.process_theirs(Input.REQUEST)
        self._head_request = request.method == b"HEAD"
        self._body_length = self._remaining = length
        if length == 0:
            self._events.append(EndOfMessage())
            self._cs.process_theirs(Input.END_OF_MESSAGE)
        elif pos < len(data):
            self._receive_body(data[pos:])

    def _receive_body(self, data: bytes | bytearray | memoryview) -> None:
        # Per-chunk work is a counter; only the end of the body goes through the state table.
        n = len(data)
        remaining = self._remaining
        if n < remaining:
            self._remaining = remaining - n
            self._events.append(Data(data if type(data) is bytes else bytes(data)))
            return
        self._remaining = 0
        self._events.append(Data(bytes(data[:remaining]) if n > remaining else bytes(data)))
        self._events.append(EndOfMessage())
        self._cs.process_theirs(Input.END_OF_MESSAGE)

    # -- sending -----------------------------------------------------------------------------

    def send(self, event: SendEvent) -> None:
        """Queue a Response, Data or EndOfMessage; raise LocalProtocolError on misuse.

        If send() raises, nothing was queued. Once the response head has been queued, a
        rejected Data/EndOfMessage also moves our state to ERROR (the response is broken);
        before that the state is unchanged, so a 500 can still be sent instead.
        """
        if type(event) is Data:
            self._send_data(event.data)
        elif type(event) is Response:
            self._send_response(event)
        elif type(event) is EndOfMessage:
            self._send_end()
        else:
            raise LocalProtocolError(f"can't send {event!r:.200}")

    def _send_response(self, response: Response) -> None:
        head, declared = write_head(response)
        self._cs.process_ours(Input.RESPONSE)
        # RFC 9110 sections 9.3.2, 15.3.5, 15.4.5: no content after HEAD, 204 or 304. The
        # content-length of a HEAD or 304 response is kept (it describes the representation,
        # not this body); write_head dropped a 204's (section 8.6).
        self._no_body = self._head_request or response.status in _NO_CONTENT
        self._declared = None if self._no_body else declared
        self._out.append(head)

    def _send_data(self, data: bytes) -> None:
        if self._cs.our is not State.SEND_BODY:
            raise LocalProtocolError(f"can't send Data when our state is {self._cs.our.value}")
        if not data or self._no_body:
            return
        declared = self._declared
        if declared is not None:
            sent = self._sent + len(data)
            if sent > declared:
                self._cs.fail_ours()
                raise LocalProtocolError(f"too much data for content-length {declared}")
            self._sent = sent
        self._out.append(data if type(data) is bytes else bytes(data))

    def _send_end(self) -> None:
        declared = self._declared
        if self._cs.our is State.SEND_BODY and declared is not None and self._sent < declared:
            self._cs.fail_ours()
            raise LocalProtocolError(
                f"response ended after {self._sent} of content-length {declared} bytes"
            )
        self._cs.process_ours(Input.END_OF_MESSAGE)

    def data_to_send(self) -> list[bytes]:
        """Drain the bytes to write, in order; after EndOfMessage, close_expected() is True."""
        out = self._out
        self._out = []
        return out

    def __repr__(self) -> str:
        return f"<ServerConnection their={self._cs.their.value} our={self._cs.our.value}>"
