"""Per-request cost of asgiserver.uwsgi, with h11 on the same request as a reference point.

uwsgi has one request per connection, so every cycle builds a ServerConnection. It feeds the
packet nginx sends for a typical browser GET (the stock uwsgi_params plus 13 header fields),
drains the events, sends a response with 3 header fields and a 13-byte body, and drains the
bytes. h11 (optional: ``pip install h11``) parses the same request as HTTP/1.1 on a new
connection each time: that is the work nginx -> uwsgi saves over nginx -> HTTP/1.1.

    python bench/run.py [--cycles N] [--repeat R] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import struct
import sys
import time
import timeit
from collections.abc import Callable

from asgiserver import uwsgi

HEADERS = [
    (b"Host", b"www.example.com"),
    (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"Accept-Language", b"en-US,en;q=0.5"),
    (b"Accept-Encoding", b"gzip, deflate, br, zstd"),
    (b"Connection", b"keep-alive"),
    (b"Cookie", b"session=4f1c2a9e0b7d4e21a3c5; theme=dark; _ga=GA1.2.3456789.1234567890"),
    (b"Upgrade-Insecure-Requests", b"1"),
    (b"Sec-Fetch-Dest", b"document"),
    (b"Sec-Fetch-Mode", b"navigate"),
    (b"Sec-Fetch-Site", b"none"),
    (b"Sec-Fetch-User", b"?1"),
    (b"Cache-Control", b"max-age=0"),
]
TARGET = b"/articles/2024/sans-io-http?utm_source=feed"
HTTP_REQUEST = (
    b"GET " + TARGET + b" HTTP/1.1\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in HEADERS)
) + b"\r\n"
RESPONSE_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"13"),
    (b"x-content-type-options", b"nosniff"),
]
BODY = b"Hello, world!"


def nginx_packet(method: bytes, body: bytes = b"") -> bytes:
    """What nginx 1.22 sends with `include uwsgi_params;` (order as captured on the wire)."""
    path, _, query = TARGET.partition(b"?")
    length = b"%d" % len(body) if body else b""
    pairs = [
        (b"QUERY_STRING", query),
        (b"REQUEST_METHOD", method),
        (b"CONTENT_TYPE", b"application/json" if body else b""),
        (b"CONTENT_LENGTH", length),
        (b"REQUEST_URI", TARGET),
        (b"PATH_INFO", path),
        (b"DOCUMENT_ROOT", b"/usr/share/nginx/html"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"REQUEST_SCHEME", b"https"),
        (b"HTTPS", b"on"),
        (b"REMOTE_ADDR", b"203.0.113.9"),
        (b"REMOTE_PORT", b"51234"),
        (b"SERVER_PORT", b"443"),
        (b"SERVER_NAME", b"www.example.com"),
    ]
    pairs += [(b"HTTP_" + n.upper().replace(b"-", b"_"), v) for n, v in HEADERS]
    if body:
        pairs += [(b"HTTP_CONTENT_TYPE", b"application/json"), (b"HTTP_CONTENT_LENGTH", length)]
    block = b"".join(
        struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in pairs
    )
    return struct.pack("<BHB", 0, len(block), 0) + block + body


GET = nginx_packet(b"GET")
POST = nginx_packet(b"POST", b'{"q": "' + b"x" * 1000 + b'"}')


def cycle_of(packet: bytes) -> Callable[[], None]:
    ServerConnection, Request, EndOfMessage = (
        uwsgi.ServerConnection,
        uwsgi.Request,
        uwsgi.EndOfMessage,
    )
    Response, Data = uwsgi.Response, uwsgi.Data

    def cycle() -> None:
        conn = ServerConnection()
        conn.receive_data(packet)
        events = conn.events_received()
        assert type(events[0]) is Request and type(events[-1]) is EndOfMessage
        conn.send(Response(200, RESPONSE_HEADERS))
        conn.send(Data(BODY))
        conn.send(EndOfMessage())
        out = conn.data_to_send()
        assert len(out) == 2 and conn.close_expected()

    return cycle


def h11_cycle() -> Callable[[], None]:
    import h11

    def cycle() -> None:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(HTTP_REQUEST)
        assert type(conn.next_event()) is h11.Request
        assert type(conn.next_event()) is h11.EndOfMessage
        out = [
            conn.send(h11.Response(status_code=200, headers=RESPONSE_HEADERS)),
            conn.send(h11.Data(data=BODY)),
            conn.send(h11.EndOfMessage()),
        ]
        assert out[0]

    return cycle


def body_cycle() -> Callable[[], None]:
    """A 16 MiB upload in 64 KiB chunks: per-chunk cost of the body path."""
    chunk = b"x" * 65536
    head = nginx_packet(b"PUT", chunk * 256)[: -len(chunk) * 256]

    def cycle() -> None:
        conn = uwsgi.ServerConnection()
        conn.receive_data(head)
        for _ in range(256):
            conn.receive_data(chunk)
        assert type(conn.events_received()[-1]) is uwsgi.EndOfMessage

    return cycle


def measure(
    makers: dict[str, Callable[[], Callable[[], None]]], cycles: int, repeat: int
) -> dict[str, float]:
    """Best per-cycle CPU time (process time, not wall time) in microseconds; repeats are
    interleaved across scenarios so that load on a shared machine hits them all alike."""
    runs = {name: make() for name, make in makers.items()}
    for run in runs.values():
        run()  # warm up, and check it works
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            n = max(1, cycles // 256) if name == "upload 16 MiB" else cycles
            elapsed = timeit.Timer(run, timer=time.process_time).timeit(number=n)
            best[name] = min(best[name], elapsed / n * 1e6)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    makers: dict[str, Callable[[], Callable[[], None]]] = {
        "GET": lambda: cycle_of(GET),
        "POST 1 KiB": lambda: cycle_of(POST),
        "upload 16 MiB": body_cycle,
    }
    try:
        h11_cycle()
    except ImportError:
        print("h11 not installed: skipped", file=sys.stderr)
    else:
        makers["h11 GET"] = h11_cycle
    results = measure(makers, args.cycles, args.repeat)

    print(f"uwsgi: {len(GET)}-byte GET packet, {len(HEADERS)} header fields")
    print(f"{'scenario':<14} {'us/cycle':>10} {'cycles/s':>10}")
    for name, us in results.items():
        print(f"{name:<14} {us:10.2f} {1e6 / us:10.0f}")
    ratios: dict[str, float] = {}
    if "h11 GET" in results:
        ratios["h11/ours"] = results["h11 GET"] / results["GET"]
        print(f"{'h11/ours':<14} {ratios['h11/ours']:10.2f}")

    if args.json:
        report = {
            "python": sys.version,
            "machine": platform.machine(),
            "cycles": args.cycles,
            "repeat": args.repeat,
            "us_per_cycle": results,
            "ratios": ratios,
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
