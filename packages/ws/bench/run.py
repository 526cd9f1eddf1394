"""Throughput of asgiserver.ws against websockets' sans-IO ServerProtocol and wsproto.

    python packages/ws/bench/run.py [--quick]

Measures, for each implementation that imports (the others come from the ``bench`` dependency
group): parsing 100-byte masked binary frames fed in 4 KiB reads, parsing one 1 MiB masked frame,
and serialising 100-byte binary messages. Prints messages/s (best of interleaved rounds) and our
speed-up over each of the others. Ours and websockets are each measured with their C masking
accelerator (ours when the install built it) and with their pure-Python fallback; wsproto is pure
Python.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable

from asgiserver import ws
from asgiserver.ws import _connection, _frames

SMALL = 100
SMALL_COUNT = 20_000
READ = 4096
BIG = 1 << 20


def client_frame(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x82, 0x80 | n))
    elif n < 65536:
        head = bytes((0x82, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x82, 0x80 | 127)) + n.to_bytes(8, "big")
    key = int.from_bytes(mask * (n // 4) + mask[: n % 4], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def reads(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


SMALL_WIRE = reads(
    b"".join(client_frame(os.urandom(SMALL), os.urandom(4)) for _ in range(SMALL_COUNT)), READ
)
BIG_WIRE = [client_frame(os.urandom(BIG), os.urandom(4))]
PAYLOAD = os.urandom(SMALL)


# Each factory returns (parse(chunks) -> message count, serialise(n) -> bytes written).
Impl = tuple[Callable[[list[bytes]], int], Callable[[int], int]]


def ours(pure: bool) -> Impl:
    limits = ws.Limits(max_message_bytes=2 * BIG, max_frame_bytes=2 * BIG)
    unmask = _frames.unmask_python if pure else _frames.unmask
    scan = _frames.scan_messages_python if pure else _frames.scan_messages

    def parse(chunks: list[bytes]) -> int:
        _connection.unmask = unmask  # what the tests do to force the references
        _connection.scan_messages = scan
        conn = ws.ServerConnection(limits=limits)
        count = 0
        for chunk in chunks:
            conn.receive_data(chunk)
            count += len(conn.events_received())
            conn.data_to_send()
        return count

    def serialise(n: int) -> int:
        conn = ws.ServerConnection()
        message = ws.BytesMessage(PAYLOAD)
        total = 0
        for _ in range(n):
            conn.send(message)
            total += len(conn.data_to_send())
        return total

    return parse, serialise


def websockets_impl(pure: bool) -> Impl:
    import websockets.frames
    import websockets.utils
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    if pure:
        apply_mask = websockets.utils.apply_mask
    else:
        from websockets.speedups import apply_mask

    def parse(chunks: list[bytes]) -> int:
        websockets.frames.apply_mask = apply_mask  # type: ignore[attr-defined]
        conn = ServerProtocol(state=State.OPEN, max_size=2 * BIG)
        count = 0
        for chunk in chunks:
            conn.receive_data(chunk)
            count += len(conn.events_received())
            conn.data_to_send()
        return count

    def serialise(n: int) -> int:
        conn = ServerProtocol(state=State.OPEN)
        total = 0
        for _ in range(n):
            conn.send_binary(PAYLOAD)
            total += len(conn.data_to_send())
        return total

    return parse, serialise


def wsproto_impl() -> Impl:
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage

    def parse(chunks: list[bytes]) -> int:
        conn = Connection(ConnectionType.SERVER)
        count = 0
        for chunk in chunks:
            conn.receive_data(chunk)
            # wsproto reports a frame cut by a read as several partial messages.
            count += sum(1 for e in conn.events() if getattr(e, "message_finished", True))
        return count

    def serialise(n: int) -> int:
        conn = Connection(ConnectionType.SERVER)
        event = BytesMessage(data=PAYLOAD)
        total = 0
        for _ in range(n):
            total += len(conn.send(event))
        return total

    return parse, serialise


_TABLES = [bytes(b ^ m for b in range(256)) for m in range(256)]


def translate_unmask(data: bytes, mask: bytes) -> bytes:
    """The alternative we measured against: four bytes.translate tables over strided slices."""
    out = bytearray(len(data))
    for i in range(4):
        out[i::4] = data[i::4].translate(_TABLES[mask[i]])
    return bytes(out)


def interleaved(jobs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best time of each job, running the jobs round-robin so a noisy neighbour hits them all."""
    times = dict.fromkeys(jobs, float("inf"))
    for _ in range(rounds):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            times[name] = min(times[name], time.perf_counter() - start)
    return times


def repeat(
    fn: Callable[[bytes, bytes], bytes], data: bytes, mask: bytes, n: int
) -> Callable[[], object]:
    def run() -> None:
        for _ in range(n):
            fn(data, mask)

    return run


def masking(rounds: int) -> None:
    """The decisions behind _frames: big-integer XOR against bytes.translate tables for the pure
    reference, and what the compiled accelerator (when built) adds."""
    compiled = _frames.unmask if _frames.unmask is not _frames.unmask_python else None
    mask = os.urandom(4)
    print(
        f"{'unmasking, µs per payload':26} {'int XOR (pure)':>18} {'translate tables':>18}"
        f" {'compiled':>10}"
    )
    for size in (100, 4096, BIG):
        data = os.urandom(size)
        assert _frames.unmask_python(data, mask) == translate_unmask(data, mask)
        n = max(1, 1_000_000 // (size + 1000))
        jobs = {
            "int": repeat(_frames.unmask_python, data, mask, n),
            "tr": repeat(translate_unmask, data, mask, n),
        }
        if compiled:
            jobs["c"] = repeat(compiled, data, mask, n)
        t = interleaved(jobs, rounds * 3)
        c = f"{t['c'] / n * 1e6:>10,.2f}" if compiled else f"{'not built':>10}"
        print(f"{size:>24,} B {t['int'] / n * 1e6:>18,.1f} {t['tr'] / n * 1e6:>18,.1f} {c}")
    print()


def main() -> None:
    rounds = 5 if "--quick" in sys.argv else 15
    candidates: list[tuple[str, Callable[[], Impl]]] = []
    if _frames.unmask is not _frames.unmask_python:
        candidates.append(("asgiserver.ws (C mask)", lambda: ours(pure=False)))
    else:
        print("asgiserver.ws._speedups not built: pure Python only")
    candidates.append(("asgiserver.ws (pure)", lambda: ours(pure=True)))
    try:
        import websockets  # noqa: F401

        candidates.append(("websockets (C mask)", lambda: websockets_impl(pure=False)))
        candidates.append(("websockets (pure)", lambda: websockets_impl(pure=True)))
    except ImportError:
        print("websockets not importable: skipped")
    try:
        import wsproto  # noqa: F401

        candidates.append(("wsproto", wsproto_impl))
    except ImportError:
        print("wsproto not importable: skipped")

    print(f"Python {sys.version.split()[0]}, best of {rounds} interleaved rounds\n")
    masking(rounds)
    jobs: dict[str, Callable[[], object]] = {}
    for name, factory in candidates:
        parse, serialise = factory()
        assert parse(SMALL_WIRE) == SMALL_COUNT, name
        assert parse(BIG_WIRE) == 1, name
        jobs[f"{name}|small"] = functools.partial(parse, SMALL_WIRE)
        jobs[f"{name}|big"] = functools.partial(parse, BIG_WIRE)
        jobs[f"{name}|out"] = functools.partial(serialise, SMALL_COUNT)
    t = interleaved(jobs, rounds)
    rows = [
        (
            name,
            SMALL_COUNT / t[f"{name}|small"],
            1 / t[f"{name}|big"],
            SMALL_COUNT / t[f"{name}|out"],
        )
        for name, _ in candidates
    ]
    print(
        f"{'messages/s':22} {'parse 100 B/4 KiB':>18} {'parse 1 MiB frame':>18} {'serialise 100 B':>16}"
    )
    for name, small, big, out in rows:
        print(f"{name:22} {small:>18,.0f} {big:>18,.1f} {out:>16,.0f}")
    _, small0, big0, out0 = rows[0]
    for name, small, big, out in rows[1:]:
        print(
            f"ours / {name:15} {small0 / small:>17.2f}x {big0 / big:>17.2f}x {out0 / out:>15.2f}x"
        )


if __name__ == "__main__":
    main()
