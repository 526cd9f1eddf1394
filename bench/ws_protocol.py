"""WebSocket echo cost per message without the kernel: asgiserver's connection on a fake transport,
upgraded by the real HTTP/1.1 driver, echoing through bench/app.py. Deterministic, for callgrind;
bench/ws.py measures the same over real sockets.

    python bench/ws_protocol.py [--bursts 1000] [--size 16] [--window 32] [--text]
        [--loop uvloop|asyncio]

After the handshake, each burst is `window` masked client frames of `size` bytes handed over in one
read (`data_received`); the next burst goes once every echo of this one was written.

Instructions per message, without startup (imports, the handshake, the warm-up): two runs under
callgrind with different burst counts, subtracted and divided by the difference in messages:

    for n in 250 500; do PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --callgrind-out-file=/tmp/ws.$n python bench/ws_protocol.py --bursts $n; done
    # (Ir of /tmp/ws.500 - Ir of /tmp/ws.250) / (250 * 32)   (the "Collected" line of each run)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from protocol import StubTransport, asgiserver_protocol

HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
MASK = b"\x37\xfa\x21\x3d"  # any client mask (RFC 6455 §5.3); fixed so every run is the same


class FakeTransport(StubTransport):
    """Enough of asyncio.Transport for the connection; the waiter is woken once `target` bytes in
    all have been written."""

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.written = 0
        self.target = 0
        self.head = bytearray()  # the first bytes written: the handshake's answer

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if len(self.head) < 4096:
            self.head += data
        waiter = self.waiter
        if self.written >= self.target and waiter is not None and not waiter.done():
            waiter.set_result(None)


def masked_frame(payload: bytes, opcode: int) -> bytes:
    """One final client frame (RFC 6455 §5.2): clients must mask what they send (§5.3)."""
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    elif size < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    masked = bytes(byte ^ MASK[i & 3] for i, byte in enumerate(payload))
    return head + MASK + masked


async def drive(bursts: int, size: int, window: int, text: bool) -> float:
    """Echo `bursts` bursts of `window` messages; return the microseconds each message took."""
    loop = asyncio.get_running_loop()
    # No pings (a timer would make runs differ) and no compression (bench/ws.py compares without).
    protocol = asgiserver_protocol(loop, ws_ping_interval=0, ws_per_message_deflate=False)
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    transport.target = 1
    transport.waiter = loop.create_future()
    protocol.data_received(HANDSHAKE)
    await transport.waiter
    if b" 101 " not in transport.head:
        raise RuntimeError(f"the upgrade was refused: {bytes(transport.head)!r}")
    payload = (b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
    burst = masked_frame(payload, 1 if text else 2) * window
    # The server's frames are not masked: 2, 4 or 10 bytes of head (RFC 6455 §5.2).
    echo = size + (2 if size < 126 else 4 if size < 65536 else 10)
    start = time.perf_counter()
    for _ in range(bursts):
        transport.target = transport.written + echo * window
        waiter = transport.waiter = loop.create_future()
        protocol.data_received(burst)
        await waiter
    elapsed = time.perf_counter() - start
    protocol.connection_lost(None)
    return elapsed / (bursts * window) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bursts", type=int, default=1000)
    parser.add_argument("--size", type=int, default=16, help="payload bytes per message")
    parser.add_argument("--window", type=int, default=32, help="messages per read")
    parser.add_argument("--text", action="store_true", help="text frames (UTF-8 checked)")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(drive(5, args.size, args.window, args.text))  # warm-up: imports
    with asyncio.Runner(loop_factory=new_loop) as runner:
        us = runner.run(drive(args.bursts, args.size, args.window, args.text))
    print(f"summary: {us:.2f} us per message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
