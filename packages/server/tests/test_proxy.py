"""Trusted proxies: which peers are trusted, the X-Forwarded-* and RFC 7239 Forwarded parsers, the
right-to-left walk, and that no header bytes ever raise."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from asgiserver.server._asgi.proxy import (
    MalformedHeader,
    ProxyHeaders,
    TrustedAddresses,
    forwarded_node,
    parse_forwarded,
)
from asgiserver.server._asgi.scope import ScopeBuilder
from asgiserver.server._config import trusted_peer

Headers = list[tuple[bytes, bytes]]
PEER = ("127.0.0.1", 5000)
SERVER = ("127.0.0.1", 8000)


def scope(
    headers: Headers, kind: str = "http", client: Any = PEER, server: Any = SERVER
) -> dict[str, Any]:
    return {
        "type": kind,
        "client": client,
        "server": server,
        "scheme": "ws" if kind == "websocket" else "http",
        "root_path": "",
        "path": "/items",
        "raw_path": b"/items",
        "headers": headers,
    }


def xf(headers: Headers, trusted: tuple[str, ...] = ("127.0.0.1",), **kw: Any) -> dict[str, Any]:
    s = scope([(b"host", b"internal:8000"), *headers], **kw)
    ProxyHeaders(trusted).apply(s)
    return s


def fw(value: bytes, trusted: tuple[str, ...] = ("127.0.0.1",), **kw: Any) -> dict[str, Any]:
    s = scope([(b"host", b"internal:8000"), (b"forwarded", value)], **kw)
    ProxyHeaders(trusted, "forwarded").apply(s)
    return s


# ---- trusted peers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "host", "expected"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "10.0.0.1", False),
        (["10.0.0.0/8"], "10.2.3.4", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["::1"], "::1", True),
        (["0:0::1"], "::1", True),  # entries are canonicalised
        (["fd00::/8"], "fd12::1", True),
        (["10.0.0.0/8"], "::ffff:10.1.1.1", True),  # an IPv4 peer on a dual-stack socket
        (["127.0.0.1"], "::ffff:127.0.0.1", True),
        (["*"], "203.0.113.9", True),
        (["10.0.0.0/8"], "not-an-ip", False),
        (["unix"], "127.0.0.1", False),
    ],
)
def test_trusted_addresses(trusted: list[str], host: str, expected: bool) -> None:
    assert TrustedAddresses(trusted).trusts(host) is expected


@pytest.mark.parametrize(
    ("trusted", "unix"), [(["unix"], True), (["*"], True), (["127.0.0.1", "::1"], False)]
)
def test_unix_socket_peers(trusted: list[str], unix: bool) -> None:
    builder = ScopeBuilder("", {}, ProxyHeaders(trusted))
    assert builder.trusts_peer(None) is unix


@pytest.mark.parametrize("entry", ["10.0.0.0/8", "::1", "*", "unix", "192.0.2.1"])
def test_option_accepts(entry: str) -> None:
    assert trusted_peer(entry) == entry


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "localhost", "10.0.0.l", "unix:/run/x"])
def test_option_refuses(entry: str) -> None:
    with pytest.raises(ValueError, match="expected an address"):
        trusted_peer(entry)


# ---- X-Forwarded-* -------------------------------------------------------------------------------


def test_client_is_the_rightmost_untrusted_address() -> None:
    s = xf([(b"x-forwarded-for", b"203.0.113.1, 198.51.100.7, 127.0.0.1")])
    assert s["client"] == ("198.51.100.7", 0)


def test_several_lines_are_one_list() -> None:
    s = xf([(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"198.51.100.7")])
    assert s["client"] == ("198.51.100.7", 0)


def test_all_trusted_gives_the_leftmost() -> None:
    s = xf([(b"x-forwarded-for", b"10.0.0.1, 10.0.0.2")], ("127.0.0.1", "10.0.0.0/8"))
    assert s["client"] == ("10.0.0.1", 0)


def test_trusted_hops_are_skipped_with_networks() -> None:
    s = xf([(b"x-forwarded-for", b"1.1.1.1, 203.0.113.7, 10.0.0.2")], ("10.0.0.0/8", "127.0.0.1"))
    assert s["client"] == ("203.0.113.7", 0)


@pytest.mark.parametrize(
    ("value", "client"),
    [
        (b"2001:db8::1", ("2001:db8::1", 0)),
        (b"[2001:db8::1]:4711", ("2001:db8::1", 4711)),
        (b"2001:DB8:0::1", ("2001:db8::1", 0)),  # canonical text
        (b"192.0.2.60:8080", ("192.0.2.60", 8080)),  # Azure-style address:port
        (b" , 192.0.2.60 ,, ", ("192.0.2.60", 0)),  # empty list elements (RFC 9110 §5.6.1)
    ],
)
def test_forwarded_for_forms(value: bytes, client: tuple[str, int]) -> None:
    assert xf([(b"x-forwarded-for", value)])["client"] == client


@pytest.mark.parametrize("value", [b"unknown", b"_hidden", b"_hidden:_port"])
def test_unknown_or_hidden_client_is_the_reporting_proxy(value: bytes) -> None:
    assert xf([(b"x-forwarded-for", value)])["client"] == PEER
    s = xf([(b"x-forwarded-for", value + b", 10.0.0.5")], ("127.0.0.1", "10.0.0.5"))
    assert s["client"] == ("10.0.0.5", 0)


def test_garbage_left_of_the_client_is_never_looked_at() -> None:
    # A client's own X-Forwarded-For, with the proxy's entry appended: only the walk's part counts.
    s = xf([(b"x-forwarded-for", b"<script>, not an address, 198.51.100.7")])
    assert s["client"] == ("198.51.100.7", 0)


def test_proto_sets_the_scheme_and_maps_websocket_schemes() -> None:
    assert xf([(b"x-forwarded-proto", b"https")])["scheme"] == "https"
    assert xf([(b"x-forwarded-proto", b"HTTPS")])["scheme"] == "https"
    assert xf([(b"x-forwarded-proto", b"wss")])["scheme"] == "https"
    assert xf([(b"x-forwarded-proto", b"https")], kind="websocket")["scheme"] == "wss"
    assert xf([(b"x-forwarded-proto", b"http")], kind="websocket")["scheme"] == "ws"
    assert xf([(b"x-forwarded-proto", b"http, https")])["scheme"] == "https"  # the rightmost


def test_unknown_proto_is_ignored() -> None:
    assert xf([(b"x-forwarded-proto", b"gopher")])["scheme"] == "http"


def test_host_replaces_the_host_header() -> None:
    s = xf([(b"x-forwarded-host", b"example.com:8443"), (b"x-forwarded-for", b"192.0.2.1")])
    assert (b"host", b"example.com:8443") in s["headers"]
    assert (b"host", b"internal:8000") not in s["headers"]
    assert s["client"] == ("192.0.2.1", 0)


def test_host_is_added_when_missing() -> None:
    s = scope([(b"x-forwarded-host", b"[2001:db8::1]")])
    ProxyHeaders(["127.0.0.1"]).apply(s)
    assert s["headers"][0] == (b"host", b"[2001:db8::1]")


def test_port_sets_the_server_port() -> None:
    assert xf([(b"x-forwarded-port", b"443")])["server"] == ("127.0.0.1", 443)


def test_port_on_a_unix_socket_names_the_forwarded_host() -> None:
    s = xf(
        [(b"x-forwarded-host", b"example.com"), (b"x-forwarded-port", b"443")],
        ("unix",),
        client=None,
        server=("/run/app.sock", None),
    )
    assert s["server"] == ("example.com", 443)


def test_prefix_goes_in_front_of_root_path_path_and_raw_path() -> None:
    s = xf([(b"x-forwarded-prefix", b"/api/")])
    assert (s["root_path"], s["path"], s["raw_path"]) == ("/api", "/api/items", b"/api/items")
    s = xf([(b"x-forwarded-prefix", b"/my%20app")])
    assert (s["root_path"], s["path"], s["raw_path"]) == (
        "/my app",
        "/my app/items",
        b"/my%20app/items",
    )
    assert xf([(b"x-forwarded-prefix", b"/")])["path"] == "/items"


def test_prefix_with_a_root_path_option() -> None:
    builder = ScopeBuilder("/v1", {}, ProxyHeaders(["127.0.0.1"]))
    s = builder.http(
        b"GET",
        b"/items?x=1",
        "1.1",
        [(b"x-forwarded-prefix", b"/api")],
        "http",
        PEER,
        SERVER,
        True,
        {},
    )
    assert (s["root_path"], s["path"], s["raw_path"]) == (
        "/api/v1",
        "/api/v1/items",
        b"/api/v1/items",
    )


@pytest.mark.parametrize(
    "header",
    [
        (b"x-forwarded-for", b"203.0.113.9"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"evil.example"),
        (b"x-forwarded-port", b"443"),
        (b"x-forwarded-prefix", b"/evil"),
        (b"forwarded", b"for=203.0.113.9;proto=https;host=evil.example"),
    ],
)
def test_untrusted_peer_changes_nothing(header: tuple[bytes, bytes]) -> None:
    for style in ("x-forwarded", "forwarded"):
        builder = ScopeBuilder("", {}, ProxyHeaders(["10.0.0.1"], style))  # type: ignore[arg-type]
        peer = ("198.51.100.1", 4000)
        headers = [(b"host", b"app"), header]
        trusted = builder.trusts_peer(peer)
        assert not trusted
        s = builder.http(b"GET", b"/x", "1.1", list(headers), "http", peer, SERVER, trusted, {})
        assert s["client"] == peer and s["scheme"] == "http" and s["server"] == SERVER
        assert (s["root_path"], s["path"]) == ("", "/x")
        assert s["headers"] == headers


def test_the_other_family_is_never_trusted() -> None:
    s = xf([(b"forwarded", b"for=203.0.113.9;proto=https")])
    assert s["client"] == PEER and s["scheme"] == "http"
    s = fw(b"for=203.0.113.9")
    s2 = scope([(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https")])
    ProxyHeaders(["127.0.0.1"], "forwarded").apply(s2)
    assert s2["client"] == PEER and s2["scheme"] == "http"
    assert s["client"] == ("203.0.113.9", 0)


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-forwarded-for", b"not-an-address")],
        [(b"x-forwarded-for", b"1.2.3.4:99999")],
        [(b"x-forwarded-for", b"[::1")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-proto", b"ht tp")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-host", b"a b")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-host", b"")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-port", b"0")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-port", b"http")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-prefix", b"api")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-prefix", b"/a?b")],
        [(b"x-forwarded-for", b"192.0.2.1"), (b"x-forwarded-prefix", b"/a\xff")],
    ],
)
def test_malformed_headers_are_ignored_as_a_whole(headers: Headers) -> None:
    s = xf(headers)
    assert s["client"] == PEER and s["scheme"] == "http" and s["path"] == "/items"
    assert (b"host", b"internal:8000") in s["headers"]


def test_malformed_is_logged_once_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    proxy = ProxyHeaders(["127.0.0.1"])
    with caplog.at_level(logging.DEBUG, "asgiserver.error"):
        for _ in range(3):
            proxy.apply(scope([(b"x-forwarded-for", b"bogus")]))
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "bogus" in caplog.records[0].getMessage()


# ---- RFC 7239 Forwarded --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "elements"),
    [
        # §4 and §7.1 examples
        (b'for="_gazonk"', [{"for": "_gazonk"}]),
        (b'For="[2001:db8:cafe::17]:4711"', [{"for": "[2001:db8:cafe::17]:4711"}]),
        (
            b"for=192.0.2.60;proto=http;by=203.0.113.43",
            [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}],
        ),
        (b"for=192.0.2.43, for=198.51.100.17", [{"for": "192.0.2.43"}, {"for": "198.51.100.17"}]),
        (b'for="a\\"b;c,d"', [{"for": 'a"b;c,d'}]),  # quoted-pair, separators inside quotes
        (b"for=1.2.3.4 ; proto=https ,, ", [{"for": "1.2.3.4", "proto": "https"}]),
        (b";;for=1.2.3.4;", [{"for": "1.2.3.4"}]),  # empty pairs
        (b"", []),
        (b"ext=1", [{"ext": "1"}]),  # extension parameters are kept, and unused
    ],
)
def test_forwarded_grammar(value: bytes, elements: list[dict[str, str]]) -> None:
    assert parse_forwarded(value) == elements


@pytest.mark.parametrize(
    "value",
    [
        b"for=[2001:db8::1]",  # "[" is not a token character: it must be quoted
        b"for=1.2.3.4;for=5.6.7.8",  # a parameter twice in one element (§4)
        b'for="unterminated',
        b"for = 1.2.3.4",  # no whitespace around "="
        b"for=1.2.3.4 proto=http",
        b"=x",
        b"for=",
    ],
)
def test_forwarded_grammar_errors(value: bytes) -> None:
    with pytest.raises(MalformedHeader):
        parse_forwarded(value)


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("192.0.2.43", ("192.0.2.43", 0)),
        ("192.0.2.43:47011", ("192.0.2.43", 47011)),
        ("[2001:db8:cafe::17]", ("2001:db8:cafe::17", 0)),
        ("[2001:db8:cafe::17]:4711", ("2001:db8:cafe::17", 4711)),
        ("192.0.2.43:_port", ("192.0.2.43", 0)),
        ("unknown", None),
        ("UNKNOWN:80", None),
        ("_hidden", None),
        ("_SEVKISEK", None),
    ],
)
def test_nodes(text: str, node: Any) -> None:
    assert forwarded_node(text) == node


@pytest.mark.parametrize(
    "text",
    ["2001:db8::1", "[2001:db8::1", "[1.2.3.4]", "host.example", "1.2.3.4:65536", "_", "1.2.3.4:"],
)
def test_node_errors(text: str) -> None:
    with pytest.raises(MalformedHeader):
        forwarded_node(text)


def test_forwarded_client_proto_host_and_by() -> None:
    s = fw(b'for="[2001:db8::1]:4711";proto=https;host=example.com;by="203.0.113.43:443"')
    assert s["client"] == ("2001:db8::1", 4711)
    assert s["scheme"] == "https"
    assert (b"host", b"example.com") in s["headers"]
    assert s["server"] == ("203.0.113.43", 443)


def test_forwarded_walk_uses_the_element_that_names_the_client() -> None:
    value = b"for=198.51.100.1;proto=https;host=example.com, for=10.0.0.2;proto=http;host=lb"
    s = fw(value, ("127.0.0.1", "10.0.0.0/8"))
    assert s["client"] == ("198.51.100.1", 0)
    assert s["scheme"] == "https" and (b"host", b"example.com") in s["headers"]


def test_forwarded_spoofed_leftmost_element_is_ignored() -> None:
    s = fw(b"for=1.1.1.1, for=198.51.100.1;proto=https")
    assert s["client"] == ("198.51.100.1", 0) and s["scheme"] == "https"


@pytest.mark.parametrize("value", [b"for=unknown", b"for=_hidden", b"proto=https"])
def test_forwarded_unknown_client_is_the_proxy_itself(value: bytes) -> None:
    s = fw(value)
    assert s["client"] == PEER
    s = fw(value + b", for=10.0.0.5", ("127.0.0.1", "10.0.0.5"))
    assert s["client"] == ("10.0.0.5", 0)


def test_forwarded_lines_join_in_order() -> None:
    s = scope([(b"forwarded", b"for=1.1.1.1"), (b"forwarded", b"for=198.51.100.1")])
    ProxyHeaders(["127.0.0.1"], "forwarded").apply(s)
    assert s["client"] == ("198.51.100.1", 0)


@pytest.mark.parametrize(
    "value",
    [
        b"for=2001:db8::1",  # token with ":" is not a valid node... and not a token at all
        b'for="2001:db8::1"',  # IPv6 without brackets
        b"for=198.51.100.1;proto=ht_tp",
        b"for=198.51.100.1;host=a/b",
        b"for=198.51.100.1;by=nonsense",
        b"for=1.2.3.4;for=5.6.7.8",
    ],
)
def test_forwarded_malformed_is_ignored(value: bytes) -> None:
    s = fw(value)
    assert s["client"] == PEER and s["scheme"] == "http" and s["server"] == SERVER


# ---- totality ------------------------------------------------------------------------------------

NAMES = [b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port"]
NAMES += [b"x-forwarded-prefix", b"forwarded", b"host"]
FRAGMENTS = [b"for=", b"proto=", b"host=", b"by=", b'"', b"[", b"]", b":", b";", b",", b"_x"]
FRAGMENTS += [b"unknown", b"::1", b"1.2.3.4", b"\\", b" ", b"https", b"/", b"%", b"\xff", b"\x00"]
values = st.one_of(
    st.binary(max_size=60),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(b"".join),
)


@given(
    headers=st.lists(st.tuples(st.sampled_from(NAMES), values), max_size=6),
    style=st.sampled_from(["x-forwarded", "forwarded"]),
    kind=st.sampled_from(["http", "websocket"]),
    unix=st.booleans(),
)
@example(
    headers=[(b"forwarded", b'for="[::1]:_x";by="[::1]:80"')],
    style="forwarded",
    kind="http",
    unix=False,
)
@example(headers=[(b"x-forwarded-port", b"80")], style="x-forwarded", kind="http", unix=True)
def test_random_header_bytes_never_raise(
    headers: Headers, style: Any, kind: str, unix: bool
) -> None:
    s = scope(
        headers,
        kind,
        client=None if unix else PEER,
        server=("/run/app.sock", None) if unix else SERVER,
    )
    ProxyHeaders(["127.0.0.1", "::1", "unix"], style).apply(s)
    client = s["client"]
    assert client is None or (isinstance(client[0], str) and isinstance(client[1], int))
    assert isinstance(s["path"], str) and isinstance(s["raw_path"], bytes)
    assert s["path"].endswith("/items") and s["raw_path"].endswith(b"/items")
    assert all(isinstance(n, bytes) and isinstance(v, bytes) for n, v in s["headers"])


def test_forwarded_broken_client_line_before_the_proxy_line() -> None:
    # The client's own unparsable line, passed through, then the proxy's: the walk stops first.
    s = scope([(b"forwarded", b'for="unterminated'), (b"forwarded", b"for=198.51.100.1")])
    ProxyHeaders(["127.0.0.1"], "forwarded").apply(s)
    assert s["client"] == ("198.51.100.1", 0)
    # ...unless the walk has to go past it: then the header is ignored as a whole.
    s = scope([(b"forwarded", b'for="unterminated'), (b"forwarded", b"for=10.0.0.1")])
    ProxyHeaders(["127.0.0.1", "10.0.0.0/8"], "forwarded").apply(s)
    assert s["client"] == PEER
