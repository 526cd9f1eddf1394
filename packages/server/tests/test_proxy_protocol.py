"""`--proxy-protocol` below the socket layer: the driver wrapper that turns a PROXY header into a
connection's client, server and scheme, and a real `Connection` built the way the worker builds
it for such a listener, on a fake transport (the wire itself is in tests/e2e/test_proxy_protocol.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from test_drivers import FakeTransport

from asgiserver import proxyproto
from asgiserver.server._config import Config
from asgiserver.server._drivers.base import InvalidProxyHeader, ProxiedEndpoints
from asgiserver.server._drivers.proxy_protocol import MAX_HEADER_BYTES, read_proxy_header
from asgiserver.server._process.worker import WorkerState

INET = ("inet", "stream", ("203.0.113.9", 50123), ("10.0.0.2", 443))


def test_v1() -> None:
    line = b"PROXY TCP4 203.0.113.9 10.0.0.2 50123 443\r\n"
    assert read_proxy_header(line + b"GET") == ProxiedEndpoints(
        len(line), True, ("203.0.113.9", 50123), ("10.0.0.2", 443), False
    )
    assert read_proxy_header(line[:-1]) is None


@pytest.mark.parametrize(("flags", "tls"), [(proxyproto.PP2_CLIENT_SSL, True), (0, False)])
def test_v2_ssl_flag_decides_the_scheme(flags: int, tls: bool) -> None:
    data = proxyproto.encode_v2("proxy", *INET, [proxyproto.ssl_tlv(flags)])  # type: ignore[arg-type]
    endpoints = read_proxy_header(data)
    assert endpoints is not None and endpoints.client_tls is tls
    assert endpoints.client == ("203.0.113.9", 50123)


@pytest.mark.parametrize(
    "data",
    [
        proxyproto.encode_v2("local", *INET),  # type: ignore[arg-type]
        proxyproto.encode_v2("proxy", "unspec", "unspec"),
        b"PROXY UNKNOWN\r\n",
    ],
)
def test_socket_endpoints_kept(data: bytes) -> None:
    assert read_proxy_header(data) == ProxiedEndpoints(len(data), False, None, None, False)


def test_unix_source() -> None:
    data = proxyproto.encode_v2("proxy", "unix", "stream", "/run/client", "/run/haproxy.sock")
    assert read_proxy_header(data) == ProxiedEndpoints(
        len(data), True, None, ("/run/haproxy.sock", None), False
    )


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",
        b"\x16\x03\x01",  # a TLS ClientHello with no header before it
        proxyproto.encode_v2("proxy", "inet", "dgram", ("1.2.3.4", 53), ("1.2.3.5", 53)),
        proxyproto.V2_SIGNATURE + b"\x21\x11" + (MAX_HEADER_BYTES).to_bytes(2, "big"),
    ],
)
def test_invalid(data: bytes) -> None:
    with pytest.raises(InvalidProxyHeader):
        read_proxy_header(data)


async def scope_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    fields = {k: scope[k] for k in ("client", "server", "scheme")}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(fields).encode()})


def served_scope(endpoints: ProxiedEndpoints | None, request: bytes, **options: Any) -> Any:
    async def main() -> Any:
        config = Config(app=scope_app, access_log=False, proxy_protocol=True, **options)
        state = WorkerState(config, scope_app, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport = FakeTransport()
        if endpoints is None:
            connection = state.protocol_factory()()
        else:
            connection = state.proxied_protocol_factory()(endpoints)
        connection.connection_made(transport)  # type: ignore[arg-type]
        connection.data_received(request)
        for _ in range(20):
            await asyncio.sleep(0)
        connection.connection_lost(None)
        state.stop_timers()
        return json.loads(bytes(transport.out).partition(b"\r\n\r\n")[2])

    return asyncio.run(main())


REQUEST = (
    b"GET / HTTP/1.1\r\nhost: x\r\nx-forwarded-for: 198.51.100.1\r\nx-forwarded-proto: http\r\n\r\n"
)


def test_connection_takes_the_header_addresses_and_scheme() -> None:
    endpoints = ProxiedEndpoints(0, True, ("203.0.113.9", 50123), ("10.0.0.2", 443), True)
    scope = served_scope(endpoints, REQUEST)
    # 203.0.113.9 is not in --forwarded-allow-ips: its X-Forwarded-* are not honoured.
    assert scope == {
        "client": ["203.0.113.9", 50123],
        "server": ["10.0.0.2", 443],
        "scheme": "https",
    }


def test_forwarded_headers_honoured_when_the_proxied_source_is_trusted() -> None:
    endpoints = ProxiedEndpoints(0, True, ("10.0.0.7", 50123), ("10.0.0.2", 80), False)
    scope = served_scope(endpoints, REQUEST, forwarded_allow_ips=("10.0.0.0/8",))
    assert scope["client"] == ["198.51.100.1", 0]


def test_local_keeps_the_socket() -> None:
    # The socket's peer (127.0.0.1, trusted by default) stays the peer: its X-Forwarded-For counts.
    scope = served_scope(ProxiedEndpoints(16, False, None, None, False), REQUEST)
    assert scope["client"] == ["198.51.100.1", 0]
    scope = served_scope(
        ProxiedEndpoints(16, False, None, None, False), REQUEST, forwarded_allow_ips=("10.0.0.1",)
    )
    assert scope == {
        "client": ["127.0.0.1", 40000],
        "server": ["127.0.0.1", 8000],
        "scheme": "http",
    }


def test_option(capsys: pytest.CaptureFixture[str]) -> None:
    from asgiserver.server._cli import build_parser, config_from_args, main

    def parsed(*argv: str) -> bool:
        return config_from_args(build_parser().parse_args(["mod:app", *argv]), {}).proxy_protocol

    assert (parsed(), parsed("--proxy-protocol"), parsed("--no-proxy-protocol")) == (
        False,
        True,
        False,
    )
    # uwsgi peers are nginx's uwsgi_pass, which sends no PROXY header.
    with pytest.raises(SystemExit) as info:
        main(["mod:app", "--proxy-protocol", "--protocol", "uwsgi"])
    assert info.value.code == 2
    assert "--proxy-protocol is for HTTP listeners" in capsys.readouterr().err
