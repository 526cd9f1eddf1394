"""The drivers over a fake transport, parametrized over the protocols that carry HTTP requests.

A real `Connection` and driver, built the way a worker builds them, on a transport that records what
is written and how reading is paused; the application is a real ASGI callable. These would have
caught the uwsgi 204 that went out with `content-length: 0` and two `server` fields.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest

from asgiserver.server._config import Config
from asgiserver.server._process.worker import WorkerState

App = Callable[[Any, Any, Any], Awaitable[None]]
PROTOCOLS = ["http", "uwsgi", "h2"]


class FakeTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False
        self.eof_written = False
        self.reading = True
        self.pauses = 0
        self.buffered = 0  # what get_write_buffer_size() reports (set by tests)

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.out += data

    def writelines(self, chunks: list[bytes]) -> None:
        self.write(b"".join(chunks))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_written = True

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True


def uwsgi_packet(
    method: bytes, path: bytes, headers: dict[bytes, bytes], body_length: int
) -> bytes:
    def var(key: bytes, value: bytes) -> bytes:
        return struct.pack("<H", len(key)) + key + struct.pack("<H", len(value)) + value

    block = var(b"REQUEST_METHOD", method) + var(b"REQUEST_URI", path)
    block += var(b"PATH_INFO", path) + var(b"SERVER_PROTOCOL", b"HTTP/1.1")
    block += var(b"REMOTE_ADDR", b"127.0.0.1") + var(b"REMOTE_PORT", b"40000")
    if body_length:
        block += var(b"CONTENT_LENGTH", b"%d" % body_length)
    for name, value in headers.items():
        block += var(b"HTTP_" + name.upper().replace(b"-", b"_"), value)
    return struct.pack("<BHB", 0, len(block), 0) + block


def h2_client() -> h2.connection.H2Connection:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    return client


def request(
    protocol: str,
    method: bytes = b"GET",
    body: bytes = b"",
    headers: dict[bytes, bytes] | None = None,
) -> bytes:
    headers = headers or {}
    if protocol == "h2":  # prior knowledge (RFC 9113 §3.3): the preface, SETTINGS, one stream
        client = h2_client()
        fields = [(b":method", method), (b":path", b"/path"), (b":scheme", b"http")]
        fields += [(b":authority", b"x"), *headers.items()]
        if body:
            fields.append((b"content-length", b"%d" % len(body)))
        client.send_headers(1, fields, end_stream=not body)
        if body:
            client.increment_flow_control_window(len(body))
            client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
            sent = 0
            while sent < len(body):
                size = min(client.max_outbound_frame_size, len(body) - sent)
                client.send_data(1, body[sent : sent + size], end_stream=sent + size == len(body))
                sent += size
        return client.data_to_send()
    if protocol == "uwsgi":
        return uwsgi_packet(method, b"/path", headers, len(body)) + body
    head = b"%s /path HTTP/1.1\r\nhost: x\r\n" % method
    if body:
        head += b"content-length: %d\r\n" % len(body)
    for name, value in headers.items():
        head += name + b": " + value + b"\r\n"
    return head + b"\r\n" + body


class Harness:
    """One connection of one worker, on a fake transport, inside a running loop."""

    def __init__(self, protocol: str, app: App, **options: Any) -> None:
        self.protocol = protocol
        config = Config(app=app, protocol=protocol, access_log=False, **options)  # type: ignore[arg-type]
        self.state = WorkerState(config, app, asyncio.get_running_loop())
        self.transport = FakeTransport()
        self.connection = self.state.protocol_factory()()
        self.connection.connection_made(self.transport)  # type: ignore[arg-type]

    def feed(self, data: bytes) -> None:
        self.connection.data_received(data)

    async def settle(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def finish(self) -> None:
        await self.settle()
        if not self.transport.closed:
            self.connection.connection_lost(None)
        self.state.stop_timers()
        for task in list(self.state.tasks):
            task.cancel()
        await self.settle()

    def response(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The first final response written: status, fields in order, body (de-chunked)."""
        if self.protocol == "h2":
            parsed = parse_h2(bytes(self.transport.out))
            return parsed["status"], parsed["fields"], parsed["body"]
        data = bytes(self.transport.out)
        while data.startswith(b"HTTP/1.1 1"):
            data = data.split(b"\r\n\r\n", 1)[1]
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        fields = [
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in lines[1:])
        ]
        if (b"transfer-encoding", b"chunked") in fields:
            body = dechunk(body)
        return status, fields, body


def parse_h2(data: bytes, stream_id: int = 1) -> dict[str, Any]:
    """What an h2 client makes of the server's bytes, for one stream."""
    client = h2_client()
    client.send_headers(
        stream_id, [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    )
    parsed: dict[str, Any] = {
        "status": 0,
        "fields": [],
        "body": b"",
        "informational": [],
        "trailers": [],
        "reset": None,
        "ended": False,
    }
    for event in client.receive_data(data):
        if getattr(event, "stream_id", stream_id) != stream_id:
            continue
        if isinstance(event, h2.events.ResponseReceived):
            parsed["status"] = int(dict(event.headers)[b":status"])
            parsed["fields"] = [(n, v) for n, v in event.headers if not n.startswith(b":")]
        elif isinstance(event, h2.events.InformationalResponseReceived):
            parsed["informational"].append(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            parsed["body"] += event.data
        elif isinstance(event, h2.events.TrailersReceived):
            parsed["trailers"] = event.headers
        elif isinstance(event, h2.events.StreamEnded):
            parsed["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            parsed["reset"] = int(event.error_code)
    return parsed


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def names(fields: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [name for name, _ in fields]


def serve(protocol: str, app: App, wire: bytes, **options: Any) -> Harness:
    async def main() -> Harness:
        harness = Harness(protocol, app, **options)
        harness.feed(wire)
        await harness.finish()
        return harness

    return asyncio.run(main())


def responder(status: int, headers: list[Any], *bodies: bytes) -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for index, body in enumerate(bodies):
            more = index < len(bodies) - 1
            await send({"type": "http.response.body", "body": body, "more_body": more})
        if not bodies:
            await send({"type": "http.response.body"})

    return app


# ---- response finishing --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_204_has_no_content_length_and_one_server_field(protocol: str) -> None:
    # RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204; the app's server field wins.
    app = responder(204, [(b"server", b"mine")])
    status, fields, body = serve(protocol, app, request(protocol)).response()
    assert status == 204
    assert b"content-length" not in names(fields)
    assert names(fields).count(b"server") == 1 and (b"server", b"mine") in fields
    assert body == b""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_single_body_gets_content_length_and_the_defaults(protocol: str) -> None:
    app = responder(200, [(b"content-type", b"text/plain")], b"hello")
    status, fields, body = serve(protocol, app, request(protocol)).response()
    assert (status, body) == (200, b"hello")
    assert (b"content-length", b"5") in fields
    assert (b"server", b"asgiserver") in fields and b"date" in names(fields)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_extra_header_option_is_added(protocol: str) -> None:
    app = responder(200, [], b"x")
    harness = serve(protocol, app, request(protocol), headers=(("X-Served-By", "me"),))
    assert (b"x-served-by", b"me") in harness.response()[1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_head_response_carries_no_body(protocol: str) -> None:
    app = responder(200, [], b"hello")
    harness = serve(protocol, app, request(protocol, b"HEAD"))
    status, fields, body = harness.response()
    assert (status, body) == (200, b"")
    assert (b"content-length", b"5") in fields  # what a GET would carry (RFC 9110 §9.3.2)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streamed_body_arrives_whole(protocol: str) -> None:
    app = responder(200, [], b"a", b"b", b"c")
    status, fields, body = serve(protocol, app, request(protocol)).response()
    assert (status, body) == (200, b"abc")
    assert b"content-length" not in names(fields)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_exception_before_the_response_is_a_500(protocol: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    harness = serve(protocol, app, request(protocol))
    status, fields, body = harness.response()
    assert (status, body) == (500, b"Internal Server Error")
    assert names(fields).count(b"server") == 1
    if protocol == "h2":
        assert b"connection" not in names(fields)  # RFC 9113 §8.2.2
        return
    if protocol == "http":
        assert (b"connection", b"close") in fields  # HTTP/1 closes after an app error
    assert harness.transport.closed


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_exception_mid_response_resets_the_stream(protocol: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom")

    harness = serve(protocol, app, request(protocol))
    assert b"partial" in harness.transport.out
    if protocol == "h2":  # RFC 9113 §8.1: the stream is reset, the connection lives
        assert parse_h2(bytes(harness.transport.out))["reset"] == 2  # INTERNAL_ERROR
        return
    assert harness.transport.closed
    if protocol == "http":
        assert not harness.transport.out.endswith(b"0\r\n\r\n")  # never a clean end


# ---- informational responses and trailers ---------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_early_hints(protocol: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await responder(200, [], b"ok")(scope, receive, send)

    harness = serve(protocol, app, request(protocol))
    out = bytes(harness.transport.out)
    if protocol == "http":
        assert out.startswith(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n")
    elif protocol == "h2":
        [hint] = parse_h2(out)["informational"]
        assert (b":status", b"103") in hint and (b"link", b"</a.css>; rel=preload") in hint
    else:
        assert b" 103 " not in out  # nginx does not pass 1xx from a uwsgi upstream
    assert harness.response()[::2] == (200, b"ok")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_trailers(protocol: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"7")]})

    harness = serve(protocol, app, request(protocol, headers={b"te": b"trailers"}))
    out = bytes(harness.transport.out)
    assert harness.response()[::2] == (200, b"data")
    if protocol == "http":
        assert out.endswith(b"0\r\nx-sum: 7\r\n\r\n")
    elif protocol == "h2":
        assert parse_h2(out)["trailers"] == [(b"x-sum", b"7")]
    else:
        assert b"x-sum" not in out  # close-delimited: no trailers


# ---- flow control, both ways ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http", "uwsgi"])
def test_request_body_pauses_reading_until_the_app_consumes_it(protocol: str) -> None:
    size = 300 * 1024
    chunk = 16 * 1024

    async def main() -> None:
        gate = asyncio.Event()
        received = bytearray()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await gate.wait()
            while True:
                message = await receive()
                received.extend(message["body"])
                if not message["more_body"]:
                    break
            await responder(200, [], b"%d" % len(received))(scope, receive, send)

        harness = Harness(protocol, app)
        wire = request(protocol, b"POST", b"x" * size)
        head_size = len(wire) - size
        harness.feed(wire[:head_size])
        await harness.settle()
        for start in range(head_size, len(wire), chunk):
            if not harness.transport.reading:
                break
            harness.feed(wire[start : start + chunk])
            await harness.settle(2)
        assert not harness.transport.reading  # the app does not read: input is paused
        fed = start
        gate.set()
        while fed < len(wire):
            await harness.settle(2)
            if harness.transport.reading:
                harness.feed(wire[fed : fed + chunk])
                fed += chunk
        await harness.settle()
        assert bytes(received) == b"x" * size
        assert harness.response()[2] == b"%d" % size
        await harness.finish()

    asyncio.run(main())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_send_waits_while_the_transport_is_paused(protocol: str) -> None:
    async def main() -> None:
        sent: list[int] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for index in range(3):
                await send({"type": "http.response.body", "body": b"z", "more_body": True})
                sent.append(index)
            await send({"type": "http.response.body", "body": b""})

        harness = Harness(protocol, app)
        harness.connection.pause_writing()
        harness.feed(request(protocol))
        await harness.settle()
        assert sent == []  # the first body message waits for the client to read
        harness.connection.resume_writing()
        await harness.settle()
        assert sent == [0, 1, 2]
        assert harness.response()[2] == b"zzz"
        await harness.finish()

    asyncio.run(main())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_gone_is_a_disconnect_and_send_raises(protocol: str) -> None:
    async def main() -> None:
        outcome: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            outcome.append(await receive())
            outcome.append(await receive())
            try:
                await send({"type": "http.response.start", "status": 200, "headers": []})
            except OSError as exc:
                outcome.append(type(exc).__name__)

        harness = Harness(protocol, app)
        harness.feed(request(protocol))
        await harness.settle()
        harness.connection.connection_lost(None)
        await harness.settle()
        assert outcome[1] == {"type": "http.disconnect"}
        assert outcome[2] == "ClientDisconnected"
        await harness.finish()

    asyncio.run(main())


# ---- WebSocket handover (HTTP/1.1 upgrade) --------------------------------------------------------


def masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def test_websocket_handover_runs_the_ws_cycle_over_the_same_connection() -> None:
    key = base64.b64encode(os.urandom(16))
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket" and scope["path"] == "/path"
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": message["text"].upper()})
        assert (await receive())["type"] == "websocket.disconnect"

    async def main() -> None:
        harness = Harness("http", app, ws_per_message_deflate=False)
        upgrade = (
            b"GET /path HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            b"sec-websocket-key: " + key + b"\r\nsec-websocket-version: 13\r\n\r\n"
        )
        # The first frame arrives in the same read as the handshake: handed over, not lost.
        harness.feed(upgrade + masked_frame(0x1, b"hi"))
        await harness.settle()
        out = bytes(harness.transport.out)
        assert out.startswith(b"HTTP/1.1 101 ")
        assert b"sec-websocket-accept: " + accept in out
        assert out.endswith(b"\x81\x02HI")
        harness.feed(masked_frame(0x8, struct.pack("!H", 1000)))
        await harness.settle()
        assert bytes(harness.transport.out).endswith(b"\x88\x02\x03\xe8")  # the close echoed
        assert harness.transport.closed
        await harness.finish()

    asyncio.run(main())


def test_websocket_close_before_accept_is_a_403() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close"})

    wire = (
        b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
    harness = serve("http", app, wire)
    status, fields, _ = harness.response()
    assert status == 403
    assert names(fields).count(b"server") == 1


def test_h2_request_body_credit_follows_the_app() -> None:
    # RFC 9113 §5.2, §6.9: a stream's receive window comes back only as the app consumes the body,
    # so a client cannot make the server buffer more than the window; the connection is not paused.
    async def main() -> None:
        gate = asyncio.Event()
        received = bytearray()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await gate.wait()
            while True:
                message = await receive()
                received.extend(message["body"])
                if not message["more_body"]:
                    break
            await responder(200, [], b"%d" % len(received))(scope, receive, send)

        harness = Harness("h2", app)
        client = h2_client()
        size = 1024 * 1024
        client.send_headers(
            1,
            [
                (":method", "POST"),
                (":path", "/"),
                (":scheme", "http"),
                (":authority", "x"),
                ("content-length", str(size)),
            ],
        )
        seen = 0

        def exchange() -> None:
            nonlocal seen
            harness.feed(client.data_to_send())
            out = bytes(harness.transport.out)
            client.receive_data(out[seen:])
            seen = len(out)

        exchange()
        sent = 0

        def send_what_the_window_allows() -> None:
            nonlocal sent
            while sent < size:
                room = min(client.local_flow_control_window(1), client.max_outbound_frame_size)
                if room <= 0:
                    return
                room = min(room, size - sent)
                client.send_data(1, b"b" * room, end_stream=sent + room == size)
                sent += room

        for _ in range(3):  # the server's SETTINGS raise the stream window: use all of it
            send_what_the_window_allows()
            exchange()
            await harness.settle()
            exchange()
        assert 0 < sent < size  # the app has not read: the stream window stays spent
        assert client.local_flow_control_window(1) == 0
        assert harness.transport.reading  # HTTP/2 never pauses the whole connection for one stream
        gate.set()
        for _ in range(200):
            await harness.settle(2)
            exchange()
            send_what_the_window_allows()
            exchange()
            if sent == size and bytes(received) == b"b" * size:
                break
        await harness.settle()
        assert bytes(received) == b"b" * size
        assert parse_h2(bytes(harness.transport.out))["body"] == b"%d" % size
        await harness.finish()

    asyncio.run(main())


# ---- the worker's record of running requests -----------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_running_request_is_tracked_as_its_own_task_and_dropped_when_it_ends(
    protocol: str,
) -> None:
    """The drain waits for (and at its end cancels) `state.tasks`: a request's task is in it while
    the app runs, is the task the app sees as `asyncio.current_task()` (anyio needs that), and is
    gone once the app returns (`cycle_done()` finds it without being told which it is)."""
    release = asyncio.Event()
    seen: list[asyncio.Task[Any] | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(asyncio.current_task())
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    async def main() -> None:
        harness = Harness(protocol, app)
        harness.feed(request(protocol))
        await harness.settle()
        assert len(seen) == 1 and seen[0] is not None
        assert harness.state.tasks == {seen[0]} and harness.state.inflight == 1
        release.set()
        await harness.settle()
        assert harness.response()[2] == b"done"
        assert harness.state.tasks == set() and harness.state.inflight == 0
        assert harness.state.total_requests == 1
        await harness.finish()

    asyncio.run(main())
