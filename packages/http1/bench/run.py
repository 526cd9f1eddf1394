"""Per-request cost of asgiserver.http1 against h11 and httptools, same process, best of N.

One cycle on a kept-alive connection: feed request bytes, drain the events, send a response with
3 header fields and a 13-byte body, drain the bytes to send.  The cases (``--cases``):

``browser``    a typical browser GET (13 header fields, ~600 bytes), the same bytes every time;
``varied``     that GET with a different target each time (no two heads alike in a row);
``cold``       that GET alternating with a copy whose field names differ in case, so no
               per-connection cache ever hits (the cost of a first request);
``plaintext``  a short GET as wrk sends it (3 fields);
``pipelined``  16 of those short GETs in one read, answered one after another.

Times are per request (a pipelined read counts 16).

``--client`` times the other side: send that GET (13 fields), then parse the response (3 fields,
13-byte body) into events, with our ClientConnection, h11's client role, and httptools'
HttpResponseParser (the request joined by hand, as a client on httptools would).

    python bench/run.py [--cycles N] [--repeat R] [--json PATH] [--cases a,b] [--client]

h11 and httptools are optional (``pip install h11 httptools``, dependency group ``bench``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
import timeit
from collections.abc import Callable

from asgiserver import http1

REQUEST = (
    b"GET /articles/2024/sans-io-http?utm_source=feed HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=4f1c2a9e0b7d4e21a3c5; theme=dark; _ga=GA1.2.3456789.1234567890\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Sec-Fetch-Site: none\r\n"
    b"Sec-Fetch-User: ?1\r\n"
    b"Cache-Control: max-age=0\r\n"
    b"\r\n"
)
PLAINTEXT = (
    b"GET /plaintext HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)
PIPELINE_DEPTH = 16

# case -> (the reads fed in turn, requests per read)
CASES: dict[str, tuple[list[bytes], int]] = {
    "browser": ([REQUEST], 1),
    "varied": (
        [REQUEST.replace(b"/2024/", b"/%04d/" % i) for i in range(100)],
        1,
    ),
    "cold": ([REQUEST, REQUEST.replace(b"Cache-Control:", b"cache-control:")], 1),
    "plaintext": ([PLAINTEXT], 1),
    "pipelined": ([PLAINTEXT * PIPELINE_DEPTH], PIPELINE_DEPTH),
}
RESPONSE_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"13"),
    (b"x-content-type-options", b"nosniff"),
]
BODY = b"Hello, world!"


Cycle = Callable[[], None]


def ours(reads: list[bytes], per_read: int) -> Cycle:
    conn = http1.ServerConnection()
    Request, Response, Data, EndOfMessage = (
        http1.Request,
        http1.Response,
        http1.Data,
        http1.EndOfMessage,
    )
    turn = itertools.cycle(reads)

    def cycle() -> None:
        conn.receive_data(next(turn))
        events = conn.events_received()
        for _ in range(per_read):
            assert type(events[0]) is Request and type(events[1]) is EndOfMessage
            conn.send(Response(200, RESPONSE_HEADERS))
            conn.send(Data(BODY))
            conn.send(EndOfMessage())
            events = conn.events_received()  # the next pipelined request, if any
            out = conn.data_to_send()
            assert len(out) == 2

    return cycle


def h11_cycle(reads: list[bytes], per_read: int) -> Cycle:
    import h11

    conn = h11.Connection(h11.SERVER)
    turn = itertools.cycle(reads)

    def cycle() -> None:
        conn.receive_data(next(turn))
        for _ in range(per_read):
            request = conn.next_event()
            assert type(request) is h11.Request
            assert type(conn.next_event()) is h11.EndOfMessage
            out = [
                conn.send(h11.Response(status_code=200, headers=RESPONSE_HEADERS)),
                conn.send(h11.Data(data=BODY)),
                conn.send(h11.EndOfMessage()),
            ]
            assert out[0]
            conn.start_next_cycle()

    return cycle


def httptools_cycle(reads: list[bytes], per_read: int) -> Cycle:
    import httptools

    status_line = b"HTTP/1.1 200 OK\r\n"

    class Protocol:
        __slots__ = ("complete", "headers", "url")

        def __init__(self) -> None:
            self.url = b""
            self.headers: list[tuple[bytes, bytes]] = []
            self.complete = 0

        def on_message_begin(self) -> None:
            self.headers = []
            self.url = b""

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name.lower(), value))

        def on_headers_complete(self) -> None:
            pass

        def on_message_complete(self) -> None:
            self.complete += 1

    proto = Protocol()
    parser = httptools.HttpRequestParser(proto)
    turn = itertools.cycle(reads)

    def cycle() -> None:
        proto.complete = 0
        parser.feed_data(next(turn))
        assert proto.complete == per_read
        for _ in range(per_read):
            # What uvicorn's httptools_impl does: a precomputed status line joined with the fields.
            content = [status_line]
            for name, value in RESPONSE_HEADERS:
                content.extend((name, b": ", value, b"\r\n"))
            content.append(b"\r\n")
            out = [b"".join(content), BODY]
            assert out[0]

    return cycle


# The client cycle: the same GET, sent from parsed parts; the response the server cycle writes.
_LINE, _, _FIELDS = REQUEST.partition(b"\r\n")
METHOD, TARGET, _VERSION = _LINE.split(b" ")
REQUEST_HEADERS = [
    (name, value.strip())
    for name, _, value in (f.partition(b":") for f in _FIELDS.split(b"\r\n") if f)
]
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"%s: %s\r\n" % field for field in RESPONSE_HEADERS)
    + b"\r\n"
    + BODY
)


def ours_client() -> Callable[[], None]:
    conn = http1.ClientConnection()
    Request, EndOfMessage = http1.Request, http1.EndOfMessage

    def cycle() -> None:
        conn.send(Request(METHOD, TARGET, REQUEST_HEADERS))
        conn.send(EndOfMessage())
        out = conn.data_to_send()
        conn.receive_data(RESPONSE)
        events = conn.events_received()
        assert len(out) == 1 and type(events[0]) is http1.Response and len(events) == 3

    return cycle


def h11_client() -> Callable[[], None]:
    import h11

    conn = h11.Connection(h11.CLIENT)

    def cycle() -> None:
        out = [
            conn.send(h11.Request(method=METHOD, target=TARGET, headers=REQUEST_HEADERS)),
            conn.send(h11.EndOfMessage()),
        ]
        conn.receive_data(RESPONSE)
        assert type(conn.next_event()) is h11.Response and out[0]
        assert type(conn.next_event()) is h11.Data
        assert type(conn.next_event()) is h11.EndOfMessage
        conn.start_next_cycle()

    return cycle


def httptools_client() -> Callable[[], None]:
    import httptools

    class Protocol:
        __slots__ = ("body", "complete", "headers")

        def __init__(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []
            self.body: list[bytes] = []
            self.complete = False

        def on_message_begin(self) -> None:
            self.headers = []
            self.body = []
            self.complete = False

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name.lower(), value))

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            self.complete = True

    proto = Protocol()
    parser = httptools.HttpResponseParser(proto)

    def cycle() -> None:
        content = [METHOD, b" ", TARGET, b" HTTP/1.1\r\n"]
        for name, value in REQUEST_HEADERS:
            content.extend((name, b": ", value, b"\r\n"))
        content.append(b"\r\n")
        out = b"".join(content)
        parser.feed_data(RESPONSE)
        assert proto.complete and parser.get_status_code() == 200 and out

    return cycle


def measure(
    cycles_by_name: dict[str, tuple[Cycle, int]], cycles: int, repeat: int
) -> dict[str, float]:
    """Best per-request CPU time in microseconds (each entry: a cycle and the requests it
    serves).  CPU time of this process (not wall time), and
    repeats interleaved across implementations, so load on a shared machine hits all alike."""
    for cycle, _ in cycles_by_name.values():
        cycle()  # warm up and check it works
    best = dict.fromkeys(cycles_by_name, float("inf"))
    for _ in range(repeat):
        for name, (cycle, per_cycle) in cycles_by_name.items():
            number = max(1, cycles // per_cycle)  # about ``cycles`` requests each
            elapsed = timeit.Timer(cycle, timer=time.process_time).timeit(number=number)
            best[name] = min(best[name], elapsed / (number * per_cycle) * 1e6)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    parser.add_argument("--client", action="store_true", help="time the client side instead")
    args = parser.parse_args()

    runs: dict[str, tuple[Cycle, int]] = {}
    if args.client:
        clients = {"ours": ours_client, "h11": h11_client, "httptools": httptools_client}
        for name, make in clients.items():
            try:
                runs[name] = (make(), 1)
            except ImportError:
                print(f"{name} not installed: skipped", file=sys.stderr)
    else:
        impls = {"ours": ours, "h11": h11_cycle, "httptools": httptools_cycle}
        for case in args.cases.split(","):
            reads, per_read = CASES[case]
            for name, make_server in impls.items():
                try:
                    runs[f"{case}/{name}"] = (make_server(reads, per_read), per_read)
                except ImportError:
                    print(f"{name} not installed: skipped", file=sys.stderr)
    results = measure(runs, args.cycles, args.repeat)

    print(f"{'case/implementation':<22} {'us/request':>10} {'requests/s':>11}")
    for name, us in results.items():
        print(f"{name:<22} {us:10.2f} {1e6 / us:11.0f}")
    print()
    ratios: dict[str, float] = {}
    targets = {} if args.client else {"h11/ours": ">= 5", "ours/httptools": "<= 1.5"}
    prefixes = [""] if args.client else [f"{case}/" for case in args.cases.split(",")]
    for prefix in prefixes:
        ours_us = results.get(f"{prefix}ours")
        if ours_us is None:
            continue
        if f"{prefix}h11" in results:
            ratios[f"{prefix}h11/ours"] = results[f"{prefix}h11"] / ours_us
        if f"{prefix}httptools" in results:
            ratios[f"{prefix}ours/httptools"] = ours_us / results[f"{prefix}httptools"]
    for name, value in ratios.items():
        key = name.rpartition("/")[0].rpartition("/")[2] + "/" + name.rpartition("/")[2]
        target = f"   (target {targets[key]})" if key in targets else ""
        print(f"{name:<26} {value:6.2f}{target}")

    if args.json:
        report = {
            "python": sys.version,
            "machine": platform.machine(),
            "side": "client" if args.client else "server",
            "cycles": args.cycles,
            "repeat": args.repeat,
            "us_per_request": results,
            "ratios": ratios,
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
