"""PROXY protocol (`--proxy-protocol`) end to end: a real HAProxy in TCP mode sends v1
(`send-proxy`), v2 (`send-proxy-v2`) and v2 with the SSL TLV (`send-proxy-v2-ssl`), in front of a
plain server, in front of a TLS one (TLS passed through: the header comes before the ClientHello),
and terminating TLS itself (the TLV's PP2_CLIENT_SSL makes the scheme https). The client connects
from 127.0.0.2, the proxy from 127.0.0.1 (the only trusted address): the app and the access log
must see the client. Then raw headers over a socket: every malformed form closes the connection
unanswered and the next one is served; a late header times out; an untrusted peer is refused;
X-Forwarded-For counts only when the header's source address is itself trusted."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_proxies import CLIENT, access_line, client_from

from asgiserver import proxyproto

from conftest import (
    ServerProcess,
    free_port,
    listening_process,
    read_response,
    recv_until_closed,
    require_tool,
)

HAPROXY_TCP = """
global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
listen v1
    bind 127.0.0.1:{v1}
    server app 127.0.0.1:{plain} send-proxy
listen v2
    bind 127.0.0.1:{v2}
    server app 127.0.0.1:{plain} send-proxy-v2
listen v2ssl
    bind 127.0.0.1:{v2ssl}
    server app 127.0.0.1:{plain} send-proxy-v2-ssl
listen terminated
    bind 127.0.0.1:{terminated} ssl crt {pem}
    server app 127.0.0.1:{plain} send-proxy-v2-ssl
listen passthrough
    bind 127.0.0.1:{passthrough}
    server app 127.0.0.1:{tls} send-proxy-v2-ssl
listen checked
    bind 127.0.0.1:{checked}
    option httpchk GET /scope?health-check
    server app 127.0.0.1:{plain} send-proxy-v2 check check-send-proxy inter 500ms
"""
ROUTES = ("v1", "v2", "v2ssl", "terminated", "passthrough", "checked")
OPTIONS = ["--proxy-protocol", "--forwarded-allow-ips", "127.0.0.1", "--timeout-request-head", "3"]


def started(*args: str) -> ServerProcess:
    return ServerProcess(["--port", "0", "testapp:app", *OPTIONS, *args])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import trustme

    tmp = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {"cert": tmp / "cert.pem", "key": tmp / "key.pem", "pem": tmp / "all.pem"}
    cert.private_key_pem.write_to_path(str(files["key"]))
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    files["pem"].write_bytes(cert.private_key_and_cert_chain_pem.bytes())
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return {**files, "context": context, "dir": tmp}


@pytest.fixture(scope="module")
def servers(certs: dict[str, Any]) -> Iterator[dict[str, ServerProcess]]:
    procs = {"plain": started()}
    try:
        procs["tls"] = started(
            "--ssl-certfile", str(certs["cert"]), "--ssl-keyfile", str(certs["key"])
        )
        yield procs
    finally:
        for name, proc in procs.items():
            proc.stop()
            print(f"---- {name} server {proc.pid} stderr ----\n{proc.stderr}")  # shown on failure


@pytest.fixture(scope="module")
def haproxy(servers: dict[str, ServerProcess], certs: dict[str, Any]) -> Iterator[dict[str, int]]:
    binary = require_tool("haproxy")
    ports = {route: free_port() for route in ROUTES}
    conf = certs["dir"] / "haproxy.cfg"
    conf.write_text(
        HAPROXY_TCP.format(
            **ports, plain=servers["plain"].port, tls=servers["tls"].port, pem=certs["pem"]
        )
    )
    with listening_process([binary, "-db", "-f", str(conf)], ports["v1"], "haproxy"):
        yield ports


# ---- a real HAProxy in TCP mode ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "scheme", "served_by"),
    [
        ("v1", "http", "plain"),
        ("v2", "http", "plain"),
        ("v2ssl", "http", "plain"),  # the SSL TLV, with PP2_CLIENT_SSL clear
        ("terminated", "https", "plain"),  # HAProxy's TLS, told by PP2_CLIENT_SSL
        ("passthrough", "https", "tls"),  # our TLS, after the header
    ],
)
def test_haproxy_tcp_mode(
    haproxy: dict[str, int],
    servers: dict[str, ServerProcess],
    certs: dict[str, Any],
    route: str,
    scheme: str,
    served_by: str,
) -> None:
    port = haproxy[route]
    url_scheme = "https" if route in ("terminated", "passthrough") else "http"
    with client_from(CLIENT, certs["context"]) as client:
        for _ in range(2):  # keep-alive: the second request is on the same connection
            response = client.get(f"{url_scheme}://127.0.0.1:{port}/scope?route={route}")
            assert response.status_code == 200
    scope = response.json()
    assert scope["client"][0] == CLIENT and scope["client"][1] > 0
    assert scope["server"] == ["127.0.0.1", port]
    assert scope["scheme"] == scheme
    line = access_line(servers[served_by], f"route={route}")
    assert CLIENT in line, line


def test_haproxy_health_checks_with_a_header(
    haproxy: dict[str, int], servers: dict[str, ServerProcess]
) -> None:
    # `check-send-proxy`: HAProxy's own checks start with a header too (LOCAL: no client to
    # relay), and are served with the socket's addresses.
    line = access_line(servers["plain"], "health-check")
    assert "127.0.0.1:" in line and " 200 " in line, line


# ---- raw headers over a socket -------------------------------------------------------------------


def exchange(server: ServerProcess, data: bytes, *, close_write: bool = False) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        return recv_until_closed(sock)


REQUEST = b"GET /scope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"


def served_scope(server: ServerProcess, header: bytes, extra: bytes = b"") -> dict[str, Any]:
    raw = exchange(server, header + REQUEST + extra + b"\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw
    return json.loads(body)  # type: ignore[no-any-return]


SOURCE, DESTINATION = ("192.0.2.10", 40001), ("192.0.2.1", 80)


def v2(tlvs: list[tuple[int, bytes]] | None = None) -> bytes:
    return proxyproto.encode_v2("proxy", "inet", "stream", SOURCE, DESTINATION, tlvs or [])


def tlv_past_the_end() -> bytes:
    """An ALPN TLV announcing 9 bytes where the header's length leaves it 2."""
    data = bytearray(v2([(proxyproto.PP2_TYPE_ALPN, b"h2")]))
    data[-4:-2] = (9).to_bytes(2, "big")
    return bytes(data)


MALFORMED = {
    "wrong signature": b"GET /scope HTTP/1.1\r\nhost: x\r\n\r\n",
    "wrong v2 signature": proxyproto.V2_SIGNATURE[:6] + b"X" * 10,
    "bad version": proxyproto.V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12),
    "bad command": proxyproto.V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),
    "over-long v1": b"PROXY UNKNOWN " + b"f" * 120 + b"\r\n",
    "lone LF in v1": b"PROXY TCP4 192.0.2.10 192.0.2.1 40001 80\n",
    "heading zero in v1": b"PROXY TCP4 192.0.2.010 192.0.2.1 40001 80\r\n",
    "family does not match the length": proxyproto.V2_SIGNATURE + b"\x21\x21\x00\x0c" + bytes(12),
    "TLV past the end": tlv_past_the_end(),
    "v2 over the size limit": proxyproto.V2_SIGNATURE + b"\x21\x11\xff\xff",
}


def test_malformed_headers_close_and_the_next_connection_is_served(
    servers: dict[str, ServerProcess],
) -> None:
    server = servers["plain"]
    for name, data in MALFORMED.items():
        assert exchange(server, data + REQUEST + b"\r\n") == b"", name
        scope = served_scope(server, v2())
        assert scope["client"] == ["192.0.2.10", 40001], name
    # Truncated, then EOF: closed unanswered too.
    for partial in (b"PROXY TCP4 192.0.2.10", v2()[:20]):
        assert exchange(server, partial, close_write=True) == b""
    assert "Invalid PROXY header from 127.0.0.1" in server.stderr


def test_header_must_arrive_within_the_head_timeout(servers: dict[str, ServerProcess]) -> None:
    server = servers["plain"]
    socks = [socket.create_connection((server.host, server.port), timeout=15) for _ in range(2)]
    try:
        socks[1].sendall(b"PROXY TCP4 192.0.2.10 ")  # half a header, then nothing
        started = time.monotonic()
        for sock in socks:
            assert recv_until_closed(sock, timeout=15) == b""
        assert time.monotonic() - started < 14  # closed by the server, not by our own timeout
    finally:
        for sock in socks:
            sock.close()
    assert server.wait_for_stderr("within --timeout-request-head")


def test_untrusted_peer_is_refused(servers: dict[str, ServerProcess]) -> None:
    server = servers["plain"]
    with socket.socket() as sock:
        sock.settimeout(10)
        sock.bind((CLIENT, 0))
        sock.connect((server.host, server.port))
        with contextlib.suppress(OSError):  # it may be closed already
            sock.sendall(v2() + REQUEST + b"\r\n")
        assert recv_until_closed(sock) == b""
    assert server.wait_for_stderr(f"Connection from {CLIENT} refused")


def test_forwarded_for_only_from_a_trusted_proxied_source(
    servers: dict[str, ServerProcess],
) -> None:
    server = servers["plain"]
    spoof = b"x-forwarded-for: 6.6.6.6\r\nx-forwarded-proto: https\r\n"
    # The header's source is an ordinary client: its own X-Forwarded-* are not honoured.
    scope = served_scope(server, proxyproto.encode_v1("inet", SOURCE, DESTINATION), spoof)
    assert scope["client"] == ["192.0.2.10", 40001]
    assert scope["scheme"] == "http"
    # The header's source is a trusted proxy (another hop in front): they are.
    hop = proxyproto.encode_v1("inet", ("127.0.0.1", 40002), ("192.0.2.1", 80))
    scope = served_scope(server, hop, spoof)
    assert scope["client"] == ["6.6.6.6", 0]
    assert scope["scheme"] == "https"
    # LOCAL (a health check) and UNKNOWN: the socket's own addresses (127.0.0.1, trusted).
    for header in (proxyproto.encode_v2("local"), b"PROXY UNKNOWN\r\n"):
        scope = served_scope(server, header)
        assert scope["client"][0] == "127.0.0.1"
        assert scope["server"] == ["127.0.0.1", server.port]


def test_asyncio_loop_and_tls_after_the_header(certs: dict[str, Any]) -> None:
    # The same accept path on the standard loop (the others run on uvloop, when installed), with
    # TLS: a v1 header, then the handshake, then the request.
    server = started(
        "--loop",
        "asyncio",
        "--ssl-certfile",
        str(certs["cert"]),
        "--ssl-keyfile",
        str(certs["key"]),
    )
    try:
        with socket.create_connection((server.host, server.port), timeout=10) as raw:
            raw.sendall(proxyproto.encode_v1("inet6", ("2001:db8::7", 5), ("2001:db8::1", 443)))
            with certs["context"].wrap_socket(raw, server_hostname="localhost") as sock:
                sock.sendall(REQUEST + b"\r\n")
                _, body = read_response(sock)
        scope = json.loads(body)
        assert (scope["client"], scope["scheme"]) == (["2001:db8::7", 5], "https")
        assert exchange(server, b"\x16\x03\x01\x00\x05hello") == b""  # TLS with no header first
        # Graceful shutdown closes a connection still waiting for its header, and exits at once.
        with socket.create_connection((server.host, server.port), timeout=10) as waiting:
            waiting.sendall(b"PROXY TCP4 ")
            time.sleep(0.2)  # let the server accept it (the assertion below holds either way)
            assert server.stop() == 0
            assert recv_until_closed(waiting) == b""
    finally:
        server.stop()
