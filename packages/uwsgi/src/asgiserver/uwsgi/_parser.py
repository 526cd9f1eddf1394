"""The uwsgi packet head -> a ``Request`` with its ASGI scope fields, validated once.

Wire format (uWSGI docs, "The uwsgi Protocol"): a 4-byte header (modifier1: u8, datasize: u16
little-endian, modifier2: u8), then ``datasize`` bytes of vars, each a (u16 LE key length, key,
u16 LE value length, value) pair, then CONTENT_LENGTH bytes of request body. The vars are CGI
meta-variables (RFC 3875 section 4.1); nginx fills them from ``uwsgi_params`` and passes every
request header as an ``HTTP_*`` var (RFC 3875 section 4.1.18).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from ._errors import BodyTooLarge, RemoteProtocolError, UnsupportedPacket, VarsTooLarge
from ._events import Request

__all__ = ["parse_packet_header", "parse_vars"]

# RFC 9110 section 5.6.2: token = 1*tchar.
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_TOKEN_RE = re.compile(_TCHAR + rb"+")
# Every HTTP_* key, joined by b"\n", checked by one regex: the header name must be a token.
_HTTP_KEYS_RE = re.compile(rb"HTTP_" + _TCHAR + rb"+(?:\nHTTP_" + _TCHAR + rb"+)*")
_HTTP_KEY_RE = re.compile(rb"HTTP_" + _TCHAR + rb"+")
# Header values are passed on unchanged except for the bytes that could split a header line or
# end a C string downstream (RFC 9110 section 5.5: CR, LF and NUL are never valid in a value).
_BAD_VALUE_RE = re.compile(rb"[\x00\r\n]")
# RFC 9110 section 8.6: Content-Length = 1*DIGIT; 18 digits keep it below 2**63.
_DIGITS_RE = re.compile(rb"[0-9]{1,18}")
# RFC 3986 section 3.3: bytes a path may carry unencoded (pchar and "/").
_NOT_PCHAR_RE = re.compile(rb"[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")

# HTTP_ACCEPT_LANGUAGE -> accept-language (RFC 3875 section 4.1.18 in reverse).
_HEADER_NAME = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ_", b"abcdefghijklmnopqrstuvwxyz-")

_VERSIONS = {
    b"HTTP/1.1": "1.1",
    b"HTTP/1.0": "1.0",
    b"HTTP/2.0": "2",
    b"HTTP/2": "2",
    b"HTTP/3.0": "3",
    b"HTTP/3": "3",
}
_TRUE = frozenset({b"on", b"1"})

# Request headers that do not pass straight through from HTTP_* vars.
_CONTENT_LENGTH = b"content-length"
_CONTENT_TYPE = b"content-type"
_TRANSFER_ENCODING = b"transfer-encoding"
_HOST = b"host"
# content-length comes from CONTENT_LENGTH alone: it frames the body. transfer-encoding: nginx
# already decoded any chunked body (uwsgi has no transfer codings), so the header would describe
# bytes the app never sees. content-type: CONTENT_TYPE wins when non-empty.
_DROPPED = frozenset({_CONTENT_LENGTH, _TRANSFER_ENCODING})
_DROPPED_OR_STASHED = _DROPPED | {_CONTENT_TYPE}


def _malformed(msg: str) -> RemoteProtocolError:
    return RemoteProtocolError(msg, status_hint=400)


def _quote_path(path: bytes) -> bytes:
    # RFC 3986 section 2.1: PATH_INFO is decoded, so re-encode what a raw path can't carry.
    if _NOT_PCHAR_RE.search(path) is None:
        return path
    return _NOT_PCHAR_RE.sub(lambda m: b"%%%02X" % m[0][0], path)


def _decode(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(f"{what} is not valid UTF-8: {value[:100]!r}") from None


def _port(value: bytes | None) -> int | None:
    if value and len(value) <= 5 and value.isdigit():
        port = int(value)
        if port <= 0xFFFF:
            return port
    return None


def parse_packet_header(header: bytes | bytearray | memoryview, max_vars_bytes: int) -> int:
    """The vars block size from the 4-byte packet header, checked before any vars are buffered.

    Raises RemoteProtocolError.
    """
    # uWSGI docs, "The uwsgi Protocol": modifier1 0 with modifier2 0 is the WSGI (CGI vars)
    # request, the only packet nginx's uwsgi_pass sends unless uwsgi_modifier1/2 are set.
    if header[0] != 0:
        raise UnsupportedPacket(f"uwsgi modifier1 {header[0]} is not supported (only 0)")
    if header[3] != 0:
        raise UnsupportedPacket(f"uwsgi modifier2 {header[3]} is not supported (only 0)")
    size = header[1] | header[2] << 8  # datasize: u16, little-endian
    if size > max_vars_bytes:
        raise VarsTooLarge(f"vars block of {size} bytes exceeds max_vars_bytes {max_vars_bytes}")
    return size


def _lie(block: bytes) -> RemoteProtocolError:
    """Slow path: say which length of a malformed block lies."""
    end = len(block)
    pos = 0
    while pos < end:
        if pos + 2 > end:
            return _malformed(f"vars block ends inside a key length at offset {pos}")
        key_end = pos + 2 + (block[pos] | block[pos + 1] << 8)
        if key_end > end:
            return _malformed(f"key length at offset {pos} runs past the end of the vars block")
        if key_end + 2 > end:
            return _malformed(f"vars block ends after the key at offset {pos}, before its value")
        pos = key_end + 2 + (block[key_end] | block[key_end + 1] << 8)
        if pos > end:
            return _malformed(
                f"value length at offset {key_end} runs past the end of the vars block"
            )
    raise AssertionError("_lie() called on a well-formed block")  # pragma: no cover


def _special_headers(
    names: list[bytes], values: list[bytes]
) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """Slow path for the header fix-ups: returns (headers, HTTP_CONTENT_TYPE values)."""
    headers: list[tuple[bytes, bytes]] = []
    content_types: list[bytes] = []
    host_at = -1
    for name, value in zip(names, values, strict=True):
        if name == _HOST:
            # RFC 9112 section 3.2: one Host. nginx rejects a repeated Host header, so a
            # repeat comes from a config overriding HTTP_HOST: the last wins, in place.
            if host_at >= 0:
                headers[host_at] = (_HOST, value)
                continue
            host_at = len(headers)
        elif name == _CONTENT_TYPE:
            content_types.append(value)
            continue
        elif name in _DROPPED:
            continue
        headers.append((name, value))
    return headers, content_types


def parse_vars(block: bytes, max_body_bytes: int | None) -> tuple[Request, int]:
    """Parse a complete vars block; return the request and its body length.

    Raises RemoteProtocolError (the caller delivers it in band).
    """
    keys: list[bytes] = []
    values: list[bytes] = []
    http_keys: list[bytes] = []
    http_values: list[bytes] = []
    end = len(block)
    pos = 0
    # Every u16 length is bounded by what is left of the block: a length that lies must never
    # make us read past it (cf. CVE-2020-11984 in Apache's mod_proxy_uwsgi). Indexing past the
    # end raises IndexError (a length field cut off, or a key running past); a value running
    # past is checked. Per pair: two lengths, two slices, no other work.
    try:
        while pos < end:
            key_end = pos + 2 + (block[pos] | block[pos + 1] << 8)
            value_end = key_end + 2 + (block[key_end] | block[key_end + 1] << 8)
            if value_end > end:
                raise IndexError
            key = block[pos + 2 : key_end]
            value = block[key_end + 2 : value_end]
            pos = value_end
            keys.append(key)
            values.append(value)
            if key[:5] == b"HTTP_":
                http_keys.append(key)
                http_values.append(value)
    except IndexError:
        raise _lie(block) from None
    # A repeated var: the last wins, as in uWSGI, so that nginx configs may
    # `include uwsgi_params;` and then override a param (both are sent, in order)...
    vars_ = dict(zip(keys, values, strict=True))
    # ...except the framing one: two values is the request smuggling pattern (RFC 9112 6.3).
    if len(vars_) != len(keys) and keys.count(b"CONTENT_LENGTH") > 1:
        raise _malformed("duplicate CONTENT_LENGTH var")

    get = vars_.get
    # RFC 3875 section 4.1.12; RFC 9110 section 9.1: method = token.
    method = get(b"REQUEST_METHOD")
    if method is None:
        raise _malformed("missing REQUEST_METHOD var")
    if _TOKEN_RE.fullmatch(method) is None:
        raise _malformed(f"REQUEST_METHOD is not a token: {method[:100]!r}")

    # RFC 3875 section 4.1.18: HTTP_ACCEPT_LANGUAGE -> accept-language, mapped for all
    # headers at once: one join, one translate, one split.
    headers: list[tuple[bytes, bytes]] = []
    http_content_types: list[bytes] = []
    if http_keys:
        joined = b"\n".join(http_keys)
        # The count check stops a key that itself holds b"\nHTTP_" from passing as two keys.
        if _HTTP_KEYS_RE.fullmatch(joined) is None or joined.count(b"\n") != len(http_keys) - 1:
            bad = next(k for k in http_keys if _HTTP_KEY_RE.fullmatch(k) is None)
            raise _malformed(f"var {bad[:100]!r} does not name a valid header field")
        if _BAD_VALUE_RE.search(b"".join(http_values)) is not None:
            bad = next(
                k for k, v in zip(http_keys, http_values, strict=True) if _BAD_VALUE_RE.search(v)
            )
            raise _malformed(f"var {bad[:100]!r} has CR, LF or NUL in its value")
        names = joined[5:].replace(b"\nHTTP_", b"\n").translate(_HEADER_NAME).split(b"\n")
        if _DROPPED_OR_STASHED.isdisjoint(names) and names.count(_HOST) < 2:
            headers = list(zip(names, http_values, strict=True))
        else:
            headers, http_content_types = _special_headers(names, http_values)

    # RFC 3875 section 4.1.2: absent or empty CONTENT_LENGTH means no body.
    front: list[tuple[bytes, bytes]] = []
    content_type = get(b"CONTENT_TYPE")
    if content_type:
        if _BAD_VALUE_RE.search(content_type) is not None:
            raise _malformed("CONTENT_TYPE has CR, LF or NUL in its value")
        front.append((_CONTENT_TYPE, content_type))
    else:
        front.extend((_CONTENT_TYPE, v) for v in http_content_types)
    content_length = 0
    raw_length = get(b"CONTENT_LENGTH")
    if raw_length:
        if _DIGITS_RE.fullmatch(raw_length) is None:
            raise _malformed(f"CONTENT_LENGTH is not 1 to 18 digits: {raw_length[:100]!r}")
        content_length = int(raw_length)
        if max_body_bytes is not None and content_length > max_body_bytes:
            raise BodyTooLarge(
                f"CONTENT_LENGTH {content_length} exceeds max_body_bytes {max_body_bytes}"
            )
        front.append((_CONTENT_LENGTH, raw_length))
    if front:
        headers[:0] = front

    # ASGI raw_path is the target's path as sent (REQUEST_URI); path is decoded, from
    # PATH_INFO (nginx's $document_uri: decoded and normalized) when present.
    uri = get(b"REQUEST_URI")
    path_info = get(b"PATH_INFO")
    query_string = get(b"QUERY_STRING")
    if uri:
        raw_path, _, uri_query = uri.partition(b"?")
        if query_string is None:
            query_string = uri_query
        path = _decode(path_info if path_info else unquote_to_bytes(raw_path), "the path")
    elif path_info:
        raw_path = _quote_path(path_info)
        path = _decode(path_info, "PATH_INFO")
    else:
        raise _malformed("neither REQUEST_URI nor PATH_INFO var: no request target")
    script_name = get(b"SCRIPT_NAME")
    root_path = _decode(script_name, "SCRIPT_NAME") if script_name else ""

    # uWSGI's rule, with REQUEST_SCHEME (stock nginx uwsgi_params) as a further "yes":
    # an explicit UWSGI_SCHEME decides alone; otherwise https if either HTTPS or REQUEST_SCHEME
    # says so, so that the TLS-offload idiom `uwsgi_param HTTPS on;` is honoured even though
    # REQUEST_SCHEME ($scheme) says http.
    explicit = get(b"UWSGI_SCHEME")
    if explicit:
        scheme = "https" if explicit.lower() == b"https" else "http"
    else:
        https = get(b"HTTPS")
        request_scheme = get(b"REQUEST_SCHEME")
        if (https and https.lower() in _TRUE) or (
            request_scheme and request_scheme.lower() == b"https"
        ):
            scheme = "https"
        else:
            scheme = "http"

    remote_addr = get(b"REMOTE_ADDR")
    client = (
        (remote_addr.decode("latin-1"), _port(get(b"REMOTE_PORT")) or 0) if remote_addr else None
    )
    server_host = get(b"SERVER_NAME") or get(b"SERVER_ADDR")
    server = (server_host.decode("latin-1"), _port(get(b"SERVER_PORT"))) if server_host else None

    request = Request(
        method,
        raw_path,
        path,
        query_string if query_string is not None else b"",
        root_path,
        _VERSIONS.get(get(b"SERVER_PROTOCOL", b""), "1.1"),
        scheme,
        headers,
        client,
        server,
        vars_,
    )
    return request, content_length
