"""Bytes -> request parts: pure functions over a buffer and positions.

Every function either returns a result, returns -1 ("need more data"), or raises a
RemoteProtocolError subclass.  Incremental scans take ``scan`` (where the previous search stopped,
relative to the unit start) so a slowly arriving head is never rescanned from the beginning, and
only look inside the window a limit allows, so the verdict for any byte stream does not depend on how
it was split into reads.
"""

from __future__ import annotations

from itertools import repeat

from ._abnf import (
    ABSOLUTE_FORM,
    BAD_EOL,
    CHUNK_LINE,
    DIGITS,
    FIELD_LINE,
    FIELD_VALUE_CHARS,
    HOST,
    REQUEST_LINE,
    STATUS_LINE,
    TCHARS,
    TOKEN,
)
from ._errors import (
    BodyTooLarge,
    HeadersTooLarge,
    RemoteProtocolError,
    RequestLineTooLong,
    StatusLineTooLong,
    UnsupportedMethod,
    UnsupportedTransferCoding,
    UnsupportedVersion,
)

__all__ = [
    "scan_request_line",
    "scan_status_line",
    "scan_section",
    "scan_chunk_line",
    "parse_request_line",
    "parse_status_line",
    "target_error",
    "parse_fields",
    "parse_chunk_line",
    "parse_content_length",
    "check_transfer_encoding",
    "comma_tokens",
    "combined",
]

Buffer = bytes | bytearray

_HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")
_FIELD_CHARS = FIELD_VALUE_CHARS
_COLON = repeat(b":")
_partition = bytes.partition
_lower = bytes.lower
_strip = bytes.strip
_MAX_CONTENT_LENGTH = 2**63 - 1


def _bare_eol(buf: Buffer, start: int, end: int) -> None:
    m = BAD_EOL.search(buf, start, end)
    if m is not None:
        what = "bare CR" if m.group() == b"\r" else "bare LF"
        raise RemoteProtocolError(f"{what} at byte {m.start()}: lines must end in CRLF")


def scan_request_line(buf: Buffer, pos: int, scan: int, limit: int) -> int:
    """Index of the CRLF ending the request line that starts at ``pos``, or -1.

    RFC 9112 §3: the line (without CRLF) may be at most ``limit`` bytes, else 414.  While it is
    incomplete, reject early what can never become valid: a bare CR/LF (§2.2) or a method that is
    not a token followed by SP (RFC 9110 §9.1), e.g. a TLS ClientHello.
    """
    le, window = _find_line(buf, pos, scan, limit)
    if le >= 0:
        return le
    end = min(len(buf), window)
    # Bytes before pos + scan were checked by the previous call: only look at new ones, and
    # only while no SP has ended the method yet (keeps a trickled line linear).
    if buf.find(b" ", pos, pos + scan) < 0:
        m = TOKEN.match(buf, pos + scan, end)
        stop = pos + scan if m is None else m.end()
        if stop < end and buf[stop] != 0x20:
            raise RemoteProtocolError("request line does not start with a method token and SP")
    if len(buf) >= window:
        raise RequestLineTooLong(f"request line longer than {limit} bytes")
    return -1


def scan_status_line(buf: Buffer, pos: int, scan: int, limit: int) -> int:
    """Index of the CRLF ending the status line that starts at ``pos``, or -1.

    The line (without CRLF) may be at most ``limit`` bytes.  While it is incomplete, reject early
    what can never become valid: a bare CR/LF (RFC 9112 §2.2) or a start other than ``HTTP/``
    (RFC 9112 §4), so a response without a status line fails at once.
    """
    le, window = _find_line(buf, pos, scan, limit)
    if le >= 0:
        return le
    end = min(len(buf), window)
    if not b"HTTP/".startswith(bytes(buf[pos : min(end, pos + 5)])):
        raise RemoteProtocolError("response does not start with a status line (RFC 9112 §4)")
    if len(buf) >= window:
        raise StatusLineTooLong(f"status line longer than {limit} bytes")
    return -1


def scan_section(buf: Buffer, start: int, scan: int, limit: int) -> int:
    """Index just past the empty line ending a field section that starts at ``start``, or -1.

    The section's field lines (with their CRLFs) may be at most ``limit`` bytes, else 431.
    """
    if buf.startswith(b"\r\n", start):
        return start + 2
    window = start + limit + 2
    i = buf.find(b"\r\n\r\n", start + scan, window)
    if i >= 0:
        return i + 4
    end = min(len(buf), window)
    _bare_eol(buf, max(start, start + scan - 1), end)
    if len(buf) >= window:
        raise HeadersTooLarge(f"field section larger than {limit} bytes")
    return -1


def scan_chunk_line(buf: Buffer, pos: int, scan: int, ext_budget: int) -> int:
    """Index of the CRLF ending a chunk-size line at ``pos``, or -1 (RFC 9112 §7.1).

    The line is at most 16 hex digits plus the remaining chunk-extension budget.
    """
    window = pos + 16 + ext_budget + 2
    le = buf.find(b"\r\n", pos + scan, window)
    if le >= 0:
        return le
    end = min(len(buf), window)
    _bare_eol(buf, pos + scan, end)
    if pos < end and buf[pos] not in _HEXDIGITS:
        raise RemoteProtocolError("chunk size is not 1*HEXDIG")
    if len(buf) >= window:
        raise RemoteProtocolError("chunk size line too long (size or extensions)")
    return -1


def _malformed(buf: Buffer, pos: int, le: int, what: str) -> RemoteProtocolError:
    line = bytes(buf[pos:le])
    if b"\n" in line or b"\r" in line:
        return RemoteProtocolError(f"bare CR or LF in the {what}")  # RFC 9112 §2.2
    return RemoteProtocolError(f"malformed {what}")


def _other_version(version: bytes) -> bytes:
    if version[0] != 0x31:
        # RFC 9110 §15.6.6 / RFC 9112 §2.3: only HTTP/1.x here; HTTP/2 has its own preface.
        raise UnsupportedVersion(f"HTTP/{version.decode()} is not supported")
    return b"1.1"  # RFC 9112 §2.3: a higher 1.x minor is read as the highest we have


def _find_line(buf: Buffer, pos: int, scan: int, limit: int) -> tuple[int, int]:
    """(index of the CRLF ending the line at ``pos``, -1 if none yet; end of the window seen),
    rejecting a bare CR or LF among the new bytes (RFC 9112 §2.2)."""
    window = pos + limit + 2
    le = buf.find(b"\r\n", pos + scan, window)
    if le >= 0:
        return le, window
    _bare_eol(buf, pos + scan, min(len(buf), window))
    return -1, window


def parse_request_line(buf: bytes, pos: int, le: int) -> tuple[bytes, bytes, bytes]:
    """(method, target, http_version) of the request line in ``buf[pos:le]``."""
    m = REQUEST_LINE.fullmatch(buf, pos, le)
    if m is None:
        raise _malformed(buf, pos, le, "request line")
    method, target, version = m.groups()
    if version != b"1.1" and version != b"1.0":
        version = _other_version(version)
    if method == b"CONNECT":
        # RFC 9110 §9.3.6: CONNECT asks for a tunnel; this server is no proxy.
        raise UnsupportedMethod("CONNECT is not supported")
    if target[0] != 0x2F or b"#" in target:  # anything but a plain origin-form (RFC 9112 §3.2.1)
        error = target_error(method, target)
        if error is not None:
            raise RemoteProtocolError(error)
    return method, target, version


def target_error(method: bytes, target: bytes) -> str | None:
    """Why a request-target (VCHARs already) does not suit its method, or None (RFC 9112 §3.2)."""
    if b"#" in target:
        # RFC 9112 §3.2: no form of request-target has a fragment (RFC 3986 §3.5); a client must
        # not send one, and a path that carried it would route the request wrongly.
        return "request-target with a fragment (#)"
    if target[:1] == b"/":
        return "CONNECT needs an authority-form target" if method == b"CONNECT" else None
    if method == b"CONNECT":
        # RFC 9112 §3.2.3: authority-form = uri-host ":" port, only for CONNECT.
        host, colon, port = target.rpartition(b":")
        if colon and host and port.isdigit() and HOST.fullmatch(target) is not None:
            return None
        return "CONNECT needs an authority-form target (host:port)"
    if target == b"*":
        if method != b"OPTIONS":  # asterisk-form only for OPTIONS (RFC 9112 §3.2.4)
            return "asterisk-form request-target is only allowed for OPTIONS"
        return None
    if ABSOLUTE_FORM.match(target) is None:
        # authority-form is only for CONNECT (RFC 9112 §3.2.3); anything else is not a target.
        return "request-target is not in origin-form or absolute-form"
    return None


def parse_status_line(buf: bytes, pos: int, le: int) -> tuple[bytes, int, bytes]:
    """(http_version, status, reason) of the status line in ``buf[pos:le]`` (RFC 9112 §4)."""
    m = STATUS_LINE.fullmatch(buf, pos, le)
    if m is None:
        raise _malformed(buf, pos, le, "status line")
    version, code, reason = m.groups()
    if version != b"1.1" and version != b"1.0":
        version = _other_version(version)
    status = int(code)
    if status < 100 or status > 599:
        raise RemoteProtocolError(f"status code {status} outside 100-599 (RFC 9110 §15)")
    return version, status, reason or b""


def _diagnose(lines: list[bytes]) -> str:
    for line in lines:
        if b"\r" in line or b"\n" in line:
            return "bare CR or LF in the field section: lines must end in CRLF"  # RFC 9112 §2.2
        if line[:1] in (b" ", b"\t"):
            # RFC 9112 §5.2 (obs-fold) and §2.2 (whitespace before the first field line).
            return "field line starts with whitespace (obs-fold is not accepted)"
        name, colon, _ = line.partition(b":")
        if not colon:
            return "field line without a colon"
        if name[-1:] in (b" ", b"\t"):
            return "whitespace between field name and colon"  # RFC 9112 §5.1
        if TOKEN.fullmatch(name) is None:
            return "field name is not a token"  # RFC 9110 §5.1
        m = FIELD_LINE.match(b"\r\n" + line + b"\r\n")
        if m is None or m.end() != len(line) + 2:
            return "invalid character in field value"  # RFC 9110 §5.5
    return "malformed field section"  # pragma: no cover


NamesCache = tuple[tuple[bytes, ...], list[bytes], frozenset[bytes]]


def parse_fields(
    block: bytes, max_count: int, cache: NamesCache | None = None
) -> tuple[list[tuple[bytes, bytes]], list[bytes], tuple[bytes, ...]]:
    """Field lines ``name: value`` separated by CRLF (no final CRLF) -> (headers, lower, names).

    ``headers`` are ``(lowercase name, value)`` with surrounding OWS removed; ``lower`` is the
    list of lowercase names, ``names`` the names as received.  Acceptance is exactly
    ``FIELD_LINE`` per line (RFC 9112 §5, RFC 9110 §5.5), checked with two translate() calls over
    all names and all values instead of a regex per byte; the regex only explains a rejection.

    ``cache`` holds the names of the previous request on the connection: when this request has
    the very same names (a kept-alive client usually does), they are valid already and their
    lowercase forms are reused.  Values are always checked.
    """
    lines = block.split(b"\r\n")
    # Equal lengths by construction; strict=True would cost ~15% of this function.
    names, colons, values = zip(*map(_partition, lines, _COLON))  # noqa: B905
    if b"" in colons or b"".join(values).translate(None, _FIELD_CHARS):
        raise RemoteProtocolError(_diagnose(lines))
    if cache is not None and names == cache[0]:
        lower = cache[1]
    else:
        if b"" in names or b"".join(names).translate(None, TCHARS):
            raise RemoteProtocolError(_diagnose(lines))
        if len(lines) > max_count:
            raise HeadersTooLarge(f"more than {max_count} field lines")
        lower = list(map(_lower, names))
    # Values hold only HTAB/SP/VCHAR/obs-text here, so strip() removes exactly OWS.
    return list(zip(lower, map(_strip, values))), lower, names  # noqa: B905


def parse_chunk_line(buf: bytes, pos: int, le: int) -> tuple[int, int]:
    """(chunk size, extension length) of the chunk-size line ``buf[pos:le]`` (RFC 9112 §7.1)."""
    m = CHUNK_LINE.fullmatch(buf, pos, le)
    if m is None:
        raise RemoteProtocolError("malformed chunk size line")
    digits = m.group(1)
    return int(digits, 16), le - pos - len(digits)


def parse_content_length(value: bytes, limit: int | None) -> int:
    """RFC 9110 §8.6 / RFC 9112 §6.3: 1*DIGIT; an identical list (``5, 5``) is one value."""
    if DIGITS.fullmatch(value) is None:
        parts = {part.strip(b" \t") for part in value.split(b",")}
        if len(parts) != 1:
            raise RemoteProtocolError("conflicting Content-Length values")
        (value,) = parts
        if DIGITS.fullmatch(value) is None:
            raise RemoteProtocolError("malformed Content-Length")
    length = int(value)
    if length > _MAX_CONTENT_LENGTH:
        raise RemoteProtocolError("Content-Length out of range")
    if limit is not None and length > limit:
        raise BodyTooLarge(f"Content-Length {length} exceeds the limit of {limit} bytes")
    return length


def combined(headers: list[tuple[bytes, bytes]], names: list[bytes], name: bytes) -> bytes:
    """The value of field ``name`` (lowercase), repeated fields joined with "," (RFC 9110 §5.3)."""
    value = headers[names.index(name)][1]
    if names.count(name) > 1:
        value = b",".join([v for n, v in headers if n == name])
    return value


def comma_tokens(value: bytes) -> list[bytes]:
    """Lowercased members of a comma-separated list, empty members dropped (RFC 9110 §5.6.1)."""
    return [m for m in (part.strip(b" \t") for part in value.lower().split(b",")) if m]


def check_transfer_encoding(value: bytes) -> None:
    """Accept exactly one final ``chunked`` (RFC 9112 §6.1, §6.3, §7).

    ``chunked`` not final (or absent) makes the length undeterminable: 400 (§6.3, a MUST, which
    wins over §6.1's SHOULD-501).  A final ``chunked`` after codings we do not implement: 501.
    """
    codings = comma_tokens(value)
    if codings == [b"chunked"]:
        return
    if not codings:
        raise RemoteProtocolError("empty Transfer-Encoding")
    if codings.count(b"chunked") > 1:
        raise RemoteProtocolError("chunked applied more than once (RFC 9112 §7)")
    if codings[-1] != b"chunked":
        raise RemoteProtocolError("chunked is not the final transfer coding")
    for coding in codings:
        if TOKEN.fullmatch(coding.partition(b";")[0].rstrip(b" \t")) is None:
            raise RemoteProtocolError("malformed Transfer-Encoding")
    raise UnsupportedTransferCoding("transfer codings other than chunked are not supported")
