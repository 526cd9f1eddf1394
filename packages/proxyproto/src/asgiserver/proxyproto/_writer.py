"""Encoders, for senders and tests: the inverse of `parse()`."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ._crc32c import crc32c
from ._header import (
    PP2_SUBTYPE_SSL_CIPHER,
    PP2_SUBTYPE_SSL_CN,
    PP2_SUBTYPE_SSL_KEY_ALG,
    PP2_SUBTYPE_SSL_SIG_ALG,
    PP2_SUBTYPE_SSL_VERSION,
    PP2_TYPE_CRC32C,
    PP2_TYPE_SSL,
    V1_SIGNATURE,
    V2_SIGNATURE,
    Address,
    Command,
    Family,
    Transport,
    format_ipv6,
)

_FAMILY_BITS = {"unspec": 0x0, "inet": 0x1, "inet6": 0x2, "unix": 0x3}
_TRANSPORT_BITS = {"unspec": 0x0, "stream": 0x1, "dgram": 0x2}


def encode_v1(family: Family, source: Address = None, destination: Address = None) -> bytes:
    """A v1 line: `inet` (TCP4) or `inet6` (TCP6) with both (host, port), or `unspec` (UNKNOWN)."""
    if family == "unspec":
        return V1_SIGNATURE + b"UNKNOWN\r\n"
    if family not in ("inet", "inet6"):
        raise ValueError("v1 carries inet, inet6 or unspec only")
    if not (isinstance(source, tuple) and isinstance(destination, tuple)):
        raise ValueError("v1 TCP4 and TCP6 need (host, port) for both ends")
    protocol = "TCP4" if family == "inet" else "TCP6"
    hosts = [_text(_ip(family, host)) for host, _ in (source, destination)]
    ports = [_port(port) for _, port in (source, destination)]
    line = f"{protocol} {hosts[0]} {hosts[1]} {ports[0]} {ports[1]}\r\n"
    return V1_SIGNATURE + line.encode("ascii")


def encode_v2(
    command: Command = "proxy",
    family: Family = "unspec",
    transport: Transport = "stream",
    source: Address = None,
    destination: Address = None,
    tlvs: Iterable[tuple[int, bytes]] = (),
    *,
    checksum: bool = False,
) -> bytes:
    """A v2 header; `checksum` appends a PP2_TYPE_CRC32C TLV that covers the whole header."""
    if (family == "unspec") != (transport == "unspec") and family != "unspec":
        raise ValueError("a v2 family other than unspec needs a stream or dgram transport")
    if family == "unspec":
        transport = "unspec"
        address = b""
    elif family == "unix":
        if not (isinstance(source, str) and isinstance(destination, str)):
            raise ValueError("unix addresses are paths")
        address = _unix(source) + _unix(destination)
    else:
        if not (isinstance(source, tuple) and isinstance(destination, tuple)):
            raise ValueError("inet and inet6 need (host, port) for both ends")
        address = (
            _ip(family, source[0]).packed
            + _ip(family, destination[0]).packed
            + _port(source[1]).to_bytes(2, "big")
            + _port(destination[1]).to_bytes(2, "big")
        )
    extensions = b"".join(tlv(kind, value) for kind, value in tlvs)
    if checksum:
        extensions += tlv(PP2_TYPE_CRC32C, b"\x00\x00\x00\x00")
    block = address + extensions
    if len(block) > 0xFFFF:
        raise ValueError("a v2 header's address block and TLVs are at most 65535 bytes")
    header = (
        V2_SIGNATURE
        + bytes([0x20 | (1 if command == "proxy" else 0)])
        + bytes([_FAMILY_BITS[family] << 4 | _TRANSPORT_BITS[transport]])
        + len(block).to_bytes(2, "big")
        + block
    )
    if checksum:
        header = header[:-4] + crc32c(header).to_bytes(4, "big")
    return header


def tlv(kind: int, value: bytes) -> bytes:
    """One type-length-value (section 2.2)."""
    if not 0 <= kind <= 0xFF or len(value) > 0xFFFF:
        raise ValueError("a TLV type is one byte and its value at most 65535 bytes")
    return bytes([kind]) + len(value).to_bytes(2, "big") + value


def encode_ssl(
    client: int,
    verify: int = 0,
    *,
    version: str | None = None,
    cn: str | None = None,
    cipher: str | None = None,
    sig_alg: str | None = None,
    key_alg: str | None = None,
) -> bytes:
    """The value of a PP2_TYPE_SSL TLV (section 2.2.6), for `tlv(PP2_TYPE_SSL, ...)`."""
    value = bytes([client]) + verify.to_bytes(4, "big")
    for kind, text in (
        (PP2_SUBTYPE_SSL_VERSION, version),
        (PP2_SUBTYPE_SSL_CN, cn),
        (PP2_SUBTYPE_SSL_CIPHER, cipher),
        (PP2_SUBTYPE_SSL_SIG_ALG, sig_alg),
        (PP2_SUBTYPE_SSL_KEY_ALG, key_alg),
    ):
        if text is not None:
            value += tlv(kind, text.encode("utf-8"))
    return value


def ssl_tlv(client: int, verify: int = 0, **sub: str | None) -> tuple[int, bytes]:
    """(PP2_TYPE_SSL, value): a ready item for `encode_v2(tlvs=...)`."""
    return PP2_TYPE_SSL, encode_ssl(client, verify, **sub)


def _ip(family: Family, host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(host)
    if (address.version == 4) != (family == "inet"):
        raise ValueError(f"{host!r} is not an address of family {family}")
    return address


def _text(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return format_ipv6(address) if isinstance(address, ipaddress.IPv6Address) else str(address)


def _port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise ValueError(f"not a port: {port!r}")
    return port


def _unix(path: str) -> bytes:
    raw = path.encode("utf-8", "surrogateescape")
    if len(raw) > 108:
        raise ValueError("a unix path is at most 108 bytes")
    return raw.ljust(108, b"\x00")
