"""HTTP/2: `H2Driver` drives `asgiserver.h2adapter` for one connection, one cycle per stream.

Every stream gets its own handle: `H2Stream` (the `HTTPStream` of one request, through the same
`HTTPCycle` as HTTP/1.1) or `H2WebSocket` (RFC 8441: the byte channel of a `WSChannel`, answered
200, its frames in DATA under the stream's flow control). A stream's errors, resets and backpressure
stay on that stream (RFC 9113 §5.4.2, §8.1.1); request-body credit goes back to the peer only when
the application has consumed the bytes (`consumed(n)`, RFC 9113 §5.2). Shutdown is a two-phase GOAWAY
that lets in-flight streams finish (§6.8). The connection is entered by TLS ALPN `h2` or by the
cleartext connection preface (prior knowledge, RFC 9113 §3.3), which `H1Driver` recognises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from asgiserver import h2adapter, ws
from asgiserver.server._asgi.http import HTTPCycle
from asgiserver.server._asgi.stream import FinishedCycle
from asgiserver.server._asgi.types import Headers
from asgiserver.server._asgi.websocket import WebSocketCycle
from asgiserver.server._drivers.base import (
    KEEPALIVE_TIMER,
    NO_TIMER,
    Cancellable,
    Services,
    Sink,
    body_wait_left,
    peer_text,
)
from asgiserver.server._drivers.metrics import HTTP2, WEBSOCKET
from asgiserver.server._drivers.ws import WSChannel
from asgiserver.server._logging import log_access

logger = logging.getLogger("asgiserver.error")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
STREAM_HIGH_WATER = 64 * 1024  # unsent bytes of one stream before its sender waits
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, CANCEL = 0x0, 0x1, 0x2, 0x8

_Request = h2adapter.Request
_Data = h2adapter.Data
_EndOfMessage = h2adapter.EndOfMessage
_StreamReset = h2adapter.StreamReset
_StreamFailed = h2adapter.StreamFailed
_Writable = h2adapter.Writable
_Response = h2adapter.Response
_ERROR_BODIES = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    501: b"Not Implemented",
    503: b"Service Unavailable",
}


def h2_limits(services: Services) -> h2adapter.Limits:
    config = services.config
    return h2adapter.Limits(
        max_concurrent_streams=config.h2_max_concurrent_streams,
        initial_window_size=config.h2_initial_window_size,
        connection_window=config.h2_connection_window,
        max_requests=config.h2_max_requests,
        reset_budget=config.h2_reset_budget,
        max_control_frames=config.h2_max_control_frames,
        max_continuation_frames=config.h2_max_continuation_frames,
        max_header_block_bytes=config.h2_max_header_block_bytes,
        max_new_streams_per_read=config.h2_max_new_streams_per_read,
        max_header_list_size=config.limit_request_headers_size,
        max_header_count=config.limit_request_fields,
    )


class H2Driver:
    __slots__ = (
        "_expect_close",
        "_stall",
        "_stall_seen",
        "_starting",
        "conn",
        "services",
        "sink",
        "streams",
        "tls",
        "trusted",
    )

    def __init__(self, services: Services, sink: Sink, limits: h2adapter.Limits) -> None:
        self.services = services
        self.sink = sink
        self.streams: dict[int, H2Stream | H2WebSocket] = {}
        self.trusted = services.scopes.trusts_peer(sink.client)
        self.tls = sink.tls_extension() if sink.secure else None
        self._expect_close = False
        self._starting: list[Coroutine[Any, Any, None]] = []
        self._stall: Cancellable | None = None  # --timeout-send: the look at waiting streams
        self._stall_seen: dict[int, int] = {}  # waiting streams at the last look: bytes framed
        self.conn = h2adapter.ServerConnection(
            limits=limits, enable_connect_protocol=services.config.ws != "none"
        )

    def start(self, initial: bytes = b"") -> None:
        """Send our SETTINGS, then take the bytes already read (the preface, when sniffed)."""
        self.conn.initiate()
        self._flush()
        # Until the first request: the preface and a request head must come within the head timeout.
        self.sink.arm(KEEPALIVE_TIMER, self.services.config.timeout_request_head)
        if initial:
            self.receive_data(initial)

    def start_upgraded(
        self, settings: bytes, method: bytes, target: bytes, headers: Headers, initial: bytes
    ) -> None:
        """After the 101 of an `Upgrade: h2c` (RFC 7540 §3.2): the upgrade request is stream 1,
        its body already complete; then the bytes that followed it (the client's preface)."""
        self.conn.initiate_upgrade(settings)
        self._flush()
        self.services.start_cycle(self._open_stream(1, method, target, headers, True))
        if initial:
            self.receive_data(initial)

    # ---- connection input --------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self._handle_events()

    def receive_eof(self) -> None:
        self.conn.receive_eof()
        self._handle_events()
        self.connection_lost()
        self.sink.close()

    def connection_lost(self) -> None:
        stall = self._stall
        if stall is not None:
            self._stall = None
            stall.cancel()
        streams = list(self.streams.values())
        self.streams.clear()
        for stream in streams:
            stream.on_reset()

    def _handle_events(self) -> None:
        self._read_events()
        starting = self._starting
        if starting:
            # Apps start once the whole read is handled: a request's body and end that came with
            # its head are already in its cycle.
            self._starting = []
            start = self.services.start_cycle
            for run in starting:
                start(run)

    def _read_events(self) -> None:
        conn = self.conn
        streams = self.streams
        for event in conn.events_received():
            kind = type(event)
            if kind is _Data:
                stream = streams.get(event.stream_id)  # type: ignore[union-attr]
                if stream is not None:
                    stream.on_data(event.data)  # type: ignore[union-attr]
                else:  # a stream we no longer read: its credit must not leak (RFC 9113 §6.9)
                    conn.consumed(event.stream_id, len(event.data))  # type: ignore[union-attr]
            elif kind is _Request:
                self._on_request(event)  # type: ignore[arg-type]
            elif kind is _EndOfMessage:
                stream = streams.get(event.stream_id)  # type: ignore[union-attr]
                if stream is not None:
                    stream.on_end()
            elif kind is _Writable:
                stream = streams.get(event.stream_id)  # type: ignore[union-attr]
                if stream is not None:
                    stream.on_writable()
            elif kind is _StreamReset:
                stream = streams.pop(event.stream_id, None)  # type: ignore[union-attr]
                if stream is not None:
                    stream.on_reset()
            elif kind is _StreamFailed:
                error = event.error  # type: ignore[union-attr]
                logger.info("Rejected HTTP/2 request from %s: %s", self._peer(), error)
                stream = streams.pop(event.stream_id, None)  # type: ignore[union-attr]
                if stream is not None:
                    stream.on_reset()
                elif error.status_hint == 400:
                    # RFC 9113 §8.1.1: a malformed request is a stream error of type
                    # PROTOCOL_ERROR, and a response may go first: the 400 says why, and the
                    # RST_STREAM that ends it (instead of END_STREAM) is the stream error.
                    sid = event.stream_id  # type: ignore[union-attr]
                    self.respond(sid, 400, [], None, more=True)
                    self.conn.send(_StreamReset(sid, PROTOCOL_ERROR))
                    self._flush()
                elif error.status_hint is not None:
                    # 431 (RFC 9113 §10.5.1) and 501 (plain CONNECT) are answers, not errors.
                    self.respond(event.stream_id, error.status_hint, [], None)  # type: ignore[union-attr]
            elif kind is h2adapter.GoAwayReceived:
                self._expect_close = True
            elif kind is h2adapter.ConnectionClosed:
                self.connection_lost()
                self._expect_close = True
            elif kind is h2adapter.ConnectionFailed:
                error = event.error  # type: ignore[union-attr]
                logger.info("HTTP/2 connection from %s failed: %s", self._peer(), error)
                self.connection_lost()
                self._flush()
                self.sink.close()
                return
        self._flush()
        self._maybe_close()

    def _on_request(self, event: h2adapter.Request) -> None:
        services = self.services
        sink = self.sink
        sink.timer_kind = NO_TIMER
        stream_id = event.stream_id
        if services.overloaded():
            self.respond(stream_id, 503, [], None)
            return
        if event.protocol is not None:
            self._on_extended_connect(event)
            return
        self._starting.append(
            self._open_stream(stream_id, event.method, event.target, event.headers, False)
        )

    def _open_stream(
        self, stream_id: int, method: bytes, target: bytes, headers: Headers, body_complete: bool
    ) -> Coroutine[Any, Any, None]:
        """A request's stream and cycle; returns the app's coroutine for the caller to start."""
        sink = self.sink
        services = self.services
        scope = services.scopes.http(
            method,
            target,
            "2",
            headers,
            "https" if sink.secure else "http",
            sink.client,
            sink.server,
            self.trusted,
            self.tls,
        )
        stream = H2Stream(self, stream_id, method, target)
        for name, value in headers:
            if name == b"expect":
                # RFC 9110 §10.1.1: the 100 goes out when the application first reads the body.
                stream.expect_continue = value.lower() == b"100-continue"
        cycle = stream.cycle = HTTPCycle(
            scope, stream, services.defaults, body_complete, sink.time()
        )
        self.streams[stream_id] = stream
        if services.shutting_down:
            cycle.shutdown()  # opened before our last GOAWAY: the drain applies to it too
        self._watch_stalls()
        return cycle.run(services.app, services.config.timeout_request)

    def _watch_stalls(self) -> None:
        """A stream opened: look at waiting streams every --timeout-send while any is open."""
        timeout = self.services.config.timeout_send
        if self._stall is None and timeout:
            self._stall = self.sink.call_later(timeout, self._check_stalls)

    def _check_stalls(self) -> None:
        """`--timeout-send`, every so often while streams are open: a stream whose response bytes
        wait on a flow-control window (RFC 9113 §6.9) that did not let one more out since the last
        look is reset with CANCEL: the server gives the response up. Otherwise a client that never
        opens its windows would have the server hold every answer it asked for (up to
        SETTINGS_MAX_CONCURRENT_STREAMS of them per connection) for as long as it likes. A slow
        reader makes progress and is left alone."""
        self._stall = None
        conn = self.conn
        waiting = conn.waiting_streams()
        seen = self._stall_seen
        stalled = [sid for sid, framed in waiting.items() if seen.get(sid) == framed]
        for sid in stalled:
            del waiting[sid]
            logger.info(
                "HTTP/2 stream %d of %s took none of its response for %gs: reset",
                sid,
                self._peer(),
                self.services.config.timeout_send,
            )
            conn.send(_StreamReset(sid, CANCEL))
            stream = self.streams.pop(sid, None)
            if stream is not None:
                stream.on_reset()  # the app's send() raises ClientDisconnected
        self._stall_seen = waiting
        if stalled:
            self._flush()
            self._maybe_close()
        if conn.open_streams and not self.sink.closed:
            self._watch_stalls()

    def _on_extended_connect(self, event: h2adapter.Request) -> None:
        """RFC 8441 §4: extended CONNECT with :protocol websocket opens a WebSocket on the stream."""
        stream_id = event.stream_id
        if event.protocol != b"websocket" or self.services.config.ws == "none":
            self.respond(stream_id, 501, [], None)
            return
        handshake = ws.validate_request(
            event.method, b"2", [(b":protocol", event.protocol), *event.headers]
        )
        if isinstance(handshake, ws.HandshakeRejection):
            logger.info("Invalid WebSocket handshake from %s: %s", self._peer(), handshake.reason)
            reason = handshake.reason.encode()
            self.respond(stream_id, handshake.status, handshake.headers, reason, False, WEBSOCKET)
            return
        sink = self.sink
        scope = self.services.scopes.websocket(
            event.target,
            "2",
            event.headers,
            sink.secure,
            sink.client,
            sink.server,
            list(handshake.subprotocols),
            self.trusted,
            self.tls,
        )
        stream = H2WebSocket(self, stream_id)
        channel = stream.channel = WSChannel(self.services, stream, handshake, stream)
        cycle = WebSocketCycle(scope, channel, self.services.config.ws_max_queue)
        channel.cycle = cycle
        self.streams[stream_id] = stream
        self._watch_stalls()
        self._starting.append(cycle.run(self.services.app))

    def respond(
        self,
        stream_id: int,
        status: int,
        headers: Headers,
        body: bytes | None,
        more: bool = False,
        protocol: int = HTTP2,
    ) -> None:
        """A response the application never sees (rejections, WebSocket denials), on one stream
        only; `protocol` is what the metrics count it as."""
        metrics = self.services.metrics
        if metrics is not None:
            metrics.request_done(protocol, status, None)
        if body is None:
            body = _ERROR_BODIES.get(status, b"Error")
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
        out = [h for h in headers if h[0].lower() != b"content-length"]
        if not more:
            out.append((b"content-length", b"%d" % len(body)))
        out += self.services.defaults.fields()
        conn = self.conn
        try:
            conn.send(_Response(stream_id, status, out))
            if body:
                conn.send(_Data(stream_id, body))
            if not more:
                conn.send(_EndOfMessage(stream_id))
        except h2adapter.LocalProtocolError as exc:
            logger.error("Invalid response: %s", exc)
            conn.send(_StreamReset(stream_id, INTERNAL_ERROR))
        self._flush()

    # ---- output and lifetime -----------------------------------------------------------------------

    def _flush(self) -> None:
        chunks = self.conn.data_to_send()
        if chunks:
            sink = self.sink
            sink.hold(None)  # frames of every stream made in this loop turn go out in one write
            sink.write(chunks)

    def _maybe_close(self) -> None:
        # A lingering close: the client may still be sending (acknowledgements, WINDOW_UPDATEs, a
        # request that crossed our GOAWAY); closing with unread input makes the kernel send a
        # reset, which can destroy the last frames before the client reads them (RFC 9113 §6.8
        # asks for a graceful close after GOAWAY).
        conn = self.conn
        if conn.close_expected():
            self.sink.close_lingering()
        elif not self.streams:
            if self._expect_close and conn.open_streams == 0:
                self.sink.close_lingering()
            elif self.sink.timer_kind == NO_TIMER:
                self.sink.arm(KEEPALIVE_TIMER, self.services.config.timeout_keep_alive)

    def stream_done(self, stream_id: int) -> None:
        self.streams.pop(stream_id, None)
        self._flush()
        self._maybe_close()

    def _peer(self) -> str:
        return peer_text(self.sink.client)

    def timer_fired(self, kind: int) -> None:
        if self.streams:
            return  # busy: idle deadlines count from the last stream's end
        self.conn.timed_out()
        self._flush()
        self.sink.close_lingering()

    def shutdown(self, restart: bool = False) -> None:
        """Graceful shutdown: a two-phase GOAWAY; streams already open finish (RFC 9113 §6.8): an
        app waiting for the disconnect hears it and may still end its response (END_STREAM goes
        out before the connection closes); WebSockets are closed with 1001 (1012 on `restart`)."""
        self._expect_close = True
        self.conn.start_shutdown()
        for stream in list(self.streams.values()):
            if isinstance(stream, H2WebSocket):
                stream.channel.shutdown(restart)  # type: ignore[union-attr]
            elif stream.cycle is not None:
                stream.cycle.shutdown()
        self._flush()
        self._maybe_close()


class _StreamBase:
    """What both kinds of stream share: a stream id, its write readiness and its end."""

    __slots__ = ("_waiter", "driver", "ended", "stream_id")

    def __init__(self, driver: H2Driver, stream_id: int) -> None:
        self.driver = driver
        self.stream_id = stream_id
        self.ended = False  # reset, or our side ended: nothing more can be sent
        self._waiter: Any = None

    @property
    def write_paused(self) -> bool:
        driver = self.driver
        return driver.sink.write_paused or driver.conn.buffered(self.stream_id) > STREAM_HIGH_WATER

    async def drain(self) -> None:
        """Wait for this stream's window (Writable) and for the transport; never for other streams."""
        driver = self.driver
        while not self.ended:
            if driver.sink.write_paused:
                await driver.sink.drain()
            elif driver.conn.buffered(self.stream_id) > STREAM_HIGH_WATER:
                waiter = self._waiter = driver.sink.create_future()
                try:
                    await waiter
                finally:
                    self._waiter = None
            else:
                return

    def on_writable(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _send(self, *events: h2adapter.Event) -> None:
        conn = self.driver.conn
        for event in events:
            conn.send(event)
        self.driver._flush()


class H2Stream(_StreamBase):
    """One request's `HTTPStream`."""

    __slots__ = (
        "_body_timer",
        "awaiting_body",
        "continue_sent",
        "cycle",
        "expect_continue",
        "last_body_time",
        "method",
        "target",
    )

    def __init__(self, driver: H2Driver, stream_id: int, method: bytes, target: bytes) -> None:
        super().__init__(driver, stream_id)
        self.method = method
        self.target = target
        self.cycle: HTTPCycle | None = None
        self.expect_continue = False
        self.continue_sent = False
        self.last_body_time = 0.0
        self._body_timer: Cancellable | None = None  # --timeout-request-body, while the app waits
        # The app waits for body bytes it does not have. Otherwise a quiet client may be held by
        # the stream's flow-control window, which only the app's reading opens (RFC 9113 §5.2).
        self.awaiting_body = False

    # ---- from the driver ---------------------------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self.driver.conn.consumed(self.stream_id, len(data))  # nobody will read it
            return
        if self.awaiting_body:
            self.awaiting_body = False  # the app is woken with these bytes
            self.last_body_time = self.driver.sink.time()
        cycle.feed_body(data)  # held back by flow control, not by pausing the connection

    def on_end(self) -> None:
        self._stop_body_timer()
        if self.cycle is not None:
            self.cycle.end_body()

    def on_reset(self) -> None:
        self._stop_body_timer()
        self.ended = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnect()  # http.disconnect; send() raises ClientDisconnected
        self.on_writable()

    # ---- HTTPStream (called by HTTPCycle) ----------------------------------------------------------

    def send_head(self, status: int, headers: Headers, body: bytes, end: bool) -> None:
        if self.ended:
            return
        sid = self.stream_id
        events: list[h2adapter.Event] = [_Response(sid, status, headers)]
        if body:
            events.append(_Data(sid, body))
        if end:
            events.append(_EndOfMessage(sid))
        self._send_checked(events)
        if end:
            self._response_done()

    def send_body(self, body: bytes, end: bool) -> None:
        if self.ended:
            return
        events: list[h2adapter.Event] = []
        if body:
            events.append(_Data(self.stream_id, body))
        if end:
            events.append(_EndOfMessage(self.stream_id))
        self._send_checked(events)
        if end:
            self._response_done()

    def send_file(self, fd: int, offset: int, count: int) -> None:
        return None  # DATA frames: the cycle reads the file into send_body()

    def send_trailers(self, headers: Headers) -> None:
        if self.ended:
            return
        self._send_checked([_EndOfMessage(self.stream_id, headers)])
        self._response_done()

    def send_informational(self, status: int, headers: Headers) -> None:
        if not self.ended:
            self._send(h2adapter.InformationalResponse(self.stream_id, status, headers))

    def want_body(self) -> None:
        if self.expect_continue and not self.continue_sent and not self.ended:
            self.continue_sent = True
            self._send(h2adapter.InformationalResponse(self.stream_id, 100, []))
        timeout = self.driver.services.config.timeout_request_body
        if not timeout or self.ended:
            return
        # The client's time counts from now: until the app read, the window may have held it.
        sink = self.driver.sink
        self.awaiting_body = True
        self.last_body_time = sink.time()
        if self._body_timer is None:
            self._body_timer = sink.call_later(timeout, self._body_deadline)

    def _body_deadline(self) -> None:
        """`--timeout-request-body`, as on HTTP/1.1: the app waits for a body that has not moved in
        that long. A 408 while no response has started (ending the stream early tells the client to
        stop sending, RFC 9113 §8.1), else RST_STREAM CANCEL; the app hears http.disconnect."""
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or self.ended or cycle.body_complete:
            return
        driver = self.driver
        timeout = driver.services.config.timeout_request_body
        left = body_wait_left(driver.sink, self.last_body_time, timeout, self.awaiting_body)
        if left:
            self._body_timer = driver.sink.call_later(left, self._body_deadline)
            return
        logger.info(
            "Request body of HTTP/2 stream %d from %s stalled", self.stream_id, driver._peer()
        )
        started = cycle.response_started
        self.on_reset()  # the app's receive() gets http.disconnect, its send() raises
        if started:
            driver.conn.send(_StreamReset(self.stream_id, CANCEL))
            driver._flush()
        else:
            driver.respond(self.stream_id, 408, [], None)

    def _stop_body_timer(self) -> None:
        timer = self._body_timer
        if timer is not None:
            self._body_timer = None
            timer.cancel()

    def consumed(self, size: int) -> None:
        if not self.ended:
            self.driver.conn.consumed(self.stream_id, size)
            self.driver._flush()

    def reset(self) -> None:
        if not self.ended:
            self.ended = True
            self._send(_StreamReset(self.stream_id, INTERNAL_ERROR))

    def cycle_finished(self, cycle: FinishedCycle) -> None:
        self._stop_body_timer()
        driver = self.driver
        driver.services.cycle_done()
        if not cycle.response_complete:
            self.reset()
        driver.stream_done(self.stream_id)

    # ---- helpers -----------------------------------------------------------------------------------

    def _send_checked(self, events: list[h2adapter.Event]) -> None:
        try:
            self._send(*events)
        except h2adapter.LocalProtocolError as exc:
            logger.error("Invalid response from the ASGI application: %s", exc)
            self.reset()
            raise

    def _response_done(self) -> None:
        self.ended = True
        cycle = self.cycle
        driver = self.driver
        if cycle is None:
            return
        services = driver.services
        metrics = services.metrics
        if metrics is not None:
            metrics.request_done(HTTP2, cycle.status, driver.sink.time() - cycle.start_time)
        if services.access_log:
            duration = driver.sink.time() - cycle.start_time
            log_access(
                cycle.scope["client"],  # with trusted proxy headers resolved
                self.method,
                self.target,
                "2",
                cycle.scope["headers"],
                cycle.status,
                cycle.bytes_sent,
                duration,
                cycle.response_headers,
            )


class H2WebSocket(_StreamBase):
    """RFC 8441: the byte channel of one WebSocket on one stream, and the opener of its handshake.

    Its input pause withholds the stream's flow-control credit instead of pausing the connection."""

    __slots__ = ("_early", "_held", "_read_paused", "channel", "denial_started", "timer_kind")

    def __init__(self, driver: H2Driver, stream_id: int) -> None:
        super().__init__(driver, stream_id)
        self.channel: WSChannel | None = None
        self.timer_kind = NO_TIMER
        self._early: list[bytes] = []  # DATA before the app accepted
        self._held = 0  # bytes read but not yet credited back, while paused
        self._read_paused = False
        self.denial_started = False

    # ---- from the driver ---------------------------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        channel = self.channel
        if channel is None or channel.conn is None:
            self._early.append(data)
            self._held += len(data)
            return
        channel.receive_data(data)
        if self._read_paused:
            self._held += len(data)
        else:
            self.driver.conn.consumed(self.stream_id, len(data))
            self.driver._flush()

    def on_end(self) -> None:
        if self.channel is not None:
            self.channel.receive_eof()

    def on_reset(self) -> None:
        self.ended = True
        if self.channel is not None:
            self.channel.connection_lost()
        self.on_writable()

    # ---- WSOpener ----------------------------------------------------------------------------------

    def open_websocket(self, status: int, headers: Headers) -> bytes | None:
        if self.ended:
            return None
        services = self.driver.services
        self._send(_Response(self.stream_id, status, headers + services.defaults.fields()))
        metrics = services.metrics
        if metrics is not None:
            metrics.request_done(WEBSOCKET, status, None)  # RFC 8441 §5: accepted with a 200
        early = b"".join(self._early)
        self._early.clear()
        if self._held and not self._read_paused:
            self.driver.conn.consumed(self.stream_id, self._held)
            self._held = 0
        return early

    def deny_websocket(self, status: int, headers: Headers, body: bytes, more: bool) -> None:
        if self.ended:
            return
        if not self.denial_started:
            self.denial_started = True
            self.driver.respond(self.stream_id, status, headers, body, more, WEBSOCKET)
        else:
            events: list[h2adapter.Event] = [_Data(self.stream_id, body)] if body else []
            if not more:
                events.append(_EndOfMessage(self.stream_id))
            self._send(*events)
        if not more:
            self.ended = True
            self.driver.stream_done(self.stream_id)

    # ---- Sink, for the channel ---------------------------------------------------------------------

    @property
    def client(self) -> Any:
        return self.driver.sink.client

    @property
    def server(self) -> Any:
        return self.driver.sink.server

    @property
    def secure(self) -> bool:
        return self.driver.sink.secure

    @property
    def alpn(self) -> str | None:
        return self.driver.sink.alpn

    @property
    def read_paused(self) -> bool:
        return self._read_paused

    @property
    def closed(self) -> bool:
        return self.ended

    @property
    def closing(self) -> bool:
        return self.ended

    def write(self, chunks: list[bytes]) -> None:
        if not self.ended and chunks:
            self._send(_Data(self.stream_id, b"".join(chunks)))

    def hold(self, seconds: float | None) -> None:
        self.driver.sink.hold(seconds)

    @property
    def zero_copy(self) -> bool:
        return False

    async def send_file(self, fd: int, offset: int, count: int) -> int:
        raise ConnectionError("a WebSocket stream carries no file bodies")

    def tls_extension(self) -> dict[str, Any] | None:
        return self.driver.tls

    def flush(self) -> None:
        self.driver.sink.flush()

    def pause_reading(self) -> None:
        self._read_paused = True

    def resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            if self._held and not self.ended:
                self.driver.conn.consumed(self.stream_id, self._held)
                self._held = 0
                self.driver._flush()

    def close(self) -> None:
        """The WebSocket is closed: end our side of the stream (RFC 8441 §5)."""
        if not self.ended:
            self.ended = True
            self._send(_EndOfMessage(self.stream_id))
        self.driver.stream_done(self.stream_id)

    def close_lingering(self) -> None:
        self.close()

    def arm(self, kind: int, seconds: float) -> None:
        pass  # the channel keeps its own timers

    def time(self) -> float:
        return self.driver.sink.time()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Cancellable:
        return self.driver.sink.call_later(seconds, callback)

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        self.driver.sink.call_soon(callback, *args)

    def call_when_writable(self, callback: Callable[..., None], *args: Any) -> None:
        self.driver.sink.call_when_writable(callback, *args)

    def create_future(self) -> Any:
        return self.driver.sink.create_future()

    def switch_to(self, driver: Any) -> None:
        pass  # this stream's DATA already goes to its channel
