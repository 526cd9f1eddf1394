"""RFC 9110 / RFC 9112 grammar as compiled byte regexes (validate once, in C)."""

from __future__ import annotations

import re

__all__ = [
    "TOKEN",
    "REQUEST_LINE",
    "FIELD_LINE",
    "BAD_EOL",
    "TCHARS",
    "CHUNK_LINE",
    "HOST",
    "ABSOLUTE_FORM",
    "DIGITS",
    "REASON",
    "STATUS_LINE",
    "FIELD_VALUE_CHARS",
]

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
#                          / "`" / "|" / "~" / DIGIT / ALPHA
_TCHAR = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TOKEN = re.compile(_TCHAR + rb"+")

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single SPs.
# request-target is checked per form later; here: VCHARs only (no whitespace, CTL or obs-text).
# RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT.
REQUEST_LINE = re.compile(rb"(" + _TCHAR + rb"+) ([\x21-\x7e]+) HTTP/([0-9]\.[0-9])")

# RFC 9112 §5 + RFC 9110 §5.5: field-line = field-name ":" OWS field-value OWS, one per CRLF.
# Anchored on the CRLF that ends the previous line, so a match always covers a whole line: no
# whitespace before the colon (§5.1), no obs-fold or leading whitespace (§5.2, §2.2), no NUL or
# other CTL except HTAB in the value (RFC 9110 §5.5).  Trailing OWS stays in the group.
FIELD_LINE = re.compile(rb"\r\n(" + _TCHAR + rb"+):[ \t]*([\t\x20-\x7e\x80-\xff]*)(?=\r\n)")

# RFC 9112 §2.2: a CR not followed by LF, or an LF not preceded by CR (bare line terminators).
BAD_EOL = re.compile(rb"\r(?=[^\n])|(?<!\r)\n")

# RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF; chunk-size = 1*HEXDIG (bounded here);
# §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
# chunk-ext-val = token / quoted-string (RFC 9110 §5.6.4: qdtext and quoted-pair, no CTLs).
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})((?:[ \t]*;[ \t]*"
    + _TCHAR
    + rb"+(?:[ \t]*=[ \t]*(?:"
    + _TCHAR
    + rb"+|"
    + _QUOTED
    + rb"))?)*)"
)

# RFC 9112 §3.2 / RFC 3986 §3.2.2: Host = uri-host [ ":" port ]; IP-literal or reg-name.
HOST = re.compile(
    rb"(?:\[[0-9A-Za-z:._~!$&'()*+,;=%-]+\]|[0-9A-Za-z._~!$&'()*+,;=%-]*)(?::[0-9]*)?"
)

# RFC 9112 §3.2.2: absolute-form; HTTP URIs always carry an authority ("//"), which also keeps
# authority-form ("host:port", CONNECT only, §3.2.3) from passing as a scheme.
ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://")

# RFC 9110 §8.6: Content-Length = 1*DIGIT (bounded: at most 19 digits, checked < 2**63).
DIGITS = re.compile(rb"[0-9]{1,19}")

# RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
REASON = re.compile(rb"[\t \x21-\x7e\x80-\xff]*")

# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].  The SP before an
# empty reason is optional here: many servers omit it and the line stays unambiguous (h11 agrees).
STATUS_LINE = re.compile(rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: ([\t \x20-\x7e\x80-\xff]*))?")

# RFC 9110 §5.5: field-vchar / SP / HTAB (VCHAR and obs-text); no other CTL, no DEL.  For
# bytes.translate(None, ...): what is left over is invalid.
FIELD_VALUE_CHARS = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
