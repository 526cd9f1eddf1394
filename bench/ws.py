"""WebSocket echo throughput: asgiserver beside uvicorn (websockets-sansio), one worker each.

A light asyncio client keeps several connections busy: each sends a window of pre-masked frames, then
reads the echoes. Scenarios: 16 B, 64 B and 1 MiB messages. Prints messages/s and the server's CPU time
per message (user+sys of its process group from /proc over the run, divided by the messages echoed),
which stays steady on a loaded machine where messages/s does not; `--json PATH` writes the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from servers import group_cpu_seconds, running, tool  # noqa: E402


def server_command(name: str, port: int) -> list[str] | None:
    p = str(port)
    if name == "asgiserver":
        path = tool("asgiserver")
        return (
            [
                path,
                "app:app",
                "--port",
                p,
                "--no-access-log",
                "--log-level",
                "warning",
                "--ws-ping-interval",
                "0",
                "--no-ws-per-message-deflate",
            ]
            if path
            else None
        )
    if name == "uvicorn":
        path = tool("uvicorn")
        return (
            [
                path,
                "app:app",
                "--port",
                p,
                "--ws",
                "websockets-sansio",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
                "--ws-ping-interval",
                "0",
                "--ws-per-message-deflate",
                "false",
            ]
            if path
            else None
        )
    return None


def masked_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x82, 0x80 | n])
    elif n < 65536:
        head = bytes([0x82, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x82, 0x80 | 127]) + n.to_bytes(8, "big")
    repeated = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
    return head + mask + body


async def read_frames(reader: asyncio.StreamReader, count: int) -> None:
    for _ in range(count):
        head = await reader.readexactly(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        await reader.readexactly(n)


async def connection(port: int, frame: bytes, window: int, deadline: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    burst = frame * window
    done = 0
    while time.monotonic() < deadline:
        writer.write(burst)
        await read_frames(reader, window)
        done += window
    writer.close()
    return done


async def measure(
    port: int, size: int, connections: int, window: int, seconds: float
) -> tuple[int, float]:
    """(messages echoed, seconds taken)."""
    frame = masked_frame(os.urandom(size))
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    counts = await asyncio.gather(
        *(connection(port, frame, window, deadline) for _ in range(connections))
    )
    return sum(counts), time.monotonic() - start


SCENARIOS = {"tiny-16B": (16, 8, 32), "small-64B": (64, 8, 32), "large-1MiB": (2**20, 2, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--duration", type=float, default=float(os.environ.get("BENCH_DURATION", "5"))
    )
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument("--json", type=Path, default=None)
    args, _ = parser.parse_known_args()
    with running(["asgiserver", "uvicorn"], server_command) as ports:
        rates: dict[str, dict[str, list[float]]] = {s: {n: [] for n in ports} for s in SCENARIOS}
        cpu: dict[str, dict[str, list[float]]] = {s: {n: [] for n in ports} for s in SCENARIOS}
        for round_no in range(args.rounds):
            for scenario, (size, connections, window) in SCENARIOS.items():
                for name, (port, pid) in ports.items():
                    before = group_cpu_seconds(pid)
                    count, elapsed = asyncio.run(
                        measure(port, size, connections, window, args.duration)
                    )
                    used = group_cpu_seconds(pid) - before
                    rates[scenario][name].append(count / elapsed)
                    cpu[scenario][name].append(used / max(count, 1) * 1e6)
                    print(
                        f"round {round_no + 1} {scenario:11s} {name:11s} {count / elapsed:10.0f} msg/s"
                        f" {used / max(count, 1) * 1e6:9.1f} us CPU/msg",
                        flush=True,
                    )
    print("\nmedians (ratio = uvicorn / asgiserver CPU per message: above 1 is better for us)")
    summary = {}
    for scenario in SCENARIOS:
        rate = {n: statistics.median(v) for n, v in rates[scenario].items() if v}
        per = {n: statistics.median(v) for n, v in cpu[scenario].items() if v}
        summary[scenario] = {"messages_per_second": rate, "cpu_us_per_message": per}
        ours, theirs = per.get("asgiserver"), per.get("uvicorn")
        ratio = f" ({theirs / ours:.2f}x)" if ours and theirs else ""
        print(
            f"{scenario:11s} "
            + "  ".join(f"{n}={rate[n]:.0f} msg/s {per[n]:.1f} us" for n in rate)
            + ratio
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
