"""Real frameworks and TLS, served by the real `asgiserver` command."""

from __future__ import annotations

import ssl

import httpx
import pytest

from conftest import ServerProcess


def test_fastapi_app(start_server) -> None:
    pytest.importorskip("fastapi")
    server: ServerProcess = start_server("fastapi_app:app")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/items/5", params={"q": "x"}).json() == {"item_id": 5, "q": "x"}
        assert client.post("/items", json={"name": "a", "price": 10}).json() == {
            "name": "a",
            "price_with_tax": 12.0,
        }
        assert client.post("/items", json={"name": "a"}).status_code == 422
        assert client.get("/state").json() == {"db": "connected"}
        assert client.get("/stream").text == "0\n1\n2\n3\n4\n"
    assert server.stop() == 0


def test_django_async_view(start_server) -> None:
    pytest.importorskip("django")
    server: ServerProcess = start_server("django_app:application")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/hello/", params={"q": "1"}).json() == {
            "method": "GET",
            "path": "/hello/",
            "q": "1",
        }
        assert client.post("/echo/", content=b"x" * 100000).json()["length"] == 100000
    assert server.stop() == 0
    # Django does not speak lifespan: one informational line, no traceback.
    assert "Traceback" not in server.stderr


def test_tls_with_a_trustme_certificate(start_server, tmp_path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile = tmp_path / "cert.pem"
    keyfile = tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    for pem in cert.cert_chain_pems[1:]:
        with certfile.open("ab") as f:
            f.write(pem.bytes())
    server: ServerProcess = start_server(
        "testapp:app", "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)
    )
    assert server.scheme == "https"
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with httpx.Client(base_url=server.url, verify=context, timeout=10) as client:
        scope = client.get("/scope").json()
        assert scope["scheme"] == "https"
        body = b"y" * 300000
        assert client.post("/echo", content=body).content == body
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/", timeout=5)  # not trusted without the CA
    assert server.stop() == 0


def test_quart_app_http_and_websocket(start_server) -> None:
    pytest.importorskip("quart")
    from websockets.sync.client import connect

    server: ServerProcess = start_server("quart_app:app")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/hello/ada").json() == {"hello": "ada", "ready": "yes"}
        assert client.post("/echo", content=b"x" * 50000).content == b"x" * 50000
    with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "quart:hi"
    assert server.stop() == 0


def test_starlette_below_a_root_path(start_server) -> None:
    # ASGI: path includes root_path; Starlette routes on path minus root_path and builds URLs with it.
    server: ServerProcess = start_server("starlette_mounted:app", "--root-path", "/api")
    base = f"http://127.0.0.1:{server.port}"
    data = httpx.get(base + "/items/3", timeout=10).json()
    assert data["root_path"] == "/api"
    assert data["path"] == "/api/items/3"
    assert data["raw_path"] == "/api/items/3"
    assert data["url_for"] == base + "/api/items/3"
    assert data["url"] == base + "/api/items/3"
    sub = httpx.get(base + "/sub/leaf/y", timeout=10).json()
    assert sub["url_for"] == base + "/api/sub/leaf/x"
    assert httpx.get(base + "/nothing", timeout=10).status_code == 404
