"""The application the end-to-end tests drive; each path exercises one server behaviour."""

from __future__ import annotations

import asyncio
import json
import os
import time

DISCONNECTS: list[str] = []


async def read_body(receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


async def respond(send, status: int, body: bytes, headers=(), content_type=b"text/plain") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if os.environ.get("TESTAPP_FAIL_STARTUP"):
                await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
                return
            scope["state"]["greeting"] = "hello from lifespan"
            scope["state"]["pid"] = os.getpid()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            marker = os.environ.get("TESTAPP_SHUTDOWN_MARKER")
            if marker:
                with open(marker, "w") as file:
                    file.write("shutdown complete")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    path = scope["path"]
    root_path = scope.get("root_path", "")
    if root_path and path.startswith(root_path + "/"):
        path = path[len(root_path) :]  # route below the mount point, as Starlette does
    if path == "/":
        await respond(send, 200, b"hello")
    elif path == "/pid":
        await respond(send, 200, str(os.getpid()).encode())
    elif path == "/scope":
        info = {
            k: v
            for k, v in scope.items()
            if k not in ("headers", "raw_path", "query_string", "state")
        }
        info["headers"] = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
        info["raw_path"] = scope["raw_path"].decode("latin-1")
        info["query_string"] = scope["query_string"].decode("latin-1")
        info["state"] = dict(scope["state"])
        info["state_is_copy"] = True
        scope["state"]["mutated"] = True  # must not leak into the next request
        await respond(send, 200, json.dumps(info).encode(), content_type=b"application/json")
    elif path == "/echo":
        try:
            body = await read_body(receive)
        except ConnectionAbortedError:
            return
        await respond(send, 200, body, content_type=b"application/octet-stream")
    elif path == "/echo-stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            await send(
                {"type": "http.response.body", "body": message.get("body", b""), "more_body": True}
            )
            if not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b""})
    elif path == "/length":
        try:
            body = await read_body(receive)
        except ConnectionAbortedError:
            return
        await respond(send, 200, str(len(body)).encode())
    elif path == "/download":
        size = int(dict(_query(scope)).get("size", "1048576"))
        chunk = b"x" * 65536
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        sent = 0
        while sent < size:
            part = chunk[: min(len(chunk), size - sent)]
            sent += len(part)
            await send({"type": "http.response.body", "body": part, "more_body": sent < size})
        if size == 0:
            await send({"type": "http.response.body", "body": b""})
    elif path == "/threads":
        import threading

        import anyio.to_thread

        loop = asyncio.get_running_loop()
        name = await loop.run_in_executor(None, lambda: threading.current_thread().name)
        tokens = anyio.to_thread.current_default_thread_limiter().total_tokens
        info = {"executor_thread": name, "anyio_tokens": tokens}
        await respond(send, 200, json.dumps(info).encode(), content_type=b"application/json")
    elif path == "/blob":
        # One body message of `size` bytes made for this response (not a shared object, which a
        # transport's buffer would hold once however often it is queued).
        size = int(dict(_query(scope)).get("size", "1048576"))
        await respond(send, 200, bytes(bytearray(size)), content_type=b"application/octet-stream")
    elif path == "/chunks":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(5):
            await send({"type": "http.response.body", "body": b"chunk%d;" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/trailers":
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data", "more_body": False})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})
    elif path == "/early-hints":
        await send(
            {"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload; as=style"]}
        )
        await respond(send, 200, b"after hints")
    elif path == "/slow":
        delay = float(dict(_query(scope)).get("delay", "1"))
        await asyncio.sleep(delay)
        await respond(send, 200, b"slow done")
    elif path == "/slow-read":
        # Takes the first body message, works for `delay` seconds, then reads the rest: the
        # client waits on us (on HTTP/2, on the stream's flow-control window), not we on it.
        delay = float(dict(_query(scope)).get("delay", "1"))
        first = await receive()
        await asyncio.sleep(delay)
        try:
            rest = await read_body(receive) if first.get("more_body") else b""
        except ConnectionAbortedError:
            return
        await respond(send, 200, b"%d" % (len(first.get("body", b"")) + len(rest)))
    elif path == "/wait-disconnect":
        message = await receive()
        while message["type"] != "http.disconnect":
            message = await receive()
        marker = dict(_query(scope)).get("marker")
        if marker:
            with open(marker, "w") as file:
                file.write("disconnected")
    elif path == "/send-after-disconnect":
        marker = dict(_query(scope)).get("marker")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        try:
            for _ in range(100):
                await send({"type": "http.response.body", "body": b"more", "more_body": True})
                await asyncio.sleep(0.01)
            outcome = "no error"
        except OSError as exc:
            outcome = type(exc).__name__ + " is OSError"
        if marker:
            with open(marker, "w") as file:
                file.write(outcome)
    elif path == "/block":
        time.sleep(
            float(dict(_query(scope)).get("seconds", "5"))
        )  # blocks the event loop on purpose
        await respond(send, 200, b"unblocked")
    elif path == "/error-before":
        raise RuntimeError("boom before the response")
    elif path == "/error-after":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom in the middle of the response")
    elif path == "/no-response":
        return
    elif path == "/start-only":
        await send(
            {"type": "http.response.start", "status": 204, "headers": [(b"x-start-only", b"1")]}
        )
    elif path == "/bad-message":
        await send({"type": "http.response.start", "status": "200", "headers": []})
    elif path == "/bad-header":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-evil", b"a\r\nset-cookie: b")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
    elif path == "/head":
        await respond(
            send, 200, b"body that HEAD must not carry", headers=[(b"content-length", b"29")]
        )
    elif path == "/status":
        code = int(dict(_query(scope)).get("code", "200"))
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    else:
        await respond(send, 404, b"not found")


def _query(scope):
    for pair in scope["query_string"].decode().split("&"):
        if pair:
            key, _, value = pair.partition("=")
            yield key, value
