"""Outgoing bytes of one connection: joined into as few writes as possible, with write flow control."""

from __future__ import annotations

import asyncio
from typing import Protocol

JOIN_LIMIT = 256 * 1024  # held (corked) bytes past this are written at once
# Pieces up to this size in all are copied into one bytes object for one write(); larger ones (a
# head and a 64 KiB body) go to writelines() as they are: uvloop sends them with one writev()
# without copying, asyncio uses one sendmsg() on 3.12+ (and joins them itself on 3.11). Below it,
# the copy is cheaper than a transport's bookkeeping per buffer.
COPY_LIMIT = 16 * 1024


class SentBytes(Protocol):
    """Where `--metrics` counts the bytes written (the worker's `RequestCounters`)."""

    sent: int


class WriteBatcher:
    """Outgoing bytes of one connection: written at once, or held and joined into one write; and
    the transport's write flow control (`paused`, `drain()`).

    `hold()` starts holding until `flush()`, a deadline (or the end of this loop iteration) or
    JOIN_LIMIT held bytes, whichever comes first, so flow control still sees large writes.
    """

    __slots__ = (
        "_handle",
        "_pending",
        "_size",
        "_waiter",
        "counters",
        "loop",
        "paused",
        "transport",
        "written",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, counters: SentBytes | None = None) -> None:
        self.loop = loop
        self.counters = counters
        self.transport: asyncio.WriteTransport | None = None
        self._pending: list[bytes] = []
        self._size = 0
        self._handle: asyncio.Handle | None = None
        self.paused = False
        self._waiter: asyncio.Future[None] | None = None
        self.written = 0  # bytes handed to the transport (less its buffer: bytes the kernel took)

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
                if len(chunks) == 1:
                    data = chunks[0]
                    transport.write(data)
                    size = len(data)
                else:
                    size = sum(map(len, chunks))
                    if size <= COPY_LIMIT:
                        transport.write(b"".join(chunks))
                    else:
                        transport.writelines(chunks)
                self.written += size
                counters = self.counters
                if counters is not None:
                    counters.sent += size
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
