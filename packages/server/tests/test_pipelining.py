"""HTTP/1.1 pipelining (RFC 9112 §9.3.2) on the fake transport of test_drivers.py: the responses to
requests that arrived together go out in order and in few writes, and a slow request does not hold
back the responses before it for longer than the cork."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from test_drivers import Harness

from asgiserver.server._drivers import h1
from asgiserver.server._drivers.h1 import CORK_SECONDS


def counted_writes(harness: Harness) -> list[int]:
    sizes: list[int] = []
    write = harness.transport.write

    def counting(data: bytes) -> None:
        sizes.append(len(data))
        write(data)

    harness.transport.write = counting  # type: ignore[method-assign]
    return sizes


def get(path: str) -> bytes:
    return b"GET /%s HTTP/1.1\r\nhost: x\r\n\r\n" % path.encode()


async def answer(send: Any, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_queued_responses_are_joined_even_when_each_takes_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each request costs a little CPU (0.3 ms, as under load, where the loop's turns get long):
    the responses still go out in two writes, the first at once and the rest when the queue is
    empty, not one write each (a send per response costs more than the response on loopback).

    The cork is lengthened here so that only the queue emptying can end the batch: on a loaded test
    machine the 16 turns may take longer than the real 20 ms (the bound has its own test below)."""
    monkeypatch.setattr(h1, "CORK_SECONDS", 10.0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        until = time.perf_counter() + 0.0003
        while time.perf_counter() < until:
            pass
        await answer(send, scope["path"].encode())

    async def main() -> None:
        harness = Harness("http", app)
        sizes = counted_writes(harness)
        harness.feed(b"".join(get(f"r{i:02d}") for i in range(16)))
        for _ in range(200):
            await asyncio.sleep(0)
            if bytes(harness.transport.out).count(b"HTTP/1.1 200") == 16:
                break
        out = bytes(harness.transport.out)
        bodies = [out.find(b"/r%02d" % i) for i in range(16)]
        assert -1 not in bodies and bodies == sorted(bodies)  # all of them, in order
        assert len(sizes) <= 2, sizes
        await harness.finish()

    asyncio.run(main())


def test_a_slow_request_holds_the_responses_before_it_no_longer_than_the_cork() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            await asyncio.sleep(1)
        await answer(send, scope["path"].encode())

    async def main() -> None:
        harness = Harness("http", app)
        harness.feed(get("one") + get("two") + get("slow"))
        await asyncio.sleep(CORK_SECONDS + 0.1)
        out = bytes(harness.transport.out)
        assert b"/one" in out and b"/two" in out and b"/slow" not in out
        await harness.finish()

    asyncio.run(main())


def test_pipelined_requests_wait_while_the_client_does_not_read() -> None:
    """While the transport's buffer is over its high-water mark, the next pipelined request is not
    started and input is held; when the client reads again, both resume and the rest is answered."""
    started: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        started.append(scope["path"])
        await answer(send, scope["path"].encode())

    async def main() -> None:
        harness = Harness("http", app)
        harness.feed(get("a") + get("b") + get("c"))
        harness.connection.pause_writing()  # the client stopped reading
        await harness.settle()
        assert started == ["/a"]
        assert not harness.transport.reading
        assert harness.transport.out.count(b"HTTP/1.1 200") == 1
        harness.connection.resume_writing()
        await harness.settle()
        assert started == ["/a", "/b", "/c"]
        assert harness.transport.reading
        for _ in range(100):  # the cork of the pipelined batch, at most CORK_SECONDS
            if harness.transport.out.count(b"HTTP/1.1 200") == 3:
                break
            await asyncio.sleep(CORK_SECONDS / 10)
        assert harness.transport.out.count(b"HTTP/1.1 200") == 3
        await harness.finish()

    asyncio.run(main())


def test_input_paused_by_the_driver_stays_paused_when_the_client_reads_again() -> None:
    """Two reasons to hold input (the driver's buffers are full; the client does not read) are
    kept apart: the end of one does not undo the other."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        harness = Harness("http", app)
        connection = harness.connection
        connection.pause_writing()
        assert not harness.transport.reading
        connection.pause_reading()
        connection.resume_writing()
        assert not harness.transport.reading  # the driver's pause is still on
        connection.pause_writing()
        connection.resume_reading()
        assert not harness.transport.reading  # the client still does not read
        connection.resume_writing()
        assert harness.transport.reading
        await harness.finish()

    asyncio.run(main())


def test_a_client_that_takes_nothing_for_the_send_timeout_is_dropped() -> None:
    """--timeout-send: while writing is paused, a client whose transport buffer did not shrink in
    a whole timeout is aborted; one that reads, however slowly, is looked at again."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await answer(send, b"x")

    async def main() -> None:
        slow = Harness("http", app, timeout_send=0.1)
        stalled = Harness("http", app, timeout_send=0.1)
        busy = Harness("http", app, timeout_send=0.1)
        for harness in (slow, stalled, busy):
            harness.transport.buffered = 1_000_000
            harness.connection.pause_writing()
        for _ in range(6):  # 0.3 s: three timeouts
            await asyncio.sleep(0.05)
            slow.transport.buffered -= 1000  # it reads a little
            # More is queued than the kernel takes: the buffer grows, yet the client reads.
            busy.connection._out.written += 2000
            busy.transport.buffered += 1500
        assert stalled.transport.closed
        assert not slow.transport.closed
        assert not busy.transport.closed
        await busy.finish()
        slow.connection.resume_writing()
        await asyncio.sleep(0.3)
        assert not slow.transport.closed  # the watch ends with the pause
        await slow.finish()
        await stalled.finish()

    asyncio.run(main())


def test_a_drain_while_the_client_does_not_read_still_ends_the_connection() -> None:
    """A graceful shutdown that comes while pipelined requests wait for the client to read: the
    connection is not left open. It is closed as idle, or, with more of the client's bytes still
    unparsed, the waiting request is answered with `connection: close` once it reads."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await answer(send, scope["path"].encode())

    async def main() -> None:
        for tail in (b"", b"GET /c HTTP/1.1\r\nhost"):
            harness = Harness("http", app)
            harness.feed(get("a") + get("b") + tail)
            harness.connection.pause_writing()
            await harness.settle()
            harness.connection.shutdown()
            harness.connection.resume_writing()
            for _ in range(100):
                if harness.transport.closed:
                    break
                await asyncio.sleep(CORK_SECONDS / 10)
            assert harness.transport.closed
            out = bytes(harness.transport.out)
            assert out.count(b"HTTP/1.1 200") == (2 if tail else 1)
            if tail:
                assert out.rstrip().endswith(b"/b")
                assert b"connection: close" in out.split(b"/a", 1)[1]
            await harness.finish()

    asyncio.run(main())
