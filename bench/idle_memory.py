"""Memory per idle connection: hold N connections open to one server process and divide the growth
of its resident set by N.

    python bench/idle_memory.py [--connections 2000] [--kind http1|h2|ws] [--servers asgiserver,uvicorn]

`http1` is a kept-alive connection after one request; `h2` an HTTP/2 connection after the preface,
SETTINGS and one request; `ws` an accepted WebSocket (bench/app.py echoes on any path).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from servers import running

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# An empty SETTINGS frame, and a HEADERS frame for GET / on stream 1 (HPACK static indexes:
# :method GET, :path /, :scheme http; :authority literal "x").
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
H2_HEADERS = b"\x00\x00\x06\x01\x05\x00\x00\x00\x01" + b"\x82\x84\x86\x41\x01x"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def open_one(port: int, kind: str) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if kind == "http1":
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"Hello, world!")
    elif kind == "h2":
        writer.write(H2_PREFACE + H2_SETTINGS + H2_HEADERS)
        data = b""
        while b"Hello, world!" not in data:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
    else:
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await reader.readuntil(b"\r\n\r\n")
    return writer


async def measure(port: int, pid: int, kind: str, count: int) -> float:
    before = rss_kib(pid)
    writers = []
    for start in range(0, count, 100):
        writers += await asyncio.gather(
            *(open_one(port, kind) for _ in range(start, min(count, start + 100)))
        )
    await asyncio.sleep(1.0)
    after = rss_kib(pid)
    for writer in writers:
        writer.close()
    return (after - before) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--kind", choices=["http1", "h2", "ws"], default="http1")
    parser.add_argument("--servers", default="asgiserver,uvicorn")
    args, _ = parser.parse_known_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.connections)), hard))
    from servers import commands

    with running(args.servers.split(","), lambda name, port: commands(port).get(name)) as servers:
        for name, (port, pid) in servers.items():
            try:
                per = asyncio.run(measure(port, pid, args.kind, args.connections))
            except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
                print(f"{name:11s} {args.kind}: failed ({exc})")
                continue
            print(
                f"{name:11s} {args.kind}: {per:6.2f} KiB per idle connection ({args.connections})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
