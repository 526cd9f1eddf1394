"""`parse()`: one PROXY header, version 1 or 2, from the first bytes of a connection.

The HAProxy specification ("The PROXY protocol, versions 1 & 2", 2020/03/05) is cited by section.
Everything that does not match it exactly is an error (section 2.1: "Any sequence which does not
exactly match the protocol must be discarded"), found as early as the bytes allow, so that the
caller can close at once: a wrong first byte, a wrong signature byte, a bad version, command or
family, a v2 length over the limit, or 107 bytes without a CRLF fail before the rest arrives.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from ._crc32c import crc32c
from ._errors import ProxyProtocolError
from ._header import (
    PP2_SUBTYPE_SSL_CIPHER,
    PP2_SUBTYPE_SSL_CN,
    PP2_SUBTYPE_SSL_KEY_ALG,
    PP2_SUBTYPE_SSL_SIG_ALG,
    PP2_SUBTYPE_SSL_VERSION,
    PP2_TYPE_ALPN,
    PP2_TYPE_AUTHORITY,
    PP2_TYPE_CRC32C,
    PP2_TYPE_NETNS,
    PP2_TYPE_NOOP,
    PP2_TYPE_SSL,
    PP2_TYPE_UNIQUE_ID,
    UNIQUE_ID_MAX_LENGTH,
    V1_MAX_LENGTH,
    V1_SIGNATURE,
    V2_FIXED_LENGTH,
    V2_SIGNATURE,
    Address,
    Family,
    ProxyHeader,
    SSLInfo,
    Transport,
    format_ipv6,
)

MAX_LENGTH: Final = 4096  # default bound of a whole v2 header (its u16 length allows 65,551)
MIN_MAX_LENGTH: Final = V2_FIXED_LENGTH + 216  # every address family must fit (AF_UNIX: 2 x 108)

# Section 2.2, the 14th byte: (family, transport, address block length). Only these combinations
# are listed; any other value is unassigned and "must be rejected as invalid by receivers".
_FAMILIES: Final[dict[int, tuple[Family, Transport, int]]] = {
    0x00: ("unspec", "unspec", 0),
    0x11: ("inet", "stream", 12),
    0x12: ("inet", "dgram", 12),
    0x21: ("inet6", "stream", 36),
    0x22: ("inet6", "dgram", 36),
    0x31: ("unix", "stream", 216),
    0x32: ("unix", "dgram", 216),
}
_UNIX_PATH: Final = 108

# Section 2.1: decimal numbers without heading zeroes ("to avoid any possible confusion with
# octal numbers"); IPv6 in hexadecimal groups and colons (a dotted IPv4 tail, as inet_ntop writes
# a mapped address, is accepted: HAProxy sends one for an IPv4 client on an IPv6 destination).
_DECIMAL: Final = re.compile(rb"0|[1-9][0-9]{0,4}")
_IPV4: Final = re.compile(rb"(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})")
_IPV6: Final = re.compile(rb"[0-9A-Fa-f:.]{2,45}")

# TLVs that carry one value each: a repeat is an error rather than a choice between two.
_SINGLE: Final = frozenset(
    {PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_UNIQUE_ID, PP2_TYPE_SSL}
)


def parse(
    data: bytes | bytearray | memoryview, *, max_length: int = MAX_LENGTH
) -> ProxyHeader | None:
    """The PROXY header at the start of `data`, or None while more bytes are needed.

    Raises `ProxyProtocolError` as soon as `data` cannot be the start of a valid header, or when a
    v2 header announces more than `max_length` bytes. Bytes after the header are not looked at:
    `header.length` says where the proxied connection's own data begins.
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        raise TypeError("max_length must be an int")
    if max_length < MIN_MAX_LENGTH:
        raise ValueError(f"max_length must be at least {MIN_MAX_LENGTH}")
    if not data:
        return None
    first = data[0]
    if first == V1_SIGNATURE[0]:
        return _parse_v1(bytes(data[:V1_MAX_LENGTH]))
    if first == V2_SIGNATURE[0]:
        return _parse_v2(data, max_length)
    raise ProxyProtocolError("not a PROXY protocol header")


# ---- version 1 (section 2.1) -----------------------------------------------------------------------


def _parse_v1(window: bytes) -> ProxyHeader | None:
    if not window.startswith(V1_SIGNATURE[: len(window)]):
        raise ProxyProtocolError("not a PROXY protocol header")
    end = window.find(b"\r\n")
    if end < 0:
        # "The receiver must not tolerate a single CR or LF character to end the line."
        if b"\n" in window or b"\r" in window[:-1]:
            raise ProxyProtocolError("v1 line ended by a lone CR or LF")
        if len(window) >= V1_MAX_LENGTH:
            raise ProxyProtocolError(f"no CRLF in the first {V1_MAX_LENGTH} bytes of a v1 header")
        return None
    line = window[:end]
    if b"\r" in line or b"\n" in line:
        raise ProxyProtocolError("v1 line ended by a lone CR or LF")
    fields = line.split(b" ")
    protocol = fields[1]
    length = end + 2
    if protocol == b"UNKNOWN":
        # "the receiver must ignore anything presented before the CRLF is found", and use the
        # connection's own endpoints.
        return ProxyHeader(length, 1, "proxy", "unspec", "unspec", None, None)
    if protocol == b"TCP4":
        family: Family = "inet"
    elif protocol == b"TCP6":
        family = "inet6"
    else:
        raise ProxyProtocolError("v1 protocol is not TCP4, TCP6 or UNKNOWN")
    if len(fields) != 6:
        raise ProxyProtocolError("v1 line is not 6 fields separated by single spaces")
    source = _v1_address(fields[2], family)
    destination = _v1_address(fields[3], family)
    source_port = _v1_port(fields[4])
    destination_port = _v1_port(fields[5])
    return ProxyHeader(
        length,
        1,
        "proxy",
        family,
        "stream",
        (source, source_port),
        (destination, destination_port),
    )


def _v1_address(text: bytes, family: Family) -> str:
    if family == "inet":
        if _IPV4.fullmatch(text) and all(int(part) <= 255 for part in text.split(b".")):
            return text.decode("ascii")
        raise ProxyProtocolError("v1 TCP4 address is not a canonical IPv4 address")
    if _IPV6.fullmatch(text):
        try:
            return format_ipv6(ipaddress.IPv6Address(text.decode("ascii")))
        except ValueError:
            pass
    raise ProxyProtocolError("v1 TCP6 address is not an IPv6 address")


def _v1_port(text: bytes) -> int:
    if _DECIMAL.fullmatch(text):
        port = int(text)
        if port <= 65535:
            return port
    raise ProxyProtocolError("v1 port is not a decimal number in 0-65535 without heading zeroes")


# ---- version 2 (section 2.2) -----------------------------------------------------------------------


def _parse_v2(data: bytes | bytearray | memoryview, max_length: int) -> ProxyHeader | None:
    fixed = bytes(data[:V2_FIXED_LENGTH])
    if not V2_SIGNATURE.startswith(fixed[:12]):
        raise ProxyProtocolError("not a PROXY protocol header")
    if len(fixed) < 13:
        return None
    version, command = fixed[12] >> 4, fixed[12] & 0x0F
    if version != 2:
        raise ProxyProtocolError("v2 header with a version other than 2")
    if (
        command > 1
    ):  # 0 LOCAL, 1 PROXY; "Receivers must drop connections presenting unexpected values"
        raise ProxyProtocolError("v2 command is neither LOCAL nor PROXY")
    if len(fixed) < 14:
        return None
    combination = _FAMILIES.get(fixed[13])
    if combination is None:
        raise ProxyProtocolError("v2 address family or transport is not a valid combination")
    family, transport, address_length = combination
    if len(fixed) < V2_FIXED_LENGTH:
        return None
    block_length = int.from_bytes(fixed[14:16], "big")
    total = V2_FIXED_LENGTH + block_length
    if total > max_length:
        raise ProxyProtocolError(f"v2 header of {total} bytes is over the {max_length} limit")
    if block_length < address_length:
        raise ProxyProtocolError("v2 length is too short for the address family")
    if len(data) < total:
        return None
    header = bytes(data[:total])
    addresses = header[V2_FIXED_LENGTH : V2_FIXED_LENGTH + address_length]
    tlvs = _tlvs(header, V2_FIXED_LENGTH + address_length, total, "TLV")
    source: Address = None
    destination: Address = None
    if command == 1:
        # LOCAL: "use the real connection endpoints and discard the protocol block".
        source, destination = _v2_addresses(family, addresses)
    alpn = authority = ssl = unique_id = netns = None
    seen: set[int] = set()
    for kind, offset, value in tlvs:
        if kind in _SINGLE:
            if kind in seen:
                raise ProxyProtocolError(f"v2 TLV 0x{kind:02x} repeated")
            seen.add(kind)
        if kind == PP2_TYPE_ALPN:
            if not 1 <= len(value) <= 255:  # RFC 7301 §3.1: a protocol name is 1-255 bytes
                raise ProxyProtocolError("v2 ALPN TLV is empty or longer than 255 bytes")
            alpn = value
        elif kind == PP2_TYPE_AUTHORITY:
            authority = _text(value, "utf-8", "AUTHORITY")
        elif kind == PP2_TYPE_CRC32C:
            _check_crc32c(header, offset, value)
        elif kind == PP2_TYPE_UNIQUE_ID:
            if len(value) > UNIQUE_ID_MAX_LENGTH:
                raise ProxyProtocolError("v2 UNIQUE_ID TLV is longer than 128 bytes")
            unique_id = value
        elif kind == PP2_TYPE_SSL:
            ssl = _ssl(value)
        elif kind == PP2_TYPE_NETNS:
            netns = _text(value, "ascii", "NETNS")
    return ProxyHeader(
        total,
        2,
        "proxy" if command == 1 else "local",
        family,
        transport,
        source,
        destination,
        tuple((kind, value) for kind, _, value in tlvs if kind != PP2_TYPE_NOOP),
        alpn,
        authority,
        ssl,
        unique_id,
        netns,
    )


def _v2_addresses(family: Family, block: bytes) -> tuple[Address, Address]:
    if family == "inet":
        return (
            (".".join(map(str, block[0:4])), int.from_bytes(block[8:10], "big")),
            (".".join(map(str, block[4:8])), int.from_bytes(block[10:12], "big")),
        )
    if family == "inet6":
        return (
            (format_ipv6(ipaddress.IPv6Address(block[0:16])), int.from_bytes(block[32:34], "big")),
            (format_ipv6(ipaddress.IPv6Address(block[16:32])), int.from_bytes(block[34:36], "big")),
        )
    if family == "unix":
        return _unix_path(block[:_UNIX_PATH]), _unix_path(block[_UNIX_PATH:])
    return None, None  # AF_UNSPEC: "The receiver should ignore address information."


def _unix_path(raw: bytes) -> str:
    """A sun_path: NUL-terminated, or (Linux's abstract namespace) a NUL then a name."""
    if raw[:1] == b"\x00":
        return "\x00" + raw[1:].rstrip(b"\x00").decode("utf-8", "surrogateescape")
    return raw.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _tlvs(header: bytes, start: int, end: int, what: str) -> list[tuple[int, int, bytes]]:
    """(type, offset of the value, value) of each TLV in header[start:end], lengths checked."""
    found = []
    position = start
    while position < end:
        if end - position < 3:
            raise ProxyProtocolError(f"v2 {what} cut short: fewer than 3 bytes left")
        kind = header[position]
        length = int.from_bytes(header[position + 1 : position + 3], "big")
        value_start = position + 3
        position = value_start + length
        if position > end:
            raise ProxyProtocolError(f"v2 {what} 0x{kind:02x} runs past the end of its block")
        found.append((kind, value_start, header[value_start:position]))
    return found


def _text(value: bytes, encoding: str, what: str) -> str:
    try:
        return value.decode(encoding)
    except UnicodeDecodeError:
        raise ProxyProtocolError(f"v2 {what} TLV is not {encoding} text") from None


def _check_crc32c(header: bytes, offset: int, value: bytes) -> None:
    """Section 2.2.3: the checksum of the whole header with the checksum's own 4 bytes zeroed."""
    if len(value) != 4:
        raise ProxyProtocolError("v2 CRC32C TLV is not 4 bytes")
    zeroed = header[:offset] + b"\x00\x00\x00\x00" + header[offset + 4 :]
    if crc32c(zeroed) != int.from_bytes(value, "big"):
        raise ProxyProtocolError("v2 CRC32C does not match the header")


def _ssl(value: bytes) -> SSLInfo:
    """Section 2.2.6: client (u8), verify (u32), then sub-TLVs inside the SSL TLV's own length."""
    if len(value) < 5:
        raise ProxyProtocolError("v2 SSL TLV shorter than its 5 fixed bytes")
    client = value[0]
    verify = int.from_bytes(value[1:5], "big")
    names = {
        PP2_SUBTYPE_SSL_VERSION: ("version", "ascii"),
        PP2_SUBTYPE_SSL_CN: ("cn", "utf-8"),
        PP2_SUBTYPE_SSL_CIPHER: ("cipher", "ascii"),
        PP2_SUBTYPE_SSL_SIG_ALG: ("sig_alg", "ascii"),
        PP2_SUBTYPE_SSL_KEY_ALG: ("key_alg", "ascii"),
    }
    fields: dict[str, str] = {}
    for kind, _, sub in _tlvs(value, 5, len(value), "SSL sub-TLV"):
        if kind in names:
            name, encoding = names[kind]
            if name in fields:
                raise ProxyProtocolError(f"v2 SSL sub-TLV 0x{kind:02x} repeated")
            fields[name] = _text(sub, encoding, f"SSL sub-TLV 0x{kind:02x}")
    return SSLInfo(client, verify, **fields)
