"""Events -> bytes: precomputed status lines and one-pass validation of outgoing fields."""

from __future__ import annotations

from ._abnf import REASON, TOKEN
from ._errors import LocalProtocolError
from ._events import Headers

__all__ = [
    "REASONS",
    "status_line",
    "encode_fields",
    "OTHER",
    "CONTENT_LENGTH",
    "TRANSFER_ENCODING",
    "CONNECTION",
    "STATUS_LINES",
]

# RFC 9110 §15 (plus 103 from RFC 8297 and the WebDAV/RFC 6585 codes servers commonly send).
REASONS: dict[int, bytes] = {
    100: b"Continue",
    101: b"Switching Protocols",
    102: b"Processing",
    103: b"Early Hints",
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    203: b"Non-Authoritative Information",
    204: b"No Content",
    205: b"Reset Content",
    206: b"Partial Content",
    207: b"Multi-Status",
    208: b"Already Reported",
    226: b"IM Used",
    300: b"Multiple Choices",
    301: b"Moved Permanently",
    302: b"Found",
    303: b"See Other",
    304: b"Not Modified",
    305: b"Use Proxy",
    307: b"Temporary Redirect",
    308: b"Permanent Redirect",
    400: b"Bad Request",
    401: b"Unauthorized",
    402: b"Payment Required",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    407: b"Proxy Authentication Required",
    408: b"Request Timeout",
    409: b"Conflict",
    410: b"Gone",
    411: b"Length Required",
    412: b"Precondition Failed",
    413: b"Content Too Large",
    414: b"URI Too Long",
    415: b"Unsupported Media Type",
    416: b"Range Not Satisfiable",
    417: b"Expectation Failed",
    421: b"Misdirected Request",
    422: b"Unprocessable Content",
    423: b"Locked",
    424: b"Failed Dependency",
    425: b"Too Early",
    426: b"Upgrade Required",
    428: b"Precondition Required",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    451: b"Unavailable For Legal Reasons",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
    506: b"Variant Also Negotiates",
    507: b"Insufficient Storage",
    508: b"Loop Detected",
    511: b"Network Authentication Required",
}

# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF.  We always
# answer HTTP/1.1 (RFC 9110 §2.5: a server sends its own highest conformant version).
STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in REASONS.items()
}


def status_line(status: int, reason: bytes) -> bytes:
    if not reason:
        line = STATUS_LINES.get(status)
        if line is not None:
            return line
        return b"HTTP/1.1 %d \r\n" % status
    if type(reason) is not bytes or REASON.fullmatch(reason) is None:
        raise LocalProtocolError(f"invalid reason phrase {reason!r}")
    return b"HTTP/1.1 %d %s\r\n" % (status, reason)


OTHER = 0
CONTENT_LENGTH = 1
TRANSFER_ENCODING = 2
CONNECTION = 3

_FRAMING = {
    b"content-length": CONTENT_LENGTH,
    b"transfer-encoding": TRANSFER_ENCODING,
    b"connection": CONNECTION,
}
# Names we know to be valid tokens, so the common case skips the regex; framing names must be
# recognised in any case (RFC 9110 §5.1: field names are case-insensitive).
_KNOWN: dict[bytes, int] = dict.fromkeys(
    (
        b"accept-ranges",
        b"access-control-allow-credentials",
        b"access-control-allow-headers",
        b"access-control-allow-methods",
        b"access-control-allow-origin",
        b"access-control-expose-headers",
        b"access-control-max-age",
        b"age",
        b"allow",
        b"alt-svc",
        b"cache-control",
        b"content-disposition",
        b"content-encoding",
        b"content-language",
        b"content-location",
        b"content-range",
        b"content-security-policy",
        b"content-type",
        b"date",
        b"etag",
        b"expires",
        b"last-modified",
        b"link",
        b"location",
        b"referrer-policy",
        b"retry-after",
        b"server",
        b"set-cookie",
        b"strict-transport-security",
        b"trailer",
        b"upgrade",
        b"vary",
        b"www-authenticate",
        b"x-content-type-options",
        b"x-frame-options",
        b"sec-websocket-accept",
        b"sec-websocket-protocol",
        b"sec-websocket-extensions",
        b"x-request-id",
    ),
    OTHER,
)
_KNOWN.update(_FRAMING)
# Request fields a client commonly sends, as browsers spell them and lowercased (HTTP/2 style).
_REQUEST_NAMES = (
    b"Host",
    b"User-Agent",
    b"Accept",
    b"Accept-Language",
    b"Accept-Encoding",
    b"Cookie",
    b"Upgrade-Insecure-Requests",
    b"Sec-Fetch-Dest",
    b"Sec-Fetch-Mode",
    b"Sec-Fetch-Site",
    b"Sec-Fetch-User",
    b"Cache-Control",
    b"Content-Type",
    b"Authorization",
    b"Referer",
    b"Origin",
    b"If-None-Match",
    b"If-Modified-Since",
    b"Range",
    b"Expect",
    b"TE",
    b"Upgrade",
    b"Sec-WebSocket-Key",
    b"Sec-WebSocket-Version",
)
_KNOWN.update(dict.fromkeys(_REQUEST_NAMES, OTHER))
_KNOWN.update(dict.fromkeys((n.lower() for n in _REQUEST_NAMES), OTHER))
_KNOWN.update(
    {n.title(): kind for n, kind in _FRAMING.items()}  # Content-Length, Transfer-Encoding, ...
)


def _diagnose(headers: Headers) -> LocalProtocolError:
    for field in headers:
        if not isinstance(field, tuple | list) or len(field) != 2:
            return LocalProtocolError(f"headers must be (name, value) pairs, not {field!r}")
        name, value = field
        if type(name) is not bytes or type(value) is not bytes:
            return LocalProtocolError(f"header names and values must be bytes: {(name, value)!r}")
        if TOKEN.fullmatch(name) is None:
            return LocalProtocolError(f"header name {name!r} is not a token")
        if b"\r" in value or b"\n" in value or b"\0" in value:
            # Response splitting (CVE-2020-7695, CVE-2018-1000164); RFC 9110 §5.5.
            return LocalProtocolError(f"CR, LF or NUL in the value of header {name!r}")
    return LocalProtocolError("invalid header")  # pragma: no cover


_join_field = b": ".join
_NOT_CR_LF_NUL = bytes(b for b in range(256) if b not in (0x00, 0x0A, 0x0D))

Encoded = tuple[bytes, bytes | None, bytes | None, bytes | None]


def encode_fields(headers: Headers) -> Encoded:
    """Validate and serialize field lines, once.

    Returns the ``name: value\r\n`` block and the values of the framing fields (Content-Length,
    Transfer-Encoding, Connection), repeated ones joined with ``,``.  Names are sent as given;
    only framing names are compared case-insensitively (RFC 9110 §5.1).
    """
    if not headers:
        return b"", None, None, None
    try:
        block = b"\r\n".join(map(_join_field, headers))
    except TypeError:
        raise _diagnose(headers) from None
    # One pass over the whole block instead of three per value: the only CR and LF allowed are
    # the separators we inserted (RFC 9110 §5.5 forbids CR, LF and NUL in field values).
    if block.translate(None, _NOT_CR_LF_NUL) != b"\r\n" * (len(headers) - 1):
        raise _diagnose(headers)
    length = coding = connection = None
    known = _KNOWN
    try:
        for name, value in headers:
            kind = known.get(name)
            if kind is None:
                if TOKEN.fullmatch(name) is None:
                    raise _diagnose(headers)
                kind = _FRAMING.get(name.lower(), OTHER)
            if kind:
                if kind == CONTENT_LENGTH:
                    length = value if length is None else length + b"," + value
                elif kind == TRANSFER_ENCODING:
                    coding = value if coding is None else coding + b"," + value
                else:
                    connection = value if connection is None else connection + b"," + value
    except ValueError:
        raise LocalProtocolError("headers must be (name, value) pairs") from None
    return block + b"\r\n", length, coding, connection
