"""Trusted proxy headers: X-Forwarded-For and X-Forwarded-Proto, honoured only from trusted peers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedAddresses:
    """A set of addresses and networks (`10.0.0.0/8`), or everything (`*`)."""

    __slots__ = ("_all", "_hosts", "_networks")

    def __init__(self, trusted: Iterable[str]) -> None:
        self._all = False
        self._hosts: set[str] = set()
        self._networks: list[_Network] = []
        for entry in trusted:
            entry = entry.strip()
            if not entry:
                continue
            if entry == "*":
                self._all = True
            elif "/" in entry:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            else:
                self._hosts.add(entry)

    def trusts(self, host: str) -> bool:
        if self._all or host in self._hosts:
            return True
        if not self._networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    @property
    def everything(self) -> bool:
        return self._all


class ProxyHeaders:
    """Rewrite `client` and `scheme` from X-Forwarded-* when the direct peer is a trusted proxy.

    The client is the right-most X-Forwarded-For entry that is not itself a trusted proxy, so a client
    cannot spoof its address by sending its own X-Forwarded-For through a proxy that appends to it.
    """

    __slots__ = ("trusted",)

    def __init__(self, trusted: Iterable[str]) -> None:
        self.trusted = TrustedAddresses(trusted)

    def trusts(self, host: str) -> bool:
        return self.trusted.trusts(host)

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        """Rewrite the scope of a request whose direct peer is trusted (the caller checks that)."""
        forwarded_for = forwarded_proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                # Several fields are one comma-separated list (RFC 9110 §5.3).
                forwarded_for = value if forwarded_for is None else forwarded_for + b"," + value
            elif name == b"x-forwarded-proto":
                forwarded_proto = value
        if forwarded_proto is not None:
            proto = forwarded_proto.decode("latin-1").rpartition(",")[2].strip().lower()
            if proto in ("http", "https", "ws", "wss"):
                if scope["type"] == "websocket":
                    proto = {"http": "ws", "https": "wss"}.get(proto, proto)
                elif proto in ("ws", "wss"):
                    proto = "https" if proto == "wss" else "http"
                scope["scheme"] = proto
        if forwarded_for is not None:
            hosts = [h.strip() for h in forwarded_for.decode("latin-1").split(",") if h.strip()]
            host = next(
                (h for h in reversed(hosts) if not self.trusts(h)), hosts[0] if hosts else None
            )
            if host is not None:
                scope["client"] = (host, 0)
