"""The application Autobahn|Testsuite's fuzzing client talks to: every message is echoed as it came."""

from __future__ import annotations

import asyncio


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def first_only(scope, receive, send) -> None:
    """Echoes the first message, then never asks for another (tests of the close deadline)."""
    if scope["type"] != "websocket":
        return await app(scope, receive, send)
    await receive()
    await send({"type": "websocket.accept"})
    message = await receive()
    await send({"type": "websocket.send", "text": message.get("text") or "?"})
    await asyncio.sleep(3600)
