"""Response head serialization. nginx reads the uwsgi response as HTTP/1.x (RFC 9112)."""

from __future__ import annotations

import re

from ._errors import LocalProtocolError
from ._events import Response

__all__ = ["write_head"]

# RFC 9110 section 15 (and the WebDAV and RFC 6585 codes servers commonly send): our own table,
# not http.HTTPStatus, whose phrases change between Python versions (3.13 took RFC 9110's).
_REASONS = {
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
# RFC 9112 section 4: status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF.
_STATUS_LINES = {code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in _REASONS.items()}
# RFC 9112 section 4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
_REASON_RE = re.compile(rb"[\t\x20-\x7e\x80-\xff]+")
# RFC 9110 sections 5.1 and 5.6.2: field-name = token.
_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 section 5.5: CR, LF and NUL would split or truncate the header line.
_BAD_VALUE_RE = re.compile(rb"[\x00\r\n]")
# RFC 9110 section 8.6.
_DIGITS_RE = re.compile(rb"[0-9]{1,18}")

_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"


def write_head(response: Response) -> tuple[bytes, int | None]:
    """Serialize the head; return it with the declared content-length, if any.

    Framing fields are never added, only passed on: content-length is dropped from a 204 and kept
    as given elsewhere (a 304's describes the selected representation, RFC 9110 section 15.4.5).
    Raises LocalProtocolError for anything that is not a valid final HTTP/1.1 response head.
    """
    status = response.status
    if type(status) is not int or not 200 <= status <= 999:
        # 1xx are not supported: nginx's uwsgi module reads exactly one response head.
        raise LocalProtocolError(f"status must be an int in 200..999, not {status!r}")
    reason = response.reason
    if reason:
        if type(reason) is not bytes or _REASON_RE.fullmatch(reason) is None:
            raise LocalProtocolError(f"invalid reason phrase {reason!r}")
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
    else:
        line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status
    parts = [line]
    content_length: int | None = None
    try:
        for name, value in response.headers:
            if _TOKEN_RE.fullmatch(name) is None:
                raise LocalProtocolError(f"invalid header name {name!r}")
            if _BAD_VALUE_RE.search(value) is not None:
                raise LocalProtocolError(f"CR, LF or NUL in the value of header {name!r}")
            lname = name.lower()
            if lname == _CONTENT_LENGTH:
                if _DIGITS_RE.fullmatch(value) is None:
                    raise LocalProtocolError(f"invalid content-length {value!r}")
                length = int(value)
                if content_length is not None and length != content_length:
                    raise LocalProtocolError("conflicting content-length headers")
                content_length = length
                if status == 204:
                    # RFC 9110 section 8.6: a server MUST NOT send Content-Length in a 204.
                    continue
            elif lname == _TRANSFER_ENCODING:
                # The connection close delimits the body (RFC 9112 section 6.3, rule 8) and we
                # never apply a transfer coding, so this header would make nginx misread the
                # body. Dropped, as h2 drops connection-specific fields.
                continue
            parts += (name, b": ", value, b"\r\n")
    except (TypeError, ValueError):
        raise LocalProtocolError(
            f"headers must be a list of (bytes, bytes) pairs, not {response.headers!r:.200}"
        ) from None
    parts.append(b"\r\n")
    return b"".join(parts), content_length
