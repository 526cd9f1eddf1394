"""File bodies and TLS facts: the application of tests/e2e/test_file_sending.py and test_tls_extension.py.

Files are served from FILEAPP_DIR (a test's temporary directory):
- /path/<name>: `http.response.pathsend` of the file (no Content-Length from the app),
- /zerocopy/<name>?offset=&count=: `http.response.zerocopysend` of a file the app opens and closes,
- /starlette/<name>: Starlette's `FileResponse`, which uses pathsend when the server offers it,
- /prefixed/<name>?size=N: N bytes of "p" as a body message, then the file by pathsend, with the
  app's own Content-Length (the file must follow bytes still waiting in the transport's buffer),
- /scope: the scope's extensions as JSON (bytes-free parts only); a WebSocket gets them as a text
  message after it is accepted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs

from starlette.responses import FileResponse

FILES = Path(os.environ.get("FILEAPP_DIR", "."))


async def app(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(scope["extensions"])})
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/scope":
        extensions = scope.get("extensions") or {}
        body = json.dumps({"extensions": extensions}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    kind, _, name = path.strip("/").partition("/")
    if kind == "starlette":
        await FileResponse(FILES / name)(scope, receive, send)
        return
    headers = [(b"content-type", b"application/octet-stream")]
    if kind == "path":
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": str(FILES / name)})
        return
    if kind == "prefixed":
        size = int(parse_qs(scope["query_string"].decode())["size"][0])
        total = size + (FILES / name).stat().st_size
        headers.append((b"content-length", b"%d" % total))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"p" * size, "more_body": True})
        await send({"type": "http.response.pathsend", "path": str(FILES / name)})
        return
    if kind == "zerocopy":
        query = parse_qs(scope["query_string"].decode())
        message = {"type": "http.response.zerocopysend"}
        for key in ("offset", "count"):
            if key in query:
                message[key] = int(query[key][0])
        with open(FILES / name, "rb") as file:
            message["file"] = file
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send(message)
        return
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"not found"})
