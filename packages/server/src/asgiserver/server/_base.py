"""Transport plumbing shared by the request/response protocols (HTTP/1.1 and uwsgi).

`StreamProtocol` owns the transport, one timer, read and write flow control and the request-body side
of `ResponseStream`; subclasses translate their protocol package's events and write responses.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from asgiserver.server._http import HTTPCycle

if TYPE_CHECKING:
    from asgiserver.server._state import ServerState

access_logger = logging.getLogger("asgiserver.access")
error_logger = logging.getLogger("asgiserver.error")

HIGH_WATER = 64 * 1024  # request body buffered for the app before reading pauses
JOIN_LIMIT = 256 * 1024  # responses up to this size are joined into one write
CORK_SECONDS = 0.001  # the longest a pipelined response waits for the ones after it

NO_TIMER, HEAD_TIMER, KEEPALIVE_TIMER, BODY_TIMER, LINGER_TIMER = range(5)
LINGER_SECONDS = 2.0  # how long unread request bytes are drained after an early response
LINGER_MAX_BYTES = 16 * 1024 * 1024


def write_now(transport: asyncio.WriteTransport, chunks: list[bytes]) -> None:
    if len(chunks) == 1:
        transport.write(chunks[0])
    elif sum(map(len, chunks)) <= JOIN_LIMIT:
        # One send() for a head and a small body: writelines() costs a syscall per piece.
        transport.write(b"".join(chunks))
    else:
        transport.writelines(chunks)


class WriteBatcher:
    """Outgoing bytes of one connection: written at once, or held and joined into one write; and
    the transport's write flow control (`paused`, `drain()`).

    `hold()` starts holding until `flush()`, a deadline (or the end of this loop iteration) or
    JOIN_LIMIT held bytes, whichever comes first, so flow control still sees large writes.
    """

    __slots__ = ("_handle", "_pending", "_size", "_waiter", "loop", "paused", "transport")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.WriteTransport | None = None
        self._pending: list[bytes] = []
        self._size = 0
        self._handle: asyncio.Handle | None = None
        self.paused = False
        self._waiter: asyncio.Future[None] | None = None

    def pause(self) -> None:
        """The transport's pause_writing(): its buffer is above the high-water mark."""
        self.paused = True

    def resume(self) -> None:
        """The transport's resume_writing(), or connection_lost(): wake a waiting drain()."""
        self.paused = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        """Wait until the client has read enough for writing to go on (or the connection is gone)."""
        transport = self.transport
        if not self.paused or transport is None or transport.is_closing():
            return
        waiter = self._waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def write(self, chunks: list[bytes]) -> None:
        if not chunks:
            return
        if self._handle is None:
            transport = self.transport
            if transport is not None and not transport.is_closing():
                write_now(transport, chunks)
            return
        self._pending += chunks
        self._size += sum(map(len, chunks))
        if self._size > JOIN_LIMIT:
            self.flush()

    def hold(self, seconds: float | None = None) -> None:
        """Hold writes for `seconds`, or (None) until the end of this loop iteration."""
        if self._handle is None:
            if seconds is None:
                self._handle = self.loop.call_soon(self.flush)
            else:
                self._handle = self.loop.call_later(seconds, self.flush)

    def flush(self) -> None:
        handle = self._handle
        if handle is None:
            return
        handle.cancel()
        self._handle = None
        pending = self._pending
        self._pending = []
        self._size = 0
        self.write(pending)


class StreamProtocol(asyncio.Protocol):
    __slots__ = (
        "_closing",
        "_deadline",
        "_last_body_time",
        "_linger_bytes",
        "_lingering",
        "_out",
        "_read_paused",
        "_timer",
        "_timer_kind",
        "client",
        "cycle",
        "loop",
        "proxy_trusted",
        "scheme",
        "server",
        "state",
        "transport",
    )

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.transport: asyncio.Transport | None = None
        self.cycle: HTTPCycle | None = None
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int | None] | None = None
        self.scheme = "http"
        self.proxy_trusted = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind = NO_TIMER
        self._deadline = 0.0
        self._read_paused = False
        self._closing = False
        self._last_body_time = 0.0
        self._lingering = False
        self._linger_bytes = 0
        self._out = WriteBatcher(self.loop)

    # ---- transport callbacks -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self._out.transport = self.transport
        self.state.connections.add(self)
        self.client, self.server = self.state.addresses(transport)
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        proxy = self.state.proxy
        if proxy is not None:
            client = self.client
            # Decided once per connection: a unix-socket peer is trusted only when everything is.
            self.proxy_trusted = (
                proxy.trusted.everything if client is None else proxy.trusts(client[0])
            )
        self._arm(HEAD_TIMER, self.state.config.timeout_request_head)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self._drop_timer()
        self._closing = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnect()
        self._out.resume()

    def pause_writing(self) -> None:
        self._out.pause()

    def resume_writing(self) -> None:
        self._out.resume()

    # ---- request body ------------------------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return  # a body nobody will read; the connection closes after this response
        self._last_body_time = self.loop.time()
        if cycle.feed_body(data) > HIGH_WATER and not self._read_paused:
            self._pause_reading()

    def _on_end_of_body(self) -> None:
        cycle = self.cycle
        if cycle is not None:
            cycle.end_body()
            if self._timer_kind == BODY_TIMER:
                self._cancel_timer()

    # ---- ResponseStream, the parts every protocol shares --------------------------------------------

    @property
    def write_paused(self) -> bool:
        return self._out.paused

    def want_body(self) -> None:
        if self._read_paused:
            self._resume_reading()
        if self._timer_kind == NO_TIMER:
            self._last_body_time = self.loop.time()
            self._arm(BODY_TIMER, self.state.config.timeout_request_body)

    async def drain(self) -> None:
        await self._out.drain()

    def abort(self) -> None:
        self._close()

    def cycle_finished(self, cycle: HTTPCycle) -> None:
        self.state.finish_task()
        if cycle is self.cycle and not cycle.response_complete:
            self._close()

    # ---- helpers -----------------------------------------------------------------------------------

    def _write_chunks(self, chunks: list[bytes]) -> None:
        self._out.write(chunks)

    def _cork(self) -> None:
        """Hold writes while more pipelined requests are queued: their responses go out together
        (flushed when the pipeline drains, past JOIN_LIMIT bytes, on close, or after CORK_SECONDS)."""
        self._out.hold(CORK_SECONDS)

    def _uncork(self) -> None:
        self._out.flush()

    def _log_access(self, request_line: str, status: int, size: int, start: float | None) -> None:
        duration = (self.loop.time() - start) * 1000 if start is not None else 0.0
        access_logger.info(
            '%s - "%s" %d %d %.2fms', self._peer(), request_line, status, size, duration
        )

    def _peer(self) -> str:
        client = self.client
        return f"{client[0]}:{client[1]}" if client else "-"

    def _closed(self) -> bool:
        transport = self.transport
        return transport is None or transport.is_closing()

    def _close(self) -> None:
        self._uncork()
        self._closing = True
        self._drop_timer()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def _close_lingering(self) -> None:
        """Close after a response sent before the request was read to its end.

        RFC 9112 §9.6: closing a socket with unread input makes the kernel send a reset, which can
        destroy the response before the client reads it. So we half-close, discard what still
        arrives for a moment (bounded in time and bytes), and then close.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._lingering or not transport.can_write_eof():
            self._close()
            return
        self._uncork()
        self._closing = True
        self._lingering = True
        transport.write_eof()
        if self._read_paused:
            self._resume_reading()
        self._arm(LINGER_TIMER, LINGER_SECONDS)

    def _linger_data(self, data: bytes) -> None:
        self._linger_bytes += len(data)
        if self._linger_bytes > LINGER_MAX_BYTES:
            self._close()

    def _pause_reading(self) -> None:
        transport = self.transport
        if transport is not None and not self._read_paused and not transport.is_closing():
            self._read_paused = True
            transport.pause_reading()

    def _resume_reading(self) -> None:
        transport = self.transport
        if transport is not None and self._read_paused and not transport.is_closing():
            self._read_paused = False
            transport.resume_reading()

    def _arm(self, kind: int, delay: float) -> None:
        """Set the connection's one deadline. The timer handle is reused lazily: re-arming on every
        request would cost a cancel and a call_later each time, so a timer that fires early just
        re-schedules itself for the remaining time."""
        deadline = self.loop.time() + delay
        self._timer_kind = kind
        self._deadline = deadline
        timer = self._timer
        if timer is None:
            self._timer = self.loop.call_at(deadline, self._on_timer)
        elif timer.when() > deadline:
            timer.cancel()
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        self._timer_kind = NO_TIMER

    def _drop_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            timer.cancel()
            self._timer = None
        self._timer_kind = NO_TIMER

    def _on_timer(self) -> None:
        self._timer = None
        kind = self._timer_kind
        if kind == NO_TIMER:
            return
        remaining = self._deadline - self.loop.time()
        if remaining > 0.001:
            self._timer = self.loop.call_later(remaining, self._on_timer)
            return
        self._timer_kind = NO_TIMER
        if kind == BODY_TIMER:
            self._on_body_timer()
        else:
            self._on_idle_timer(kind)

    def _on_body_timer(self) -> None:
        cycle = self.cycle
        if cycle is None or cycle.body_complete:
            return
        timeout = self.state.config.timeout_request_body
        idle = self.loop.time() - self._last_body_time
        if idle < timeout or self._read_paused:
            # Body bytes arrived meanwhile, or the app is not reading: not a stalled client.
            self._arm(BODY_TIMER, timeout - idle if idle < timeout else timeout)
            return
        error_logger.info("Request body from %s stalled", self._peer())
        self._request_timed_out()

    def _request_timed_out(self) -> None:
        """The request (head or body) did not arrive in time: 408 if no response has started."""
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnect()
        if cycle is None or not cycle.response_started:
            self._reject(408)
        else:
            self._close()

    def _on_idle_timer(self, kind: int) -> None:
        self._close()  # keep-alive, head and linger deadlines all end in a close

    def _reject(self, status: int) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        """Graceful shutdown: close when idle, otherwise after the current response."""
        self._closing = True
        if self.cycle is None:
            self._close()

    def scope_base(self) -> dict[str, Any]:
        return {"server": self.server, "client": self.client, "scheme": self.scheme}
