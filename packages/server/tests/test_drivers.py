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

import pytest

from asgiserver.server._config import Config
from asgiserver.server._process.worker import WorkerState

App = Callable[[Any, Any, Any], Awaitable[None]]
PROTOCOLS = ["http", "uwsgi"]


class FakeTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False
        self.eof_written = False
        self.reading = True
        self.pauses = 0

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


def request(
    protocol: str,
    method: bytes = b"GET",
    body: bytes = b"",
    headers: dict[bytes, bytes] | None = None,
) -> bytes:
    headers = headers or {}
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
    assert harness.transport.closed
    assert b"partial" in harness.transport.out
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
    else:
        assert b"x-sum" not in out  # close-delimited: no trailers


# ---- flow control, both ways ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
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
