"""The opening handshake (RFC 6455 §4.2; RFC 8441 §4-§5 over HTTP/2) as pure functions.

They work on a request the server has already parsed (method, version, lowercase header names),
so nothing is re-serialized and the same code serves HTTP/1.1 upgrades and HTTP/2 extended CONNECT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, final

from ._deflate import NAME as DEFLATE_NAME
from ._deflate import DeflateOptions, PerMessageDeflate, negotiate
from ._errors import LocalProtocolError

__all__ = [
    "ExtensionOffer",
    "HandshakeRejection",
    "HandshakeRequest",
    "HandshakeResponse",
    "accept",
    "accept_key",
    "validate_request",
]

# §1.3: the GUID concatenated with the key before hashing.
_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TOKEN: Final = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_RE: Final = re.compile(_TOKEN)
_HTTP_VERSION_RE: Final = re.compile(rb"(?:HTTP/)?([0-9])(?:\.([0-9]))?")
# RFC 6455 §9.1: extension = extension-token *( ";" extension-param ), and a quoted value must
# unescape to a token, so a quoted-pair can only escape a token character.
_LIST_GAP: Final = re.compile(rb"[ \t,]*")
_EXT_NAME: Final = re.compile(rb"(" + _TOKEN + rb")[ \t]*")
_EXT_PARAM: Final = re.compile(
    rb";[ \t]*(" + _TOKEN + rb")[ \t]*"
    rb"(?:=[ \t]*(?:(" + _TOKEN + rb')|"((?:\\?' + _TOKEN[:-1] + rb")+)\")[ \t]*)?"
)
_VERSION_HEADERS: Final = [(b"sec-websocket-version", b"13")]


@final
@dataclass(frozen=True, slots=True)
class ExtensionOffer:
    """One element of the client's Sec-WebSocket-Extensions (RFC 6455 §9.1).

    ``params`` keeps the client's order; a parameter without a value has ``None``.
    """

    name: str
    params: tuple[tuple[str, str | None], ...] = ()


@final
@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """A valid opening handshake. ``key`` is empty over HTTP/2 (RFC 8441 §5 has no key)."""

    key: bytes
    subprotocols: list[str] = field(default_factory=list)
    extensions: list[ExtensionOffer] = field(default_factory=list)
    version: int = 13
    extended_connect: bool = False


@final
@dataclass(frozen=True, slots=True)
class HandshakeRejection:
    """Answer with this status and these headers instead of upgrading (RFC 6455 §4.2.2)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    reason: str


@final
@dataclass(frozen=True, slots=True)
class HandshakeResponse:
    """Send ``status`` (101, or 200 over HTTP/2) with ``headers``; then build the connection
    with ``ServerConnection(extensions=response.extensions)``."""

    headers: list[tuple[bytes, bytes]]
    subprotocol: str | None
    extensions: list[PerMessageDeflate]
    status: int = 101


def accept_key(key: bytes) -> bytes:
    """The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2 item 5.4)."""
    return base64.b64encode(hashlib.sha1(key + _GUID, usedforsecurity=False).digest())


def _reject(reason: str, status: int = 400) -> HandshakeRejection:
    headers = list(_VERSION_HEADERS) if status == 426 else []
    return HandshakeRejection(status, headers, reason)


def _tokens(values: list[bytes]) -> list[bytes]:
    """Lowercased elements of comma-separated lists; empty ones dropped (RFC 9110 §5.6.1)."""
    return [s for t in b",".join(values).lower().split(b",") if (s := t.strip(b" \t"))]


def validate_request(
    method: bytes, http_version: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> HandshakeRequest | HandshakeRejection:
    """Check a client's opening handshake (RFC 6455 §4.2.1), from an already parsed request.

    ``http_version`` is ``b"1.1"`` (an ``HTTP/`` prefix is tolerated); header names are lowercase.
    For WebSocket over HTTP/2 (RFC 8441) pass ``b"CONNECT"``, ``b"2"`` and a header list that
    includes the ``:protocol`` pseudo-header.

    Returns a :class:`HandshakeRequest`, or a :class:`HandshakeRejection` to send instead: 426 with
    ``sec-websocket-version: 13`` for a missing or unsupported version (§4.2.2), else 400.
    """
    m = _HTTP_VERSION_RE.fullmatch(http_version)
    if m is None:
        return _reject("malformed HTTP version")
    major = int(m[1])
    minor = int(m[2] or 0)
    extended = major >= 2
    if extended:
        if method != b"CONNECT":  # RFC 8441 §4
            return _reject("WebSocket over HTTP/2 needs an extended CONNECT (RFC 8441 §4)")
    elif method != b"GET":  # §4.2.1 item 1
        return _reject("the opening handshake must be a GET (RFC 6455 §4.2.1)")
    elif (major, minor) < (1, 1):
        return _reject("the opening handshake needs HTTP/1.1 or later (RFC 6455 §4.2.1)")

    # One pass over the headers; everything else is the server's business.
    upgrade: list[bytes] = []
    connection: list[bytes] = []
    keys: list[bytes] = []
    versions: list[bytes] = []
    protocols: list[bytes] = []
    extensions: list[bytes] = []
    pseudo_protocol: list[bytes] = []
    for name, value in headers:
        if name[:14] == b"sec-websocket-":
            suffix = name[14:]
            if suffix == b"key":
                keys.append(value)
            elif suffix == b"version":
                versions.append(value)
            elif suffix == b"protocol":
                protocols.append(value)
            elif suffix == b"extensions":
                extensions.append(value)
        elif name == b"upgrade":
            upgrade.append(value)
        elif name == b"connection":
            connection.append(value)
        elif name == b":protocol":
            pseudo_protocol.append(value)

    if extended:
        if [p.lower() for p in pseudo_protocol] != [b"websocket"]:  # RFC 8441 §4
            return _reject("extended CONNECT without :protocol websocket (RFC 8441 §4)")
    else:
        if b"websocket" not in _tokens(upgrade):  # §4.2.1 item 3
            return _reject("Upgrade must include websocket (RFC 6455 §4.2.1)")
        if b"upgrade" not in _tokens(connection):  # §4.2.1 item 4
            return _reject("Connection must include upgrade (RFC 6455 §4.2.1)")
    # §4.2.1 item 6 / §4.2.2: an unknown version gets 426 and the versions we speak.
    if len(versions) != 1 or versions[0].strip(b" \t") != b"13":
        return _reject("Sec-WebSocket-Version must be 13 (RFC 6455 §4.2.1)", 426)
    key = b""
    if not extended:
        # §4.2.1 item 5: exactly one key, base64 of 16 bytes (24 characters with padding).
        if len(keys) != 1:
            return _reject("exactly one Sec-WebSocket-Key is required (RFC 6455 §4.2.1)")
        key = keys[0].strip(b" \t")
        try:
            valid = len(key) == 24 and len(binascii.a2b_base64(key, strict_mode=True)) == 16
        except binascii.Error:
            valid = False
        if not valid:
            return _reject("Sec-WebSocket-Key is not base64 of 16 bytes (RFC 6455 §4.2.1)")

    # §4.2.1 item 8 / §11.3.4: a comma-separated list of tokens, in the client's preference order.
    subprotocols: list[str] = []
    for element in b",".join(protocols).split(b","):
        element = element.strip(b" \t")
        if not element:
            continue
        if not _TOKEN_RE.fullmatch(element):
            return _reject("malformed Sec-WebSocket-Protocol (RFC 6455 §11.3.4)")
        subprotocols.append(element.decode("ascii"))

    offers = _parse_extensions(extensions)
    if offers is None:
        return _reject("malformed Sec-WebSocket-Extensions (RFC 6455 §9.1)")
    return HandshakeRequest(key, subprotocols, offers, 13, extended)


def _parse_extensions(values: list[bytes]) -> list[ExtensionOffer] | None:
    """Parse Sec-WebSocket-Extensions (RFC 6455 §9.1); ``None`` if malformed."""
    offers: list[ExtensionOffer] = []
    for value in values:
        pos = 0
        end = len(value)
        while True:
            pos = _LIST_GAP.match(value, pos).end()  # type: ignore[union-attr]
            if pos >= end:
                break
            m = _EXT_NAME.match(value, pos)
            if m is None:
                return None
            name = m[1].decode("ascii")
            pos = m.end()
            params: list[tuple[str, str | None]] = []
            while (p := _EXT_PARAM.match(value, pos)) is not None:
                raw = p[2] if p[2] is not None else p[3]
                if raw is not None and p[3] is not None:
                    raw = raw.replace(b"\\", b"")
                params.append((p[1].decode("ascii"), None if raw is None else raw.decode("ascii")))
                pos = p.end()
            if pos < end and value[pos] != 0x2C:  # anything but the next element
                return None
            offers.append(ExtensionOffer(name, tuple(params)))
    return offers


_DEFAULT_DEFLATE: Final = DeflateOptions()


def accept(
    request: HandshakeRequest,
    *,
    subprotocol: str | None = None,
    extra_headers: Sequence[tuple[bytes, bytes]] = (),
    deflate: DeflateOptions | None = _DEFAULT_DEFLATE,
) -> HandshakeResponse:
    """Build the server's handshake response (RFC 6455 §4.2.2; RFC 8441 §5 over HTTP/2).

    ``subprotocol`` must be one the client offered (§4.2.2 item 5.4), else LocalProtocolError.
    ``deflate=None`` turns permessage-deflate off; otherwise the first offer we can accept wins
    (RFC 7692 §5) and offers with unknown, duplicate or malformed parameters are declined (§7).
    Headers: upgrade, connection and sec-websocket-accept (HTTP/1.1 only), then
    sec-websocket-protocol and sec-websocket-extensions when agreed, then ``extra_headers``.
    """
    if subprotocol is not None and subprotocol not in request.subprotocols:
        raise LocalProtocolError(f"subprotocol {subprotocol!r} was not offered by the client")
    if request.extended_connect:
        headers = []
    else:
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", accept_key(request.key)),
        ]
    if subprotocol is not None:
        headers.append((b"sec-websocket-protocol", subprotocol.encode("ascii")))
    agreed: list[PerMessageDeflate] = []
    if deflate is not None:
        for offer in request.extensions:
            if offer.name == DEFLATE_NAME:
                result = negotiate(offer.params, deflate)
                if result is not None:
                    agreed.append(result[0])
                    headers.append((b"sec-websocket-extensions", result[1]))
                    break
    headers.extend(extra_headers)
    return HandshakeResponse(headers, subprotocol, agreed, 200 if request.extended_connect else 101)
