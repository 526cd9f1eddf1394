"""WebSocket over the real `asgiserver` command, with the `websockets` client and raw sockets."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from pathlib import Path

import pytest

from conftest import ServerProcess, read_response, recv_until_closed

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402


def ws_url(server: ServerProcess, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


@pytest.fixture
def wsserver(start_server) -> ServerProcess:
    return start_server("wsapp:raw_app", "--ws-ping-interval", "0")


def test_echo_text_and_bytes(wsserver: ServerProcess) -> None:
    with connect(ws_url(wsserver, "/echo")) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        ws.send(b"\x00\x01binary")
        assert ws.recv(timeout=5) == b"\x00\x01binary"
        big = "é" * 300_000
        ws.send(big)
        assert ws.recv(timeout=10) == big


def test_fragmented_message_is_reassembled(wsserver: ServerProcess) -> None:
    with connect(ws_url(wsserver, "/echo")) as ws:
        ws.send(iter(["frag", "ment", "ed"]))
        assert ws.recv(timeout=5) == "fragmented"


def test_scope_and_accept_headers_and_subprotocol(wsserver: ServerProcess) -> None:
    with connect(ws_url(wsserver, "/scope?x=1"), subprotocols=["chat.v2", "chat.v1"]) as ws:
        info = json.loads(ws.recv(timeout=5))
        assert ws.subprotocol == "chat.v2"
        assert ws.response.headers["x-accepted"] == "1"
    assert info["path"] == "/scope"
    assert info["raw_path"] == "/scope"
    assert info["query_string"] == "x=1"
    assert info["subprotocols"] == ["chat.v2", "chat.v1"]
    assert info["scheme"] == "ws"
    assert info["spec_version"] == "2.5"
    assert info["state"] == {"ready": "yes"}
    assert info["client"][0] == "127.0.0.1"
    assert info["server"] == ["127.0.0.1", wsserver.port]
    assert "websocket.http.response" in info["extensions"]


def test_permessage_deflate_is_negotiated(wsserver: ServerProcess) -> None:
    with connect(ws_url(wsserver, "/echo"), compression="deflate") as ws:
        assert "permessage-deflate" in ws.response.headers.get("sec-websocket-extensions", "")
        text = "compressible " * 10000
        ws.send(text)
        assert ws.recv(timeout=5) == text


def test_close_before_accept_is_403(wsserver: ServerProcess) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        connect(ws_url(wsserver, "/deny"))
    assert info.value.response.status_code == 403


def test_denial_response_extension(wsserver: ServerProcess) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        connect(ws_url(wsserver, "/deny-response"))
    assert info.value.response.status_code == 401
    assert info.value.response.headers["x-why"] == "token"
    assert info.value.response.body == b"no token"


def test_exception_before_accept_is_500(wsserver: ServerProcess) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        connect(ws_url(wsserver, "/crash-before"))
    assert info.value.response.status_code == 500


def test_exception_after_accept_closes_with_1011(wsserver: ServerProcess) -> None:
    with connect(ws_url(wsserver, "/crash-after")) as ws:
        with pytest.raises(websockets.exceptions.ConnectionClosedError):
            ws.recv(timeout=5)
        assert ws.close_code == 1011


def test_server_close_code_and_reason(wsserver: ServerProcess) -> None:
    with connect(ws_url(wsserver, "/server-close")) as ws:
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4001
        assert ws.close_reason == "bye now"


def test_app_gets_the_clients_close_code_and_reason(start_server, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    server = start_server("wsapp:raw_app", env={"WSAPP_DISCONNECT_MARKER": str(marker)})
    with connect(ws_url(server, "/echo")) as ws:
        ws.close(code=4321, reason="client leaving")
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "4321|client leaving"


def test_message_over_max_size_closes_with_1009(start_server) -> None:
    server = start_server("wsapp:raw_app", "--ws-max-size", "1000")
    with connect(ws_url(server, "/echo"), max_size=None) as ws:
        ws.send("x" * 2000)
        with pytest.raises(websockets.exceptions.ConnectionClosedError):
            ws.recv(timeout=5)
        assert ws.close_code == 1009


def handshake(sock: socket.socket, path: str = "/echo") -> bytes:
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET "
        + path.encode()
        + b" HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head, rest = read_response(sock, head_only=True)
    assert head.startswith(b"HTTP/1.1 101"), head
    return rest


def masked(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    mask = os.urandom(4)
    header = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    else:
        header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_code_of(data: bytes) -> int:
    assert data[0] == 0x88, data[:10]
    return int.from_bytes(data[2:4], "big")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (bytes([0x81, 0x05]) + b"hello", 1002),  # unmasked client frame (RFC 6455 §5.1)
        (masked(0x1, b"hi", rsv=0x40), 1002),  # RSV1 without an extension (§5.2)
        (masked(0x3, b"x"), 1002),  # reserved opcode (§5.2)
        (masked(0x9, b"p" * 126), 1002),  # control frame over 125 bytes (§5.5)
        (masked(0x1, b"\xff\xfe"), 1007),  # invalid UTF-8 (§8.1)
        (masked(0x8, (1005).to_bytes(2, "big")), 1002),  # reserved close code (§7.4.1)
    ],
    # Named, not by their bytes: the masks are random, and every pytest-xdist worker must collect
    # the same test ids.
    ids=["unmasked", "rsv1", "reserved-opcode", "long-control", "bad-utf8", "close-1005"],
)
def test_protocol_violations_close_with_the_right_code(
    wsserver: ServerProcess, frame: bytes, code: int
) -> None:
    with wsserver.connect() as sock:
        rest = handshake(sock, "/echo")
        sock.sendall(frame)
        data = rest + recv_until_closed(sock)
    assert close_code_of(data) == code


def test_ping_is_answered_with_pong(wsserver: ServerProcess) -> None:
    with wsserver.connect() as sock:
        rest = handshake(sock)
        sock.sendall(masked(0x9, b"are you there"))
        data = rest
        while len(data) < 2 + len(b"are you there"):
            data += sock.recv(100)
    assert data[0] == 0x8A and data[2:15] == b"are you there"


def test_trailing_bytes_after_the_upgrade_request_are_frames(wsserver: ServerProcess) -> None:
    key = base64.b64encode(os.urandom(16))
    with wsserver.connect() as sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: "
            + key
            + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
            + masked(0x1, b"early")
        )
        data = b""
        while b"early" not in data:
            data += sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 101")


def test_bad_handshake_version_is_426(wsserver: ServerProcess) -> None:
    with wsserver.connect() as sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        )
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 426")
    assert b"sec-websocket-version: 13" in data.lower()


def test_dead_peer_is_closed_by_ping_timeout(start_server) -> None:
    server = start_server("wsapp:raw_app", "--ws-ping-interval", "0.3", "--ws-ping-timeout", "0.3")
    with server.connect() as sock:
        handshake(sock)
        start = time.monotonic()
        recv_until_closed(sock, timeout=10)  # we never answer the pings
        assert time.monotonic() - start < 5


def test_fast_sender_to_slow_client_is_bounded(wsserver: ServerProcess) -> None:
    baseline = wsserver.rss_kib()
    with wsserver.connect() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        handshake(sock, "/flood")
        time.sleep(2)  # 3000 x 64 KiB = ~190 MiB if nothing applied backpressure
        grown = wsserver.rss_kib() - baseline
    assert grown < 40 * 1024, f"server grew by {grown} KiB"


def test_graceful_shutdown_closes_websockets_with_1001(start_server) -> None:
    server = start_server("wsapp:raw_app")
    with connect(ws_url(server, "/echo")) as ws:
        ws.send("x")
        assert ws.recv(timeout=5) == "x"
        server.signal(15)
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1001
    assert server.wait() == 0


def test_starlette_websocket(start_server) -> None:
    pytest.importorskip("starlette")
    server = start_server("wsapp:starlette_app")
    with connect(ws_url(server, "/ws")) as ws:
        ws.send("ping")
        assert ws.recv(timeout=5) == "starlette:ping"


def test_fastapi_websocket(start_server) -> None:
    pytest.importorskip("fastapi")
    server = start_server("wsapp:fastapi_app")
    with connect(ws_url(server, "/ws/lobby")) as ws:
        ws.send(json.dumps({"a": 1}))
        assert json.loads(ws.recv(timeout=5)) == {"room": "lobby", "echo": {"a": 1}}
