"""Server overhead per request without the kernel: each server's HTTP/1.1 protocol object on a fake
transport, driven by the same event loop, serving the same app. Shows the Python cost a server adds on
top of its parser; the wrk runs in servers.py show the whole picture.

    python bench/protocol.py [--requests 20000] [--repeats 5] [--loop uvloop|asyncio] [--json PATH]
        [--servers asgiserver,uvicorn-httptools] [--metrics]
        [--request browser|plaintext|post64k|pipelined] [--read-size 65536]

`--request plaintext` sends wrk's short GET (two lines) instead of the browser-like request.
`--request post64k` sends what wrk's post64k scenario sends (a POST to /echo with a 64 KiB body and
Content-Length), handed to the server in reads of `--read-size` bytes as the kernel would; the app
echoes the body back. `--request pipelined` sends 16 plaintext GETs in one read, as wrk's pipelined
scenario does; each of the 16 counts as a request.

`--metrics` turns on asgiserver's request counters (what `--metrics ADDRESS` costs a worker).

For a count that does not depend on the machine's load, run one server under callgrind:
    valgrind --tool=callgrind python bench/protocol.py --servers asgiserver --repeats 1
Two runs with different --requests (say 2000 and 4000) subtracted and divided by the difference
give instructions per request without the startup (imports, warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from app import app

REQUEST = (
    b"GET /plaintext HTTP/1.1\r\n"
    b"Host: localhost:8000\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=abc123; theme=dark\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"\r\n"
)
PLAINTEXT = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"  # what wrk sends
# wrk's post64k: 64 KiB of "a". The last 16 bytes differ so that the transport can tell the end of an
# echoed body from its middle without counting bytes.
END_OF_BODY = b"<end-of-body-64k"
POST_BODY = b"a" * (65536 - len(END_OF_BODY)) + END_OF_BODY
POST64K = (
    b"POST /echo HTTP/1.1\r\n"
    b"Host: localhost:8000\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Length: 65536\r\n"
    b"\r\n" + POST_BODY
)
PIPELINE_DEPTH = 16  # wrk's pipelined scenario: 16 GETs written at once
PIPELINED = b"GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n" * PIPELINE_DEPTH
REQUESTS = {"browser": REQUEST, "plaintext": PLAINTEXT, "post64k": POST64K, "pipelined": PIPELINED}
# What ends each response of a scenario, and how many requests one send of its bytes carries.
RESPONSE_ENDS = {"post64k": END_OF_BODY}
REQUESTS_PER_SEND = {"pipelined": PIPELINE_DEPTH}


class StubTransport:
    """Enough of asyncio.Transport for a server's protocol; subclasses count what `write` gets.
    (bench/ws_protocol.py uses it too.)"""

    closed = False

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def writelines(self, chunks: list[bytes]) -> None:
        # As uvloop's: the pieces are handed to one writev() without being joined.
        for data in chunks:
            self.write(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def set_protocol(self, protocol: object) -> None: ...

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None: ...

    def abort(self) -> None:
        self.closed = True


class FakeTransport(StubTransport):
    """Enough of asyncio.Transport for a protocol; the waiter is woken when `expected` responses
    have ended (a write ends with the response's last bytes and holds that many of them)."""

    def __init__(self, response_end: bytes = b"Hello, world!") -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.written = 0
        self.response_end = response_end
        self.expected = 1
        self.responses = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        end = self.response_end
        if data.endswith(end):
            # Pipelined responses may come joined into one write.
            self.responses += data.count(end) if len(data) < 4096 else 1
            waiter = self.waiter
            if self.responses >= self.expected and waiter is not None and not waiter.done():
                waiter.set_result(None)


METRICS: list[str | None] = [None]  # --metrics: an address turns the counters on


def asgiserver_protocol(loop: asyncio.AbstractEventLoop, **options: Any) -> asyncio.Protocol:
    """asgiserver's protocol object, as a worker makes it, for `app` with these Config options."""
    from asgiserver.server._config import Config
    from asgiserver.server._process.worker import WorkerState

    state = WorkerState(Config(app=app, access_log=False, **options), app, loop)
    state.access_log = False
    return state.protocol_factory()()


def ours(loop: asyncio.AbstractEventLoop) -> asyncio.Protocol:
    # One connection carries every request: lift the per-connection cap of HTTP/2 (default 1000).
    return asgiserver_protocol(loop, h2_max_requests=10**9, metrics=METRICS[0])


def uvicorn_httptools(loop: asyncio.AbstractEventLoop) -> asyncio.Protocol:
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    config = Config(
        app=app, http="httptools", access_log=False, log_level="warning", lifespan="off"
    )
    config.load()
    return HttpToolsProtocol(config, ServerState(), {}, loop)


def uvicorn_h11(loop: asyncio.AbstractEventLoop) -> asyncio.Protocol:
    from uvicorn.config import Config
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    config = Config(app=app, http="h11", access_log=False, log_level="warning", lifespan="off")
    config.load()
    return H11Protocol(config, ServerState(), {}, loop)


SERVERS = {"asgiserver": ours, "uvicorn-httptools": uvicorn_httptools, "uvicorn-h11": uvicorn_h11}


def h2_requests(count: int) -> list[bytes]:
    """The same browser GET as HTTP/2 frames, one stream each, made in advance by an h2 client
    (the first carries the preface and a connection window large enough for every response)."""
    import h2.config
    import h2.connection
    import h2.settings

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.local_settings = h2.settings.Settings(
        client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1}
    )
    client.initiate_connection()
    client.increment_flow_control_window(2**31 - 1 - 65535)
    head, _, _ = REQUEST.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = [tuple(line.split(b": ", 1)) for line in lines[1:]]
    fields = [(n.lower(), v) for n, v in fields if n.lower() not in (b"host", b"connection")]
    base = [(b":method", b"GET"), (b":path", b"/plaintext"), (b":scheme", b"http")]
    base.append((b":authority", b"localhost:8000"))
    frames = []
    for index in range(count):
        client.send_headers(1 + 2 * index, base + fields, end_stream=True)
        frames.append(client.data_to_send())
    return frames


async def drive(
    factory: Any,
    requests: int,
    http2: bool = False,
    scenario: str = "browser",
    read_size: int = 65536,
) -> float:
    """Send `requests` requests (the last send may carry a few more when one send holds several)
    and return the microseconds each took."""
    loop = asyncio.get_running_loop()
    protocol = factory(loop)
    transport = FakeTransport(RESPONSE_ENDS.get(scenario, b"Hello, world!"))
    protocol.connection_made(transport)  # type: ignore[arg-type]
    per_send = REQUESTS_PER_SEND.get(scenario, 1)
    sends = -(-requests // per_send)
    request = REQUESTS[scenario]
    # The reads one send arrives in: a kernel hands a large request over in pieces.
    reads = [request[i : i + read_size] for i in range(0, len(request), read_size)]
    wire = [[data] for data in h2_requests(requests)] if http2 else [reads] * sends
    start = time.perf_counter()
    for pieces in wire:
        waiter = transport.waiter = loop.create_future()
        transport.responses = 0
        transport.expected = per_send
        for data in pieces:
            protocol.data_received(data)
        await waiter
    elapsed = time.perf_counter() - start
    protocol.connection_lost(None)
    return elapsed / (sends * per_send) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset")
    parser.add_argument("--http2", action="store_true", help="asgiserver over HTTP/2 (h2c)")
    parser.add_argument("--metrics", action="store_true", help="asgiserver counts for --metrics")
    parser.add_argument("--request", choices=list(REQUESTS), default="browser")
    parser.add_argument("--read-size", type=int, default=65536, help="bytes per read (post64k)")
    args, _ = parser.parse_known_args()
    if args.metrics:
        METRICS[0] = "127.0.0.1:0"  # nothing listens here: only the workers' counters are on
    if args.loop == "uvloop":
        import uvloop

        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    best: dict[str, float] = {}
    available = {}
    servers = {"asgiserver": ours} if args.http2 else SERVERS
    for name, factory in servers.items():
        if name not in args.servers.split(","):
            continue
        try:
            with asyncio.Runner(loop_factory=new_loop) as runner:
                runner.run(drive(factory, 10, args.http2, args.request, args.read_size))
            available[name] = factory
        except ImportError as exc:
            print(f"{name}: not installed ({exc})")
    for _ in range(args.repeats):  # interleaved rounds, best of each
        for name, factory in available.items():
            with asyncio.Runner(loop_factory=new_loop) as runner:
                us = runner.run(
                    drive(factory, args.requests, args.http2, args.request, args.read_size)
                )
            best[name] = min(best.get(name, float("inf")), us)
    ours_us = best.get("asgiserver")
    print(f"\nper-request protocol cost on a fake transport ({args.loop}), best of {args.repeats}:")
    for name, us in best.items():
        ratio = (
            f"  asgiserver is {us / ours_us:.2f}x faster"
            if ours_us and name != "asgiserver"
            else ""
        )
        print(f"  {name:18s} {us:7.2f} us{ratio}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(best, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
