"""The real `asgiserver` command serving HTTP/1.1 to httpx and raw sockets."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from conftest import ServerProcess, read_response, recv_until_closed


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\n" + extra + b"\r\n"


# ---- basics ----------------------------------------------------------------------------------------


def test_hello_and_default_headers(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/", timeout=10)
    assert response.status_code == 200
    assert response.text == "hello"
    assert response.headers["content-length"] == "5"
    assert response.headers["server"] == "asgiserver"
    assert "date" in response.headers


def test_keep_alive_serves_several_requests_on_one_connection(server: ServerProcess) -> None:
    with server.connect() as sock:
        for _ in range(3):
            sock.sendall(get("/"))
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert body == b"hello"


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(get("/slow?delay=0.2") + get("/") + get("/pid"))
        bodies = [read_response(sock)[1] for _ in range(3)]
    assert bodies[0] == b"slow done"
    assert bodies[1] == b"hello"
    assert bodies[2] == str(server.pid).encode()


def test_http10_request_gets_close_delimited_or_sized_response(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /chunks HTTP/1.0\r\n\r\n")
        data = recv_until_closed(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"chunk0;chunk1;chunk2;chunk3;chunk4;"


def test_head_response_has_no_body(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(b"HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
        head, rest = read_response(sock, head_only=True)
        assert b"content-length: 29" in head.lower()
        # The next response follows the HEAD head immediately: no body bytes in between.
        buf = rest
        while b"hello" not in buf:
            buf += sock.recv(65536)
        assert buf.startswith(b"HTTP/1.1 200")


def test_chunked_upload_and_chunked_download(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        head, body = read_response(sock)
        assert body == b"hello world"
        sock.sendall(get("/chunks"))
        head, body = read_response(sock)
        assert b"transfer-encoding: chunked" in head.lower()
        assert body == b"chunk0;chunk1;chunk2;chunk3;chunk4;"


def test_ten_megabyte_upload_and_download(server: ServerProcess) -> None:
    payload = bytes(range(256)) * (10 * 4096)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/length", content=payload)
        assert response.text == str(len(payload))
        response = client.post("/echo", content=payload)
        assert response.content == payload
        response = client.get("/download", params={"size": 10 * 2**20})
        assert len(response.content) == 10 * 2**20


def test_pipelined_echoes_around_the_join_size_come_back_whole_and_in_order(
    server: ServerProcess,
) -> None:
    """Responses just under and over the size up to which head and body are joined into one write
    (16 KiB), and a 64 KiB one, pipelined with GETs: each body comes back byte for byte, in order."""
    sizes = [16 * 1024 - 200, 16 * 1024 + 1, 64 * 1024]
    payloads = [bytes(range(256)) * (size // 256) + b"x" * (size % 256) for size in sizes]
    wire = b""
    for payload in payloads:
        wire += b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(payload)
        wire += payload + get("/")
    with server.connect() as sock:
        sock.sendall(wire)
        for payload in payloads:
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert body == payload
            head, body = read_response(sock)
            assert body == b"hello"


def test_expect_100_continue_is_sent_only_when_the_app_reads(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        head, _ = read_response(sock, head_only=True)
        assert head.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"hello")
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == b"hello"
    with server.connect() as sock:
        # An app that never reads the body answers without a 100.
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == b"hello"


def test_response_trailers_only_when_client_accepts_them(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(get("/trailers", b"TE: trailers\r\n"))
        data = b""
        while not data.endswith(b"\r\n\r\n") or b"x-checksum" not in data:
            data += sock.recv(65536)
        assert b"x-checksum: abc\r\n" in data.lower()
    with server.connect() as sock:
        sock.sendall(get("/trailers"))
        data = recv_until_closed_or(sock, b"0\r\n\r\n")
        assert data.endswith(b"\r\n4\r\ndata\r\n0\r\n\r\n"), data
        assert b"x-checksum" not in data.lower()


def test_early_hints_send_a_103_before_the_response(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(get("/early-hints"))
        head, rest = read_response(sock, head_only=True)
        assert head.startswith(b"HTTP/1.1 103")
        assert b"link: </style.css>; rel=preload; as=style" in head.lower()
        data = recv_until_closed_or(sock, b"after hints", start=rest)
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"after hints")


# ---- the scope ---------------------------------------------------------------------------------------


def test_scope_fields(start_server) -> None:
    server = start_server("testapp:app", "--root-path", "/mounted")
    response = httpx.get(server.url + "/scope?a=1&b=%20", headers={"X-Test": "yes"}, timeout=10)
    scope = response.json()
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["asgi"]["spec_version"] in ("2.4", "2.5")
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    # ASGI: path and raw_path include root_path (PATH_INFO is path minus root_path).
    assert scope["path"] == "/mounted/scope"
    assert scope["raw_path"] == "/mounted/scope"
    assert scope["root_path"] == "/mounted"
    assert scope["query_string"] == "a=1&b=%20"
    assert ["x-test", "yes"] in scope["headers"]
    assert scope["client"][0] == "127.0.0.1" and isinstance(scope["client"][1], int)
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["state"]["greeting"] == "hello from lifespan"
    assert "http.response.trailers" in scope["extensions"]
    # Each request gets a shallow copy of the lifespan state.
    again = httpx.get(server.url + "/scope", timeout=10).json()
    assert "mutated" not in again["state"]


@pytest.mark.parametrize("threads", [None, "3"])
def test_threads_size_the_pools_for_blocking_code(start_server, threads: str | None) -> None:
    """--threads: asyncio's default executor and AnyIO's thread limiter (Starlette's and FastAPI's
    sync endpoints) get that many threads; without it both keep their own defaults."""
    server = start_server("testapp:app", *(["--threads", threads] if threads else []))
    info = httpx.get(server.url + "/threads", timeout=10).json()
    if threads:
        assert info["anyio_tokens"] == 3
        assert info["executor_thread"].startswith("asgiserver-blocking")
    else:
        assert info["anyio_tokens"] == 40
        assert not info["executor_thread"].startswith("asgiserver-blocking")


def test_percent_encoded_utf8_path_is_decoded(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(get("/sc%6Fpe/%C3%A9t%C3%A9"))
        _, body = read_response(sock)
    # /scope/été is not a route: the 404 proves the decoded path was routed, raw_path kept below
    assert body == b"not found"
    with server.connect() as sock:
        sock.sendall(get("/sc%6Fpe"))
        _, body = read_response(sock)
    scope = json.loads(body)
    assert scope["path"] == "/scope" and scope["raw_path"] == "/sc%6Fpe"


# ---- disconnects and backpressure --------------------------------------------------------------------


def test_http_disconnect_reaches_the_app_when_the_client_goes(
    server: ServerProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    with server.connect() as sock:
        sock.sendall(get(f"/wait-disconnect?marker={marker}"))
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "disconnected"


def test_send_after_disconnect_raises_oserror(server: ServerProcess, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with server.connect() as sock:
        sock.sendall(get(f"/send-after-disconnect?marker={marker}"))
        read_response(sock, head_only=True)
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "ClientDisconnected is OSError"


def test_slow_reader_does_not_make_the_server_buffer_a_large_response(
    server: ServerProcess,
) -> None:
    size = 200 * 2**20
    baseline = server.rss_kib()
    with server.connect() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(get(f"/download?size={size}"))
        time.sleep(2.0)  # the app would finish the whole 200 MB in this time if send() did not wait
        grown = server.rss_kib() - baseline
        # Now drain it all to prove the response is intact.
        sock.settimeout(30)
        _, rest = read_response(sock, head_only=True)
        received = len(rest)
        while received < size + 1000:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += len(chunk)
            if received >= size:
                break
    assert grown < 30 * 1024, f"server RSS grew by {grown} KiB while the client read nothing"
    assert received >= size


def test_pipelining_client_that_reads_nothing_does_not_make_the_server_hold_the_answers(
    server: ServerProcess,
) -> None:
    """Each answer is one 1 MiB body message, which does not wait for the client to read: a client
    that pipelines 100 requests and reads nothing must not have the server produce and hold 100 MiB.
    The server stops taking its requests (and its input) until it reads; then all of them come."""
    count, size = 100, 2**20
    baseline = server.rss_kib()
    with server.connect() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(get(f"/blob?size={size}") * count)
        time.sleep(2.0)  # time enough to answer all of them if nothing held them back
        grown = server.rss_kib() - baseline
        sock.settimeout(30)
        sizes = []
        for _ in range(count):
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 ")
            sizes.append(len(body))
    assert grown < 30 * 1024, f"server RSS grew by {grown} KiB while the client read nothing"
    assert sizes == [size] * count


def test_client_that_takes_nothing_for_the_send_timeout_is_dropped(start_server) -> None:
    # 32 MiB: more than the kernel's socket buffers can take (loopback autotunes the server's
    # send buffer up to tcp_wmem's 4 MiB), so the server's own buffer holds the rest.
    size = 32 * 2**20
    server = start_server("testapp:app", "--timeout-send", "1")
    with server.connect() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(get(f"/blob?size={size}"))
        time.sleep(3.5)  # past the timeout, and the look one timeout later
        sock.settimeout(5)
        received = 0
        with contextlib.suppress(ConnectionResetError):  # an end either way, never a timeout
            while chunk := sock.recv(65536):
                received += len(chunk)
    assert received < size  # what the kernel already had, not the whole answer
    assert "took none of the response for 1s: closing" in server.stderr


def test_upload_to_an_app_that_does_not_read_is_paused(server: ServerProcess) -> None:
    baseline = server.rss_kib()
    with server.connect() as sock:
        sock.sendall(b"POST /slow?delay=3 HTTP/1.1\r\nHost: t\r\nContent-Length: 209715200\r\n\r\n")
        sock.settimeout(0.5)
        sent = 0
        block = b"\0" * 65536
        try:
            while sent < 200 * 2**20:
                sent += sock.send(block)
        except (TimeoutError, BlockingIOError):
            pass
        grown = server.rss_kib() - baseline
    assert sent < 50 * 2**20, "the server kept reading a body nobody consumed"
    assert grown < 30 * 1024


# ---- errors --------------------------------------------------------------------------------------------


def test_exception_before_response_is_a_500(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/error-before", timeout=10)
    assert response.status_code == 500
    assert "boom before the response" in server.stderr or wait_for(
        lambda: "boom before" in server.stderr
    )


def test_exception_after_response_start_closes_the_connection(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(get("/error-after"))
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200")
    assert not data.endswith(b"0\r\n\r\n"), "a failed response must not look complete"


def test_app_that_returns_without_responding_gets_a_500(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/no-response", timeout=10).status_code == 500


def test_response_start_without_body_is_completed(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/start-only", timeout=10)
    assert response.status_code == 204
    assert response.headers["x-start-only"] == "1"


def test_invalid_asgi_message_is_a_logged_500(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/bad-message", timeout=10).status_code == 500
    assert wait_for(lambda: "invalid response status" in server.stderr)


def test_response_splitting_header_is_refused(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(get("/bad-header"))
        data = recv_until_closed(sock)
    assert b"set-cookie" not in data.lower()


def recv_until_closed_or(
    sock: socket.socket, suffix: bytes, timeout: float = 10, start: bytes = b""
) -> bytes:
    """`start` (bytes already read) and what follows, until they end with `suffix` or the server
    closes; with keep-alive the server does not close for a long time, so never wait past it."""
    sock.settimeout(timeout)
    data = start
    while not data.endswith(suffix):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def wait_for(predicate, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---- limits and timeouts ---------------------------------------------------------------------------------


def test_limit_concurrency_answers_503(start_server) -> None:
    server = start_server("testapp:app", "--limit-concurrency", "1")
    with server.connect() as busy:
        busy.sendall(get("/slow?delay=2"))
        time.sleep(0.3)
        response = httpx.get(server.url + "/", timeout=10)
        assert response.status_code == 503
        assert read_response(busy)[1] == b"slow done"
    assert httpx.get(server.url + "/", timeout=10).status_code == 200


def test_limit_connections_stops_accepting_until_one_closes(start_server) -> None:
    """--limit-connections 2: a third connection waits in the listen backlog, unanswered and not
    refused, until one of the first two closes; then it is served."""
    server = start_server("testapp:app", "--limit-connections", "2")
    first, second = server.connect(), server.connect()
    for sock in (first, second):
        sock.sendall(get("/"))
        assert read_response(sock)[1] == b"hello"
    with server.connect() as third:
        third.sendall(get("/pid"))
        third.settimeout(1.0)
        with pytest.raises(TimeoutError):
            third.recv(1)  # not accepted by the worker yet: nothing reads its request
        first.close()
        third.settimeout(5)
        assert read_response(third)[1] == str(server.pid).encode()
        second.sendall(get("/"))  # the ones it held still work
        assert read_response(second)[1] == b"hello"
    second.close()


def test_keep_alive_idle_connection_is_closed(start_server) -> None:
    server = start_server("testapp:app", "--timeout-keep-alive", "0.5")
    with server.connect() as sock:
        sock.sendall(get("/"))
        read_response(sock)
        start = time.monotonic()
        assert recv_until_closed(sock, timeout=5) == b""
        assert time.monotonic() - start < 3


def test_slowloris_head_deadline(start_server) -> None:
    server = start_server("testapp:app", "--timeout-request-head", "1")
    with server.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        for _ in range(10):
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
            time.sleep(0.2)
        data = recv_until_closed(sock, timeout=5)
        assert time.monotonic() - start < 4
    assert data.startswith(b"HTTP/1.1 408")


def test_silent_connection_is_closed_by_the_head_deadline(start_server) -> None:
    server = start_server("testapp:app", "--timeout-request-head", "1")
    with server.connect() as sock:
        start = time.monotonic()
        assert recv_until_closed(sock, timeout=5) == b""
        assert time.monotonic() - start < 3


def test_stalled_request_body_times_out(start_server) -> None:
    server = start_server("testapp:app", "--timeout-request-body", "1")
    with server.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npartial")
        start = time.monotonic()
        data = recv_until_closed(sock, timeout=6)
        assert time.monotonic() - start < 4
    assert data.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host (RFC 9112 §3.2)
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),  # not final chunked
        (b"GET / HTTP/1.1\nHost: a\n\n", 400),  # bare LF
        (b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),  # a fragment (RFC 9112 §3.2)
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A : a\r\n\r\n", 400),
        (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n"
            + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
            + b"\r\n",
            431,
        ),
    ],
)
def test_malformed_requests_get_a_specific_status_and_a_close(
    server: ServerProcess, request_bytes: bytes, status: int
) -> None:
    with server.connect() as sock:
        sock.sendall(request_bytes)
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:80]
    assert b"connection: close" in data.lower()


def test_content_length_with_transfer_encoding_is_not_smuggled(server: ServerProcess) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /pid HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 400")
    assert data.count(b"HTTP/1.1") == 1, "the smuggled second request was answered"


def test_body_over_the_limit_is_413(start_server) -> None:
    server = start_server("testapp:app", "--limit-request-body", "1000")
    with server.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 413")


# ---- process behaviour -----------------------------------------------------------------------------------


def test_graceful_shutdown_finishes_the_in_flight_request(start_server, tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    server = start_server("testapp:app", env={"TESTAPP_SHUTDOWN_MARKER": str(marker)})
    with server.connect() as sock:
        sock.sendall(get("/slow?delay=1.5"))
        time.sleep(0.3)
        server.signal(15)
        head, body = read_response(sock)
    assert body == b"slow done"
    assert b"connection: close" in head.lower()
    assert server.wait() == 0
    assert marker.read_text() == "shutdown complete"


def test_shutdown_stops_accepting_new_connections(start_server) -> None:
    server = start_server("testapp:app")
    with server.connect() as sock:
        sock.sendall(get("/slow?delay=1"))
        time.sleep(0.2)
        server.signal(15)
        time.sleep(0.3)
        with pytest.raises(OSError):
            socket.create_connection((server.host, server.port), timeout=2).close()
        read_response(sock)
    assert server.wait() == 0


def test_lifespan_startup_failure_exits_3_without_serving(start_server) -> None:
    server = start_server("testapp:app", env={"TESTAPP_FAIL_STARTUP": "1"}, wait=False)
    assert server.wait() == 3
    assert server.wait_for_stderr("database unreachable")
    assert "Listening on" not in server.stderr


def test_lifespan_off_does_not_call_the_app_for_lifespan(start_server) -> None:
    server = start_server("testapp:app", "--lifespan", "off")
    state = httpx.get(server.url + "/scope", timeout=10).json()["state"]
    assert "greeting" not in state


def test_import_error_exits_non_zero(start_server) -> None:
    server = start_server("no_such_module:app", wait=False)
    assert server.wait() == 1
    assert server.wait_for_stderr("no_such_module")


def test_unix_socket(start_server, tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    server = start_server("testapp:app", "--uds", path, wait=False)
    deadline = time.monotonic() + 15
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    transport = httpx.HTTPTransport(uds=path)
    with httpx.Client(transport=transport, base_url="http://uds", timeout=10) as client:
        scope = client.get("/scope").json()
    assert scope["server"] == [path, None]
    assert scope["client"] is None
    assert server.stop() == 0


def test_python_dash_m_and_port_zero_print_the_address(tmp_path: Path) -> None:
    import subprocess
    import sys

    from conftest import APPS

    proc = subprocess.Popen(
        [sys.executable, "-m", "asgiserver", "testapp:app", "--port", "0"],
        cwd=APPS,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        line = b""
        deadline = time.monotonic() + 15
        while b"Listening on" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()  # type: ignore[union-attr]
        assert b"Listening on http://127.0.0.1:" in line
        port = int(line.rsplit(b":", 1)[1].split()[0])
        assert port > 0
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello"
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


def test_early_413_reaches_a_client_that_is_still_uploading(start_server) -> None:
    """RFC 9112 §9.6: the server half-closes and drains, so a client that sends its whole body
    before reading (as most HTTP libraries do) gets the 413 instead of a reset mid-upload."""
    server = start_server("testapp:app", "--limit-request-body", "1000")
    size = 12_000_000  # more than the kernel buffers on both ends hold, less than the drain limit
    with server.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size)
        sock.sendall(b"x" * size)  # a reset would raise here
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 413 "), data[:60]
