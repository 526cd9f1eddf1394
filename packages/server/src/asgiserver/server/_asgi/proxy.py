"""Trusted proxies: which direct peers may speak for the client, and what their headers say.

Headers are honoured only when the direct peer is in `--forwarded-allow-ips` (decided once per
connection); from anyone else they stay in `headers`, untouched and unused. One family at a time
(`--proxy-headers-style`): a proxy that sets one family usually passes the other through from the
client, so honouring both would let a client choose its own address.

- `x-forwarded`: `X-Forwarded-For` is walked from the right, skipping trusted hops; the first address
  that is not trusted is the client (all trusted: the leftmost). `X-Forwarded-Proto`, `-Host`, `-Port`
  and `-Prefix` are set by the proxy in front: with several values, the rightmost counts.
- `forwarded` (RFC 7239): the same walk over the elements' `for`; the element that names the client
  (each element is one hop, §4) gives `proto`, `host` and `by`.
An `unknown` or obfuscated (`_hidden`) node ends the walk: the client is then the trusted hop that
reported it, never a made-up address. Several field lines are one list (RFC 9110 §5.3). A header
that does not parse is ignored as a whole: the request keeps the direct peer's address.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, MutableMapping
from typing import Any, Final, Literal
from urllib.parse import unquote_to_bytes

logger = logging.getLogger("asgiserver.error")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Style = Literal["x-forwarded", "forwarded"]
Node = tuple[str, int] | None  # an address and port (0: not given), or None: unknown or obfuscated

_X_FOR: Final = b"x-forwarded-for"
_X_PROTO: Final = b"x-forwarded-proto"
_X_HOST: Final = b"x-forwarded-host"
_X_PORT: Final = b"x-forwarded-port"
_X_PREFIX: Final = b"x-forwarded-prefix"
_FORWARDED: Final = b"forwarded"
_NAMES: Final[dict[str, frozenset[bytes]]] = {
    "x-forwarded": frozenset({_X_FOR, _X_PROTO, _X_HOST, _X_PORT, _X_PREFIX}),
    "forwarded": frozenset({_FORWARDED}),
}

_TCHAR = r"[!#$%&'*+.^_`|~0-9A-Za-z-]"  # RFC 9110 §5.6.2
# RFC 7239 §4: forwarded-pair = token "=" value; value = token / quoted-string (RFC 9110 §5.6.4).
_PAIR = re.compile(
    rf'({_TCHAR}+)=(?:({_TCHAR}+)|"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*)")'
)
_QUOTED_PAIR = re.compile(r"\\(.)")
_OWS = re.compile(r"[ \t]*")
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")  # RFC 7239 §6.3 obfnode, obfport
_PORT = re.compile(r"[0-9]{1,5}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986 §3.1
# RFC 3986 §3.2.2 host [":" port]: an IP-literal or a reg-name (without "," which separates values).
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]+)(?::[0-9]{0,5})?")
# RFC 3986 §3.3: segments of pchar, each after a "/".
_PREFIX = re.compile(rb"(?:/(?:[A-Za-z0-9._~!$&'()*+;=:@-]|%[0-9A-Fa-f]{2})*)+")
_SCHEMES: Final = {
    ("http", "http"): "http",
    ("http", "https"): "https",
    ("http", "ws"): "http",
    ("http", "wss"): "https",
    ("websocket", "http"): "ws",
    ("websocket", "https"): "wss",
    ("websocket", "ws"): "ws",
    ("websocket", "wss"): "wss",
}


class TrustedAddresses:
    """Addresses and networks (`10.0.0.0/8`), `unix` for unix-socket peers, or everything (`*`)."""

    __slots__ = ("_all", "_hosts", "_networks", "unix")

    def __init__(self, trusted: Iterable[str]) -> None:
        self._all = False
        self.unix = False
        self._hosts: set[str] = set()
        self._networks: list[_Network] = []
        for entry in trusted:
            entry = entry.strip()
            if not entry:
                continue
            if entry == "*":
                self._all = self.unix = True
            elif entry == "unix":
                self.unix = True
            elif "/" in entry:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            else:
                # Canonical text, as peer addresses and parsed nodes are written.
                self._hosts.add(str(ipaddress.ip_address(entry)))

    def trusts(self, host: str) -> bool:
        if self._all or host in self._hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
            if str(address) in self._hosts:
                return True
        return any(address in network for network in self._networks)

    @property
    def everything(self) -> bool:
        return self._all


class MalformedHeader(ValueError):
    """A proxy header that does not parse; the request is served as if none had come."""


class ProxyHeaders:
    """Rewrite `client`, `scheme`, `server`, the `host` header and the root path of a request whose
    direct peer is a trusted proxy (the caller checks that, once per connection)."""

    __slots__ = ("_hops", "_logged", "_names", "style", "trusted")

    def __init__(self, trusted: Iterable[str], style: Style = "x-forwarded") -> None:
        self.trusted = TrustedAddresses(trusted)
        self.style = style
        self._names = _NAMES[style]
        self._logged = False
        # Parsed hops and whether each is trusted: a proxy sends the same few addresses again and
        # again, and parsing an address costs more than the rest of the rewrite.
        self._hops: dict[str, tuple[Node, bool]] = {}

    def trusts(self, host: str) -> bool:
        return self.trusted.trusts(host)

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        # One pass over the headers; a request without proxy headers costs only this loop.
        found: list[tuple[bytes, bytes]] | None = None
        names = self._names
        for item in scope["headers"]:
            if item[0] in names:
                if found is None:
                    found = [item]
                else:
                    found.append(item)
        if found is None:
            return
        try:
            if self.style == "forwarded":
                self._apply_forwarded(scope, [value for _, value in found])
            else:
                self._apply_x_forwarded(scope, found)
        except (MalformedHeader, ValueError) as exc:
            if not self._logged:
                self._logged = True
                logger.debug(
                    "Ignored a malformed proxy header from %s: %s (logged once)",
                    _peer(scope["client"]),
                    exc,
                )

    # ---- X-Forwarded-* -----------------------------------------------------------------------------

    def _apply_x_forwarded(
        self, scope: MutableMapping[str, Any], found: list[tuple[bytes, bytes]]
    ) -> None:
        joined: dict[bytes, bytes] = {}
        for name, line in found:
            joined[name] = joined[name] + b"," + line if name in joined else line
        client: Node = None
        scheme: str | None = None
        host: bytes | None = None
        server: tuple[str, int] | None = None
        prefix: bytes | None = None
        get = joined.get
        if (value := get(_X_FOR)) is not None:
            hops: list[str | None] = [
                _text(item) for part in value.split(b",") if (item := part.strip())
            ]
            if hops:
                client = self._walk(hops)[0]
        if (value := get(_X_PROTO)) is not None:
            scheme = _scheme(scope["type"], _rightmost(value))
        if (value := get(_X_HOST)) is not None:
            host = _host(_rightmost(value))
        if (value := get(_X_PORT)) is not None:
            port = _rightmost(value)
            if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
                raise MalformedHeader(f"X-Forwarded-Port {port!r}")
            server = _server_with_port(scope, host, int(port))
        if (value := get(_X_PREFIX)) is not None:
            prefix = value.rpartition(b",")[2].strip()
            if not _PREFIX.fullmatch(prefix):
                raise MalformedHeader(f"X-Forwarded-Prefix {prefix!r}")
        _rewrite(scope, client, scheme, host, server, prefix)

    # ---- Forwarded (RFC 7239) ----------------------------------------------------------------------

    def _apply_forwarded(self, scope: MutableMapping[str, Any], lines: list[bytes]) -> None:
        # Each field line parses on its own (a quoted string cannot span lines), from the last: a
        # client's broken line, passed on before the proxy's own, matters only if the walk reaches it.
        elements: list[dict[str, str]] = []
        broken = False
        for line in reversed(lines):
            try:
                elements[:0] = parse_forwarded(line)
            except MalformedHeader:
                broken = True
                break
        hops = [element.get("for") for element in elements]
        if broken:
            hops.insert(0, "")  # not a node: the walk raises if it gets this far
            elements.insert(0, {})
        if not hops:
            return
        client, index = self._walk(hops)
        element = elements[index]
        scheme = host = server = None
        if (proto := element.get("proto")) is not None:
            scheme = _scheme(scope["type"], proto)
        if (text := element.get("host")) is not None:
            host = _host(text)
        if (by := element.get("by")) is not None:
            node = forwarded_node(by)
            if node is not None and node[1]:
                server = node  # the proxy's interface the client connected to (§5.1)
        _rewrite(scope, client, scheme, host, server, None)

    # ---- the walk ----------------------------------------------------------------------------------

    def _walk(self, hops: list[str | None]) -> tuple[Node, int]:
        """(client, index of the hop that names it), from the right. A client of None keeps the
        direct peer's address."""
        reported: Node = None  # the last trusted hop; None: the direct peer
        cache = self._hops
        for index in range(len(hops) - 1, -1, -1):
            text = hops[index]
            if text is None:
                return reported, index  # no `for`: as unknown
            hop = cache.get(text)
            if hop is None:
                node = _node(text, bare_ipv6=self.style == "x-forwarded")
                hop = (node, node is not None and self.trusted.trusts(node[0]))
                if len(cache) >= 1024:
                    cache.clear()
                cache[text] = hop
            node, trusted = hop
            if node is None:
                return reported, index  # unknown or hidden: the trusted hop that reported it
            if trusted and index:
                reported = node
                continue
            return node, index
        raise AssertionError("unreachable: index 0 always returns")


def parse_forwarded(value: bytes) -> list[dict[str, str]]:
    """The elements of a Forwarded field value (RFC 7239 §4), parameter names lower-cased and
    quoted strings unescaped. Optional whitespace around ";" and "," is accepted; a parameter
    repeated in one element, or anything off the grammar, raises `MalformedHeader`."""
    text = value.decode("latin-1")
    elements: list[dict[str, str]] = []
    element: dict[str, str] = {}
    pos, end = 0, len(text)
    while True:
        pos = _OWS.match(text, pos).end()  # type: ignore[union-attr]
        if pos == end:
            break
        char = text[pos]
        if char == "," or char == ";":
            if char == "," and element:
                elements.append(element)
                element = {}
            pos += 1
            continue
        match = _PAIR.match(text, pos)
        if match is None:
            raise MalformedHeader(f"Forwarded: unexpected {text[pos : pos + 20]!r}")
        name = match[1].lower()
        if name in element:
            raise MalformedHeader(f"Forwarded: {name} twice in one element")  # §4
        token = match[2]
        element[name] = token if token is not None else _QUOTED_PAIR.sub(r"\1", match[3])
        pos = _OWS.match(text, match.end()).end()  # type: ignore[union-attr]
        if pos < end and text[pos] not in ",;":
            raise MalformedHeader(f"Forwarded: unexpected {text[pos : pos + 20]!r}")
    if element:
        elements.append(element)
    return elements


def forwarded_node(text: str) -> Node:
    """RFC 7239 §6: `node = nodename [":" node-port]`, nodename an IPv4 address, a bracketed IPv6
    address, `unknown` or an obfuscated `_identifier`; raises `MalformedHeader` otherwise."""
    return _node(text, bare_ipv6=False)


def _node(text: str, bare_ipv6: bool) -> Node:
    """A node; `bare_ipv6` for X-Forwarded-For, whose IPv6 addresses come without brackets."""
    if text[:1] == "[":
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and rest[:1] != ":"):
            raise MalformedHeader(f"node {text!r}")
        port = rest[1:] if rest else None
        name = address
        if ":" not in address:
            raise MalformedHeader(f"node {text!r}")
    elif text.count(":") > 1:
        if not bare_ipv6:
            raise MalformedHeader(f"node {text!r}: an IPv6 address goes in brackets")
        name, port = text, None
    else:
        name, colon, port_text = text.partition(":")
        port = port_text if colon else None
    number = 0
    if port is not None:
        if _PORT.fullmatch(port) and int(port) < 65536:
            number = int(port)
        elif not _OBFUSCATED.fullmatch(port):
            raise MalformedHeader(f"node port {port!r}")
    if name.lower() == "unknown" or (name[:1] == "_" and _OBFUSCATED.fullmatch(name)):
        return None
    try:
        return str(ipaddress.ip_address(name)), number
    except ValueError:
        raise MalformedHeader(f"node {text!r}") from None


def _text(value: bytes) -> str:
    return value.decode("latin-1")


def _rightmost(value: bytes) -> str:
    return value.rpartition(b",")[2].strip().decode("latin-1")


def _scheme(kind: str, proto: str) -> str | None:
    """http/https (ws/wss for a WebSocket scope); another valid scheme name is ignored."""
    if not _SCHEME.fullmatch(proto):
        raise MalformedHeader(f"proto {proto!r}")
    return _SCHEMES.get((kind, proto.lower()))


def _host(text: str) -> bytes:
    if not _HOST.fullmatch(text):
        raise MalformedHeader(f"host {text!r}")
    return text.encode("ascii")


def _server_with_port(
    scope: MutableMapping[str, Any], host: bytes | None, port: int
) -> tuple[str, int] | None:
    server = scope["server"]
    if server is not None and server[1] is not None:
        return (server[0], port)
    # A unix socket has no address: the host the client asked for names the server.
    if host is None:
        host = next((value for name, value in scope["headers"] if name == b"host"), None)
    if host is None:
        return None
    name = host.decode("latin-1")
    name = name[: name.index("]") + 1] if name[:1] == "[" else name.partition(":")[0]
    return (name, port)


def _rewrite(
    scope: MutableMapping[str, Any],
    client: Node,
    scheme: str | None,
    host: bytes | None,
    server: tuple[str, int] | None,
    prefix: bytes | None,
) -> None:
    """Apply what every header said; nothing is applied unless all of them parsed."""
    if client is not None:
        scope["client"] = client
    if scheme is not None:
        scope["scheme"] = scheme
    if server is not None:
        scope["server"] = server
    if host is not None:
        headers = [(name, host if name == b"host" else value) for name, value in scope["headers"]]
        if not any(name == b"host" for name, _ in headers):
            headers.insert(0, (b"host", host))
        scope["headers"] = headers
    if prefix is not None:
        prefix = prefix.rstrip(b"/")
        if prefix:
            # `path` and `raw_path` include `root_path` (see scope.py): the prefix goes in front of all.
            path_prefix = unquote_to_bytes(prefix).decode("utf-8", "replace")
            scope["root_path"] = path_prefix + scope["root_path"]
            scope["path"] = path_prefix + scope["path"]
            scope["raw_path"] = prefix + scope["raw_path"]


def _peer(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "unix socket"
