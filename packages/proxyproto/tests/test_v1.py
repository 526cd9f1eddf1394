"""Version 1, the text line (section 2.1): the examples of the specification and every way a line
can be wrong."""

from __future__ import annotations

import pytest

from asgiserver.proxyproto import ProxyHeader, ProxyProtocolError, encode_v1, parse


def test_specification_example() -> None:
    data = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"
    header = parse(data)
    assert header == ProxyHeader(
        47, 1, "proxy", "inet", "stream", ("192.168.0.1", 56324), ("192.168.0.11", 443)
    )
    assert data[header.length :] == b"GET / HTTP/1.1\r\n"
    assert header.relayed and not header.client_tls


@pytest.mark.parametrize(
    ("line", "source", "destination"),
    [
        (b"PROXY TCP6 ::1 ::2 1 2\r\n", ("::1", 1), ("::2", 2)),
        (
            b"PROXY TCP6 2001:DB8:0:0:0:0:0:1 fe80::a 65535 0\r\n",
            ("2001:db8::1", 65535),
            ("fe80::a", 0),
        ),
        # inet_ntop's form of a mapped address, as HAProxy sends for an IPv4 client on IPv6.
        (b"PROXY TCP6 ::ffff:127.0.0.2 ::1 1 2\r\n", ("::ffff:127.0.0.2", 1), ("::1", 2)),
        (
            b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
            ("0.0.0.0", 0),
            ("255.255.255.255", 65535),
        ),
    ],
)
def test_addresses(line: bytes, source: tuple[str, int], destination: tuple[str, int]) -> None:
    header = parse(line)
    assert header is not None
    assert (header.source, header.destination, header.length) == (source, destination, len(line))


@pytest.mark.parametrize(
    "line",
    [
        b"PROXY UNKNOWN\r\n",
        b"PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n",
        b"PROXY UNKNOWN x y\r\n",
    ],
)
def test_unknown_ignores_the_rest(line: bytes) -> None:
    header = parse(line + b"data")
    assert header == ProxyHeader(len(line), 1, "proxy", "unspec", "unspec", None, None)
    assert not header.relayed


def test_longest_line_is_107_bytes() -> None:
    longest = b"PROXY UNKNOWN " + b"f" * 39 + b" " + b"f" * 39 + b" 65535 65535\r\n"
    assert len(longest) == 107
    assert parse(longest) is not None
    assert parse(longest[:-1]) is None  # 106 bytes, the CRLF may still come
    with pytest.raises(ProxyProtocolError, match="107"):
        parse(longest[:-2] + b"ff")


@pytest.mark.parametrize("size", range(20))
def test_any_prefix_needs_more(size: int) -> None:
    line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    assert parse(line[:size]) is None


@pytest.mark.parametrize(
    "line",
    [
        b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",  # the signature is case-sensitive
        b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",  # exactly one space
        b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY UNKNOWNX\r\n",
        b"PROXY \r\n",
        b"PROXY\r\n",
        b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",  # heading zeroes
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
        b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",  # the family dictates the format
        b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
        b"PROXY TCP6 ::1%eth0 ::1 1 2\r\n",
        b"PROXY TCP6 1::2::3 ::1 1 2\r\n",
        b"PROXY TCP6 12345::1 ::1 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",  # a lone LF
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r",  # a lone CR, then more
        b"PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
        b"PROXY TCP4 \xff.2.3.4 5.6.7.8 1 2\r\n",
        b"GET / HTTP/1.1\r\n",
        b"PROXX",
    ],
)
def test_malformed(line: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        parse(line + b"x")


def test_wrong_first_byte_fails_at_once() -> None:
    for first in (b"G", b"\x16", b"\x00", b"p"):
        with pytest.raises(ProxyProtocolError):
            parse(first)


def test_wrong_signature_fails_before_the_line_ends() -> None:
    with pytest.raises(ProxyProtocolError):
        parse(b"PROXZ")


def test_encode_round_trip() -> None:
    for family, source, destination in (
        ("inet", ("10.1.2.3", 1), ("10.0.0.1", 80)),
        ("inet6", ("2001:db8::5", 65535), ("::ffff:10.0.0.1", 443)),
    ):
        line = encode_v1(family, source, destination)  # type: ignore[arg-type]
        header = parse(line)
        assert header is not None
        assert (header.family, header.source, header.destination) == (family, source, destination)
    assert encode_v1("unspec") == b"PROXY UNKNOWN\r\n"
    with pytest.raises(ValueError):
        encode_v1("inet", ("::1", 1), ("::1", 2))
