"""The application of the deployment tests: every answer says which instance gave it (so a test
behind a balancer can tell its servers apart) and what the proxy told it; WebSockets echo."""

from __future__ import annotations

import json
import os

INSTANCE = os.environ.get("DEPLOYAPP_INSTANCE", "")


def describe(scope) -> bytes:
    return json.dumps(
        {
            "instance": INSTANCE,
            "pid": os.getpid(),
            "client": list(scope["client"]) if scope.get("client") else None,
            "server": list(scope["server"]) if scope.get("server") else None,
            "scheme": scope["scheme"],
            "path": scope["path"],
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        }
    ).encode()


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = "startup" if message["type"] == "lifespan.startup" else "shutdown"
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": describe(scope)})
        return
    # WebSocket: the first message describes the connection, then every message is echoed.
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": describe(scope).decode()})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send(
            {"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")}
        )
