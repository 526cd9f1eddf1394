"""Graceful drain, --timeout-request and the keep-alive timeout, over the real `asgiserver` command.

On a stop or a reload, idle keep-alive connections close, a busy one finishes with `connection:
close`, an SSE stream hears `http.disconnect` and its last event still reaches the client before a
properly terminated body, and WebSockets get 1001 (stop) or 1012 (their worker is replaced).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import (
    APPS,
    ServerProcess,
    asgiserver_command,
    read_response,
    recv_until_closed,
    require_tool,
)

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

README = Path(__file__).parents[2] / "README.md"


def get(path: str) -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\n\r\n"


def read_until(sock: object, marker: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)  # type: ignore[attr-defined]
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)  # type: ignore[attr-defined]
        if not chunk:
            raise ConnectionError(f"closed before {marker!r}: {data!r}")
        data += chunk
    return data


# ---- SIGTERM: SSE, keep-alive -------------------------------------------------------------------------


def test_sse_stream_hears_the_disconnect_and_ends_properly_on_sigterm(start_server) -> None:
    server = start_server("drainapp:app")
    with server.connect() as sock:
        sock.sendall(get("/sse"))
        first = read_until(sock, b"data: 1\n\n")
        assert b"transfer-encoding: chunked" in first.lower()
        server.signal(signal.SIGTERM)
        rest = recv_until_closed(sock)
    # The event sent after the disconnect arrives, then the last chunk (RFC 9112 §7.1), then EOF.
    assert b"event: bye\ndata: http.disconnect\n\n" in rest
    assert rest.endswith(b"\r\n0\r\n\r\n")
    assert server.wait() == 0


def test_sse_over_http2_ends_with_end_stream_on_sigterm(start_server) -> None:
    curl = require_tool("curl")
    server = start_server("drainapp:app")
    proc = subprocess.Popen(
        [
            curl,
            "--silent",
            "--show-error",
            "--no-buffer",
            "--http2-prior-knowledge",
            "--max-time",
            "20",
            server.url + "/sse",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"data: 1\n"  # the stream is open
        server.signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    # curl exits 0 only for a stream that ended with END_STREAM (a reset is exit 92).
    assert proc.returncode == 0, err
    assert out.endswith(b"event: bye\ndata: http.disconnect\n\n")
    assert server.wait() == 0


def test_idle_keep_alive_closes_and_a_busy_connection_finishes_with_close(start_server) -> None:
    server = start_server("drainapp:app")
    with server.connect() as idle, server.connect() as busy:
        idle.sendall(get("/"))
        assert read_response(idle)[1] == b"done"
        busy.sendall(get("/slow"))
        assert server.wait_for_stderr("slow request started", timeout=10)
        server.signal(signal.SIGTERM)
        assert recv_until_closed(idle) == b""  # closed while idle, nothing written
        head, body = read_response(busy)
        assert body == b"done"
        assert b"\r\nconnection: close" in head.lower()
        assert recv_until_closed(busy) == b""
    assert server.wait() == 0


# ---- WebSockets: 1012 when the worker is replaced -----------------------------------------------------


@pytest.mark.parametrize("how", ["hup", "max-requests"])
def test_websocket_gets_1012_when_its_worker_is_replaced(start_server, how: str) -> None:
    extra = ["--max-requests", "1"] if how == "max-requests" else []
    server = start_server("wsapp:raw_app", "--workers", "1", *extra)
    with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
        ws.send("x")
        assert ws.recv(timeout=10) == "x"
        if how == "hup":
            server.signal(signal.SIGHUP)
        else:  # one finished request reaches the limit: the worker is recycled
            assert httpx.get(server.url + "/", timeout=10).status_code == 200
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            ws.recv(timeout=20)
        assert ws.close_code == 1012  # Service Restart: reconnect
    assert server.stop() == 0


# ---- --timeout-request --------------------------------------------------------------------------------


def test_timeout_request(start_server) -> None:
    server: ServerProcess = start_server("drainapp:app", "--timeout-request", "0.5")
    response = httpx.get(server.url + "/hang", timeout=10)
    assert (response.status_code, response.text) == (504, "Gateway Timeout")
    assert server.wait_for_stderr("Request timed out after 0.5s: GET /hang")
    assert server.stderr.count("Request timed out") == 1

    # The head had gone: the response is aborted (closed without the last chunk), never ended.
    with server.connect() as sock:
        sock.sendall(get("/hang-after-head"))
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 ") and b"partial" in data
    assert not data.endswith(b"0\r\n\r\n")

    # A WebSocket is not a request: it lives past the timeout (each echo comes a second late).
    with connect(f"ws://127.0.0.1:{server.port}/") as ws:
        ws.send("late")
        assert ws.recv(timeout=10) == "late"
    assert server.stderr.count("Request timed out") == 2


# ---- keep-alive timeout -------------------------------------------------------------------------------


def test_keep_alive_connection_idle_just_under_the_timeout_is_served(start_server) -> None:
    server = start_server("drainapp:app", "--timeout-keep-alive", "1.5")
    with server.connect() as sock:
        sock.sendall(get("/"))
        assert read_response(sock)[1] == b"done"
        time.sleep(1.2)
        sock.sendall(get("/"))
        assert read_response(sock)[1] == b"done"
        assert recv_until_closed(sock, timeout=10) == b""  # then idle past 1.5 s: closed


def test_keep_alive_default_is_what_the_readme_says() -> None:
    printed = subprocess.run(
        [*asgiserver_command(), "x:app", "--print-config"],
        capture_output=True,
        check=True,
        timeout=30,
        cwd=APPS,
        env={**os.environ, "ASGISERVER_TIMEOUT_KEEP_ALIVE": ""},
    ).stdout.decode()
    default = float(re.search(r"^timeout-keep-alive = (\S+)", printed, re.M).group(1))  # type: ignore[union-attr]
    row = re.search(r"^\| `--timeout-keep-alive` \| `([\d.]+)` \|", README.read_text(), re.M)
    assert row is not None
    assert default == float(row.group(1)) == 75  # above the 60 s idle timeout of load balancers
