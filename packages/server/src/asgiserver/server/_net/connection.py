"""`Connection`: the one asyncio protocol for every protocol the server speaks.

It owns the transport, one deadline (filed lazily in the worker's `DeadlineWheel`), read pausing, write batching and flow control
(`WriteBatcher`), and lingering close; a driver (`_drivers/`) owns everything the protocol decides,
and reaches the connection through the `Sink` methods below. `switch_to()` hands the input to another
driver (a WebSocket after its 101).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiserver.server._drivers.base import (
    LINGER_TIMER,
    NO_TIMER,
    Cancellable,
    Driver,
    DriverFactory,
    ProxiedEndpoints,
    Services,
    peer_text,
)
from asgiserver.server._net import sendfile, tls
from asgiserver.server._net.deadlines import EARLY_TOLERANCE, NOT_FILED, DeadlineWheel
from asgiserver.server._net.writes import WriteBatcher

logger = logging.getLogger("asgiserver.error")

LINGER_SECONDS = 2.0  # how long unread request bytes are drained after an early response
LINGER_MAX_BYTES = 16 * 1024 * 1024


def addresses(
    transport: asyncio.BaseTransport,
) -> tuple[tuple[str, int] | None, tuple[str, int | None] | None]:
    """(client, server) as ASGI scopes carry them; a unix socket has no client address."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        return None, ((name if isinstance(name, str) else name.decode()), None)
    peer = transport.get_extra_info("peername")
    local = transport.get_extra_info("sockname")
    client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
    server = (str(local[0]), int(local[1])) if isinstance(local, tuple) else None
    return client, server


class Connection(asyncio.Protocol):
    __slots__ = (
        "_counters",
        "_driver_factory",
        "_input_held",
        "_linger_bytes",
        "_lingering",
        "_out",
        "_proxied",
        "_stall",
        "_stall_sent",
        "_wheel",
        "_when_writable",
        "alpn",
        "client",
        "closing",
        "deadline",
        "driver",
        "filed_at",
        "flush",
        "loop",
        "read_paused",
        "secure",
        "server",
        "services",
        "time",
        "timer_kind",
        "transport",
        "write",
    )

    def __init__(
        self,
        services: Services,
        driver_factory: DriverFactory,
        loop: asyncio.AbstractEventLoop,
        wheel: DeadlineWheel,
        proxied: ProxiedEndpoints | None = None,
    ) -> None:
        self.services = services
        self.loop = loop
        self._wheel = wheel  # the worker's: one loop timer for every connection's deadline
        self.time: Callable[[], float] = loop.time
        self._driver_factory = driver_factory
        self.driver: Driver | None = None
        self.transport: asyncio.Transport | None = None
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int | None] | None = None
        self.secure = False
        self.alpn: str | None = None
        self.closing = False
        self.timer_kind = NO_TIMER
        self.deadline = 0.0  # loop time of the armed deadline (meaningless under NO_TIMER)
        self.filed_at = NOT_FILED  # the wheel's bucket this connection is in
        self.read_paused = False  # the driver paused input (its own buffers are full)
        self._input_held = False  # input paused because the client does not read our output
        self._when_writable: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._stall: Cancellable | None = None  # --timeout-send, while writing is paused
        self._stall_sent = 0  # bytes the kernel had taken at the last look
        self._lingering = False
        self._linger_bytes = 0
        self._counters = services.metrics  # bytes in (and out, by the batcher) with --metrics
        self._out = WriteBatcher(loop, self._counters)
        # Sink.write and Sink.flush are the batcher's own methods: no call in between per response.
        self.write: Callable[[list[bytes]], None] = self._out.write
        self.flush: Callable[[], None] = self._out.flush
        self._proxied = proxied  # what the connection's PROXY header said (--proxy-protocol)

    # ---- asyncio callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self._out.transport = self.transport
        self.client, self.server = addresses(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        self.secure = ssl_object is not None
        if ssl_object is not None:
            self.alpn = ssl_object.selected_alpn_protocol()
        proxied = self._proxied
        if proxied is not None:
            if proxied.relayed:
                self.client, self.server = proxied.client, proxied.server
            self.secure = self.secure or proxied.client_tls
        self.services.connections.add(self)
        self.driver = self._driver_factory(self)

    def data_received(self, data: bytes) -> None:
        counters = self._counters
        if counters is not None:
            counters.received += len(data)
        if self._lingering:
            self._linger_bytes += len(data)
            if self._linger_bytes > LINGER_MAX_BYTES:
                self.close()
            return
        self.driver.receive_data(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool | None:
        if self._lingering:
            self.close()
        else:
            self.driver.receive_eof()  # type: ignore[union-attr]
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        services = self.services
        services.connections.discard(self)
        services.connection_closed()
        self._drop_timer()
        self.closing = True
        driver = self.driver
        if driver is not None:
            driver.connection_lost()
        self._when_writable.clear()
        self._stop_stall_watch()
        self._out.resume()

    def pause_writing(self) -> None:
        """The transport holds more than its high-water mark: the client is not reading.

        Its input is held too, so a client that sends requests (pipelined HTTP/1.1, HTTP/2
        streams, WebSocket messages) without reading the answers cannot make the server produce
        and hold them without bound: what it already sent waits until it reads. Not while
        lingering, where reading the rest of the request is what lets the client get to our
        response (RFC 9112 §9.6)."""
        self._out.pause()
        transport = self.transport
        timeout = self.services.config.timeout_send
        if timeout and self._stall is None and transport is not None:
            self._stall_sent = self._out.written - transport.get_write_buffer_size()
            self._stall = self.call_later(timeout, self._check_stall)
        if (
            not self._input_held
            and not self._lingering
            and transport is not None
            and not transport.is_closing()
        ):
            self._input_held = True
            if not self.read_paused:
                transport.pause_reading()

    def resume_writing(self) -> None:
        self._stop_stall_watch()
        self._out.resume()
        if self._input_held:
            self._input_held = False
            transport = self.transport
            if not self.read_paused and transport is not None and not transport.is_closing():
                transport.resume_reading()
        waiting = self._when_writable
        if waiting and not self.closed:  # a draining connection still serves what it read
            self._when_writable = []
            for callback, args in waiting:
                self.loop.call_soon(callback, *args)

    # ---- Sink: what drivers call -------------------------------------------------------------------

    @property
    def write_paused(self) -> bool:
        return self._out.paused

    @property
    def lingering(self) -> bool:
        """Half-closed after the last response, discarding what the client still sends."""
        return self._lingering

    @property
    def closed(self) -> bool:
        transport = self.transport
        return transport is None or transport.is_closing()

    def hold(self, seconds: float | None) -> None:
        self._out.hold(seconds)

    def drain(self) -> Awaitable[None]:
        return self._out.drain()

    @property
    def zero_copy(self) -> bool:
        """`send_file()` can be used: a plain (not TLS) transport over a socket."""
        transport = self.transport
        # Not `self.secure`: behind a PROXY header that reports a TLS client, `secure` is set while
        # our own transport is plain TCP, and sendfile works.
        return (
            transport is not None
            and transport.get_extra_info("ssl_object") is None
            and transport.get_extra_info("socket") is not None
        )

    def send_file(self, fd: int, offset: int, count: int) -> Awaitable[int]:
        """Send part of a file with `os.sendfile` after what is already written (plain sockets
        only: a TLS transport encrypts in user space). Returns the bytes sent, fewer than `count`
        only when the file ended first; raises ConnectionError when the client is gone."""
        return sendfile.send_file(self.loop, self.transport, self._out, fd, offset, count)  # type: ignore[arg-type]

    def tls_extension(self) -> dict[str, Any] | None:
        """The ASGI `tls` scope extension of this connection (None on plain connections)."""
        transport = self.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is None:
            return None
        return tls.tls_extension(ssl_object, self.services.config.ssl_certfile)

    def pause_reading(self) -> None:
        transport = self.transport
        if transport is not None and not self.read_paused and not transport.is_closing():
            self.read_paused = True
            if not self._input_held:
                transport.pause_reading()

    def resume_reading(self) -> None:
        transport = self.transport
        if transport is not None and self.read_paused and not transport.is_closing():
            self.read_paused = False
            if not self._input_held:
                transport.resume_reading()

    def _check_stall(self) -> None:
        """`--timeout-send` after writing paused: a client that took nothing of what waits for it
        in all that time is dropped. The bytes cannot be delivered, so the transport is aborted
        rather than closed (a close would wait for them)."""
        self._stall = None
        transport = self.transport
        if not self._out.paused or transport is None or transport.is_closing():
            return
        # What the kernel took since the last look (the buffer may also have grown meanwhile:
        # other HTTP/2 streams' answers).
        sent = self._out.written - transport.get_write_buffer_size()
        if sent > self._stall_sent:  # it reads, slowly: look again a timeout later
            self._stall_sent = sent
            self._stall = self.call_later(self.services.config.timeout_send, self._check_stall)
            return
        logger.info(
            "Client %s took none of the response for %gs: closing",
            peer_text(self.client),
            self.services.config.timeout_send,
        )
        self.abort()

    def _stop_stall_watch(self) -> None:
        stall = self._stall
        if stall is not None:
            self._stall = None
            stall.cancel()

    def call_when_writable(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback` on a later loop turn, once writing is not paused (the next turn if it is
        not paused now); never if the connection closes first."""
        if self._out.paused:
            self._when_writable.append((callback, args))
        else:
            self.loop.call_soon(callback, *args)

    def close(self) -> None:
        self._out.flush()
        self.closing = True
        self._drop_timer()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def close_lingering(self) -> None:
        """Close after a response sent before the request was read to its end.

        RFC 9112 §9.6: closing a socket with unread input makes the kernel send a reset, which can
        destroy the response before the client reads it. So we half-close, discard what still
        arrives for a moment (bounded in time and bytes), and then close.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._lingering or not transport.can_write_eof():
            self.close()
            return
        self._out.flush()
        self.closing = True
        self._lingering = True
        transport.write_eof()
        if self.read_paused or self._input_held:
            self.read_paused = self._input_held = False
            transport.resume_reading()
        self.arm(LINGER_TIMER, LINGER_SECONDS)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Cancellable:
        """From the worker's wheel (at most `deadlines.GRANULARITY` late): the drivers' timers are
        seconds, and a wheel entry is smaller than a loop timer on an idle WebSocket."""
        return self._wheel.call_later(seconds, callback)

    def create_future(self) -> asyncio.Future[None]:
        return self.loop.create_future()

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        self.loop.call_soon(callback, *args)

    def switch_to(self, driver: Driver) -> None:
        self.timer_kind = NO_TIMER
        self.driver = driver

    def arm(self, kind: int, seconds: float) -> None:
        """Set the connection's one deadline. Filed lazily: a deadline that moves later (the
        keep-alive one, on every request) leaves the connection in its bucket, which files it again
        when it comes; only an earlier deadline moves it now."""
        deadline = self.time() + seconds
        self.timer_kind = kind
        self.deadline = deadline
        if deadline < self.filed_at:
            self._wheel.file(self)

    def _drop_timer(self) -> None:
        self.timer_kind = NO_TIMER
        if self.filed_at != NOT_FILED:
            self._wheel.discard(self)

    def deadline_reached(self, now: float) -> None:
        """The wheel's bucket came (`Filed`)."""
        kind = self.timer_kind
        if kind == NO_TIMER:
            return  # disarmed lazily by the driver
        deadline = self.deadline
        if deadline - now > EARLY_TOLERANCE:
            if deadline < self.filed_at:  # moved later meanwhile, and not re-filed by arm()
                self._wheel.file(self)
            return
        self.timer_kind = NO_TIMER
        if kind == LINGER_TIMER:
            self.close()
        elif self.driver is not None:
            self.driver.timer_fired(kind)

    # ---- server control ----------------------------------------------------------------------------

    def shutdown(self, restart: bool = False) -> None:
        """Graceful shutdown: the driver closes when idle, otherwise after what is in flight."""
        self.closing = True
        if self.driver is not None:
            self.driver.shutdown(restart)

    def abort(self) -> None:
        transport = self.transport
        if transport is not None:
            transport.abort()
