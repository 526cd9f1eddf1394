"""The application of the metrics and health tests (tests/e2e/test_metrics.py, test_health.py)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path


async def lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # OPSAPP_STARTUP_GATE: startup waits until this file exists (a slow warm-up).
            gate = os.environ.get("OPSAPP_STARTUP_GATE")
            while gate and not Path(gate).exists():
                await asyncio.sleep(0.05)
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


async def websocket(scope, receive, send) -> None:
    await receive()  # websocket.connect
    if scope["path"] == "/ws/deny":
        await send({"type": "websocket.close"})  # a denial: 403
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "hello"})
    await send({"type": "websocket.close", "code": 1000})


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] == "websocket":
        await websocket(scope, receive, send)
        return
    path = scope["path"]
    status, body = 200, b"ok"
    if path == "/pid":
        body = str(os.getpid()).encode()
    elif path.startswith("/status/"):
        status = int(path.rsplit("/", 1)[1])
        body = b""
    elif path == "/block":
        # Blocks the whole event loop (a CPU-bound or synchronous call): heartbeats stop.
        time.sleep(float(scope["query_string"] or b"6"))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})
