"""Server-side cost of one small GET over HTTP/2: this adapter against raw h2 with its defaults.

Both servers get the same client bytes (one HEADERS frame with END_STREAM per request, HPACK
state carried across requests as a real client would) and answer 200 with a 13-byte body.  Timed
with ``time.process_time`` over many requests on one connection; best of several runs.

    python packages/h2adapter/bench/run.py [requests]
"""

from __future__ import annotations

import sys
import time

import h2.config
import h2.connection
import h2.events
import hpack
from hyperframe.frame import HeadersFrame, SettingsFrame

from asgiserver import h2adapter as h2a

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FIELDS = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"example.com"),
    (b":path", b"/index.html"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"accept-language", b"en-US,en;q=0.5"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"cookie", b"session=0123456789abcdef"),
]
BODY = b"Hello, world!"
RESPONSE = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


def client_bytes(n: int) -> tuple[bytes, list[bytes]]:
    encoder = hpack.Encoder()
    start = PREFACE + SettingsFrame(0).serialize()
    requests = []
    for i in range(n):
        f = HeadersFrame(2 * i + 1)
        f.data = encoder.encode(FIELDS)
        f.flags.add("END_HEADERS")
        f.flags.add("END_STREAM")
        requests.append(f.serialize())
    return start, requests


def run_adapter(start: bytes, requests: list[bytes]) -> float:
    conn = h2a.ServerConnection(h2a.Limits(max_requests=1 << 30))
    conn.initiate()
    conn.receive_data(start)
    conn.events_received()
    conn.data_to_send()
    t0 = time.process_time()
    for data in requests:
        conn.receive_data(data)
        for event in conn.events_received():
            if type(event) is h2a.Request:
                sid = event.stream_id
                conn.send(h2a.Response(sid, 200, RESPONSE))
                conn.send(h2a.Data(sid, BODY))
                conn.send(h2a.EndOfMessage(sid))
        conn.data_to_send()
    return time.process_time() - t0


def run_h2(start: bytes, requests: list[bytes]) -> float:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    conn.receive_data(start)
    conn.data_to_send()
    t0 = time.process_time()
    for data in requests:
        for event in conn.receive_data(data):
            if type(event) is h2.events.RequestReceived:
                sid = event.stream_id
                conn.send_headers(sid, [(b":status", b"200"), *RESPONSE])
                conn.send_data(sid, BODY, end_stream=True)
        conn.data_to_send()
    return time.process_time() - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    start, requests = client_bytes(n)
    results = {}
    for name, fn in (("asgiserver.h2adapter", run_adapter), ("h2 defaults", run_h2)):
        best = min(fn(start, requests) for _ in range(5))
        results[name] = best / n * 1e6
    for name, us in results.items():
        print(f"{name:22s} {us:7.1f} µs per GET")
    print(f"ratio (h2 / adapter)   {results['h2 defaults'] / results['asgiserver.h2adapter']:.2f}x")


if __name__ == "__main__":
    main()
