"""HTTP/1.1 over asyncio: one `H1Protocol` per connection drives `asgiserver.http1`.

The protocol owns the transport, the timers and flow control in both directions; the sans-IO package owns
every protocol decision; the shared `HTTPCycle` owns the ASGI rules. Timers follow protocol state:
- a head deadline from the first byte of a request (or from accept) to the end of its head (slowloris),
- a keep-alive idle timer while waiting for the next request with nothing buffered,
- a body-stall timer while the application waits for request body bytes that do not come.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from asgiserver import http1, ws
from asgiserver.server._base import (
    BODY_TIMER,
    HEAD_TIMER,
    KEEPALIVE_TIMER,
    NO_TIMER,
    StreamProtocol,
    error_logger,
)
from asgiserver.server._http import SPEC_VERSION, Headers, HTTPCycle
from asgiserver.server._websocket import WebSocketSession, websocket_scope

if TYPE_CHECKING:
    from asgiserver.server._state import ServerState

PIPELINE_HIGH_WATER = 64 * 1024  # unparsed pipelined bytes held while a response is in progress

_Request = http1.Request
_Data = http1.Data
_EndOfMessage = http1.EndOfMessage
_ConnectionClosed = http1.ConnectionClosed
_ConnectionFailed = http1.ConnectionFailed
_Response = http1.Response

_ERROR_BODIES = {
    400: b"Bad Request",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    501: b"Not Implemented",
    503: b"Service Unavailable",
    505: b"HTTP Version Not Supported",
}


def _split_target(target: bytes) -> tuple[bytes, bytes]:
    """Return (raw_path, query_string) of an origin-, absolute- or asterisk-form target."""
    if target[:1] != b"/" and target != b"*":
        # absolute-form (RFC 9112 §3.2.2): the path starts after the scheme and the authority.
        rest = target.partition(b"://")[2]
        end = len(rest)
        for delimiter in (b"/", b"?"):
            found = rest.find(delimiter)
            if 0 <= found < end:
                end = found
        target = rest[end:]
        if target[:1] != b"/":
            target = b"/" + target
    raw_path, _, query = target.partition(b"?")
    return raw_path, query


def _decode_path(raw_path: bytes) -> str:
    if b"%" in raw_path:
        raw_path = unquote_to_bytes(raw_path)
    return raw_path.decode("utf-8", "replace")


class H1Protocol(StreamProtocol):
    __slots__ = (
        "_denial_status",
        "conn",
        "request_method",
        "request_target",
        "request_version",
        "websocket",
    )

    def __init__(self, state: ServerState) -> None:
        super().__init__(state)
        self.conn = http1.ServerConnection(limits=state.http1_limits)
        self.request_method = b""
        self.request_target = b""
        self.request_version = b"1.1"
        self.websocket: WebSocketSession | None = None
        self._denial_status = 0

    # ---- transport callbacks -----------------------------------------------------------------------

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.websocket is not None:
            self.websocket.connection_lost(exc)
            self.websocket = None

    def eof_received(self) -> bool | None:
        if self._lingering:
            self._close()
            return None
        self.conn.receive_eof()
        self._handle_events()
        self._on_peer_closed()
        return None

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._linger_data(data)
            return
        self.conn.receive_data(data)
        self._handle_events()

    # ---- protocol events ---------------------------------------------------------------------------

    def _handle_events(self, events: list[http1.Event] | None = None) -> None:
        if events is None:
            events = self.conn.events_received()
        for event in events:
            kind = type(event)
            if kind is _Data:
                self._on_data(event.data)  # type: ignore[union-attr]
            elif kind is _Request:
                self._on_request(event)  # type: ignore[arg-type]
            elif kind is _EndOfMessage:
                self._on_end_of_body()
            elif kind is _ConnectionFailed:
                self._on_failed(event.error)  # type: ignore[union-attr]
                return
            elif kind is _ConnectionClosed:
                self._on_peer_closed()
                return
        if self.cycle is None:
            if self._timer_kind == KEEPALIVE_TIMER and self.conn.pending_bytes:
                # The next request has started arriving: its head must now complete in time.
                self._arm(HEAD_TIMER, self.state.config.timeout_request_head)
        elif self.conn.pending_bytes > PIPELINE_HIGH_WATER and not self._read_paused:
            self._pause_reading()

    def _on_request(self, event: http1.Request) -> None:
        state = self.state
        config = state.config
        self._timer_kind = NO_TIMER  # the head is complete (the handle is reused lazily)
        target = self.request_target = event.target
        self.request_method = event.method
        self.request_version = event.http_version
        if state.limit_concurrency is not None and state.inflight >= state.limit_concurrency:
            self._reject(503)
            return
        if target[:1] == b"/":  # origin-form, the common case
            raw_path, _, query = target.partition(b"?")
        else:
            raw_path, query = _split_target(target)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": SPEC_VERSION},
            "http_version": "1.1" if event.http_version == b"1.1" else "1.0",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": event.method.decode("ascii"),
            "root_path": config.root_path,
            "path": _decode_path(raw_path)
            if b"%" in raw_path
            else raw_path.decode("utf-8", "replace"),
            "raw_path": raw_path,
            "query_string": query,
            "headers": event.headers,
            "state": state.app_state.copy(),
            "extensions": {"http.response.trailers": {}, "http.response.early_hint": {}},
        }
        if self.conn.upgrade == b"websocket" and config.ws != "none":
            self._on_websocket(event, scope)
            return
        if self.proxy_trusted:
            state.proxy.apply(scope)  # type: ignore[union-attr]
        cycle = self.cycle = HTTPCycle(scope, self, False, self.loop.time())
        state.start_cycle(cycle)

    def _on_websocket(self, event: http1.Request, base: dict[str, Any]) -> None:
        handshake = ws.validate_request(event.method, event.http_version, event.headers)
        if isinstance(handshake, ws.HandshakeRejection):
            error_logger.info(
                "Invalid WebSocket handshake from %s: %s", self._peer(), handshake.reason
            )
            self.respond_and_close(handshake.status, handshake.headers, handshake.reason.encode())
            return
        scope = websocket_scope(self, handshake, base)
        if self.proxy_trusted:
            self.state.proxy.apply(scope)  # type: ignore[union-attr]
        session = self.websocket = WebSocketSession(self, handshake, scope)
        self.state.start_task(session.run())

    def detach(self) -> None:
        """The transport now belongs to a WebSocket session: forget it."""
        self._cancel_timer()
        self.state.connections.discard(self)
        self.websocket = None
        self.transport = None
        self._closing = True

    def respond_and_close(self, status: int, headers: Headers, body: bytes) -> None:
        """A complete response outside any ASGI cycle, then close (refused upgrades, errors)."""
        self.stream_denial(status, headers, body, more=False)

    def stream_denial(self, status: int, headers: Headers, body: bytes, more: bool) -> None:
        """A response written from outside an HTTP cycle; the connection closes after it."""
        conn = self.conn
        if self.transport is None or self._closed():
            return
        try:
            if not self._denial_status:
                out = [
                    h
                    for h in headers
                    if h[0].lower() not in (b"content-length", b"transfer-encoding")
                ]
                if not more:
                    out.append((b"content-length", str(len(body)).encode()))
                out.append((b"connection", b"close"))
                out.extend(self.state.default_headers())
                conn.send(_Response(status=status, headers=out))
                self._denial_status = status
            if body:
                conn.send(_Data(body))
            if not more:
                conn.send(_EndOfMessage())
        except http1.LocalProtocolError as exc:
            error_logger.error("Invalid response: %s", exc)
            self._close()
            return
        self._write()
        if not more:
            self._log_request(status, len(body), None)
            self._close_lingering()

    def _on_failed(self, error: http1.RemoteProtocolError) -> None:
        cycle = self.cycle
        error_logger.info(
            "Rejected HTTP request from %s: %s (%d)", self._peer(), error, error.status_hint
        )
        if cycle is not None:
            cycle.disconnect()
            if not cycle.response_started:
                self._reject(error.status_hint)
                return
            self._close()
            return
        self._reject(error.status_hint)

    def _on_peer_closed(self) -> None:
        # End of input means the client is gone, as nginx treats it (no half-closed clients): an
        # application waiting on a long poll must learn of it.
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnect()
        if self.websocket is not None:
            self.websocket.connection_lost(None)
            self.websocket = None
        self._close()

    def _reject(self, status: int) -> None:
        """Answer a request the application never sees (bad framing, limits, overload, timeouts)."""
        body = _ERROR_BODIES.get(status, b"Error")
        self.respond_and_close(status, [(b"content-type", b"text/plain; charset=utf-8")], body)

    # ---- ResponseStream (called by HTTPCycle) ------------------------------------------------------

    def start_response(
        self, status: int, headers: Headers, body: bytes, end: bool, trailers: bool
    ) -> None:
        if self.transport is None or self._closed():
            return
        out: Headers = []
        has_length = has_date = has_server = False
        for header in headers:
            name = header[0].lower()
            if name == b"content-length":
                has_length = True
            elif name == b"transfer-encoding":
                continue  # ASGI: the server frames the body itself and ignores this header
            elif name == b"date":
                has_date = True
            elif name == b"server":
                has_server = True
            out.append(header)
        state = self.state
        if (
            end
            and not has_length
            and not trailers
            and status != 204
            and status != 304
            and self.request_method != b"HEAD"
        ):
            out.append((b"content-length", b"%d" % len(body)))
        if not has_server and state.server_header is not None:
            out.append(state.server_header)
        if not has_date and state.date_header_enabled:
            out.append(state.date_header)
        if state.extra_headers:
            out += state.extra_headers
        if self._closing or state.shutting_down:
            out.append((b"connection", b"close"))
        conn = self.conn
        try:
            conn.send(_Response(status, out))
            if body:
                conn.send(_Data(body))
            if end:
                conn.send(_EndOfMessage())
        except http1.LocalProtocolError as exc:
            error_logger.error("Invalid response from the ASGI application: %s", exc)
            self._write()
            self._close()
            raise
        self._write()
        if end:
            self._response_done()

    def send_body(self, body: bytes, end: bool) -> None:
        if self.transport is None or self._closed():
            return
        conn = self.conn
        try:
            if body:
                conn.send(_Data(body))
            if end:
                conn.send(_EndOfMessage())
        except http1.LocalProtocolError as exc:
            error_logger.error("Invalid response body from the ASGI application: %s", exc)
            self._close()
            raise
        self._write()
        if end:
            self._response_done()

    def send_trailers(self, headers: Headers) -> None:
        if self.transport is None or self._closed():
            return
        trailers = headers if self.conn.trailers_accepted else []
        try:
            self.conn.send(_EndOfMessage(headers=trailers))
        except http1.LocalProtocolError as exc:
            error_logger.error("Invalid response trailers from the ASGI application: %s", exc)
            self._close()
            raise
        self._write()
        self._response_done()

    def send_informational(self, status: int, headers: Headers) -> None:
        if self.transport is None or self._closed() or self.request_version != b"1.1":
            return  # RFC 9110 §15.2: no 1xx to HTTP/1.0 clients
        self.conn.send(http1.InformationalResponse(status=status, headers=headers))
        self._write()

    def want_body(self) -> None:
        conn = self.conn
        if conn.expect_continue:
            # RFC 9110 §10.1.1: the 100 goes out only once the application asks for the body.
            conn.send(http1.InformationalResponse(status=100))
            self._write()
        super().want_body()

    # ---- helpers -----------------------------------------------------------------------------------

    def _write(self) -> None:
        self._write_chunks(self.conn.data_to_send())

    def _response_done(self) -> None:
        cycle = self.cycle
        if cycle is not None and self.state.access_log:
            self._log_request(cycle.status, cycle.bytes_sent, cycle.start_time)
        if self._timer_kind == BODY_TIMER:
            self._cancel_timer()
        conn = self.conn
        if conn.close_expected() or self._closing or self.state.shutting_down:
            if cycle is not None and not cycle.body_complete:
                self._close_lingering()  # answered before the request body was read
            else:
                self._close()
            return
        self.cycle = None
        if self._read_paused:
            self._resume_reading()
        events = conn.events_received()
        if conn.pending_bytes or events:
            self._arm(HEAD_TIMER, self.state.config.timeout_request_head)
            if events:
                self._cork()  # pipelined requests are queued: batch their responses
        else:
            self._uncork()
            self._arm(KEEPALIVE_TIMER, self.state.config.timeout_keep_alive)
        if events:
            # Pipelined requests: handle them on the next loop turn, never recursively.
            self.loop.call_soon(self._handle_events, events)

    def _log_request(self, status: int, size: int, start: float | None) -> None:
        if not self.state.access_log:
            return
        if self.request_method:
            method = self.request_method.decode("ascii", "replace")
            target = self.request_target.decode("ascii", "backslashreplace")
            line = f"{method} {target} HTTP/{self.request_version.decode('ascii', 'replace')}"
        else:
            line = "-"  # rejected before a request line was parsed
        self._log_access(line, status, size, start)

    def _on_idle_timer(self, kind: int) -> None:
        if kind == HEAD_TIMER and self.conn.pending_bytes:
            error_logger.info("Request head from %s not received in time", self._peer())
            self.request_method = b""
            self._request_timed_out()
        else:
            self._close()

    def _request_timed_out(self) -> None:
        # The package fails the request in band (408) and the answer goes out as for any bad request.
        self.conn.timed_out()
        self._handle_events()
        if not self._closing:
            self._close()

    # ---- server control ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Graceful shutdown: close when idle, otherwise after the current response."""
        self._closing = True
        if self.websocket is not None:
            self.websocket.shutdown()
        elif self.cycle is None:
            self._close()
