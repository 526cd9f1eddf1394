"""WebSocket endpoints for the end-to-end tests (raw ASGI, Starlette and FastAPI)."""

import asyncio
import os


async def raw_app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["ready"] = "yes"
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain http"})
        return
    assert scope["type"] == "websocket"
    path = scope["path"]
    message = await receive()
    assert message["type"] == "websocket.connect"
    if path == "/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/deny-response":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"x-why", b"token")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"no token"})
        return
    if path == "/crash-before":
        raise RuntimeError("boom before accept")
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send(
        {"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-accepted", b"1")]}
    )
    if path == "/crash-after":
        raise RuntimeError("boom after accept")
    if path == "/scope":
        info = {
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode(),
            "query_string": scope["query_string"].decode(),
            "subprotocols": scope["subprotocols"],
            "scheme": scope["scheme"],
            "spec_version": scope["asgi"]["spec_version"],
            "state": scope["state"],
            "client": list(scope["client"]),
            "server": list(scope["server"]),
            "root_path": scope["root_path"],
            "extensions": list(scope["extensions"]),
        }
        import json

        await send({"type": "websocket.send", "text": json.dumps(info)})
    if path == "/server-close":
        await send({"type": "websocket.close", "code": 4001, "reason": "bye now"})
        return
    if path == "/flood":
        # Many messages to a client that may not read: send() must apply backpressure.
        chunk = b"z" * 65536
        try:
            for _ in range(3000):
                await send({"type": "websocket.send", "bytes": chunk})
        except OSError:
            pass
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            marker = os.environ.get("WSAPP_DISCONNECT_MARKER")
            if marker:
                with open(marker, "w") as file:
                    file.write(f"{message['code']}|{message.get('reason', '')}")
            return
        if path == "/slow-echo":
            await asyncio.sleep(0.5)
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


def _starlette_app():
    try:
        from starlette.applications import Starlette
        from starlette.routing import WebSocketRoute
        from starlette.websockets import WebSocket
    except ImportError:  # pragma: no cover
        return None

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text("starlette:" + text)

    return Starlette(routes=[WebSocketRoute("/ws", echo)])


def _fastapi_app():
    try:
        from fastapi import FastAPI, WebSocket, WebSocketDisconnect
    except ImportError:  # pragma: no cover
        return None
    app = FastAPI()

    @app.websocket("/ws/{room}")
    async def room(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        try:
            while True:
                data = await websocket.receive_json()
                await websocket.send_json({"room": room, "echo": data})
        except WebSocketDisconnect:
            pass

    return app


starlette_app = _starlette_app()
fastapi_app = _fastapi_app()
