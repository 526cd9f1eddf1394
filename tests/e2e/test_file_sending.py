"""File bodies (`http.response.pathsend`, `http.response.zerocopysend`) end to end: the real
`asgiserver` command serving tests/apps/fileapp.py to real clients (httpx, raw sockets, nginx).

On plain HTTP/1.1 the file goes out through `os.sendfile` (proved with strace on both loops); on
TLS, HTTP/2 and uwsgi it is read into the body. A file that cannot be opened is a 500; one that
ends before the length the head promised aborts the response (the connection closes short).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ServerProcess, free_port, require_tool, running_nginx

SMALL = 300_000  # several 64 KiB reads on the fallback paths


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    (root / "small.bin").write_bytes(os.urandom(SMALL))
    (root / "empty.bin").write_bytes(b"")
    return root


@pytest.fixture
def tls(tmp_path: Path) -> dict[str, Any]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return {
        "args": ["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)],
        "context": context,
    }


def serve(start_server: Any, files: Path, *args: str) -> ServerProcess:
    server: ServerProcess = start_server("fileapp:app", *args, env={"FILEAPP_DIR": str(files)})
    return server


def check_file_bodies(client: httpx.Client, files: Path) -> None:
    """What every protocol must get right: whole files, windows, HEAD, empty and missing files."""
    data = (files / "small.bin").read_bytes()
    response = client.get("/path/small.bin")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SMALL)
    assert response.content == data
    response = client.get("/zerocopy/small.bin", params={"offset": 1000, "count": 70_000})
    assert response.headers["content-length"] == "70000"
    assert response.content == data[1000:71000]
    assert client.get("/zerocopy/small.bin", params={"offset": 7}).content == data[7:]
    head = client.head("/path/small.bin")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(SMALL)
    assert head.content == b""
    empty = client.get("/path/empty.bin")
    assert (empty.status_code, empty.headers["content-length"], empty.content) == (200, "0", b"")
    missing = client.get("/path/missing.bin")
    assert missing.status_code == 500
    assert missing.text == "Internal Server Error"
    assert client.get("/starlette/small.bin").content == data


@pytest.mark.parametrize(
    ("transport", "loop"), [("plain", "asyncio"), ("plain", "uvloop"), ("tls", "asyncio")]
)
def test_file_bodies_over_http1(start_server, files, tls, transport: str, loop: str) -> None:
    args = ["--loop", loop, "--no-http2"]
    verify: Any = True
    if transport == "tls":
        args += tls["args"]
        verify = tls["context"]
    server = serve(start_server, files, *args)
    with httpx.Client(base_url=server.url, verify=verify, timeout=10) as client:
        check_file_bodies(client, files)
        assert client.get("/scope").json()["extensions"]["http.response.pathsend"] == {}
        if transport == "plain":
            # sendfile goes around the transport: the file must wait for a body message still
            # in the transport's buffer (8 MB is more than the kernel takes at once on loopback).
            prefixed = client.get("/prefixed/small.bin", params={"size": 8_000_000})
            assert prefixed.content == b"p" * 8_000_000 + (files / "small.bin").read_bytes()
    assert server.stop() == 0
    assert "FileNotFoundError" in server.stderr  # the missing file, logged as the app's error


def test_file_bodies_over_http2(start_server, files) -> None:
    server = serve(start_server, files)
    with httpx.Client(base_url=server.url, http1=False, http2=True, timeout=10) as client:
        check_file_bodies(client, files)
        assert client.get("/path/small.bin").http_version == "HTTP/2"
    assert server.stop() == 0


def test_file_bodies_through_nginx_uwsgi(start_server, files, tmp_path) -> None:
    params = Path("/etc/nginx/uwsgi_params")
    server = serve(start_server, files, "--protocol", "uwsgi")
    port = free_port()
    http = f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{ include {params}; uwsgi_pass 127.0.0.1:{server.port}; }}
    }}"""
    with (
        running_nginx(tmp_path, port, http),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        data = (files / "small.bin").read_bytes()
        assert client.get("/path/small.bin").content == data
        window = client.get("/zerocopy/small.bin", params={"offset": 5, "count": 100_000})
        assert window.content == data[5:100_005]
        assert client.get("/path/missing.bin").status_code == 500
    assert server.stop() == 0


# ---- a file that shrinks while it is sent -----------------------------------------------------------

SHRINKING = 32 * 1024 * 1024  # far more than the socket buffers hold while the client waits


def open_client(server: ServerProcess, context: ssl.SSLContext | None) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(20)
    sock.connect((server.host, server.port))
    if context is not None:
        return context.wrap_socket(sock, server_hostname="localhost")
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass  # TLS: the close may come without close_notify
    return bytes(data)


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_a_file_that_shrinks_while_sent_aborts_the_response(
    start_server, files, tls, transport: str
) -> None:
    shrinking = files / "shrinking.bin"
    with shrinking.open("wb") as f:
        f.truncate(SHRINKING)  # sparse: no 32 MiB written to the disk
    context = None
    args: list[str] = []
    if transport == "tls":
        args, context = tls["args"], tls["context"]
    server = serve(start_server, files, *args)
    with open_client(server, context) as sock:
        sock.sendall(b"GET /path/shrinking.bin HTTP/1.1\r\nhost: x\r\n\r\n")
        head = bytearray()
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, "closed before the head"
            head += chunk
        head, _, body = bytes(head).partition(b"\r\n\r\n")
        assert re.search(rb"content-length: %d\r\n" % SHRINKING, head + b"\r\n", re.I)
        # The head is out, so the length is promised; the server is blocked on our full window.
        with shrinking.open("r+b") as f:
            f.truncate(1024 * 1024)
        body += read_until_closed(sock)
    assert len(body) < SHRINKING  # the close, not a complete message, ends it (RFC 9112 §8)
    assert server.wait_for_stderr("short of the response length", timeout=10)
    # The worker goes on serving.
    with httpx.Client(base_url=server.url, verify=context or True, timeout=10) as client:
        assert client.get("/path/small.bin").status_code == 200
    assert server.stop() == 0


# ---- proof on the wire that the body goes out through sendfile ----------------------------------------


@pytest.fixture
def strace_of() -> Iterator[Any]:
    """Attach strace to a running process (all its threads) for the socket-writing syscalls."""
    running: list[subprocess.Popen[bytes]] = []

    def attach(pid: int, out: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                require_tool("strace"),
                "-f",
                "-e",
                "trace=sendfile,write,writev,sendto,sendmsg",
                "-o",
                str(out),
                "-p",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        running.append(proc)
        deadline = time.monotonic() + 10
        seen = b""
        while b"attached" not in seen:
            line = proc.stderr.readline()  # type: ignore[union-attr]
            if not line or time.monotonic() > deadline:
                raise AssertionError(f"strace did not attach: {seen!r}")
            seen += line
        return proc

    yield attach
    for proc in running:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # detaches from the traced process, which goes on
            proc.wait(10)


SYSCALL_RE = re.compile(r"^\d+\s+(\w+)\(.*\)\s+=\s+(-?\d+)", re.M)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_starlette_file_response_of_50_mb_goes_out_through_sendfile(
    start_server, files, strace_of, tmp_path, loop: str
) -> None:
    """Starlette's FileResponse sends http.response.pathsend when the server offers it; the worker
    hands the body to the kernel with sendfile(2), not write(2) (uvloop's own loop.sendfile would
    copy it through user space)."""
    size = 50 * 1024 * 1024
    data = os.urandom(size)
    (files / "big.bin").write_bytes(data)
    server = serve(start_server, files, "--loop", loop)
    trace = tmp_path / "strace.out"
    tracer = strace_of(server.pid, trace)
    digest = hashlib.sha256()
    received = 0
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("GET", "/starlette/big.bin") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-length"] == str(size)
        for chunk in response.iter_raw():
            digest.update(chunk)
            received += len(chunk)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(10)
    assert received == size
    assert digest.digest() == hashlib.sha256(data).digest()
    by_call: dict[str, int] = {}
    for name, result in SYSCALL_RE.findall(trace.read_text()):
        if int(result) > 0:
            by_call[name] = by_call.get(name, 0) + int(result)
    assert by_call.get("sendfile", 0) == size, by_call
    written = sum(count for name, count in by_call.items() if name != "sendfile")
    assert written < 64 * 1024, by_call  # the head and the access log line, not the body
    assert server.stop() == 0
