"""One serving process: lifespan, listeners, connections, signals and graceful shutdown; and
`WorkerState`, what the process shares among its connections (the drivers' `Services`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Coroutine
from typing import Any, cast

from asgiserver.server import _logging
from asgiserver.server._asgi.proxy import ProxyHeaders, TrustedAddresses
from asgiserver.server._asgi.response import ResponseDefaults
from asgiserver.server._asgi.scope import ScopeBuilder
from asgiserver.server._asgi.types import ASGIApp, Headers
from asgiserver.server._config import Config
from asgiserver.server._drivers.base import Driver, DriverFactory, ProxiedEndpoints
from asgiserver.server._drivers.h1 import http_driver_factory
from asgiserver.server._drivers.h2 import H2Driver
from asgiserver.server._drivers.lifespan import LifespanRunner
from asgiserver.server._drivers.metrics import (
    HTTP1,
    HTTP2,
    PROTOCOLS,
    UWSGI,
    WEBSOCKET,
    RequestCounters,
)
from asgiserver.server._drivers.proxy_protocol import MAX_HEADER_BYTES, read_proxy_header
from asgiserver.server._drivers.uwsgi import UwsgiDriver, uwsgi_driver_factory
from asgiserver.server._drivers.ws import WSChannel
from asgiserver.server._net.connection import LINGER_SECONDS, Connection
from asgiserver.server._net.deadlines import DeadlineWheel
from asgiserver.server._net.listener import ConnectionGate, Listener
from asgiserver.server._net.proxy_listener import ProxyProtocolListener
from asgiserver.server._net.sockets import describe, ssl_context
from asgiserver.server._process.metrics import encode_snapshot
from asgiserver.server._process.threads import use_threads

logger = logging.getLogger("asgiserver.error")

FRESH_CONNECTION_GRACE = (
    0.5  # seconds a just-accepted connection has to deliver its request at shutdown
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STARTUP_FAILED = 3


def _current_task_function() -> Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]:
    """`asyncio.current_task`, made cheaper on 3.11 for `cycle_done()` (once per request).

    On 3.11 `asyncio.current_task(loop)` is Python code whose whole work, given the loop, is
    `_current_tasks.get(loop)` on the C module's current-task dict: calling that `get` directly
    saves ~700 instructions per request under callgrind. 3.12+ implement `current_task` in C.
    """
    current_tasks = getattr(asyncio.tasks, "_current_tasks", None)
    if sys.version_info < (3, 12) and isinstance(current_tasks, dict):
        return current_tasks.get
    return asyncio.current_task


class WorkerState:
    __slots__ = (
        "_current_task",
        "_date_timer",
        "_start_task",
        "access_log",
        "app",
        "config",
        "connections",
        "deadlines",
        "defaults",
        "gate",
        "inflight",
        "limit_concurrency",
        "loop",
        "metrics",
        "on_request_done",
        "scopes",
        "shutting_down",
        "tasks",
        "total_requests",
    )

    def __init__(self, config: Config, app: ASGIApp, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.app = app
        self.loop = loop
        self.connections: set[Connection] = set()
        # --limit-connections: the worker's listeners stop accepting while it holds that many.
        self.gate = (
            ConnectionGate(config.limit_connections, self.connections)
            if config.limit_connections
            else None
        )
        self.deadlines = DeadlineWheel(loop)  # every connection's deadline, on one loop timer
        self.tasks: set[asyncio.Task[None]] = set()
        self.inflight = 0
        self.total_requests = 0
        self.limit_concurrency = config.limit_concurrency
        self.shutting_down = False
        self.access_log = config.access_log
        self.metrics = RequestCounters() if config.metrics is not None else None
        extra: Headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in config.headers
        ]
        self.defaults = ResponseDefaults(config.server_header, config.date_header, extra)
        proxy = (
            ProxyHeaders(config.forwarded_allow_ips, config.proxy_headers_style)
            if config.proxy_headers
            else None
        )
        self.scopes = ScopeBuilder(config.root_path, {}, proxy)
        self.on_request_done: Callable[[int], None] | None = None
        # Ordinary tasks, on every Python: eager ones (3.12's eager_task_factory) run the app inside
        # data_received and save a loop turn per request on a fake transport, but under load
        # (wrk, 64 connections, uvloop) they cost ~30% more server CPU per request on 3.12 and
        # 3.13 (user 22-24 against 17 us, sys 10-11 against 6): each loop turn then serves fewer
        # requests, so its wake-up and polling are shared by fewer of them.
        self._start_task = loop.create_task
        self._current_task = _current_task_function()
        self._date_timer: asyncio.TimerHandle | None = None
        self._refresh_date()

    def connection_closed(self) -> None:
        gate = self.gate
        if gate is not None:
            gate.released()

    @property
    def app_state(self) -> dict[str, Any]:
        """The lifespan state; every request's scope gets a shallow copy."""
        return self.scopes.app_state

    def protocol_factory(self) -> Callable[[], Connection]:
        """The asyncio protocol factory for this worker's listeners."""
        make_driver = self._driver_factory()
        loop = self.loop
        deadlines = self.deadlines
        return lambda: Connection(self, make_driver, loop, deadlines)

    def proxied_protocol_factory(self) -> Callable[[ProxiedEndpoints], Connection]:
        """The same, for connections that started with a PROXY header (`--proxy-protocol`)."""
        make_driver = self._driver_factory()
        loop = self.loop
        deadlines = self.deadlines
        return lambda proxied: Connection(self, make_driver, loop, deadlines, proxied)

    def _driver_factory(self) -> DriverFactory:
        if self.config.protocol == "uwsgi":
            return uwsgi_driver_factory(self)
        return http_driver_factory(self)

    def _refresh_date(self) -> None:
        """The Date header is formatted once a second and shared (RFC 9110 §6.6.1)."""
        self.defaults.refresh_date()
        self._date_timer = self.loop.call_later(1.0, self._refresh_date)

    def stop_timers(self) -> None:
        if self._date_timer is not None:
            self._date_timer.cancel()
            self._date_timer = None
        self.deadlines.stop()

    # ---- Services ----------------------------------------------------------------------------------

    def overloaded(self) -> bool:
        limit = self.limit_concurrency
        return limit is not None and self.inflight >= limit

    def start_cycle(self, run: Coroutine[Any, Any, None]) -> None:
        self.inflight += 1
        self.tasks.add(self._start_task(run))  # cycle_done() removes it, from inside the task

    def cycle_done(self) -> None:
        # With the loop given, current_task() skips looking up the running loop.
        self.tasks.discard(self._current_task(self.loop))
        self.inflight -= 1
        self.total_requests += 1
        if self.on_request_done is not None:
            self.on_request_done(self.total_requests)


class Worker:
    """Serves `config` on already-bound sockets until told to stop; returns an exit code."""

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        sockets: list[socket.socket],
        *,
        on_ready: Callable[[], None] | None = None,
        on_request_done: Callable[[int], None] | None = None,
        install_signals: bool = True,
        restart_on_hup: bool = False,
        shutdown_delay: float = 0.0,
    ) -> None:
        self.config = config
        self.app = app
        self.sockets = sockets
        self.on_ready = on_ready
        self.on_request_done = on_request_done
        self.install_signals = install_signals
        # SIGHUP: under our master it means "you are being replaced" (reload, recycling), which
        # WebSockets hear as 1012; alone, there is no replacement, so it is a plain graceful stop.
        self.restart_on_hup = restart_on_hup
        self.shutdown_delay = (
            shutdown_delay  # single-process --shutdown-delay (a master has its own)
        )
        self._delay: asyncio.TimerHandle | None = None
        self.state: WorkerState | None = None
        self._stop: asyncio.Event | None = None
        self._fast = False
        self._restart = False
        self._stop_requested = False
        self._interrupts = 0

    def request_stop(self, fast: bool = False, restart: bool = False) -> None:
        """Stop serving; a request made before `serve()` has started is kept and honoured.
        `restart`: another process takes over (WebSockets are closed with 1012, not 1001).

        With a shutdown delay, the first request only starts the delay (serving goes on, so that
        load balancers stop sending first); another one during the delay or the stop is fast."""
        if self.shutdown_delay > 0 and not fast:
            state = self.state
            if self._delay is None and not self._stop_requested and state is not None:
                logger.info("Stopping in %gs; serving until then", self.shutdown_delay)
                self._delay = state.loop.call_later(self.shutdown_delay, self._end_delay)
                return
            if self._delay is not None:
                logger.info("Second stop signal: stopping now")
                self._delay.cancel()
                fast = True
        self._stop_now(fast, restart)

    def _end_delay(self) -> None:
        self._stop_now(False, False)

    def _stop_now(self, fast: bool, restart: bool) -> None:
        self._fast = self._fast or fast
        self._restart = restart and (self._restart or not self._stop_requested)
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        config = self.config
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        state = self.state = WorkerState(config, self.app, loop)
        state.access_log = config.access_log and _logging.access_enabled()
        state.on_request_done = self.on_request_done
        if self.install_signals:
            self._install_signal_handlers(loop)
        if config.threads:
            use_threads(loop, config.threads)
        runner = LifespanRunner(
            self.app,
            config.lifespan,
            state.app_state,
            startup_timeout=config.timeout_lifespan_startup,
            shutdown_timeout=config.timeout_lifespan_shutdown,
        )
        try:
            if not await runner.startup():
                return EXIT_STARTUP_FAILED
            # RFC 7301 / RFC 9113 §3.2: offer h2 first when HTTP/2 is on.
            alpn = ["h2", "http/1.1"] if config.http2 and config.protocol == "http" else None
            tls = ssl_context(config, alpn)
            protocol_factory = state.protocol_factory()
            servers: list[asyncio.Server | Listener] = []
            for sock in self.sockets:
                if config.proxy_protocol:
                    servers.append(self._proxy_protocol_listener(loop, sock, tls, state))
                elif state.gate is not None:
                    # --limit-connections: a listener that can stop accepting (listener.py).
                    listener = Listener(
                        loop,
                        sock,
                        protocol_factory,
                        tls=tls,
                        handshake_timeout=config.timeout_request_head,
                        backlog=config.backlog,
                        gate=state.gate,
                    )
                    listener.start()
                    servers.append(listener)
                else:
                    server = await loop.create_server(
                        protocol_factory,
                        sock=sock,
                        ssl=tls,
                        backlog=config.backlog,
                        ssl_handshake_timeout=config.timeout_request_head if tls else None,
                    )
                    servers.append(server)
                logger.info(
                    "Listening on %s (pid %d)", describe(sock, tls is not None), os.getpid()
                )
            if self.on_ready is not None:
                self.on_ready()
            await self._stop.wait()
            await self._shutdown(servers, state)
            await runner.shutdown()
            return EXIT_OK
        finally:
            state.stop_timers()
            if self.install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
                    with contextlib.suppress(Exception):
                        loop.remove_signal_handler(sig)

    def _proxy_protocol_listener(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        tls: ssl.SSLContext | None,
        state: WorkerState,
    ) -> ProxyProtocolListener:
        """`--proxy-protocol`: the PROXY header is read before the connection is served. Its
        sender must be a trusted proxy (the PROXY specification, section 5), as decided for
        X-Forwarded-* (`unix` for unix-socket peers)."""
        config = self.config
        trusted = TrustedAddresses(config.forwarded_allow_ips)
        listener = ProxyProtocolListener(
            loop,
            sock,
            state.proxied_protocol_factory(),
            read_proxy_header,
            MAX_HEADER_BYTES,
            lambda host: trusted.unix if host is None else trusted.trusts(host),
            tls=tls,
            header_timeout=config.timeout_request_head,
            backlog=config.backlog,
            gate=state.gate,
        )
        listener.start()
        return listener

    def heartbeat(self, loop_lag: float) -> bytes:
        """The heartbeat message to the master: with --metrics, this worker's counters."""
        state = self.state
        if state is None or state.metrics is None:
            return b"H"
        connections = [0] * len(PROTOCOLS)
        for connection in state.connections:
            connections[protocol_of(connection.driver)] += 1
        return encode_snapshot(state.metrics, connections, state.inflight, loop_lag)

    async def _shutdown(self, servers: list[asyncio.Server | Listener], state: WorkerState) -> None:
        logger.info("Shutting down")
        for server in servers:
            server.close()
        state.shutting_down = True
        for connection in list(state.connections):
            connection.shutdown(self._restart)
        loop = asyncio.get_running_loop()
        if state.tasks and not self._fast:
            logger.info("Waiting for %d in-flight request(s) to finish", len(state.tasks))
        deadline = loop.time() + self.config.timeout_graceful_shutdown
        # Connections accepted just before the listener closed may still deliver their first
        # request: they get a short grace (see H1Driver.shutdown), then are closed with the rest.
        fresh_deadline = loop.time() + min(
            FRESH_CONNECTION_GRACE, self.config.timeout_graceful_shutdown
        )
        while not self._fast:
            waiting_for_requests = bool(state.connections) and loop.time() < fresh_deadline
            if not state.tasks and not waiting_for_requests:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                logger.warning(
                    "Graceful shutdown timed out; cancelling %d request(s)", len(state.tasks)
                )
                break
            self._stop.clear()  # type: ignore[union-attr]
            stop_wait = asyncio.ensure_future(self._stop.wait())  # type: ignore[union-attr]
            await asyncio.wait(
                {*state.tasks, stop_wait},
                timeout=min(remaining, 0.02) if waiting_for_requests else remaining,
                return_when=asyncio.FIRST_COMPLETED,
            )
            stop_wait.cancel()
        for task in list(state.tasks):
            task.cancel()
        if state.tasks:
            await asyncio.wait(state.tasks, timeout=5)
        # A connection in its lingering close (after its last response) gets a moment to end by
        # itself: aborting it now would reset it before its client has read the last bytes.
        linger_until = min(deadline, loop.time() + LINGER_SECONDS)
        while (
            not self._fast
            and loop.time() < linger_until
            and any(connection.lingering for connection in state.connections)
        ):
            await asyncio.sleep(0.02)
        for connection in list(state.connections):
            connection.abort()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_signal(sig: int) -> None:
            if sig == signal.SIGQUIT:
                self.request_stop(fast=True)
                return
            if sig == signal.SIGINT:
                self._interrupts += 1
                if self._interrupts > 1:
                    logger.info("Second interrupt: stopping now")
                    self.request_stop(fast=True)
                    return
            if sig == signal.SIGHUP:
                if self.restart_on_hup:
                    logger.info("Replaced by a new worker: draining")
                    self.request_stop(restart=True)
                    return
                logger.info("SIGHUP: stopping gracefully (a reload needs --workers)")
            self.request_stop()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
            loop.add_signal_handler(sig, on_signal, sig)


def protocol_of(driver: Driver | None) -> int:
    """What a connection speaks now, for the connections gauge (read once a second, never on the
    request path). An RFC 8441 WebSocket is a stream of an HTTP/2 connection and counts as that."""
    kind = type(driver)
    if kind is H2Driver:
        return HTTP2
    if kind is WSChannel:
        return WEBSOCKET
    if kind is UwsgiDriver:
        return UWSGI
    return HTTP1


def new_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name in ("auto", "uvloop"):
        try:
            import uvloop  # type: ignore[import-not-found, unused-ignore]  # an optional extra
        except ImportError:
            if name == "uvloop":
                raise
        else:
            return cast(Callable[[], asyncio.AbstractEventLoop], uvloop.new_event_loop)
    return asyncio.new_event_loop
