"""Trusted proxy headers: only from trusted peers, right-most untrusted X-Forwarded-For entry."""

from __future__ import annotations

from typing import Any

import pytest

from asgiserver.server._asgi.proxy import ProxyHeaders, TrustedAddresses


def scope(headers: list[tuple[bytes, bytes]], kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "client": ("127.0.0.1", 5000), "scheme": "http", "headers": headers}


@pytest.mark.parametrize(
    ("trusted", "host", "expected"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "10.0.0.1", False),
        (["10.0.0.0/8"], "10.2.3.4", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["::1"], "::1", True),
        (["fd00::/8"], "fd12::1", True),
        (["*"], "203.0.113.9", True),
        (["10.0.0.0/8"], "not-an-ip", False),
    ],
)
def test_trusted_addresses(trusted: list[str], host: str, expected: bool) -> None:
    assert TrustedAddresses(trusted).trusts(host) is expected


def test_client_is_the_rightmost_untrusted_address() -> None:
    s = scope([(b"x-forwarded-for", b"203.0.113.1, 198.51.100.7, 127.0.0.1")])
    ProxyHeaders(["127.0.0.1"]).apply(s)
    assert s["client"] == ("198.51.100.7", 0)


def test_spoofed_leftmost_entry_is_ignored() -> None:
    s = scope([(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"198.51.100.7")])
    ProxyHeaders(["127.0.0.1"]).apply(s)
    assert s["client"] == ("198.51.100.7", 0)


def test_proto_sets_the_scheme_and_maps_websocket_schemes() -> None:
    s = scope([(b"x-forwarded-proto", b"https")])
    ProxyHeaders(["127.0.0.1"]).apply(s)
    assert s["scheme"] == "https"
    ws = scope([(b"x-forwarded-proto", b"https")], kind="websocket")
    ProxyHeaders(["127.0.0.1"]).apply(ws)
    assert ws["scheme"] == "wss"


def test_unknown_proto_is_ignored() -> None:
    s = scope([(b"x-forwarded-proto", b"gopher")])
    ProxyHeaders(["127.0.0.1"]).apply(s)
    assert s["scheme"] == "http"
