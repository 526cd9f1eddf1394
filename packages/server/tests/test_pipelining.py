"""HTTP/1.1 pipelining (RFC 9112 §9.3.2) on the fake transport of test_drivers.py: the responses to
requests that arrived together go out in order and in few writes, and a slow request does not hold
back the responses before it for longer than the cork."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from test_drivers import Harness

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


def test_queued_responses_are_joined_even_when_each_takes_a_while() -> None:
    """Each request costs a little CPU (0.3 ms, as under load, where the loop's turns get long):
    the responses still go out in two writes, the first at once and the rest when the queue is
    empty, not one write each (a send per response costs more than the response on loopback).
    On a machine so loaded that the batch outlasts the cork, each cork period may add a write:
    that is the bound the cork promises."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        until = time.perf_counter() + 0.0003
        while time.perf_counter() < until:
            pass
        await answer(send, scope["path"].encode())

    async def main() -> None:
        harness = Harness("http", app)
        sizes = counted_writes(harness)
        started = time.perf_counter()
        harness.feed(b"".join(get(f"r{i:02d}") for i in range(16)))
        for _ in range(200):
            await asyncio.sleep(0)
            if bytes(harness.transport.out).count(b"HTTP/1.1 200") == 16:
                break
        elapsed = time.perf_counter() - started
        out = bytes(harness.transport.out)
        bodies = [out.find(b"/r%02d" % i) for i in range(16)]
        assert -1 not in bodies and bodies == sorted(bodies)  # all of them, in order
        assert len(sizes) <= 2 + int(elapsed / CORK_SECONDS), (sizes, elapsed)
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
