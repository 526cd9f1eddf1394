"""Trusted proxies end to end: a real HAProxy (HTTP mode, `option forwardfor`) and a real nginx
(`proxy_pass` with X-Forwarded-*, and a stripped prefix with X-Forwarded-Prefix), both terminating
TLS; the client connects from 127.0.0.2 so that its address differs from the proxy's (127.0.0.1,
the only trusted one). The app and the access log must both see the real client and scheme.
Then spoofing attempts from untrusted peers, unix sockets, HTTP/2 and uwsgi."""

from __future__ import annotations

import json
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import (
    ServerProcess,
    free_port,
    listening_process,
    recv_until_closed,
    require_tool,
    running_nginx,
)

CLIENT = "127.0.0.2"  # the whole 127/8 is loopback on Linux

HAPROXY_CONF = """
global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option forwardfor
frontend web
    bind 127.0.0.1:{port} ssl crt {pem}
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request del-header X-Forwarded-Host
    http-request del-header X-Forwarded-Prefix
    default_backend app
backend app
    server app 127.0.0.1:{upstream}
"""

NGINX_HTTP = """
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        proxy_http_version 1.1;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Prefix "";  # a client's own is not passed on
        }}
        location /api/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            # A location's proxy_set_header replaces every one inherited: all of them again.
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Prefix /api;
        }}
    }}
"""


@pytest.fixture
def tls(tmp_path: Path) -> dict[str, Any]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {
        "cert": tmp_path / "cert.pem",
        "key": tmp_path / "key.pem",
        "pem": tmp_path / "all.pem",
    }
    cert.private_key_pem.write_to_path(str(files["key"]))
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    files["pem"].write_bytes(cert.private_key_and_cert_chain_pem.bytes())
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return {**files, "context": context}


@pytest.fixture
def app_server(start_server) -> ServerProcess:
    # Only the proxy (127.0.0.1) is trusted; the client (127.0.0.2) is not.
    return start_server("testapp:app", "--forwarded-allow-ips", "127.0.0.1")  # type: ignore[no-any-return]


@pytest.fixture
def haproxy(app_server: ServerProcess, tmp_path: Path, tls: dict[str, Any]) -> Iterator[int]:
    binary = require_tool("haproxy")
    port = free_port()
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(HAPROXY_CONF.format(port=port, pem=tls["pem"], upstream=app_server.port))
    with listening_process([binary, "-db", "-f", str(conf)], port, "haproxy"):
        yield port


@pytest.fixture
def nginx(app_server: ServerProcess, tmp_path: Path, tls: dict[str, Any]) -> Iterator[int]:
    port = free_port()
    http = NGINX_HTTP.format(port=port, cert=tls["cert"], key=tls["key"], upstream=app_server.port)
    with running_nginx(tmp_path, port, http):
        yield port


def client_from(address: str, context: Any = None, **kw: Any) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address, verify=context or True, **kw)
    return httpx.Client(transport=transport, timeout=20)


def headers_of(scope: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        out.setdefault(name, []).append(value)
    return out


def access_line(server: ServerProcess, marker: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in server.stdout.splitlines() if marker in line]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no access log line with {marker!r}:\n{server.stdout}")


SPOOF = {
    "X-Forwarded-For": "6.6.6.6",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Port": "6666",
    "X-Forwarded-Prefix": "/evil",
    "Forwarded": "for=6.6.6.6;proto=https;host=evil.example",
}


# ---- HAProxy, HTTP mode ------------------------------------------------------------------------


def test_haproxy_forwardfor(haproxy: int, app_server: ServerProcess, tls: dict[str, Any]) -> None:
    with client_from(CLIENT, tls["context"]) as client:
        scope = client.get(f"https://127.0.0.1:{haproxy}/scope?via=haproxy").json()
    assert scope["client"] == [CLIENT, 0]
    assert scope["scheme"] == "https"
    assert scope["server"] == ["127.0.0.1", haproxy]
    assert headers_of(scope)["x-forwarded-for"] == [CLIENT]  # left as it came
    line = access_line(app_server, "via=haproxy")
    assert CLIENT in line, line


def test_haproxy_passes_spoofed_headers_through(
    haproxy: int, app_server: ServerProcess, tls: dict[str, Any]
) -> None:
    # HAProxy appends its own X-Forwarded-For line and sets -Proto and -Port; the client's own
    # X-Forwarded-For and Forwarded come through, and neither may change `client`.
    with client_from(CLIENT, tls["context"]) as client:
        response = client.get(f"https://127.0.0.1:{haproxy}/scope?spoof=1", headers=SPOOF)
    scope = response.json()
    assert scope["client"] == [CLIENT, 0]
    assert scope["scheme"] == "https"
    assert scope["server"] == ["127.0.0.1", haproxy]
    assert (scope["root_path"], scope["path"]) == ("", "/scope")
    headers = headers_of(scope)
    assert headers["forwarded"] == [SPOOF["Forwarded"]]
    assert headers["host"] == [f"127.0.0.1:{haproxy}"]
    line = access_line(app_server, "spoof=1")
    assert CLIENT in line and "6.6.6.6" not in line, line


# ---- nginx proxy_pass --------------------------------------------------------------------------


def test_nginx_forwarded_for_proto_and_host(
    nginx: int, app_server: ServerProcess, tls: dict[str, Any]
) -> None:
    with client_from(CLIENT, tls["context"]) as client:
        scope = client.get(f"https://localhost:{nginx}/scope?via=nginx").json()
    assert scope["client"] == [CLIENT, 0]
    assert scope["scheme"] == "https"
    assert scope["server"] == ["127.0.0.1", nginx]
    assert headers_of(scope)["host"] == ["localhost"]  # X-Forwarded-Host, not the upstream's
    assert (scope["root_path"], scope["path"]) == ("", "/scope")
    line = access_line(app_server, "via=nginx")
    assert CLIENT in line, line


def test_nginx_stripped_prefix(nginx: int, app_server: ServerProcess, tls: dict[str, Any]) -> None:
    with client_from(CLIENT, tls["context"]) as client:
        scope = client.get(f"https://localhost:{nginx}/api/scope?via=prefix").json()
    # The app is mounted at /api: path and raw_path include root_path (README "Mounted below a path").
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/scope"
    assert scope["raw_path"] == "/api/scope"
    assert scope["client"] == [CLIENT, 0] and scope["scheme"] == "https"
    assert CLIENT in access_line(app_server, "via=prefix")


def test_nginx_client_forwarded_and_x_forwarded_for_do_not_change_client(
    nginx: int, tls: dict[str, Any]
) -> None:
    # nginx appends the real address to the client's X-Forwarded-For and passes Forwarded through.
    with client_from(CLIENT, tls["context"]) as client:
        scope = client.get(f"https://localhost:{nginx}/scope", headers=SPOOF).json()
    assert scope["client"] == [CLIENT, 0]
    assert headers_of(scope)["x-forwarded-for"] == [f"6.6.6.6, {CLIENT}"]
    assert scope["path"] == "/scope" and scope["root_path"] == ""  # the prefix is nginx's to set
    assert scope["server"] == ["127.0.0.1", nginx]


# ---- untrusted peers ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["x-forwarded", "forwarded"])
@pytest.mark.parametrize("name", list(SPOOF))
def test_untrusted_peer_cannot_spoof(start_server, style: str, name: str) -> None:
    server = start_server(
        "testapp:app", "--forwarded-allow-ips", "10.9.9.9", "--proxy-headers-style", style
    )
    with httpx.Client(timeout=10) as client:
        scope = client.get(server.url + "/scope?untrusted=1", headers={name: SPOOF[name]}).json()
    assert scope["client"][0] == "127.0.0.1" and scope["client"][1] > 0
    assert scope["scheme"] == "http"
    assert scope["server"] == ["127.0.0.1", server.port]
    assert (scope["root_path"], scope["path"]) == ("", "/scope")
    headers = headers_of(scope)
    assert headers[name.lower()] == [SPOOF[name]]  # left untouched
    assert headers["host"] == [f"127.0.0.1:{server.port}"]
    line = access_line(server, "untrusted=1")
    assert "127.0.0.1" in line and "6.6.6.6" not in line


def test_trusted_peer_forwarded_style(start_server) -> None:
    server = start_server("testapp:app", "--proxy-headers-style", "forwarded")
    forwarded = 'for="[2001:db8::1]:4711";proto=https;host=example.com'
    with httpx.Client(timeout=10) as client:
        scope = client.get(
            server.url + "/scope?style=forwarded",
            headers={"Forwarded": forwarded, "X-Forwarded-For": "6.6.6.6"},
        ).json()
    assert scope["client"] == ["2001:db8::1", 4711]
    assert scope["scheme"] == "https"
    assert headers_of(scope)["host"] == ["example.com"]
    assert "2001:db8::1" in access_line(server, "style=forwarded")


def test_malformed_header_from_a_trusted_proxy_is_served_as_the_peer(start_server) -> None:
    server = start_server("testapp:app", "--log-level", "debug")
    with httpx.Client(timeout=10) as client:
        for _ in range(2):
            response = client.get(
                server.url + "/scope", headers={"X-Forwarded-For": "not an address"}
            )
            assert response.status_code == 200
            assert response.json()["client"][0] == "127.0.0.1"
    assert server.wait_for_stderr("malformed proxy header")
    assert server.stderr.count("malformed proxy header") == 1


# ---- unix sockets, HTTP/2, WebSocket, uwsgi ----------------------------------------------------


def uds_scope(start_server, path: Path, *args: str) -> dict[str, Any]:
    start_server("testapp:app", "--uds", str(path), *args, wait=False)
    deadline = time.monotonic() + 15
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, base_url="http://uds", timeout=10) as client:
        scope: dict[str, Any] = client.get(
            "/scope", headers={"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Proto": "https"}
        ).json()
    return scope


def test_unix_socket_peers_are_trusted_only_with_unix(start_server, tmp_path: Path) -> None:
    scope = uds_scope(start_server, tmp_path / "a.sock", "--forwarded-allow-ips", "unix")
    assert scope["client"] == ["192.0.2.7", 0] and scope["scheme"] == "https"
    scope = uds_scope(start_server, tmp_path / "b.sock")
    assert scope["client"] is None and scope["scheme"] == "http"


def test_http2_prior_knowledge(start_server) -> None:
    server = start_server("testapp:app")
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        response = client.get(
            server.url + "/scope?via=h2",
            headers={"X-Forwarded-For": "192.0.2.8", "X-Forwarded-Proto": "https"},
        )
    assert response.http_version == "HTTP/2"
    scope = response.json()
    assert scope["client"] == ["192.0.2.8", 0] and scope["scheme"] == "https"
    assert "192.0.2.8" in access_line(server, "via=h2")


def test_websocket_scheme_and_client(start_server) -> None:
    from websockets.sync.client import connect

    server = start_server("wsapp:raw_app", "--ws-ping-interval", "0")
    headers = {"X-Forwarded-For": "192.0.2.9", "X-Forwarded-Proto": "https"}
    with connect(f"ws://127.0.0.1:{server.port}/scope", additional_headers=headers) as ws:
        info = json.loads(ws.recv(timeout=5))
    assert info["client"] == ["192.0.2.9", 0]
    assert info["scheme"] == "wss"


def uwsgi_packet(variables: dict[bytes, bytes]) -> bytes:
    block = b"".join(
        struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in variables.items()
    )
    return struct.pack("<BHB", 0, len(block), 0) + block


def test_uwsgi_takes_remote_addr_and_ignores_forwarded_headers(start_server) -> None:
    server = start_server("testapp:app", "--protocol", "uwsgi")
    packet = uwsgi_packet(
        {
            b"REQUEST_METHOD": b"GET",
            b"REQUEST_URI": b"/scope?via=uwsgi",
            b"PATH_INFO": b"/scope",
            b"QUERY_STRING": b"via=uwsgi",
            b"SERVER_PROTOCOL": b"HTTP/1.1",
            b"SERVER_NAME": b"x",
            b"SERVER_PORT": b"80",
            b"REMOTE_ADDR": b"198.51.100.20",
            b"REMOTE_PORT": b"5555",
            b"HTTP_HOST": b"x",
            b"HTTP_X_FORWARDED_FOR": b"6.6.6.6",
        }
    )
    with server.connect() as sock:
        sock.sendall(packet)
        data = recv_until_closed(sock)
    scope = json.loads(data.partition(b"\r\n\r\n")[2])
    assert scope["client"] == ["198.51.100.20", 5555]
    assert headers_of(scope)["x-forwarded-for"] == ["6.6.6.6"]
    line = access_line(server, "via=uwsgi")
    assert "198.51.100.20" in line and "6.6.6.6" not in line


def test_limit_concurrency_503_is_logged_with_the_resolved_client(start_server) -> None:
    server = start_server("testapp:app", "--limit-concurrency", "1")
    with httpx.Client(timeout=10) as slow, httpx.Client(timeout=10) as client:
        thread = threading.Thread(target=slow.get, args=(server.url + "/slow?delay=1.5",))
        thread.start()
        time.sleep(0.5)
        response = client.get(
            server.url + "/scope?overloaded=1", headers={"X-Forwarded-For": "192.0.2.10"}
        )
        thread.join()
    assert response.status_code == 503
    line = access_line(server, "overloaded=1")
    assert "192.0.2.10" in line and " 503 " in line, line
