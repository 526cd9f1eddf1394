"""The ASGI TLS extension (asgiref specs/tls.rst) end to end: `scope["extensions"]["tls"]` as the
real `asgiserver` command fills it, compared with what the client side of the same connection saw."""

from __future__ import annotations

import json
import ssl
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ServerProcess, read_response

trustme = pytest.importorskip("trustme")
x509 = pytest.importorskip("cryptography.x509")


@pytest.fixture
def ca() -> Any:
    return trustme.CA()


@pytest.fixture
def server_files(ca: Any, tmp_path: Path) -> dict[str, Any]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    ca.cert_pem.write_to_path(str(cafile))
    return {
        "args": ["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)],
        "cafile": str(cafile),
        "cert_pem": cert.cert_chain_pems[0].bytes().decode(),
    }


def scope_over(server: ServerProcess, context: ssl.SSLContext) -> tuple[dict[str, Any], Any]:
    """GET /scope on one raw TLS connection: the app's extensions and the client's socket facts."""
    with (
        server.connect() as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        sock.sendall(b"GET /scope HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        _, body = read_response(sock)
        facts = (sock.version(), sock.cipher()[0])  # type: ignore[index]
    return json.loads(body)["extensions"], facts


def iana_suite(context: ssl.SSLContext, name: str) -> int:
    """The 16-bit IANA number of a cipher suite, from the client's own OpenSSL."""
    return next(c["id"] & 0xFFFF for c in context.get_ciphers() if c["name"] == name)


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_without_a_client_certificate(start_server, ca, server_files, version: str) -> None:
    server: ServerProcess = start_server("fileapp:app", *server_files["args"])
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.maximum_version = ssl.TLSVersion[version.replace(".", "_")]
    extensions, (client_version, client_cipher) = scope_over(server, context)
    tls = extensions["tls"]
    assert client_version == version
    assert tls == {
        "server_cert": server_files["cert_pem"],
        "client_cert_chain": [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": 0x0304 if version == "TLSv1.3" else 0x0303,
        "cipher_suite": iana_suite(context, client_cipher),
    }
    assert server.stop() == 0


def test_with_a_client_certificate_over_http1_and_http2(start_server, ca, server_files) -> None:
    server: ServerProcess = start_server(
        "fileapp:app",
        *server_files["args"],
        "--ssl-ca-certs",
        server_files["cafile"],
        "--ssl-cert-reqs",
        "required",
    )
    # Issued by an intermediate, which the client sends after its certificate.
    client_cert = ca.create_child_ca().issue_cert("client@example.org", common_name="Ada, Countess")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client_cert.configure_cert(context)
    leaf = client_cert.cert_chain_pems[0].bytes()
    expected_name = x509.load_pem_x509_certificate(leaf).subject.rfc4514_string()
    assert "\\," in expected_name  # the comma in the CN is escaped (RFC 4514 §2.4)

    extensions, _ = scope_over(server, context)
    tls = extensions["tls"]
    assert tls["client_cert_chain"][0] == leaf.decode()
    if sys.version_info >= (3, 13):  # the rest of the chain needs SSLObject.get_unverified_chain()
        assert tls["client_cert_chain"] == [
            pem.bytes().decode() for pem in client_cert.cert_chain_pems
        ]
    assert tls["client_cert_name"] == expected_name
    assert tls["client_cert_error"] is None
    assert tls["server_cert"] == server_files["cert_pem"]

    with httpx.Client(base_url=server.url, verify=context, http2=True, timeout=10) as client:
        response = client.get("/scope")
        assert response.http_version == "HTTP/2"
        assert response.json()["extensions"]["tls"] == tls
    assert server.stop() == 0


def test_in_websocket_scopes_over_tls(start_server, ca, server_files) -> None:
    from websockets.sync.client import connect

    server: ServerProcess = start_server("fileapp:app", *server_files["args"])
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with connect(f"wss://127.0.0.1:{server.port}/", ssl=context) as ws:
        extensions = json.loads(ws.recv(timeout=10))
    assert extensions["tls"]["server_cert"] == server_files["cert_pem"]
    assert extensions["tls"]["tls_version"] == 0x0304
    assert server.stop() == 0


def test_absent_on_plain_connections(start_server) -> None:
    server: ServerProcess = start_server("fileapp:app")
    extensions = httpx.get(server.url + "/scope", timeout=10).json()["extensions"]
    assert "tls" not in extensions
    assert {"http.response.pathsend", "http.response.zerocopysend"} <= set(extensions)
    assert server.stop() == 0
