"""Properties: encode then parse gives back what was encoded, at any split point of the bytes, and
arbitrary bytes only ever give None, a header, or the package's own error."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from asgiserver.proxyproto import (
    MAX_LENGTH,
    PP2_TYPE_NOOP,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyProtocolError,
    encode_v1,
    encode_v2,
    parse,
    ssl_tlv,
)
from asgiserver.proxyproto._header import format_ipv6

ports = st.integers(0, 65535)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: format_ipv6(ipaddress.IPv6Address(a)))
text = st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), max_size=20)


@st.composite
def v1_headers(draw: st.DrawFn) -> tuple[bytes, str, object, object]:
    family = draw(st.sampled_from(["inet", "inet6", "unspec"]))
    if family == "unspec":
        return encode_v1("unspec"), family, None, None
    host = ipv4 if family == "inet" else ipv6
    source = (draw(host), draw(ports))
    destination = (draw(host), draw(ports))
    return encode_v1(family, source, destination), family, source, destination  # type: ignore[arg-type]


@st.composite
def v2_headers(draw: st.DrawFn) -> tuple[bytes, dict[str, object]]:
    command = draw(st.sampled_from(["proxy", "local"]))
    family = draw(st.sampled_from(["inet", "inet6", "unix", "unspec"]))
    transport = "unspec" if family == "unspec" else draw(st.sampled_from(["stream", "dgram"]))
    source = destination = None
    if family in ("inet", "inet6"):
        host = ipv4 if family == "inet" else ipv6
        source = (draw(host), draw(ports))
        destination = (draw(host), draw(ports))
    elif family == "unix":
        path = st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30
        )
        source, destination = draw(path), draw(path)
    tlvs = draw(
        st.lists(
            st.one_of(
                st.tuples(
                    st.integers(0x06, 0x1F) | st.integers(0xE0, 0xFF), st.binary(max_size=40)
                ),
                st.just((PP2_TYPE_NOOP, b"")),
            ),
            max_size=4,
        )
    )
    if draw(st.booleans()):
        flags = draw(st.integers(0, 7))
        tlvs.append(
            ssl_tlv(flags, draw(st.integers(0, 2**32 - 1)), version=draw(text), cn=draw(text))
        )
    data = encode_v2(
        command, family, transport, source, destination, tlvs, checksum=draw(st.booleans())
    )  # type: ignore[arg-type]
    expected = {
        "command": command,
        "family": family,
        "transport": transport,
        "source": source if command == "proxy" else None,
        "destination": destination if command == "proxy" else None,
        "tlvs": [t for t in tlvs if t[0] != PP2_TYPE_NOOP],
    }
    return data, expected


def feed_split(data: bytes, cut: int) -> ProxyHeader:
    """Parse as bytes arrive: the first `cut` bytes, then all of them (with the next protocol's)."""
    assert parse(data[:cut]) is None
    header = parse(data + b"\x16\x03\x01 more")
    assert header is not None
    return header


@given(v1_headers(), st.data())
def test_v1_round_trip_at_any_split(
    case: tuple[bytes, str, object, object], data: st.DataObject
) -> None:
    line, family, source, destination = case
    header = feed_split(line, data.draw(st.integers(0, len(line) - 1)))
    assert (header.length, header.version, header.family) == (len(line), 1, family)
    assert (header.source, header.destination) == (source, destination)


@given(v2_headers(), st.data())
def test_v2_round_trip_at_any_split(
    case: tuple[bytes, dict[str, object]], data: st.DataObject
) -> None:
    raw, expected = case
    header = feed_split(raw, data.draw(st.integers(0, len(raw) - 1)))
    assert (header.length, header.version) == (len(raw), 2)
    for name in ("command", "family", "transport", "source", "destination"):
        assert getattr(header, name) == expected[name], name
    tlvs = [t for t in header.tlvs if t[0] != 0x03]  # the encoder's own checksum
    assert tlvs == expected["tlvs"]


def only_own_error(data: bytes) -> None:
    try:
        header = parse(data)
    except ProxyProtocolError:
        return
    if header is not None:
        assert 0 < header.length <= min(len(data), MAX_LENGTH)


@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    only_own_error(data)


@given(
    st.sampled_from([b"PROXY ", b"PROXY TCP4 ", b"PROXY TCP6 ", b"PROXY UNKNOWN"]),
    st.binary(max_size=120),
)
def test_random_v1_tails(prefix: bytes, tail: bytes) -> None:
    only_own_error(prefix + tail)


@given(st.binary(min_size=4, max_size=300))
def test_random_v2_bodies(body: bytes) -> None:
    # A valid signature and version, then anything: family, length, addresses and TLVs.
    only_own_error(V2_SIGNATURE + bytes([0x20 | (body[0] & 1)]) + body[1:])


@given(v2_headers(), st.integers(0, 400), st.integers(0, 255))
def test_one_flipped_byte(case: tuple[bytes, dict[str, object]], where: int, value: int) -> None:
    raw = bytearray(case[0])
    raw[where % len(raw)] = value
    only_own_error(bytes(raw))
