"""The opening handshake (RFC 6455 §4; RFC 8441 §4-§5 over HTTP/2) as pure functions.

They work on messages the HTTP layer has already parsed (method, version, lowercase header names),
so nothing is re-serialized and the same code serves HTTP/1.1 upgrades and HTTP/2 extended CONNECT.
Server side: :func:`validate_request`, :func:`accept`.  Client side: :func:`open_handshake`,
:func:`validate_response`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, final

from ._deflate import NAME as DEFLATE_NAME
from ._deflate import DeflateOptions, PerMessageDeflate, client_accept, client_offer, negotiate
from ._errors import LocalProtocolError

__all__ = [
    "ClientHandshake",
    "ExtensionOffer",
    "HandshakeRejection",
    "HandshakeRequest",
    "HandshakeResponse",
    "accept",
    "accept_key",
    "open_handshake",
    "validate_request",
    "validate_response",
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


@final
@dataclass(frozen=True, slots=True)
class ClientHandshake:
    """A client's opening handshake: send ``method`` with ``headers`` (plus Host, and the
    target, which are the HTTP layer's), then check the answer with :func:`validate_response`.
    ``key`` is empty over HTTP/2 (RFC 8441 §5), where ``headers`` carries ``:protocol``."""

    method: bytes
    headers: list[tuple[bytes, bytes]]
    key: bytes
    subprotocols: list[str]
    deflate: DeflateOptions | None
    extended_connect: bool = False


def open_handshake(
    *,
    subprotocols: Sequence[str] = (),
    extra_headers: Sequence[tuple[bytes, bytes]] = (),
    deflate: DeflateOptions | None = _DEFAULT_DEFLATE,
    extended_connect: bool = False,
    random: Callable[[int], bytes] = os.urandom,
) -> ClientHandshake:
    """Build a client's opening handshake (RFC 6455 §4.1; RFC 8441 §4 with ``extended_connect``).

    The Sec-WebSocket-Key is 16 bytes from ``random`` (§4.1 item 7: randomly selected; inject a
    deterministic source in tests).  ``deflate=None`` offers no compression.  Subprotocols must
    be tokens (§4.1 item 10), else LocalProtocolError.
    """
    for protocol in subprotocols:
        if not _TOKEN_RE.fullmatch(protocol.encode("ascii", "replace")):
            raise LocalProtocolError(f"subprotocol {protocol!r} is not a token (RFC 6455 §4.1)")
    if extended_connect:
        key = b""
        headers = [(b":protocol", b"websocket"), (b"sec-websocket-version", b"13")]
    else:
        nonce = random(16)
        if type(nonce) is not bytes or len(nonce) != 16:
            raise LocalProtocolError("the random source must return 16 bytes for the key")
        key = base64.b64encode(nonce)
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-key", key),
            (b"sec-websocket-version", b"13"),
        ]
    if subprotocols:
        headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode("ascii")))
    if deflate is not None:
        headers.append((b"sec-websocket-extensions", client_offer(deflate)))
    headers.extend(extra_headers)
    method = b"CONNECT" if extended_connect else b"GET"
    return ClientHandshake(method, headers, key, list(subprotocols), deflate, extended_connect)


def _fail(reason: str, status: int, headers: Sequence[tuple[bytes, bytes]]) -> HandshakeRejection:
    return HandshakeRejection(status, list(headers), reason)


def validate_response(
    handshake: ClientHandshake, status: int, headers: Sequence[tuple[bytes, bytes]]
) -> HandshakeResponse | HandshakeRejection:
    """Check the server's answer to ``handshake`` (RFC 6455 §4.1 items 1-6; RFC 8441 §5).

    Returns a :class:`HandshakeResponse` (its ``extensions`` go to ``ClientConnection``), or a
    :class:`HandshakeRejection` carrying the server's status and headers and why the client must
    fail the connection: a status other than 101 (200 over HTTP/2), a missing or wrong Upgrade,
    Connection or Sec-WebSocket-Accept, or a subprotocol or extension we did not offer.
    """
    upgrade: list[bytes] = []
    connection: list[bytes] = []
    accepts: list[bytes] = []
    protocols: list[bytes] = []
    extensions: list[bytes] = []
    for name, value in headers:
        if name == b"upgrade":
            upgrade.append(value)
        elif name == b"connection":
            connection.append(value)
        elif name == b"sec-websocket-accept":
            accepts.append(value)
        elif name == b"sec-websocket-protocol":
            protocols.append(value)
        elif name == b"sec-websocket-extensions":
            extensions.append(value)
    if handshake.extended_connect:
        if not 200 <= status <= 299:  # RFC 8441 §5: any 2xx accepts
            return _fail(f"the server answered {status} (RFC 8441 §5)", status, headers)
    else:
        if status != 101:  # §4.1 item 1: anything else is plain HTTP, not WebSocket
            return _fail(f"the server answered {status}, not 101 (RFC 6455 §4.1)", status, headers)
        if _tokens(upgrade) != [b"websocket"]:  # §4.1 item 2
            return _fail("Upgrade is not websocket (RFC 6455 §4.1)", status, headers)
        if b"upgrade" not in _tokens(connection):  # §4.1 item 3
            return _fail("Connection does not include upgrade (RFC 6455 §4.1)", status, headers)
        expected = accept_key(handshake.key)
        if [a.strip(b" \t") for a in accepts] != [expected]:  # §4.1 item 4
            return _fail("wrong Sec-WebSocket-Accept (RFC 6455 §4.1)", status, headers)

    # §4.1 item 6: at most one subprotocol, one we offered.
    subprotocol: str | None = None
    chosen = [p for p in (v.strip(b" \t") for v in b",".join(protocols).split(b",")) if p]
    if chosen:
        subprotocol = chosen[0].decode("ascii", "replace")
        if len(chosen) > 1 or subprotocol not in handshake.subprotocols:
            return _fail("a subprotocol we did not offer (RFC 6455 §4.1)", status, headers)

    # §4.1 item 5: only extensions we offered; one permessage-deflate at most (RFC 7692 §5).
    agreed: list[PerMessageDeflate] = []
    offers = _parse_extensions(extensions)
    if offers is None:
        return _fail("malformed Sec-WebSocket-Extensions (RFC 6455 §9.1)", status, headers)
    for offer in offers:
        if offer.name != DEFLATE_NAME or handshake.deflate is None or agreed:
            return _fail(f"extension {offer.name} was not offered (RFC 6455 §4.1)", status, headers)
        result = client_accept(offer.params, handshake.deflate)
        if isinstance(result, str):
            return _fail(result, status, headers)
        agreed.append(result)
    return HandshakeResponse(list(headers), subprotocol, agreed, status)
