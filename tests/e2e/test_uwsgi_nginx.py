"""`asgiserver --protocol uwsgi` behind a real nginx (`uwsgi_pass`), and malformed packets on a raw socket."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import ServerProcess, free_port, recv_until_closed, require_tool, running_nginx

NGINX_HTTP = """
    client_max_body_size 200m;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        location / {{
            include {params};
            uwsgi_pass 127.0.0.1:{upstream};
        }}
        location /mounted/ {{
            include {params};
            uwsgi_param SCRIPT_NAME /mounted;
            uwsgi_param PATH_INFO $uri;
            uwsgi_pass 127.0.0.1:{upstream};
        }}
    }}
"""


@pytest.fixture
def uwsgi_server(start_server) -> ServerProcess:
    return start_server("testapp:app", "--protocol", "uwsgi")  # type: ignore[no-any-return]


@pytest.fixture
def nginx(uwsgi_server: ServerProcess, tmp_path: Path) -> Iterator[str]:
    params = Path("/etc/nginx/uwsgi_params")
    if require_tool("nginx") and not params.exists():
        pytest.fail("nginx is installed without /etc/nginx/uwsgi_params")
    port = free_port()
    http = NGINX_HTTP.format(port=port, upstream=uwsgi_server.port, params=params)
    with running_nginx(tmp_path, port, http):
        yield f"http://127.0.0.1:{port}"


def test_get_and_post_echo_through_nginx(nginx: str) -> None:
    with httpx.Client(base_url=nginx, timeout=20) as client:
        assert client.get("/").text == "hello"
        assert client.post("/echo", content=b"ping pong").content == b"ping pong"


def test_scope_as_nginx_sends_it(nginx: str, uwsgi_server: ServerProcess) -> None:
    response = httpx.get(nginx + "/scope?a=1&b=%2F", headers={"X-Custom": "v"}, timeout=20)
    scope = response.json()
    assert scope["method"] == "GET"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/scope"
    assert scope["query_string"] == "a=1&b=%2F"
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "http"
    assert scope["root_path"] == ""
    assert scope["client"][0] == "127.0.0.1" and scope["client"][1] > 0
    assert scope["server"][1] == int(nginx.rsplit(":", 1)[1])
    headers = dict(scope["headers"])
    assert headers["x-custom"] == "v"
    assert headers["host"].startswith("127.0.0.1")
    assert "content-length" not in headers  # empty CONTENT_LENGTH is not a header
    assert scope["state"]["greeting"] == "hello from lifespan"


def test_post_headers_and_script_name(nginx: str) -> None:
    response = httpx.post(
        nginx + "/mounted/scope", content=b"abc", headers={"Content-Type": "text/x"}, timeout=20
    )
    scope = response.json()
    headers = [tuple(h) for h in scope["headers"]]
    assert ("content-type", "text/x") in headers
    assert ("content-length", "3") in headers
    assert sum(1 for name, _ in headers if name == "content-length") == 1
    assert scope["root_path"] == "/mounted"
    assert (
        scope["path"] == "/mounted/scope"
    )  # the full path; root_path says where the app is mounted


def test_fifty_megabytes_up_and_down_through_nginx(nginx: str) -> None:
    size = 50 * 2**20
    payload = os.urandom(1024) * (size // 1024)
    with httpx.Client(base_url=nginx, timeout=60) as client:
        assert client.post("/length", content=payload).text == str(size)
        echoed = client.post("/echo", content=payload)
        assert echoed.status_code == 200 and echoed.content == payload
        download = client.get("/download", params={"size": size})
        assert len(download.content) == size


def test_many_requests_in_a_row_and_concurrent_clients(nginx: str) -> None:
    with httpx.Client(base_url=nginx, timeout=20) as client:
        for i in range(200):
            assert client.post("/echo", content=str(i).encode()).text == str(i)

    def worker(n: int) -> bool:
        with httpx.Client(base_url=nginx, timeout=30) as client:
            return all(
                client.post("/echo", content=b"%d-%d" % (n, i)).content == b"%d-%d" % (n, i)
                for i in range(20)
            )

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert all(pool.map(worker, range(16)))


def packet(vars: dict[bytes, bytes], modifier1: int = 0) -> bytes:
    block = b"".join(
        struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in vars.items()
    )
    return struct.pack("<BHB", modifier1, len(block), 0) + block


GOOD = {
    b"REQUEST_METHOD": b"GET",
    b"REQUEST_URI": b"/",
    b"PATH_INFO": b"/",
    b"QUERY_STRING": b"",
    b"SERVER_PROTOCOL": b"HTTP/1.1",
    b"SERVER_NAME": b"x",
    b"SERVER_PORT": b"80",
    b"HTTP_HOST": b"x",
}


@pytest.mark.parametrize(
    "bad",
    [
        packet(GOOD, modifier1=5),  # modifier1 other than 0
        struct.pack("<BHB", 0, 100, 0)
        + b"\x05\x00abc",  # datasize longer than what is sent, then EOF
        struct.pack("<BHB", 0, 8, 0) + b"\x10\x00KEY\x00\x00\x00\x00",  # key runs past the block
        struct.pack(
            "<BHB", 0, 65535, 0
        ),  # vars block over the 64 KiB default? (65535 <= 64 KiB: EOF)
        packet({b"REQUEST_URI": b"/"}),  # no REQUEST_METHOD
        packet({**GOOD, b"CONTENT_LENGTH": b"-5"}),
    ],
)
def test_malformed_packets_are_rejected_while_others_are_served(
    uwsgi_server: ServerProcess, bad: bytes
) -> None:
    with uwsgi_server.connect() as sock:
        sock.sendall(bad)
        sock.shutdown(socket.SHUT_WR)
        data = recv_until_closed(sock)
    assert not data.startswith(b"HTTP/1.1 200"), data[:60]
    with uwsgi_server.connect() as sock:
        sock.sendall(packet(GOOD))
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello")


def test_raw_packet_response_is_http(uwsgi_server: ServerProcess) -> None:
    with uwsgi_server.connect() as sock:
        sock.sendall(
            packet(
                {
                    **GOOD,
                    b"REQUEST_METHOD": b"POST",
                    b"REQUEST_URI": b"/echo",
                    b"PATH_INFO": b"/echo",
                    b"CONTENT_LENGTH": b"4",
                }
            )
            + b"data"
        )
        data = recv_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\ndata")


def test_peer_not_in_uwsgi_allow_from_is_refused(start_server) -> None:
    server = start_server("testapp:app", "--protocol", "uwsgi", "--uwsgi-allow-from", "10.1.2.3")
    with server.connect() as sock:
        with contextlib.suppress(OSError):
            sock.sendall(packet(GOOD))
        assert recv_until_closed(sock) == b""
    assert server.wait_for_stderr("refused")
