"""Response head serialization. nginx reads the uwsgi response as HTTP/1.x (RFC 9112)."""

from __future__ import annotations

import re
from http import HTTPStatus

from ._errors import LocalProtocolError
from ._events import Response

__all__ = ["write_head"]

# RFC 9112 section 4: status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF.
_STATUS_LINES = {
    s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode("ascii"))
    for s in HTTPStatus
    if s.value >= 200
}
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
