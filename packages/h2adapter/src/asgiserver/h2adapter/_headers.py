"""Field validation in both directions (RFC 9113 §8.2, §8.3; RFC 8441 §4).

h2's own validation runs as generators and fails the whole connection; here every inbound rule is
a compiled pattern or a set lookup, and a failure is a ``RemoteProtocolError`` for one stream
(RFC 9113 §8.1.1).  Outbound, connection-specific fields are dropped silently (ASGI applications
often set them) and anything else invalid raises ``LocalProtocolError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hpack import NeverIndexedHeaderTuple

from ._errors import HeadersTooLarge, LocalProtocolError, RemoteProtocolError, UnsupportedMethod
from ._events import Headers, Request
from ._limits import Limits

__all__ = ["parse_request", "parse_trailers", "response_headers", "STATUS"]

# RFC 9110 §5.1: a field name is a token; RFC 9113 §8.2.1 also forbids uppercase in HTTP/2.
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
# RFC 9113 §8.2.1: no NUL, CR or LF, no leading or trailing SP/HTAB; like our HTTP/1.1 parser we
# also refuse the other controls RFC 9110 §5.5 leaves out of field-value.
_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §9.1 method
_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*")  # RFC 3986 §3.1
# RFC 9113 §8.3.1: the path and query of the target URI: VCHARs (no CTL, SP or non-ASCII byte,
# RFC 3986 §2), and no fragment ("#", RFC 3986 §3.5), as HTTP/1.1 checks a request-target.
_PATH = re.compile(rb"[\x21\x22\x24-\x7e]+")
# RFC 9113 §8.3.1: :authority is host[:port] without the deprecated userinfo ("@").
_AUTHORITY = re.compile(rb"[A-Za-z0-9\-._~%!$&'()*+,;=:\[\]]+")
_DIGITS = re.compile(rb"[0-9]{1,18}")  # RFC 9110 §8.6, bounded so int() stays cheap

# RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2.
CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})

STATUS = {code: b"%d" % code for code in range(100, 600)}


def _bad(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, status_hint=400)


def parse_request(
    stream_id: int,
    fields: Iterable[tuple[bytes, bytes]],
    limits: Limits,
    connect_protocol: bool,
) -> tuple[Request, int | None] | RemoteProtocolError:
    """Validate a decoded request field list; return the event and its Content-Length."""
    pseudo: dict[bytes, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []
    host: bytes | None = None
    cookies: list[bytes] | None = None
    cookie_at = 0
    length: int | None = None
    size = 0
    count = 0
    for name, value in fields:
        size += len(name) + len(value) + 32  # RFC 9113 §6.5.2
        count += 1
        if name[:1] == b":":
            # RFC 9113 §8.3: only defined pseudo-fields, once each, before every regular field.
            if headers or host is not None or cookies is not None:
                return _bad("pseudo-header field after a regular field")
            if name not in _PSEUDO:
                return _bad(f"unknown or response pseudo-header field {name!r}")
            if name in pseudo:
                return _bad(f"repeated pseudo-header field {name!r}")
            pseudo[name] = value
            continue
        if _NAME.fullmatch(name) is None:
            return _bad(f"invalid field name {name!r} (RFC 9113 §8.2.1)")
        if _VALUE.fullmatch(value) is None:
            return _bad(f"invalid value in field {name!r} (RFC 9113 §8.2.1)")
        if name in CONNECTION_SPECIFIC:
            return _bad(f"connection-specific field {name!r} (RFC 9113 §8.2.2)")
        if name == b"te":
            if value != b"trailers":
                return _bad("TE other than trailers (RFC 9113 §8.2.2)")
        elif name == b"cookie":
            if cookies is None:
                cookies = []
                cookie_at = len(headers)
            cookies.append(value)
            continue
        elif name == b"host":
            if host is not None:
                return _bad("more than one Host field")
            host = value
            continue
        elif name == b"content-length":
            if _DIGITS.fullmatch(value) is None:
                return _bad("invalid Content-Length")
            n = int(value)
            if length is not None and n != length:
                return _bad("conflicting Content-Length fields")
            length = n
        headers.append((name, value))
    if count > limits.max_header_count:
        return HeadersTooLarge(f"more than {limits.max_header_count} fields")
    if size > limits.max_header_list_size:
        return HeadersTooLarge(f"field list larger than {limits.max_header_list_size} bytes")

    method = pseudo.get(b":method")
    scheme = pseudo.get(b":scheme")
    path = pseudo.get(b":path")
    authority = pseudo.get(b":authority")
    protocol = pseudo.get(b":protocol")
    if method is None or _TOKEN.fullmatch(method) is None:
        return _bad("missing or invalid :method (RFC 9113 §8.3.1)")
    if authority is not None and _AUTHORITY.fullmatch(authority) is None:
        return _bad("invalid :authority (RFC 9113 §8.3.1)")
    if host is not None:
        if _AUTHORITY.fullmatch(host) is None:
            return _bad("invalid Host")
        if authority is not None and host != authority:
            return _bad("Host differs from :authority (RFC 9113 §8.3.1)")
    if method == b"CONNECT" and protocol is None:
        # RFC 9113 §8.5: only :method and :authority; we are no proxy either way.
        if scheme is not None or path is not None or authority is None:
            return _bad("malformed CONNECT (RFC 9113 §8.5)")
        return UnsupportedMethod("CONNECT is not supported", status_hint=501)
    if protocol is not None:
        # RFC 8441 §3-4: only after we advertised SETTINGS_ENABLE_CONNECT_PROTOCOL, only with
        # CONNECT, and then with :scheme, :path and :authority.
        if not connect_protocol:
            return _bad(":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)")
        if method != b"CONNECT" or authority is None or _TOKEN.fullmatch(protocol) is None:
            return _bad("malformed extended CONNECT (RFC 8441 §4)")
    if scheme is None or path is None or _SCHEME.fullmatch(scheme) is None:
        return _bad("missing or invalid :scheme or :path (RFC 9113 §8.3.1)")
    if _PATH.fullmatch(path) is None:
        return _bad("empty or invalid :path (RFC 9113 §8.3.1)")
    if scheme in (b"http", b"https"):
        # RFC 9113 §8.3.1: origin-form, or "*" for OPTIONS; an authority is mandatory.
        if path[0] != 47 and (path != b"*" or method != b"OPTIONS"):  # 47: "/"
            return _bad(":path must be origin-form or '*' for OPTIONS (RFC 9113 §8.3.1)")
        if authority is None and host is None:
            return _bad("no :authority and no Host (RFC 9113 §8.3.1)")

    if cookies is not None:  # RFC 9113 §8.2.3: crumbs are rejoined for HTTP/1-era consumers
        headers.insert(cookie_at, (b"cookie", b"; ".join(cookies)))
    if authority is not None:
        headers.insert(0, (b"host", authority))
    elif host is not None:
        headers.insert(0, (b"host", host))
    return Request(stream_id, method, path, headers, scheme, authority, protocol), length


def parse_trailers(
    fields: Iterable[tuple[bytes, bytes]], limits: Limits
) -> list[tuple[bytes, bytes]] | RemoteProtocolError:
    """Validate a decoded trailer list (RFC 9113 §8.1): no pseudo-fields, the same field rules."""
    out: list[tuple[bytes, bytes]] = []
    size = 0
    for name, value in fields:
        size += len(name) + len(value) + 32
        if _NAME.fullmatch(name) is None:
            return RemoteProtocolError(f"invalid trailer field name {name!r} (RFC 9113 §8.1)")
        if _VALUE.fullmatch(value) is None:
            return RemoteProtocolError(f"invalid value in trailer {name!r} (RFC 9113 §8.2.1)")
        if name in CONNECTION_SPECIFIC or name == b"te":
            return RemoteProtocolError(f"connection-specific trailer {name!r} (RFC 9113 §8.2.2)")
        out.append((name, value))
    if len(out) > limits.max_header_count or size > limits.max_header_list_size:
        return RemoteProtocolError("trailer section too large")
    return out


def response_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    """Lowercase names, drop connection-specific fields (RFC 9113 §8.2.2), refuse invalid ones.

    `set-cookie` values are sent as never-indexed literals (RFC 7541 §7.1.3): a secret kept in the
    client's dynamic table could be guessed by an attacker who can add chosen fields to responses on
    the same connection and watch their compressed size (RFC 7541 §7.1.1). h2 already does this for
    `authorization` and short `cookie` fields, which only clients send.
    """
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if type(name) is not bytes or type(value) is not bytes:
            raise LocalProtocolError("header names and values must be bytes")
        name = name.lower()  # RFC 9113 §8.2.1
        if name in CONNECTION_SPECIFIC or name == b"te":
            continue
        if _NAME.fullmatch(name) is None:
            raise LocalProtocolError(f"invalid header name {name!r}")
        if _VALUE.fullmatch(value) is None:
            raise LocalProtocolError(f"invalid value in header {name!r}")
        out.append(NeverIndexedHeaderTuple(name, value) if name == b"set-cookie" else (name, value))
    return out
