"""Zero-copy file bodies on plain TCP (and unix) sockets: `os.sendfile` beside the transport.

asyncio's `loop.sendfile()` would do this on the default loop, but uvloop's transports quietly fall
back to reads and writes, so we call `os.sendfile` ourselves on both. The transport keeps owning
its socket: its write buffer is emptied first (so the file follows the head in order), and the
socket is reached through a duplicate descriptor, which the loop can watch for writability (uvloop
refuses `add_writer` on a descriptor a transport owns) and which keeps the socket from being
closed and its number reused while a `sendfile` call is running.
"""

from __future__ import annotations

import asyncio
import errno
import os

from asgiserver.server._net.writes import WriteBatcher

SENDFILE_CHUNK = 8 * 1024 * 1024  # bytes asked of one sendfile() call; the loop runs between calls
# A closed transport does not wake a writability wait (our duplicate keeps the socket open): look
# again this often.
RECHECK_SECONDS = 1.0
_GONE = {errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN}


async def wait_written(transport: asyncio.WriteTransport, out: WriteBatcher) -> None:
    """Wait until the transport has handed every buffered byte to the kernel.

    With both water marks at 0 the transport pauses its protocol while anything is buffered and
    resumes it once the buffer is empty; the previous marks are restored after."""
    out.flush()
    if transport.get_write_buffer_size() == 0:
        return
    low, high = transport.get_write_buffer_limits()
    transport.set_write_buffer_limits(high=0, low=0)
    try:
        while transport.get_write_buffer_size() and not transport.is_closing():
            await out.drain()
            if not out.paused:
                await asyncio.sleep(0)
    finally:
        if not transport.is_closing():
            transport.set_write_buffer_limits(high=high, low=low)


async def send_file(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.WriteTransport,
    out: WriteBatcher,
    fd: int,
    offset: int,
    count: int,
) -> int:
    """Send `count` bytes of file `fd` from `offset` after what the transport already holds.

    Returns the bytes sent: fewer than `count` only when the file ended first. Raises
    ConnectionError when the client is gone or the transport closes meanwhile."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        raise ConnectionError("the transport has no socket")
    await wait_written(transport, out)
    if transport.is_closing():
        raise ConnectionError("the connection is closing")
    sent = 0
    out_fd = os.dup(sock.fileno())
    try:
        while sent < count:
            if transport.is_closing():
                raise ConnectionError("the connection is closing")
            try:
                n = os.sendfile(out_fd, fd, offset + sent, min(count - sent, SENDFILE_CHUNK))
            except BlockingIOError:
                await _writable(loop, out_fd)
                continue
            except InterruptedError:
                continue
            except OSError as exc:
                if isinstance(exc, ConnectionError):
                    raise
                if exc.errno in _GONE:
                    raise ConnectionError(str(exc)) from exc
                raise
            if n == 0:
                break  # the file is shorter than promised
            sent += n
            await asyncio.sleep(0)  # other connections of this worker get their turn
    finally:
        os.close(out_fd)
    return sent


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    waiter: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not waiter.done():
            waiter.set_result(None)

    loop.add_writer(fd, ready)
    recheck = loop.call_later(RECHECK_SECONDS, ready)
    try:
        await waiter
    finally:
        recheck.cancel()
        loop.remove_writer(fd)
