"""The WebSocket channel's writes, on the drivers over a fake transport (see test_drivers.py).

The app's messages wait in the ws connection until the end of the loop iteration: a burst costs one
write, in order, before any close frame; past HOLD_LIMIT they go out at once, so write flow control
still stops an app that sends faster than the client reads.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Any

from test_drivers import Harness, masked_frame

from asgiserver.server._drivers.ws import HOLD_LIMIT

UPGRADE = (
    b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
    b"sec-websocket-version: 13\r\nsec-websocket-key: "
)


def upgrade() -> bytes:
    return UPGRADE + base64.b64encode(os.urandom(16)) + b"\r\n\r\n"


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each unmasked server frame in `data` (RFC 6455 §5.2)."""
    frames = []
    while data:
        n, at = data[1] & 0x7F, 2
        if n == 126:
            n, at = struct.unpack("!H", data[2:4])[0], 4
        elif n == 127:
            n, at = struct.unpack("!Q", data[2:10])[0], 10
        frames.append((data[0] & 0x0F, data[at : at + n]))
        data = data[at + n :]
    return frames


class Writes:
    """The transport's writes after the 101, one entry each."""

    def __init__(self, harness: Harness) -> None:
        self.chunks: list[bytes] = []
        transport = harness.transport
        write = transport.write

        def recording(data: bytes) -> None:
            self.chunks.append(bytes(data))
            write(data)

        transport.write = recording  # type: ignore[method-assign]


def test_a_burst_of_echoes_is_one_write_in_order() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            if "text" in message:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})

    async def main() -> None:
        harness = Harness("http", app, ws_per_message_deflate=False)
        harness.feed(upgrade())
        await harness.settle()
        writes = Writes(harness)
        sent = [(1 + i % 2, b"m%d" % i * (i % 50)) for i in range(20)]
        harness.feed(b"".join(masked_frame(op, payload) for op, payload in sent))
        await harness.settle()
        assert len(writes.chunks) == 1
        assert server_frames(writes.chunks[0]) == sent
        await harness.finish()

    asyncio.run(main())


def test_messages_sent_before_the_app_returns_precede_the_close_frame() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "one"})
        await send({"type": "websocket.send", "bytes": b"two"})
        # returning closes with 1000, in the same loop iteration as the sends

    async def main() -> None:
        harness = Harness("http", app, ws_per_message_deflate=False)
        harness.feed(upgrade())
        await harness.settle()
        out = bytes(harness.transport.out).partition(b"\r\n\r\n")[2]
        assert server_frames(out) == [(1, b"one"), (2, b"two"), (8, b"\x03\xe8")]
        await harness.finish()

    asyncio.run(main())


def test_an_app_sending_faster_than_the_client_reads_waits_for_it() -> None:
    size, count = 1000, 1000  # 1 MB in all, in messages far below HOLD_LIMIT
    done: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()  # the client's go
        for i in range(count):
            await send({"type": "websocket.send", "bytes": b"x" * size})
            done.append(i)
        await receive()

    async def main() -> None:
        harness = Harness("http", app, ws_per_message_deflate=False)
        harness.feed(upgrade())
        await harness.settle()
        writes = Writes(harness)
        # The transport's buffer is full after the first write: it pauses the protocol, as an
        # asyncio transport does past its high-water mark.
        transport_write = harness.transport.write

        def write_and_pause(data: bytes) -> None:
            transport_write(data)
            harness.connection.pause_writing()

        harness.transport.write = write_and_pause  # type: ignore[method-assign]
        harness.feed(masked_frame(0x1, b"go"))
        await harness.settle()
        assert len(done) < count  # the app waits in send()
        assert writes.chunks
        assert all(len(chunk) <= HOLD_LIMIT + size + 14 for chunk in writes.chunks)
        harness.transport.write = transport_write  # type: ignore[method-assign]
        harness.connection.resume_writing()
        await harness.settle(200)
        assert len(done) == count
        frames = server_frames(b"".join(writes.chunks))
        assert frames == [(2, b"x" * size)] * count
        await harness.finish()

    asyncio.run(main())


def test_more_messages_than_the_queue_holds_in_one_read_pause_reading() -> None:
    """--ws-max-queue: reading pauses once the app has that many messages waiting, even when the
    read that fills the queue brings more after it; it resumes as the app takes them."""
    go = asyncio.Event()
    got: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await go.wait()
        while len(got) < 40:
            got.append((await receive())["text"])

    async def main() -> None:
        harness = Harness("http", app, ws_per_message_deflate=False, ws_max_queue=32)
        harness.feed(upgrade())
        await harness.settle()
        harness.feed(b"".join(masked_frame(0x1, b"%d" % i) for i in range(40)))
        await harness.settle()
        assert not harness.transport.reading
        go.set()
        await harness.settle()
        assert got == [str(i) for i in range(40)]
        assert harness.transport.reading
        await harness.finish()

    asyncio.run(main())
