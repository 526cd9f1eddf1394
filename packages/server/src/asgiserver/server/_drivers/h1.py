"""HTTP/1.1: `H1Driver` drives `asgiserver.http1` for one connection and is its one request's stream.

The package owns every protocol decision; the `HTTPCycle` owns the ASGI rules; this driver translates
and owns the connection's HTTP/1 policy: `connection: close` when closing, pipelining (responses
joined into one write), 100-continue on the first read, lingering close after an early response, and
the deadlines, which follow protocol state:
- a head deadline from the first byte of a request (or from accept) to the end of its head (slowloris),
- a keep-alive idle deadline while waiting for the next request with nothing buffered,
- a body-stall deadline while the application waits for request body bytes that do not come.
A WebSocket upgrade gets a `WebSocketCycle` over a `WSChannel`; after its 101 the channel takes the
connection's input (`Sink.switch_to`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

from asgiserver import h2adapter, http1, ws
from asgiserver.server._asgi.http import HTTPCycle
from asgiserver.server._asgi.stream import FinishedCycle
from asgiserver.server._asgi.types import Headers
from asgiserver.server._asgi.websocket import WebSocketCycle
from asgiserver.server._drivers.base import (
    BODY_TIMER,
    HEAD_TIMER,
    KEEPALIVE_TIMER,
    NO_TIMER,
    Driver,
    DriverFactory,
    Services,
    Sink,
    body_stalled,
    peer_text,
)
from asgiserver.server._drivers.h2 import PREFACE, H2Driver, h2_limits
from asgiserver.server._drivers.metrics import HTTP1, WEBSOCKET
from asgiserver.server._drivers.ws import WSChannel
from asgiserver.server._logging import log_access

logger = logging.getLogger("asgiserver.error")

HIGH_WATER = 64 * 1024  # request body buffered for the app before reading pauses
PIPELINE_HIGH_WATER = 64 * 1024  # unparsed pipelined bytes held while a response is in progress
# The longest a pipelined response waits for the ones after it: they are joined into one write when
# the queue of requests that arrived together is empty. Under load a loop turn lasts a millisecond
# or more and each queued request takes one, so a 1 ms cork wrote nearly every response by itself
# (and a send costs more than the response on loopback); 20 ms keeps the batch whole and bounds
# what a slow request costs the responses queued before it.
CORK_SECONDS = 0.02

_Request = http1.Request
_Data = http1.Data
_EndOfMessage = http1.EndOfMessage
_ConnectionClosed = http1.ConnectionClosed
_ConnectionFailed = http1.ConnectionFailed
_Response = http1.Response
_CLOSE = (b"connection", b"close")

ERROR_BODIES = {
    400: b"Bad Request",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    503: b"Service Unavailable",
    505: b"HTTP Version Not Supported",
}


def http_driver_factory(services: Services) -> DriverFactory:
    """HTTP/1.1, or HTTP/2 when TLS negotiated `h2` (RFC 9113 §3.2) or the client starts with the
    connection preface (prior knowledge, §3.3); `--no-http2` turns HTTP/2 off."""
    config = services.config
    limits = http1.Limits(
        max_request_line_bytes=config.limit_request_line,
        max_header_bytes=config.limit_request_headers_size,
        max_header_count=config.limit_request_fields,
        max_body_bytes=config.limit_request_body,
    )
    h2 = h2_limits(services) if config.http2 else None

    def make(sink: Sink) -> Driver:
        if h2 is not None and sink.alpn == "h2":
            driver = H2Driver(services, sink, h2)
            driver.start()
            return driver
        return H1Driver(services, sink, limits, h2)

    return make


class H1Driver:
    __slots__ = (
        "_denial_status",
        "_h2",
        "_preface",
        "_starting",
        "_write_out",
        "client",
        "conn",
        "cycle",
        "last_body_time",
        "request_method",
        "request_target",
        "request_version",
        "services",
        "sink",
        "tls",
        "trusted",
        "websocket",
    )

    def __init__(
        self,
        services: Services,
        sink: Sink,
        limits: http1.Limits,
        h2: h2adapter.Limits | None = None,
    ) -> None:
        self.services = services
        self._h2 = h2  # HTTP/2 limits while a prior-knowledge preface may still come, else None
        self._preface = b""
        self._starting: Coroutine[Any, Any, None] | None = None  # the app of the request just read
        self.sink = sink
        self._write_out = sink.write
        self.conn = http1.ServerConnection(limits=limits)
        self.cycle: HTTPCycle | None = None
        self.websocket: WebSocketCycle | None = None
        self.request_method = b""
        self.request_target = b""
        self.request_version = b"1.1"
        self.last_body_time = 0.0
        self._denial_status = 0
        self.trusted = services.scopes.trusts_peer(sink.client)
        self.tls = sink.tls_extension() if sink.secure else None
        self.client = sink.client  # the resolved client of the request, for the access log
        sink.arm(HEAD_TIMER, services.config.timeout_request_head)

    # ---- connection input --------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if self._h2 is not None:
            data = self._sniff(data)
            if not data:
                return
        conn = self.conn
        conn.receive_data(data)
        self._handle_events(conn.events_received())

    def _sniff(self, data: bytes) -> bytes:
        """RFC 9113 §3.3: a cleartext client with prior knowledge opens with the connection preface
        (which HTTP/1.1 would answer with 505). Only the first bytes of a connection are looked at."""
        data = self._preface + data
        if PREFACE.startswith(data[:24]):
            if len(data) < len(PREFACE):
                self._preface = data  # a preface split across reads: wait for the rest
                return b""
            driver = H2Driver(self.services, self.sink, self._h2)  # type: ignore[arg-type]
            self.sink.switch_to(driver)
            driver.start(data)
            return b""
        self._h2 = None
        self._preface = b""
        return data

    def receive_eof(self) -> None:
        self.conn.receive_eof()
        self._handle_events(self.conn.events_received())
        self._on_peer_closed()

    def connection_lost(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnect()
        websocket = self.websocket
        if websocket is not None:
            self.websocket = None
            websocket.closed(1006, "")

    def _handle_events(self, events: list[http1.Event]) -> None:
        for event in events:
            kind = type(event)
            if kind is _Data:
                self._on_data(event.data)  # type: ignore[union-attr]
            elif kind is _Request:
                self._on_request(event)  # type: ignore[arg-type]
            elif kind is _EndOfMessage:
                cycle = self.cycle  # _on_end_of_body(), inline: every request has one
                if cycle is not None:
                    cycle.end_body()
                    if self.sink.timer_kind == BODY_TIMER:
                        self.sink.timer_kind = NO_TIMER
            elif kind is _ConnectionFailed:
                self._drop_starting()
                self._on_failed(event.error)  # type: ignore[union-attr]
                return
            elif kind is _ConnectionClosed:
                self._drop_starting()
                self._on_peer_closed()
                return
        starting = self._starting
        if starting is not None:
            # Started once the whole read is handled: the body that came with the head is already
            # in the cycle when the app's task first runs.
            self._starting = None
            self.services.start_cycle(starting)
        sink = self.sink
        if self.cycle is None:
            if sink.timer_kind == KEEPALIVE_TIMER and self.conn.pending_bytes:
                # The next request has started arriving: its head must now complete in time.
                sink.arm(HEAD_TIMER, self.services.config.timeout_request_head)
        elif self.conn.pending_bytes > PIPELINE_HIGH_WATER and not sink.read_paused:
            sink.pause_reading()

    def _on_request(self, event: http1.Request) -> None:
        services = self.services
        sink = self.sink
        sink.timer_kind = NO_TIMER  # the head is complete (the timer handle is reused lazily)
        target = self.request_target = event.target
        self.request_method = event.method
        version = self.request_version = event.http_version
        upgrade = self.conn.upgrade
        if upgrade is not None:
            if upgrade == b"websocket" and services.config.ws != "none":
                self._on_websocket(event)
                return
            if upgrade == b"h2c" and services.config.h2c_upgrade and self._upgrade_h2c(event):
                return
        # The scope (with trusted proxy headers resolved) comes first: the 503 is logged with it.
        scope = services.scopes.http(
            event.method,
            target,
            "1.1" if version == b"1.1" else "1.0",
            event.headers,
            "https" if sink.secure else "http",
            sink.client,
            sink.server,
            self.trusted,
            self.tls,
        )
        self.client = scope["client"]
        limit = services.limit_concurrency  # --limit-concurrency (services.overloaded(), inline)
        if limit is not None and services.inflight >= limit:
            self._reject(503)
            return
        # The start time is only read by the access log and the metrics.
        start = sink.time() if services.access_log or services.metrics is not None else 0.0
        cycle = self.cycle = HTTPCycle(scope, self, services.defaults, False, start)
        if services.shutting_down:
            cycle.shutdown()  # served during the shutdown grace: the drain applies to it too
        self._starting = cycle.run(services.app, services.config.timeout_request)

    def _drop_starting(self) -> None:
        """The request broke in the same read that completed its head: the app never sees it."""
        starting = self._starting
        if starting is not None:
            self._starting = None
            starting.close()

    def _on_data(self, data: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return  # a body nobody will read; the connection closes after this response
        sink = self.sink
        self.last_body_time = sink.time()
        if cycle.feed_body(data) > HIGH_WATER and not sink.read_paused:
            sink.pause_reading()

    def _on_failed(self, error: http1.RemoteProtocolError) -> None:
        logger.info(
            "Rejected HTTP request from %s: %s (%d)", self._peer(), error, error.status_hint
        )
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnect()
            if cycle.response_started:
                self.sink.close()
                return
        self._reject(error.status_hint)

    def _on_peer_closed(self) -> None:
        # End of input means the client is gone, as nginx treats it (no half-closed clients): an
        # application waiting on a long poll must learn of it.
        self.connection_lost()
        self.sink.close()

    # ---- WebSocket upgrade -------------------------------------------------------------------------

    def _on_websocket(self, event: http1.Request) -> None:
        handshake = ws.validate_request(event.method, event.http_version, event.headers)
        if isinstance(handshake, ws.HandshakeRejection):
            logger.info("Invalid WebSocket handshake from %s: %s", self._peer(), handshake.reason)
            self.respond(handshake.status, handshake.headers, handshake.reason.encode(), False)
            return
        sink = self.sink
        scope = self.services.scopes.websocket(
            event.target,
            "1.1" if event.http_version == b"1.1" else "1.0",
            event.headers,
            sink.secure,
            sink.client,
            sink.server,
            list(handshake.subprotocols),
            self.trusted,
            self.tls,
        )
        self.client = scope["client"]
        if self.services.overloaded():
            self._reject(503)
            return
        channel = WSChannel(self.services, sink, handshake, self)
        cycle = self.websocket = WebSocketCycle(scope, channel, self.services.config.ws_max_queue)
        channel.cycle = cycle
        self._starting = cycle.run(self.services.app)

    def _upgrade_h2c(self, event: http1.Request) -> bool:
        """`Upgrade: h2c` (RFC 7540 §3.2), only with --h2c-upgrade: a proxy that passes Upgrade
        through would let a client reach us in HTTP/2 past the proxy's per-request rules (h2c
        smuggling). Refused (the request is served over HTTP/1.1) unless the request has no body,
        exactly one HTTP2-Settings field, named in Connection, with a valid value (§3.2.1)."""
        settings: list[bytes] = []
        connection = b""
        kept: Headers = []
        for name, value in event.headers:
            if name == b"http2-settings":
                settings.append(value)
            elif name == b"connection":
                connection += b"," + value.lower()
            elif name in (b"content-length", b"transfer-encoding") and value != b"0":
                return False  # the body would have to be read over HTTP/1.1 first
            elif name not in (b"upgrade", b"keep-alive", b"proxy-connection", b"te"):
                kept.append((name, value))  # RFC 9113 §8.2.2: no connection-specific fields
        tokens = {token.strip(b" \t") for token in connection.split(b",")}
        if (
            len(settings) != 1
            or b"http2-settings" not in tokens
            or not h2adapter.valid_upgrade_settings(settings[0])
        ):
            return False
        self.sink.timer_kind = NO_TIMER
        upgrade = [(b"connection", b"Upgrade"), (b"upgrade", b"h2c")]
        self.conn.send(http1.InformationalResponse(status=101, headers=upgrade))
        self._write()
        driver = H2Driver(self.services, self.sink, h2_limits(self.services))
        self.sink.switch_to(driver)
        driver.start_upgraded(
            settings[0], event.method, event.target, kept, self.conn.trailing_data
        )
        return True

    def open_websocket(self, status: int, headers: Headers) -> bytes | None:
        """Send the 101 that accepts the upgrade; returns the bytes that followed the request, or
        None when the client is already gone. The channel then takes the connection's input."""
        if self.sink.closed:
            return None
        self.sink.timer_kind = NO_TIMER
        headers = headers + self.services.defaults.fields()
        self.conn.send(http1.InformationalResponse(status=status, headers=headers))
        self._write()
        self.websocket = None
        metrics = self.services.metrics
        if metrics is not None:
            metrics.request_done(WEBSOCKET, status, None)
        return self.conn.trailing_data

    def deny_websocket(self, status: int, headers: Headers, body: bytes, more: bool) -> None:
        self.websocket = None
        self.respond(status, headers, body, more)

    # ---- responses the application never sees ------------------------------------------------------

    def _reject(self, status: int) -> None:
        """Answer a request the application never sees (bad framing, limits, overload, timeouts)."""
        body = ERROR_BODIES.get(status, b"Error")
        self.respond(status, [(b"content-type", b"text/plain; charset=utf-8")], body, False)

    def respond(self, status: int, headers: Headers, body: bytes, more: bool) -> None:
        """A response written from outside an HTTP cycle; the connection closes after it. With
        `more`, later calls continue the body (the WebSocket denial extension)."""
        if self.sink.closed:
            return
        conn = self.conn
        try:
            if not self._denial_status:
                out = [
                    h
                    for h in headers
                    if h[0].lower() not in (b"content-length", b"transfer-encoding")
                ]
                if not more:
                    out.append((b"content-length", b"%d" % len(body)))
                out.append(_CLOSE)
                out += self.services.defaults.fields()
                conn.send(_Response(status=status, headers=out))
                self._denial_status = status
                metrics = self.services.metrics
                if metrics is not None:
                    # A WebSocket handshake answered without a 101 counts as a WebSocket.
                    websocket = self.conn.upgrade == b"websocket"
                    metrics.request_done(WEBSOCKET if websocket else HTTP1, status, None)
            if body:
                conn.send(_Data(body))
            if not more:
                conn.send(_EndOfMessage())
        except http1.LocalProtocolError as exc:
            logger.error("Invalid response: %s", exc)
            self.sink.close()
            return
        self._write()
        if not more:
            self._log_request(self._denial_status, len(body), None)
            self.sink.close_lingering()

    # ---- HTTPStream (called by HTTPCycle) ----------------------------------------------------------

    @property
    def write_paused(self) -> bool:
        return self.sink.write_paused

    def send_head(self, status: int, headers: Headers, body: bytes, end: bool) -> None:
        sink = self.sink
        if sink.closed:
            return
        if self.services.shutting_down or sink.closing or self.cycle.failed:  # type: ignore[union-attr]
            headers.append(_CLOSE)
        conn = self.conn
        try:
            conn.send_response(status, headers, body, end)
        except http1.LocalProtocolError as exc:
            logger.error("Invalid response from the ASGI application: %s", exc)
            self._write()
            sink.close()
            raise
        self._write_out(conn.data_to_send())  # _write(), inline: once per response
        if end:
            self._response_done()

    def send_body(self, body: bytes, end: bool) -> None:
        if self.sink.closed:
            return
        conn = self.conn
        try:
            conn.send_body(body, end)
        except http1.LocalProtocolError as exc:
            logger.error("Invalid response body from the ASGI application: %s", exc)
            self.sink.close()
            raise
        self._write_out(conn.data_to_send())  # _write(), inline: once per body message
        if end:
            self._response_done()

    def send_file(self, fd: int, offset: int, count: int) -> Awaitable[int] | None:
        """sendfile on a plain connection, for a body framed by Content-Length (or the close)."""
        sink = self.sink
        if not sink.zero_copy or sink.closed:
            return None
        try:
            if not self.conn.reserve_body(count):
                return None  # chunked: the package frames the bytes
        except http1.LocalProtocolError as exc:
            logger.error("Invalid response body from the ASGI application: %s", exc)
            sink.close()
            raise
        self._write()
        return self._send_file(fd, offset, count)

    async def _send_file(self, fd: int, offset: int, count: int) -> int:
        try:
            return await self.sink.send_file(fd, offset, count)
        except ConnectionError:
            self.connection_lost()
            self.sink.close()
            return 0

    def send_trailers(self, headers: Headers) -> None:
        if self.sink.closed:
            return
        trailers = headers if self.conn.trailers_accepted else []
        try:
            self.conn.send(_EndOfMessage(headers=trailers))
        except http1.LocalProtocolError as exc:
            logger.error("Invalid response trailers from the ASGI application: %s", exc)
            self.sink.close()
            raise
        self._write()
        self._response_done()

    def send_informational(self, status: int, headers: Headers) -> None:
        if self.sink.closed or self.request_version != b"1.1":
            return  # RFC 9110 §15.2: no 1xx to HTTP/1.0 clients
        self.conn.send(http1.InformationalResponse(status=status, headers=headers))
        self._write()

    def want_body(self) -> None:
        conn = self.conn
        sink = self.sink
        if conn.expect_continue:
            # RFC 9110 §10.1.1: the 100 goes out only once the application asks for the body.
            conn.send(http1.InformationalResponse(status=100))
            self._write()
        if sink.read_paused:
            sink.resume_reading()
        if sink.timer_kind == NO_TIMER:
            self.last_body_time = sink.time()
            sink.arm(BODY_TIMER, self.services.config.timeout_request_body)

    def consumed(self, size: int) -> None:
        sink = self.sink
        if sink.read_paused:
            sink.resume_reading()

    def reset(self) -> None:
        self.sink.close()

    def drain(self) -> Awaitable[None]:
        return self.sink.drain()

    def cycle_finished(self, cycle: FinishedCycle) -> None:
        self.services.cycle_done()
        if cycle is self.cycle and not cycle.response_complete:
            self.sink.close()

    # ---- helpers -----------------------------------------------------------------------------------

    def _write(self) -> None:
        self._write_out(self.conn.data_to_send())

    def _response_done(self) -> None:
        cycle = self.cycle
        services = self.services
        sink = self.sink
        if cycle is not None:
            if services.access_log:
                self._log_request(cycle.status, cycle.bytes_sent, cycle.start_time)
            metrics = services.metrics
            if metrics is not None:
                metrics.request_done(HTTP1, cycle.status, sink.time() - cycle.start_time)
        if sink.timer_kind == BODY_TIMER:
            sink.timer_kind = NO_TIMER
        conn = self.conn
        if conn.close_expected() or sink.closing or services.shutting_down or cycle.failed:  # type: ignore[union-attr]
            if cycle is not None and not cycle.body_complete:
                sink.close_lingering()  # answered before the request body was read
            else:
                sink.close()
            return
        self.cycle = None
        if sink.read_paused:
            sink.resume_reading()
        events = conn.events_received()
        if events:
            # A pipelined request is already whole (its head was parsed): no head deadline for it.
            if sink.write_paused:
                # The client does not read our responses: its next request waits until it does,
                # or it could have the server produce and hold the answers to everything it
                # pipelined (the connection holds its further input meanwhile).
                sink.call_when_writable(self._handle_events, events)
                return
            sink.hold(CORK_SECONDS)  # pipelined requests are queued: batch their responses
            # Handle them on the next loop turn, never recursively.
            sink.call_soon(self._handle_events, events)
        elif conn.pending_bytes:
            sink.arm(HEAD_TIMER, services.config.timeout_request_head)
        else:
            sink.flush()  # pipelined responses held by the cork (a no-op when none are)
            sink.arm(KEEPALIVE_TIMER, services.config.timeout_keep_alive)

    def _peer(self) -> str:
        return peer_text(self.sink.client)

    def _log_request(self, status: int, size: int, start: float | None) -> None:
        if not self.services.access_log:
            return
        cycle = self.cycle
        duration = self.sink.time() - start if start is not None else 0.0
        client = self.client
        self.client = self.sink.client  # a request rejected before its head is the peer's
        log_access(
            client,
            self.request_method,
            self.request_target,
            self.request_version.decode("ascii", "replace"),
            cycle.scope["headers"] if cycle is not None else None,
            status,
            size,
            duration,
            cycle.response_headers if cycle is not None else None,
        )

    # ---- deadlines and shutdown --------------------------------------------------------------------

    def timer_fired(self, kind: int) -> None:
        if kind == BODY_TIMER:
            self._on_body_timer()
        elif kind == HEAD_TIMER and self.conn.pending_bytes:
            logger.info("Request head from %s not received in time", self._peer())
            self.request_method = b""
            self._request_timed_out()
        else:
            self.sink.close()  # keep-alive and linger deadlines end in a close

    def _on_body_timer(self) -> None:
        cycle = self.cycle
        if cycle is None or cycle.body_complete:
            return
        if not body_stalled(
            self.sink, self.last_body_time, self.services.config.timeout_request_body
        ):
            return
        logger.info("Request body from %s stalled", self._peer())
        self._request_timed_out()

    def _request_timed_out(self) -> None:
        # The package fails the request in band (408) and the answer goes out as for any bad request.
        self.conn.timed_out()
        self._handle_events(self.conn.events_received())
        if not self.sink.closing:
            self.sink.close()

    def shutdown(self, restart: bool = False) -> None:
        """Graceful shutdown: close when idle, otherwise after the current response.

        A response in progress ends with `connection: close` (its head has it unless it had already
        gone; a chunked body still ends with its last chunk), and an app waiting for the disconnect
        hears it now (`HTTPCycle.shutdown`). A connection accepted just before the listener closed,
        whose first request has not been read yet (or only part of it), is not idle: its client has
        a request on the way and would see a close instead of an answer. It is served once (with
        `connection: close`); the head deadline and the worker's short grace for such connections
        bound the wait.
        """
        cycle = self.cycle
        if self.websocket is not None:
            self.websocket.shutdown(restart)
        elif cycle is not None:
            cycle.shutdown()
        elif self.request_method and not self.conn.pending_bytes:
            self.sink.close()  # idle between keep-alive requests
