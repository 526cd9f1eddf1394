"""The opening handshake: RFC 6455 §4.2.1-§4.2.2, RFC 8441 §4-§5, RFC 7692 §5 and §7 negotiation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ws_helpers import KEY, handshake_headers

from asgiserver import ws
from asgiserver.ws import (
    DeflateOptions,
    ExtensionOffer,
    HandshakeRejection,
    HandshakeRequest,
    LocalProtocolError,
    PerMessageDeflate,
)


def valid(*extra: tuple[bytes, bytes]) -> HandshakeRequest:
    req = ws.validate_request(b"GET", b"1.1", handshake_headers(*extra))
    assert type(req) is HandshakeRequest, req
    return req


def rejected(
    headers: list[tuple[bytes, bytes]], method: bytes = b"GET", version: bytes = b"1.1"
) -> HandshakeRejection:
    result = ws.validate_request(method, version, headers)
    assert type(result) is HandshakeRejection, result
    return result


def without(name: bytes) -> list[tuple[bytes, bytes]]:
    return [(n, v) for n, v in handshake_headers() if n != name]


def replaced(name: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    return [(n, value if n == name else v) for n, v in handshake_headers()]


# -- RFC 6455 §4.2.1: reading the client's opening handshake ----------------------------------


class TestRFC6455Section4_2_1:
    def test_valid_request(self) -> None:
        req = valid((b"sec-websocket-protocol", b"chat, superchat"))
        assert req == HandshakeRequest(KEY, ["chat", "superchat"], [], 13, False)

    def test_item1_method_must_be_get(self) -> None:
        r = rejected(handshake_headers(), method=b"POST")
        assert (r.status, r.headers) == (400, [])
        assert "GET" in r.reason

    def test_item1_http_1_0_is_rejected(self) -> None:
        assert rejected(handshake_headers(), version=b"1.0").status == 400

    def test_item1_http_version_with_prefix_is_read(self) -> None:
        assert type(ws.validate_request(b"GET", b"HTTP/1.1", handshake_headers())) is (
            HandshakeRequest
        )

    def test_item1_malformed_http_version(self) -> None:
        assert rejected(handshake_headers(), version=b"one").status == 400

    def test_item3_upgrade_token_is_case_insensitive_in_a_list(self) -> None:
        headers = replaced(b"upgrade", b"h2c, WebSocket")
        assert type(ws.validate_request(b"GET", b"1.1", headers)) is HandshakeRequest

    def test_item3_upgrade_without_websocket(self) -> None:
        assert rejected(replaced(b"upgrade", b"h2c")).status == 400
        assert rejected(without(b"upgrade")).status == 400

    def test_item4_connection_upgrade_token_among_others(self) -> None:
        headers = [
            *without(b"connection"),
            (b"connection", b"keep-alive"),
            (b"connection", b"UPGRADE"),
        ]
        assert type(ws.validate_request(b"GET", b"1.1", headers)) is HandshakeRequest

    def test_item4_connection_without_upgrade(self) -> None:
        assert rejected(replaced(b"connection", b"keep-alive")).status == 400
        assert rejected(without(b"connection")).status == 400

    def test_item5_key_missing(self) -> None:
        assert rejected(without(b"sec-websocket-key")).status == 400

    def test_item5_key_repeated(self) -> None:
        r = rejected([*handshake_headers(), (b"sec-websocket-key", KEY)])
        assert r.status == 400
        assert "exactly one" in r.reason

    @pytest.mark.parametrize(
        "key",
        [
            b"dGhlIHNhbXBsZSBub25j",  # 15 bytes
            b"dGhlIHNhbXBsZSBub25jZQ",  # unpadded
            b"dGhlIHNhbXBsZSBub25jZQ==AA",  # trailing data
            b"dGhlIHNhbXBsZSBub25jZ!==",  # not base64
            b"",
        ],
    )
    def test_item5_key_must_be_base64_of_16_bytes(self, key: bytes) -> None:
        assert rejected(replaced(b"sec-websocket-key", key)).status == 400

    def test_item6_version_missing_is_426(self) -> None:
        r = rejected(without(b"sec-websocket-version"))
        assert (r.status, r.headers) == (426, [(b"sec-websocket-version", b"13")])

    @pytest.mark.parametrize("version", [b"8", b"13, 8", b"", b"14"])
    def test_item6_unsupported_version_is_426(self, version: bytes) -> None:
        r = rejected(replaced(b"sec-websocket-version", version))
        assert (r.status, r.headers) == (426, [(b"sec-websocket-version", b"13")])

    def test_item6_repeated_version_is_426(self) -> None:
        r = rejected([*handshake_headers(), (b"sec-websocket-version", b"13")])
        assert r.status == 426

    def test_item8_subprotocols_in_order_across_lines_empty_elements_skipped(self) -> None:
        req = valid(
            (b"sec-websocket-protocol", b"graphql-ws, ,"),
            (b"sec-websocket-protocol", b" v2.chat\t"),
        )
        assert req.subprotocols == ["graphql-ws", "v2.chat"]

    def test_item8_malformed_subprotocol(self) -> None:
        headers = handshake_headers((b"sec-websocket-protocol", b"chat room"))
        assert rejected(headers).status == 400

    def test_item9_extension_offers_parsed(self) -> None:
        req = valid(
            (
                b"sec-websocket-extensions",
                b'permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-foo',
            ),
            (b"sec-websocket-extensions", b"permessage-deflate;client_no_context_takeover"),
        )
        assert req.extensions == [
            ExtensionOffer(
                "permessage-deflate",
                (("client_max_window_bits", None), ("server_max_window_bits", "10")),
            ),
            ExtensionOffer("x-foo"),
            ExtensionOffer("permessage-deflate", (("client_no_context_takeover", None),)),
        ]

    def test_item9_quoted_pair_unescaped(self) -> None:
        req = valid((b"sec-websocket-extensions", b'x; a="\\1\\0"'))
        assert req.extensions == [ExtensionOffer("x", (("a", "10"),))]

    @pytest.mark.parametrize(
        "value",
        [
            b"permessage-deflate;",
            b"permessage-deflate; a=",
            b'permessage-deflate; a="b c"',
            b"permessage-deflate x",
            b'x; a="unterminated',
            b"; a",
        ],
    )
    def test_item9_malformed_extensions(self, value: bytes) -> None:
        assert rejected(handshake_headers((b"sec-websocket-extensions", value))).status == 400

    def test_other_headers_are_ignored(self) -> None:
        req = valid((b"origin", b"https://example.com"), (b"sec-websocket-foo", b"\x00"))
        assert req.key == KEY


# -- RFC 6455 §4.2.2: sending the server's opening handshake -----------------------------------


class TestRFC6455Section4_2_2:
    def test_accept_key_rfc_example(self) -> None:
        # §1.3's worked example.
        assert ws.accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    def test_response_headers_in_order(self) -> None:
        req = valid(
            (b"sec-websocket-protocol", b"chat, superchat"),
            (b"sec-websocket-extensions", b"permessage-deflate"),
        )
        resp = ws.accept(req, subprotocol="superchat", extra_headers=[(b"x-a", b"1")])
        assert resp.status == 101
        assert resp.headers == [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            (b"sec-websocket-protocol", b"superchat"),
            (b"sec-websocket-extensions", b"permessage-deflate"),
            (b"x-a", b"1"),
        ]
        assert resp.subprotocol == "superchat"
        assert resp.extensions == [PerMessageDeflate()]

    def test_minimal_response(self) -> None:
        resp = ws.accept(valid())
        assert resp.headers == [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ]
        assert (resp.subprotocol, resp.extensions) == (None, [])

    def test_subprotocol_must_have_been_offered(self) -> None:
        with pytest.raises(LocalProtocolError, match="not offered"):
            ws.accept(valid((b"sec-websocket-protocol", b"chat")), subprotocol="superchat")

    def test_deflate_none_declines_compression(self) -> None:
        req = valid((b"sec-websocket-extensions", b"permessage-deflate"))
        resp = ws.accept(req, deflate=None)
        assert resp.extensions == []
        assert all(name != b"sec-websocket-extensions" for name, _ in resp.headers)


# -- RFC 8441: WebSocket over HTTP/2 (extended CONNECT) ---------------------------------------


class TestRFC8441:
    H2 = (
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":path", b"/chat"),
        (b":authority", b"example.com"),
        (b"sec-websocket-version", b"13"),
    )

    def test_section4_extended_connect_accepted_without_key(self) -> None:
        req = ws.validate_request(b"CONNECT", b"2", self.H2)
        assert req == HandshakeRequest(b"", [], [], 13, True)

    def test_section4_needs_connect(self) -> None:
        assert rejected(list(self.H2), method=b"GET", version=b"2").status == 400

    def test_section4_needs_protocol_websocket(self) -> None:
        headers = [(n, v) for n, v in self.H2 if n != b":protocol"]
        assert rejected(headers, method=b"CONNECT", version=b"2.0").status == 400

    def test_section5_response_is_200_without_upgrade_headers(self) -> None:
        req = ws.validate_request(
            b"CONNECT", b"2", [*self.H2, (b"sec-websocket-extensions", b"permessage-deflate")]
        )
        assert type(req) is HandshakeRequest
        resp = ws.accept(req)
        assert resp.status == 200
        assert resp.headers == [(b"sec-websocket-extensions", b"permessage-deflate")]


# -- RFC 7692 §5 and §7: permessage-deflate negotiation ----------------------------------------


def negotiate(
    offer: bytes, options: DeflateOptions | None = None
) -> tuple[list[PerMessageDeflate], bytes | None]:
    req = valid((b"sec-websocket-extensions", offer))
    resp = ws.accept(req, deflate=options or DeflateOptions())
    value = dict(resp.headers).get(b"sec-websocket-extensions")
    return resp.extensions, value


class TestRFC7692Section5:
    def test_first_acceptable_offer_wins(self) -> None:
        agreed, value = negotiate(
            b"x-unknown, permessage-deflate; foo, "
            b"permessage-deflate; server_max_window_bits=10, permessage-deflate"
        )
        assert value == b"permessage-deflate; server_max_window_bits=10"
        assert agreed == [PerMessageDeflate(server_max_window_bits=10)]

    def test_no_offer_no_extension(self) -> None:
        assert negotiate(b"x-webkit-deflate-frame") == ([], None)


class TestRFC7692Section7:
    @pytest.mark.parametrize(
        "offer",
        [
            b"permessage-deflate; foo",
            b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            b"permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            b"permessage-deflate; server_no_context_takeover=1",
            b"permessage-deflate; client_no_context_takeover=yes",
            b"permessage-deflate; server_max_window_bits",
            b"permessage-deflate; server_max_window_bits=7",
            b"permessage-deflate; server_max_window_bits=16",
            b"permessage-deflate; server_max_window_bits=010",
            b"permessage-deflate; client_max_window_bits=abc",
        ],
    )
    def test_invalid_offer_is_declined_not_failed(self, offer: bytes) -> None:
        assert negotiate(offer) == ([], None)

    def test_7_1_1_1_server_no_context_takeover_requested(self) -> None:
        agreed, value = negotiate(b"permessage-deflate; server_no_context_takeover")
        assert value == b"permessage-deflate; server_no_context_takeover"
        assert agreed[0].server_no_context_takeover

    def test_7_1_1_1_server_no_context_takeover_imposed(self) -> None:
        options = DeflateOptions(server_no_context_takeover=True)
        assert negotiate(b"permessage-deflate", options)[1] == (
            b"permessage-deflate; server_no_context_takeover"
        )

    def test_7_1_1_2_client_no_context_takeover_hint_taken(self) -> None:
        agreed, value = negotiate(b"permessage-deflate; client_no_context_takeover")
        assert value == b"permessage-deflate; client_no_context_takeover"
        assert agreed[0].client_no_context_takeover

    def test_7_1_1_2_client_no_context_takeover_requested(self) -> None:
        options = DeflateOptions(client_no_context_takeover=True)
        agreed, value = negotiate(b"permessage-deflate", options)
        assert value == b"permessage-deflate; client_no_context_takeover"
        assert agreed[0].client_no_context_takeover

    def test_7_1_2_1_server_window_same_or_smaller(self) -> None:
        assert negotiate(b"permessage-deflate; server_max_window_bits=14")[1] == (
            b"permessage-deflate; server_max_window_bits=14"
        )
        options = DeflateOptions(server_max_window_bits=11)
        agreed, value = negotiate(b"permessage-deflate; server_max_window_bits=14", options)
        assert value == b"permessage-deflate; server_max_window_bits=11"
        assert agreed[0].server_max_window_bits == 11

    def test_7_1_2_1_server_window_smaller_than_asked_is_not_announced(self) -> None:
        # A larger inflate window always decodes a smaller deflate window.
        agreed, value = negotiate(b"permessage-deflate", DeflateOptions(server_max_window_bits=10))
        assert value == b"permessage-deflate"
        assert agreed[0].server_max_window_bits == 10

    def test_7_1_2_1_server_window_8_declined_zlib_cannot(self) -> None:
        agreed, value = negotiate(
            b"permessage-deflate; server_max_window_bits=8, permessage-deflate"
        )
        assert value == b"permessage-deflate"
        assert agreed == [PerMessageDeflate()]

    def test_7_1_2_2_client_window_limited_when_supported(self) -> None:
        options = DeflateOptions(client_max_window_bits=12)
        agreed, value = negotiate(b"permessage-deflate; client_max_window_bits", options)
        assert value == b"permessage-deflate; client_max_window_bits=12"
        assert agreed[0].client_max_window_bits == 12

    def test_7_1_2_2_client_window_value_is_a_hint_we_make_binding(self) -> None:
        agreed, value = negotiate(b"permessage-deflate; client_max_window_bits=10")
        assert value == b"permessage-deflate; client_max_window_bits=10"
        assert agreed[0].client_max_window_bits == 10

    def test_7_1_2_2_client_window_15_needs_no_parameter(self) -> None:
        assert negotiate(b"permessage-deflate; client_max_window_bits")[1] == b"permessage-deflate"

    def test_7_1_2_2_cannot_limit_client_that_did_not_offer(self) -> None:
        options = DeflateOptions(client_max_window_bits=10)
        assert negotiate(b"permessage-deflate", options) == ([], None)

    def test_all_parameters_together(self) -> None:
        agreed, value = negotiate(
            b"permessage-deflate; client_max_window_bits=9; server_max_window_bits=12; "
            b"client_no_context_takeover; server_no_context_takeover"
        )
        assert value == (
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            b"server_max_window_bits=12; client_max_window_bits=9"
        )
        assert agreed == [PerMessageDeflate(True, True, 12, 9)]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"server_max_window_bits": 8},
            {"server_max_window_bits": 16},
            {"client_max_window_bits": 7},
            {"compression_level": 10},
            {"mem_level": 0},
        ],
    )
    def test_options_validated(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(ValueError):
            DeflateOptions(**kwargs)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            PerMessageDeflate(**kwargs)  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------------------

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8)
ows = st.sampled_from(["", " ", "\t", "  "])
offers = st.lists(
    st.builds(
        ExtensionOffer,
        tokens,
        st.lists(st.tuples(tokens, st.none() | tokens), max_size=4).map(tuple),
    ),
    max_size=5,
)


@given(offers=offers, data=st.data())
def test_extension_offers_round_trip(offers: list[ExtensionOffer], data: st.DataObject) -> None:
    """Offers written with any optional whitespace, quoting and line split parse back (§9.1)."""
    elements = []
    for offer in offers:
        text = offer.name
        for name, value in offer.params:
            text += f"{data.draw(ows)};{data.draw(ows)}{name}"
            if value is not None:
                if data.draw(st.booleans()):
                    value = (
                        '"'
                        + "".join(data.draw(st.sampled_from(["", "\\"])) + c for c in value)
                        + '"'
                    )
                text += f"{data.draw(ows)}={data.draw(ows)}{value}"
        elements.append(text + data.draw(ows))
    cut = data.draw(st.integers(0, len(elements)))
    lines = [", ".join(elements[:cut]), ",".join(elements[cut:])]
    headers = [(b"sec-websocket-extensions", line.encode()) for line in lines]
    assert valid(*headers).extensions == offers


@given(
    method=st.sampled_from([b"GET", b"CONNECT", b"get", b""]),
    version=st.sampled_from([b"1.1", b"1.0", b"2", b"HTTP/1.1", b"x"]),
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    b"upgrade",
                    b"connection",
                    b"sec-websocket-key",
                    b"sec-websocket-version",
                    b"sec-websocket-protocol",
                    b"sec-websocket-extensions",
                    b":protocol",
                    b"host",
                ]
            ),
            st.binary(max_size=30) | st.sampled_from([b"websocket", b"Upgrade", KEY, b"13"]),
        ),
        max_size=10,
    ),
)
def test_any_request_is_accepted_or_rejected(
    method: bytes, version: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """validate_request is total: it returns a decision and never raises."""
    result = ws.validate_request(method, version, handshake_headers() + headers)
    assert type(result) in (HandshakeRequest, HandshakeRejection)
    if type(result) is HandshakeRejection:
        assert result.status in (400, 426)
    else:
        ws.accept(result)
