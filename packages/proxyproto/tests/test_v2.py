"""Version 2, the binary header (section 2.2): families, commands, TLVs and every way the bytes can
be wrong, each found as soon as the bytes show it."""

from __future__ import annotations

import pytest

from asgiserver.proxyproto import (
    PP2_CLIENT_CERT_CONN,
    PP2_CLIENT_SSL,
    PP2_TYPE_ALPN,
    PP2_TYPE_AUTHORITY,
    PP2_TYPE_CRC32C,
    PP2_TYPE_NETNS,
    PP2_TYPE_NOOP,
    PP2_TYPE_SSL,
    PP2_TYPE_UNIQUE_ID,
    V2_SIGNATURE,
    ProxyProtocolError,
    SSLInfo,
    encode_ssl,
    encode_v2,
    parse,
    ssl_tlv,
    tlv,
)

INET = ("inet", "stream", ("192.0.2.1", 51000), ("198.51.100.7", 443))


def fixed(ver_cmd: int = 0x21, family: int = 0x11, length: int = 12) -> bytes:
    return V2_SIGNATURE + bytes([ver_cmd, family]) + length.to_bytes(2, "big")


def test_inet_with_tlvs() -> None:
    data = encode_v2(
        "proxy",
        *INET,  # type: ignore[arg-type]
        [
            (PP2_TYPE_ALPN, b"h2"),
            (PP2_TYPE_AUTHORITY, "bücher.example".encode()),
            (PP2_TYPE_NOOP, b"\x00\x00"),
            (PP2_TYPE_UNIQUE_ID, b"u" * 128),
            ssl_tlv(PP2_CLIENT_SSL, 0, version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256"),
            (PP2_TYPE_NETNS, b"blue"),
            (0xE0, b"custom"),
        ],
    )
    header = parse(data + b"\x16\x03\x01")
    assert header is not None
    assert header.length == len(data)
    assert (header.version, header.command, header.family, header.transport) == (
        2,
        "proxy",
        "inet",
        "stream",
    )
    assert header.source == ("192.0.2.1", 51000)
    assert header.destination == ("198.51.100.7", 443)
    assert header.alpn == b"h2"
    assert header.authority == "bücher.example"
    assert header.unique_id == b"u" * 128
    assert header.netns == "blue"
    assert header.ssl == SSLInfo(1, 0, "TLSv1.3", None, "TLS_AES_128_GCM_SHA256")
    assert header.client_tls and header.relayed
    assert [kind for kind, _ in header.tlvs] == [1, 2, 5, 0x20, 0x30, 0xE0]  # NOOP dropped


def test_send_proxy_v2_ssl_for_a_plain_client() -> None:
    # HAProxy's send-proxy-v2-ssl: the SSL TLV comes for a plain client too, PP2_CLIENT_SSL clear.
    header = parse(encode_v2("proxy", *INET, [ssl_tlv(0, 1)]))  # type: ignore[arg-type]
    assert header is not None and header.ssl == SSLInfo(0, 1)
    assert not header.client_tls and not header.ssl.client_cert
    cert = parse(
        encode_v2("proxy", *INET, [ssl_tlv(PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN, 0, cn="Zoë")])
    )  # type: ignore[arg-type]
    assert cert is not None and cert.ssl is not None
    assert cert.client_tls and cert.ssl.client_cert and cert.ssl.cn == "Zoë"


def test_inet6_and_unix() -> None:
    six = parse(encode_v2("proxy", "inet6", "stream", ("2001:db8::1", 1), ("::ffff:10.0.0.1", 2)))
    assert six is not None and six.source == ("2001:db8::1", 1)
    assert six.destination == ("::ffff:10.0.0.1", 2)
    unix = parse(encode_v2("proxy", "unix", "stream", "/run/a.sock", "\x00abstract"))
    assert unix is not None and (unix.family, unix.source, unix.destination) == (
        "unix",
        "/run/a.sock",
        "\x00abstract",
    )
    assert unix.length == 16 + 216
    dgram = parse(encode_v2("proxy", "inet", "dgram", ("192.0.2.1", 53), ("192.0.2.2", 53)))
    assert dgram is not None and dgram.transport == "dgram"


def test_local_and_unspec_keep_the_connection_endpoints() -> None:
    local = parse(fixed(0x20, 0x00, 0))
    assert local is not None
    assert (local.command, local.family, local.source, local.length) == (
        "local",
        "unspec",
        None,
        16,
    )
    # LOCAL with addresses: "discard the protocol block", but TLVs after it are still read.
    local_inet = parse(encode_v2("local", *INET, [(PP2_TYPE_ALPN, b"h2")]))  # type: ignore[arg-type]
    assert local_inet is not None
    assert (local_inet.source, local_inet.destination, local_inet.alpn) == (None, None, b"h2")
    unspec = parse(encode_v2("proxy", "unspec", "unspec", tlvs=[(PP2_TYPE_UNIQUE_ID, b"id")]))
    assert unspec is not None and not unspec.relayed and unspec.unique_id == b"id"


def test_address_block_longer_than_the_family_needs_is_tlvs() -> None:
    data = fixed(length=12 + 3) + bytes(12) + tlv(PP2_TYPE_NOOP, b"")
    header = parse(data)
    assert header is not None and header.source == ("0.0.0.0", 0) and header.tlvs == ()


def test_crc32c() -> None:
    data = encode_v2("proxy", *INET, [(PP2_TYPE_ALPN, b"h2")], checksum=True)  # type: ignore[arg-type]
    header = parse(data)
    assert header is not None and header.tlvs[-1][0] == PP2_TYPE_CRC32C
    # RFC 4960 Appendix B / iSCSI test vector: 32 bytes of zeroes give 0x8A9136AA.
    from asgiserver.proxyproto._crc32c import crc32c

    assert crc32c(bytes(32)) == 0x8A9136AA
    flipped = bytearray(data)
    flipped[17] ^= 1  # an address bit
    with pytest.raises(ProxyProtocolError, match="CRC32C"):
        parse(bytes(flipped))
    with pytest.raises(ProxyProtocolError, match="CRC32C"):
        parse(encode_v2("proxy", *INET, [(PP2_TYPE_CRC32C, b"\x00")]))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", range(28))
def test_every_prefix_needs_more(size: int) -> None:
    data = encode_v2("proxy", *INET)  # type: ignore[arg-type]
    assert len(data) == 28
    assert parse(data[:size]) is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\r\n\r\n\x01", "not a PROXY"),  # wrong signature, found at its 5th byte
        (V2_SIGNATURE[:11] + b"X", "not a PROXY"),
        (V2_SIGNATURE + b"\x11", "version"),  # version 1 in a binary header
        (V2_SIGNATURE + b"\x31", "version"),
        (V2_SIGNATURE + b"\x22", "command"),
        (V2_SIGNATURE + b"\x2f", "command"),
        (V2_SIGNATURE + b"\x21\x41", "family"),  # AF 4
        (V2_SIGNATURE + b"\x21\x13", "family"),  # transport 3
        (V2_SIGNATURE + b"\x21\x10", "family"),  # AF_INET with UNSPEC transport
        (V2_SIGNATURE + b"\x21\x01", "family"),
        (fixed(length=11), "too short"),  # AF_INET needs 12
        (fixed(family=0x21, length=35), "too short"),
        (fixed(family=0x31, length=215), "too short"),
        (fixed(length=4096 - 15), "limit"),
        (fixed(length=0xFFFF), "limit"),
    ],
)
def test_malformed_fails_as_soon_as_seen(data: bytes, match: str) -> None:
    with pytest.raises(ProxyProtocolError, match=match):
        parse(data)


def test_limit_is_the_callers() -> None:
    data = fixed(length=12 + 3 + 5000) + bytes(12) + tlv(0xE1, bytes(5000))
    with pytest.raises(ProxyProtocolError, match="limit"):
        parse(data)
    header = parse(data, max_length=65551)
    assert header is not None and header.length == len(data)


def with_tlvs(raw: bytes) -> bytes:
    return fixed(length=12 + len(raw)) + bytes(12) + raw


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x01", "cut short"),
        (b"\x01\x00", "cut short"),
        (b"\x01\x00\x03h2", "past the end"),  # a TLV running past the end of the header
        (tlv(PP2_TYPE_ALPN, b""), "ALPN"),
        (tlv(PP2_TYPE_ALPN, b"x" * 256), "ALPN"),
        (tlv(PP2_TYPE_ALPN, b"h2") + tlv(PP2_TYPE_ALPN, b"h2"), "repeated"),
        (tlv(PP2_TYPE_AUTHORITY, b"\xff"), "AUTHORITY"),
        (tlv(PP2_TYPE_UNIQUE_ID, bytes(129)), "UNIQUE_ID"),
        (tlv(PP2_TYPE_NETNS, b"\xe9"), "NETNS"),
        (tlv(PP2_TYPE_SSL, b"\x01\x00\x00\x00"), "SSL TLV shorter"),
        (tlv(PP2_TYPE_SSL, encode_ssl(1) + b"\x21\x00\x09TLSv1.3"), "SSL sub-TLV 0x21 runs past"),
        (tlv(PP2_TYPE_SSL, encode_ssl(1) + b"\x21\x00"), "SSL sub-TLV cut short"),
        (tlv(PP2_TYPE_SSL, encode_ssl(1, version="TLSv1.\u00b3")), "SSL sub-TLV 0x21"),
        (tlv(PP2_TYPE_SSL, encode_ssl(1, cipher="a") + tlv(0x23, b"b")), "repeated"),
        (tlv(PP2_TYPE_SSL, encode_ssl(1)) * 2, "repeated"),
    ],
)
def test_malformed_tlvs(raw: bytes, match: str) -> None:
    with pytest.raises(ProxyProtocolError, match=match):
        parse(with_tlvs(raw))


def test_unknown_tlvs_and_ssl_subtypes_are_kept_or_skipped() -> None:
    ssl_value = encode_ssl(1) + tlv(0x26, b"future")
    header = parse(with_tlvs(tlv(0xF0, b"x") + tlv(0xF0, b"y") + tlv(PP2_TYPE_SSL, ssl_value)))
    assert header is not None
    assert header.tlvs == ((0xF0, b"x"), (0xF0, b"y"), (PP2_TYPE_SSL, ssl_value))
    assert header.ssl == SSLInfo(1, 0)


def test_encoder_rejects_what_it_cannot_write() -> None:
    for args in (
        ("proxy", "inet", "stream", ("::1", 1), ("::1", 2)),
        ("proxy", "inet", "unspec", ("1.2.3.4", 1), ("1.2.3.4", 2)),
        ("proxy", "unix", "stream", "x" * 109, "y"),
        ("proxy", "inet", "stream", ("1.2.3.4", 65536), ("1.2.3.4", 2)),
        ("proxy", "inet", "stream", "/path", "/path"),
    ):
        with pytest.raises(ValueError):
            encode_v2(*args)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tlv(256, b"")
