"""PROXY protocol headers (`--proxy-protocol`) as a connection uses them: `asgiserver.proxyproto`
parses, this turns the header into the connection's client, server and scheme.

Per the specification ("The PROXY protocol", HAProxy, sections 2.1 and 2.2), LOCAL (a proxy's
health check), UNKNOWN and UNSPEC keep the socket's own endpoints. An AF_UNIX source has no
address: the client is None, as for a direct unix-socket peer. The scheme is https when the SSL TLV
carries PP2_CLIENT_SSL (section 2.2.6); HAProxy's `send-proxy-v2-ssl` sends that TLV for plain
clients too, with the bit clear.
"""

from __future__ import annotations

from typing import Final

from asgiserver import proxyproto
from asgiserver.server._asgi.scope import Client, Server
from asgiserver.server._drivers.base import InvalidProxyHeader, ProxiedEndpoints

# A whole header, TLVs included. HAProxy's are far smaller (an IPv6 header with the SSL TLV, its
# version, cipher and CN is about 150 bytes); the bound keeps what a pending connection can make
# us hold small. Headers announcing more are refused as soon as their 16 fixed bytes arrive.
MAX_HEADER_BYTES: Final = proxyproto.MAX_LENGTH


def read_proxy_header(data: bytes) -> ProxiedEndpoints | None:
    """The endpoints of the PROXY header at the start of `data`, or None while it is incomplete;
    raises `InvalidProxyHeader` as soon as the bytes cannot be one."""
    try:
        header = proxyproto.parse(data, max_length=MAX_HEADER_BYTES)
    except proxyproto.ProxyProtocolError as exc:
        raise InvalidProxyHeader(str(exc)) from None
    if header is None:
        return None
    if header.relayed and header.transport == "dgram":
        raise InvalidProxyHeader("a datagram connection's header on a stream connection")
    client: Client = None
    server: Server = None
    source, destination = header.source, header.destination
    if isinstance(source, tuple) and isinstance(destination, tuple):
        client, server = source, destination
    elif isinstance(destination, str):
        server = (destination, None)  # AF_UNIX, as a unix listener's server address reads
    return ProxiedEndpoints(header.length, header.relayed, client, server, header.client_tls)
