"""The uwsgi protocol (`--protocol uwsgi`): one request per connection from nginx `uwsgi_pass`, driven
by `asgiserver.uwsgi`, served by the same `HTTPCycle` as HTTP/1.1. The response is close-delimited."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from asgiserver import uwsgi
from asgiserver.server._asgi.http import HTTPCycle
from asgiserver.server._asgi.proxy import TrustedAddresses
from asgiserver.server._asgi.stream import FinishedCycle
from asgiserver.server._asgi.types import Headers
from asgiserver.server._drivers.base import (
    BODY_TIMER,
    HEAD_TIMER,
    NO_TIMER,
    DriverFactory,
    Services,
    Sink,
    body_stalled,
)
from asgiserver.server._drivers.h1 import ERROR_BODIES, HIGH_WATER
from asgiserver.server._drivers.metrics import UWSGI
from asgiserver.server._logging import log_access

logger = logging.getLogger("asgiserver.error")

_Request = uwsgi.Request
_Data = uwsgi.Data
_EndOfMessage = uwsgi.EndOfMessage
_ConnectionFailed = uwsgi.ConnectionFailed
_ConnectionClosed = uwsgi.ConnectionClosed


def uwsgi_driver_factory(services: Services) -> DriverFactory:
    config = services.config
    limits = uwsgi.Limits(max_body_bytes=config.limit_request_body)
    allow = TrustedAddresses(config.uwsgi_allow_from)
    return lambda sink: UwsgiDriver(services, sink, limits, allow)


class UwsgiDriver:
    __slots__ = ("conn", "cycle", "last_body_time", "request", "services", "sink")

    def __init__(
        self, services: Services, sink: Sink, limits: uwsgi.Limits, allow: TrustedAddresses
    ) -> None:
        self.services = services
        self.sink = sink
        self.conn = uwsgi.ServerConnection(limits=limits)
        self.cycle: HTTPCycle | None = None
        self.request: tuple[bytes, bytes, str] = (b"", b"", "1.1")  # for the access log
        self.last_body_time = 0.0
        peer = sink.client
        # Peers on a unix socket are local; TCP peers must be on the allow list.
        if peer is not None and not allow.trusts(peer[0]):
            logger.warning("uwsgi connection from %s refused: not in --uwsgi-allow-from", peer[0])
            sink.close()
            return
        sink.arm(HEAD_TIMER, services.config.timeout_request_head)

    # ---- connection input --------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self._handle_events()

    def receive_eof(self) -> None:
        self.conn.receive_eof()
        self._handle_events()
        # nginx half-closes only when the client aborted (uwsgi_ignore_client_abort is off by default).
        self.connection_lost()
        self.sink.close()

    def connection_lost(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnect()

    def _handle_events(self) -> None:
        cycle = self.cycle
        self._read_events()
        if self.cycle is not None and self.cycle is not cycle and not self.sink.closed:
            # Started once the whole read is handled, with the body that came with the head.
            services = self.services
            services.start_cycle(self.cycle.run(services.app, services.config.timeout_request))

    def _read_events(self) -> None:
        for event in self.conn.events_received():
            kind = type(event)
            if kind is _Data:
                cycle = self.cycle
                if cycle is not None and not cycle.response_complete:
                    self.last_body_time = self.sink.time()
                    if cycle.feed_body(event.data) > HIGH_WATER:  # type: ignore[union-attr]
                        self.sink.pause_reading()
            elif kind is _Request:
                self._on_request(event)  # type: ignore[arg-type]
            elif kind is _EndOfMessage:
                if self.cycle is not None:
                    self.cycle.end_body()
                    self.sink.timer_kind = NO_TIMER
            elif kind is _ConnectionFailed:
                error = event.error  # type: ignore[union-attr]
                logger.info("Invalid uwsgi request from %s: %s", self.sink.client, error)
                cycle = self.cycle
                if cycle is not None:
                    cycle.disconnect()
                if cycle is None or not cycle.response_started:
                    self._reject(error.status_hint)
                else:
                    self.sink.close()
                return
            elif kind is _ConnectionClosed:
                cycle = self.cycle
                if cycle is None or not cycle.body_complete:
                    self.connection_lost()
                    self.sink.close()
                return

    def _on_request(self, event: uwsgi.Request) -> None:
        services = self.services
        sink = self.sink
        sink.timer_kind = NO_TIMER
        query = event.query_string
        target = event.raw_path + (b"?" + query if query else b"")
        self.request = (event.method, target, event.http_version)
        if services.overloaded():
            self._reject(503)
            return
        scope = services.scopes.gateway_http(
            event.method,
            event.root_path,
            event.path,
            event.raw_path,
            query,
            event.http_version,
            event.headers,
            event.scheme,
            event.client if event.client is not None else sink.client,
            event.server if event.server is not None else sink.server,
        )
        self.cycle = HTTPCycle(scope, self, services.defaults, False, sink.time())

    def _reject(self, status: int) -> None:
        body = ERROR_BODIES.get(status, b"Error")
        conn = self.conn
        try:
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            headers += self.services.defaults.fields()
            headers.append((b"content-length", b"%d" % len(body)))
            conn.send(uwsgi.Response(status=status, headers=headers))
            conn.send(_Data(body))
            conn.send(_EndOfMessage())
            self.sink.write(conn.data_to_send())
        except uwsgi.LocalProtocolError:
            pass
        else:
            metrics = self.services.metrics
            if metrics is not None:
                metrics.request_done(UWSGI, status, None)
        self.sink.close_lingering()

    # ---- HTTPStream ------------------------------------------------------------------------------

    @property
    def write_paused(self) -> bool:
        return self.sink.write_paused

    def send_head(self, status: int, headers: Headers, body: bytes, end: bool) -> None:
        if self.sink.closed:
            return
        try:
            self.conn.send(uwsgi.Response(status=status, headers=headers))
        except uwsgi.LocalProtocolError as exc:
            logger.error("Invalid response from the ASGI application: %s", exc)
            self.sink.close()
            raise
        self.send_body(body, end)

    def send_body(self, body: bytes, end: bool) -> None:
        sink = self.sink
        if sink.closed:
            return
        conn = self.conn
        if body:
            conn.send(_Data(body))
        if end:
            conn.send(_EndOfMessage())
        sink.write(conn.data_to_send())
        if end:
            cycle = self.cycle
            metrics = self.services.metrics
            if cycle is not None and metrics is not None:
                metrics.request_done(UWSGI, cycle.status, sink.time() - cycle.start_time)
            if cycle is not None and self.services.access_log:
                duration = sink.time() - cycle.start_time
                method, target, version = self.request
                log_access(
                    cycle.scope["client"],  # REMOTE_ADDR: nginx's client
                    method,
                    target,
                    version,
                    cycle.scope["headers"],
                    cycle.status,
                    cycle.bytes_sent,
                    duration,
                    cycle.response_headers,
                )
            sink.close()

    def send_file(self, fd: int, offset: int, count: int) -> None:
        return None  # nginx reads what we write: the cycle reads the file into send_body()

    def send_trailers(self, headers: Headers) -> None:
        self.send_body(b"", True)  # uwsgi responses are close-delimited: no trailers

    def send_informational(self, status: int, headers: Headers) -> None:
        pass  # nginx does not pass 1xx responses from a uwsgi upstream

    def want_body(self) -> None:
        sink = self.sink
        sink.resume_reading()
        if sink.timer_kind == NO_TIMER:
            self.last_body_time = sink.time()
            sink.arm(BODY_TIMER, self.services.config.timeout_request_body)

    def consumed(self, size: int) -> None:
        self.sink.resume_reading()

    def reset(self) -> None:
        self.sink.close()

    def drain(self) -> Awaitable[None]:
        return self.sink.drain()

    def cycle_finished(self, cycle: FinishedCycle) -> None:
        self.services.cycle_done()
        if not cycle.response_complete:
            self.sink.close()

    # ---- deadlines and shutdown --------------------------------------------------------------------

    def timer_fired(self, kind: int) -> None:
        cycle = self.cycle
        if kind != BODY_TIMER or cycle is None:
            self.sink.close()  # the request head did not arrive in time
            return
        if cycle.body_complete:
            return
        sink = self.sink
        if not body_stalled(sink, self.last_body_time, self.services.config.timeout_request_body):
            return
        logger.info("Request body from %s stalled", sink.client)
        cycle.disconnect()
        if cycle.response_started:
            sink.close()
        else:
            self._reject(408)

    def shutdown(self, restart: bool = False) -> None:
        cycle = self.cycle
        if cycle is None:
            self.sink.close()
        else:
            cycle.shutdown()  # an app waiting for the disconnect hears it (HTTPCycle.shutdown)
