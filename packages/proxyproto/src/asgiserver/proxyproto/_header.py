"""What a parsed PROXY header says, and the protocol's registered numbers."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final, Literal

Command = Literal["proxy", "local"]
Family = Literal["inet", "inet6", "unix", "unspec"]
Transport = Literal["stream", "dgram", "unspec"]
# (host, port) for inet and inet6, a path for unix, None when the header carries no address.
Address = tuple[str, int] | str | None

V1_SIGNATURE: Final = b"PROXY "
V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"  # section 2.2: 12 bytes, a NUL in the 5th
V1_MAX_LENGTH: Final = 107  # section 2.1: the worst case, CRLF included
V2_FIXED_LENGTH: Final = 16

# Section 2.2: registered TLV types.
PP2_TYPE_ALPN: Final = 0x01
PP2_TYPE_AUTHORITY: Final = 0x02
PP2_TYPE_CRC32C: Final = 0x03
PP2_TYPE_NOOP: Final = 0x04
PP2_TYPE_UNIQUE_ID: Final = 0x05
PP2_TYPE_SSL: Final = 0x20
PP2_SUBTYPE_SSL_VERSION: Final = 0x21
PP2_SUBTYPE_SSL_CN: Final = 0x22
PP2_SUBTYPE_SSL_CIPHER: Final = 0x23
PP2_SUBTYPE_SSL_SIG_ALG: Final = 0x24
PP2_SUBTYPE_SSL_KEY_ALG: Final = 0x25
PP2_TYPE_NETNS: Final = 0x30

# Section 2.2.6: the SSL TLV's <client> bits.
PP2_CLIENT_SSL: Final = 0x01
PP2_CLIENT_CERT_CONN: Final = 0x02
PP2_CLIENT_CERT_SESS: Final = 0x04

UNIQUE_ID_MAX_LENGTH: Final = 128  # section 2.2.5


@dataclass(frozen=True, slots=True)
class SSLInfo:
    """The PP2_TYPE_SSL TLV (section 2.2.6): how the client reached the proxy.

    `client` is the bit field (PP2_CLIENT_*); `verify` is 0 when the client presented a
    certificate that verified. The sub-TLVs are decoded when present.
    """

    client: int
    verify: int
    version: str | None = None
    cn: str | None = None
    cipher: str | None = None
    sig_alg: str | None = None
    key_alg: str | None = None

    @property
    def client_tls(self) -> bool:
        """PP2_CLIENT_SSL: the client used TLS to the proxy. HAProxy's `send-proxy-v2-ssl` sends
        this TLV for plain clients too, with the bit clear."""
        return bool(self.client & PP2_CLIENT_SSL)

    @property
    def client_cert(self) -> bool:
        """A client certificate was presented on this connection or its TLS session."""
        return bool(self.client & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS))


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """One PROXY header. `length` is how many bytes of the stream it took: what follows is the
    proxied connection's own data.

    For the `local` command (a proxy's health check), v1 `UNKNOWN` and the `unspec` family or
    transport, `source` and `destination` are None: the receiver uses the connection's own
    endpoints (sections 2.1 and 2.2). `tlvs` lists every v2 TLV as it came, in order; the known
    ones are also decoded into the fields after it.
    """

    length: int
    version: Literal[1, 2]
    command: Command
    family: Family
    transport: Transport
    source: Address
    destination: Address
    tlvs: tuple[tuple[int, bytes], ...] = ()
    alpn: bytes | None = None
    authority: str | None = None
    ssl: SSLInfo | None = None
    unique_id: bytes | None = None
    netns: str | None = None

    @property
    def relayed(self) -> bool:
        """The header carries the original endpoints, which replace the connection's own."""
        return self.source is not None

    @property
    def client_tls(self) -> bool:
        """The client used TLS to the proxy (only a v2 SSL TLV can say so)."""
        return self.ssl is not None and self.ssl.client_tls


def format_ipv6(address: ipaddress.IPv6Address) -> str:
    """RFC 5952 text, with an IPv4-mapped address as `::ffff:a.b.c.d` (§5) on every Python
    (before 3.13 `str()` writes `::ffff:102:304`), as the kernel writes a dual-stack peer."""
    mapped = address.ipv4_mapped
    return f"::ffff:{mapped}" if mapped is not None else str(address)
