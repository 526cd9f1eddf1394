"""The packages' client roles over real sockets: the http1 ClientConnection against our server
and nginx, the ws ClientConnection against our server and the `websockets` library's server.

A few lines of socket code drive each sans-IO connection; everything else is the package's."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgiserver import http1, ws

from conftest import IN_CI, ServerProcess, free_port, running_nginx

TIMEOUT = 10


# ------------------------------------------------------------------ http1 client


class Http:
    """One keep-alive connection driven by http1.ClientConnection."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.conn = http1.ClientConnection()
        self.host = b"127.0.0.1:%d" % port
        self.pending: list[http1.Event] = []  # events drained but not yet consumed

    def close(self) -> None:
        self.sock.close()

    def send(self, method: bytes, target: bytes, body: bytes | None = None) -> None:
        headers = [(b"host", self.host)]
        if body is not None:
            headers.append((b"content-length", b"%d" % len(body)))
        self.conn.send(http1.Request(method, target, headers))
        if body:
            self.conn.send(http1.Data(body))
        self.conn.send(http1.EndOfMessage())
        self.sock.sendall(b"".join(self.conn.data_to_send()))

    def response(self) -> tuple[http1.Response, bytes, list[http1.Event]]:
        """Read until one final response is complete; also return every event seen."""
        events: list[http1.Event] = []
        while not events or type(events[-1]) is not http1.EndOfMessage:
            self.pending += self.conn.events_received()
            if self.pending:
                event = self.pending.pop(0)
                assert type(event) is not http1.ConnectionFailed, event
                events.append(event)
                continue
            data = self.sock.recv(65536)
            if data:
                self.conn.receive_data(data)
            else:
                self.conn.receive_eof()
        final = next(e for e in events if type(e) is http1.Response)
        body = b"".join(e.data for e in events if type(e) is http1.Data)
        return final, body, events

    def fetch(self, method: bytes, target: bytes, body: bytes | None = None) -> tuple[int, bytes]:
        self.send(method, target, body)
        response, data, _ = self.response()
        return response.status, data


@pytest.fixture
def http_server(start_server) -> ServerProcess:  # type: ignore[no-untyped-def]
    return start_server("testapp:app")  # type: ignore[no-any-return]


def test_http1_client_against_our_server(http_server: ServerProcess) -> None:
    client = Http(http_server.port)
    try:
        assert client.fetch(b"GET", b"/") == (200, b"hello")
        assert client.fetch(b"POST", b"/echo", b"ping pong") == (200, b"ping pong")
        assert client.fetch(b"GET", b"/chunks") == (
            200,
            b"".join(b"chunk%d;" % i for i in range(5)),
        )
        status, body = client.fetch(b"HEAD", b"/")
        assert (status, body) == (200, b"")
        # Early hints arrive as an InformationalResponse before the final response.
        client.send(b"GET", b"/early-hints")
        _response, body, events = client.response()
        assert type(events[0]) is http1.InformationalResponse and events[0].status == 103
        assert body == b"after hints"
        # Pipelined: three requests written at once, answered in order.
        for target in (b"/", b"/length", b"/"):
            client.send(
                b"POST" if target == b"/length" else b"GET",
                target,
                b"12345" if target == b"/length" else None,
            )
        assert client.conn.pipelined == 2
        assert [client.response()[1] for _ in range(3)] == [b"hello", b"5", b"hello"]
        assert client.conn.our_state is client.conn.their_state is http1.State.IDLE
        assert not client.conn.close_expected()
    finally:
        client.close()


def test_http1_client_download_and_close(http_server: ServerProcess) -> None:
    client = Http(http_server.port)
    try:
        status, body = client.fetch(b"GET", b"/download?size=300000")
        assert status == 200 and body == b"x" * 300000
        client.conn.send(
            http1.Request(b"GET", b"/", [(b"host", client.host), (b"connection", b"close")])
        )
        client.conn.send(http1.EndOfMessage())
        client.sock.sendall(b"".join(client.conn.data_to_send()))
        _response, body, _ = client.response()
        assert body == b"hello" and client.conn.close_expected()
    finally:
        client.close()


NGINX_HTTP = """
    server {{
        listen 127.0.0.1:{port};
        location = /hello {{ return 200 "hello from nginx"; }}
        location / {{ root {tmp}/www; }}
    }}
"""


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "big.bin").write_bytes(os.urandom(200_000))
    with running_nginx(tmp_path, port, NGINX_HTTP.format(tmp=tmp_path, port=port)):
        yield port


def test_http1_client_against_nginx(nginx: int, tmp_path: Path) -> None:
    client = Http(nginx)
    try:
        assert client.fetch(b"GET", b"/hello") == (200, b"hello from nginx")
        big = (tmp_path / "www" / "big.bin").read_bytes()
        assert client.fetch(b"GET", b"/big.bin") == (200, big)
        assert client.fetch(b"HEAD", b"/big.bin") == (200, b"")
        assert client.fetch(b"GET", b"/missing")[0] == 404
        for _ in range(2):
            client.send(b"GET", b"/hello")
        assert [client.response()[1] for _ in range(2)] == [b"hello from nginx"] * 2
    finally:
        client.close()


# ------------------------------------------------------------------ ws client


class WsClient:
    """A WebSocket client: http1.ClientConnection for the handshake, then ws.ClientConnection."""

    def __init__(self, port: int, path: bytes, *, deflate: bool, subprotocols: list[str] = []):  # noqa: B006
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        handshake = ws.open_handshake(
            subprotocols=subprotocols, deflate=ws.DeflateOptions() if deflate else None
        )
        http = http1.ClientConnection()
        http.send(http1.Request(b"GET", path, [(b"host", b"127.0.0.1"), *handshake.headers]))
        http.send(http1.EndOfMessage())
        self.sock.sendall(b"".join(http.data_to_send()))
        while http.our_state is not http1.State.SWITCHED_PROTOCOL:
            http.receive_data(self.sock.recv(65536))
            for event in http.events_received():
                if type(event) is http1.InformationalResponse:
                    result = ws.validate_response(handshake, event.status, event.headers)
                    assert isinstance(result, ws.HandshakeResponse), result
                    self.result = result
                else:
                    raise AssertionError(f"no upgrade: {event}")
        self.conn = ws.ClientConnection(
            extensions=self.result.extensions, trailing_data=http.trailing_data
        )

    def send(self, event: ws.SendEvent) -> None:
        self.conn.send(event)
        self.sock.sendall(b"".join(self.conn.data_to_send()))

    def receive(self) -> ws.Event:
        while True:
            events = self.conn.events_received()
            if events:
                assert len(events) == 1, events
                return events[0]
            data = self.sock.recv(65536)
            if data:
                self.conn.receive_data(data)
            else:
                self.conn.receive_eof()
            self.sock.sendall(b"".join(self.conn.data_to_send()))

    def close(self) -> None:
        """The client's side of the closing handshake: wait for the server's close and FIN."""
        self.send(ws.Close(1000))
        assert type(self.receive()) is ws.CloseReceived
        assert not self.conn.close_expected()  # RFC 6455 §7.1.1: the server closes TCP first
        assert self.sock.recv(65536) == b""
        self.conn.receive_eof()
        assert self.conn.close_expected()
        self.sock.close()


def _exchange(client: WsClient) -> None:
    client.send(ws.TextMessage("hello"))
    assert client.receive() == ws.TextMessage("hello")
    client.send(ws.BytesMessage(b"\x00\x01binary"))
    assert client.receive() == ws.BytesMessage(b"\x00\x01binary")
    big = "compressible " * 20000
    client.send(ws.TextMessage(big))
    assert client.receive() == ws.TextMessage(big)
    client.close()


@pytest.mark.parametrize("deflate", [False, True])
def test_ws_client_against_our_server(start_server, deflate: bool) -> None:  # type: ignore[no-untyped-def]
    server = start_server("wsapp:raw_app", "--ws-ping-interval", "0")
    client = WsClient(server.port, b"/echo", deflate=deflate, subprotocols=["chat.v2"])
    assert bool(client.result.extensions) is deflate
    _exchange(client)


@pytest.fixture
def websockets_server() -> Iterator[int]:
    """The `websockets` library's asyncio echo server on 127.0.0.1, in a thread."""
    try:
        from websockets.asyncio.server import serve
    except ImportError:
        if IN_CI:
            pytest.fail("websockets is not installed (required when CI=true)")
        pytest.skip("websockets is not installed")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = loop.create_future()
    port: list[int] = []

    async def echo(connection) -> None:  # type: ignore[no-untyped-def]
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=2**22) as server:
            port.append(server.sockets[0].getsockname()[1])
            ready.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT), "websockets server did not start"
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(TIMEOUT)
        loop.close()


@pytest.mark.parametrize("deflate", [False, True])
def test_ws_client_against_websockets(websockets_server: int, deflate: bool) -> None:
    client = WsClient(websockets_server, b"/", deflate=deflate)
    assert bool(client.result.extensions) is deflate
    _exchange(client)
