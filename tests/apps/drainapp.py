"""Endpoints for the drain and --timeout-request tests (tests/e2e/test_drain.py).

/sse streams an event, waits for the disconnect, then sends a last event and ends; /slow answers
after two seconds (it says on stderr when it has started); /hang never answers; /hang-after-head
sends its head and one chunk, then hangs; WebSocket /echo-late echoes each message a second late.
"""

import asyncio
import sys


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rpartition(".")[2]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await asyncio.sleep(1.0)
            await send({"type": "websocket.send", "text": message["text"]})
        return
    path = scope["path"]
    await receive()
    if path == "/sse":
        head = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        message = await receive()
        last = b"event: bye\ndata: %s\n\n" % message["type"].encode()
        await send({"type": "http.response.body", "body": last, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/slow":
        print("slow request started", file=sys.stderr, flush=True)
        await asyncio.sleep(2.0)
    elif path == "/hang":
        await asyncio.sleep(3600)
    elif path == "/hang-after-head":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await asyncio.sleep(3600)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})
