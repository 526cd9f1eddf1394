"""Hypothesis strategies: valid requests as (wire bytes, expected events), and mutations."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SPECIAL = {
    b"host",
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"upgrade",
    b"expect",
    b"te",
    b"content-type",
}

tokens = st.text(TCHARS, min_size=1, max_size=12).map(str.encode)
methods = st.one_of(
    st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"HEAD", b"get"]),
    tokens.filter(lambda t: t != b"CONNECT"),
)
_path_chars = st.text("abcXYZ0129-._~!$&'()*+,;=:@%/", max_size=20)
targets = st.one_of(
    _path_chars.map(lambda p: ("/" + p).encode()),
    st.tuples(_path_chars, _path_chars).map(lambda t: f"/{t[0]}?{t[1]}".encode()),
    _path_chars.map(lambda p: f"http://example.com/{p}".encode()),
)
# field-value: field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ], obs-text included
_vchar = st.sampled_from([bytes([b]) for b in [*range(0x21, 0x7F), *range(0x80, 0x100, 7)]])
_inner = st.one_of(_vchar, st.sampled_from([b" ", b"\t"]))
field_values = st.one_of(
    st.just(b""),
    st.tuples(_vchar, st.lists(_inner, max_size=12), _vchar).map(
        lambda t: t[0] + b"".join(t[1]) + t[2]
    ),
    _vchar,
)
ows = st.sampled_from([b"", b" ", b"  ", b"\t", b" \t"])
field_names = tokens.filter(lambda n: n.lower() not in SPECIAL)
hosts = st.sampled_from([b"example.com", b"a", b"127.0.0.1:8080", b"[::1]", b"xn--e.org:1"])


@dataclass
class Wire:
    """One request: its bytes and the events a parser must produce for it."""

    data: bytes
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    version: bytes
    body: bytes
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def expected(self) -> list[tuple[object, ...]]:
        out: list[tuple[object, ...]] = [
            ("request", self.method, self.target, tuple(self.headers), self.version)
        ]
        if self.body:
            out.append(("data", self.body))
        out.append(("end", tuple(self.trailers)))
        return out


_chunk_ext = st.one_of(
    st.just(b""),
    st.tuples(ows, tokens).map(lambda t: t[0] + b";" + t[1]),
    st.tuples(tokens, tokens).map(lambda t: b";%s=%s" % t),
    tokens.map(lambda t: b';q="%s \\" x"' % t),
)


@st.composite
def requests(draw: st.DrawFn, keep_alive: bool = True) -> Wire:
    """A valid request; with ``keep_alive`` it never asks for the connection to close."""
    version = draw(st.sampled_from([b"1.1", b"1.0"]))
    method = draw(methods)
    target = b"*" if method == b"OPTIONS" and draw(st.booleans()) else draw(targets)
    fields: list[tuple[bytes, bytes]] = [
        (n, v) for n, v in draw(st.lists(st.tuples(field_names, field_values), max_size=6))
    ]
    if version == b"1.1" or draw(st.booleans()):
        fields.insert(
            draw(st.integers(0, len(fields))),
            (draw(st.sampled_from([b"Host", b"host", b"HOST"])), draw(hosts)),
        )
    if version == b"1.0" and keep_alive:
        fields.append((b"Connection", b"keep-alive"))
    body = draw(st.binary(max_size=64))
    framing = draw(
        st.sampled_from(["none", "length", "chunked"] if version == b"1.1" else ["none", "length"])
    )
    if framing == "none":
        body = b""
    trailers: list[tuple[bytes, bytes]] = []
    if framing == "length":
        fields.append((b"Content-Length", b"%d" % len(body)))
    elif framing == "chunked":
        fields.append((b"Transfer-Encoding", draw(st.sampled_from([b"chunked", b"Chunked"]))))
        trailers = draw(st.lists(st.tuples(field_names, field_values), max_size=3))
    head = b"%s %s HTTP/%s\r\n" % (method, target, version)
    for name, value in fields:
        head += name + b":" + draw(ows) + value + draw(ows) + b"\r\n"
    wire = head + b"\r\n"
    if framing == "length":
        wire += body
    elif framing == "chunked":
        cuts = sorted(set(draw(st.lists(st.integers(0, len(body)), max_size=4))))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        for piece in pieces:
            if piece:
                size = b"%x" % len(piece)
                wire += draw(st.sampled_from([size, size.upper(), b"0" + size])) + draw(_chunk_ext)
                wire += b"\r\n" + piece + b"\r\n"
        wire += b"0" + draw(_chunk_ext) + b"\r\n"
        for name, value in trailers:
            wire += name + b":" + draw(ows) + value + draw(ows) + b"\r\n"
        wire += b"\r\n"
    return Wire(
        data=wire,
        method=method,
        target=target,
        headers=[(n.lower(), v) for n, v in fields],
        version=version,
        body=body,
        trailers=[(n.lower(), v) for n, v in trailers],
    )


pipelines = st.lists(requests(), min_size=1, max_size=3)


def cuts_for(data: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, len(data)), max_size=12)


# Mutations that make a request definitely invalid (name, function of the valid wire bytes).
def _first_crlf_to_lf(w: Wire) -> bytes:
    return w.data.replace(b"\r\n", b"\n", 1)


def _last_head_crlf_to_lf(w: Wire) -> bytes:
    i = w.data.index(b"\r\n\r\n")
    return w.data[: i + 2] + w.data[i + 3 :]


def _cl_and_te(w: Wire) -> bytes:
    return w.data.replace(b"\r\n", b"\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n", 1)


def _conflicting_cl(w: Wire) -> bytes:
    n = len(w.body)
    return w.data.replace(
        b"\r\n", b"\r\nContent-Length: %d\r\nContent-Length: %d\r\n" % (n, n + 1), 1
    )


def _huge_cl(w: Wire) -> bytes:
    return w.data.replace(b"\r\n", b"\r\nContent-Length: 99999999999999999999\r\n", 1)


def _obs_fold(w: Wire) -> bytes:
    return w.data.replace(b"\r\n", b"\r\nX-Fold: a\r\n b\r\n", 1)


def _space_before_colon(w: Wire) -> bytes:
    return w.data.replace(b"\r\n", b"\r\nX-Sp : a\r\n", 1)


def _bare_cr(w: Wire) -> bytes:
    return w.data.replace(b"\r\n", b"\r\nX-Cr: a\rb\r\n", 1)


def _nul(w: Wire) -> bytes:
    return w.data.replace(b"\r\n", b"\r\nX-Nul: a\x00b\r\n", 1)


def _double_te(w: Wire) -> bytes:
    return w.data.replace(
        b"\r\n", b"\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 1
    )


def _bad_version(w: Wire) -> bytes:
    return w.data.replace(b" HTTP/1.", b" HTTP/2.", 1)


MUTATIONS = [
    _first_crlf_to_lf,
    _last_head_crlf_to_lf,
    _cl_and_te,
    _conflicting_cl,
    _huge_cl,
    _obs_fold,
    _space_before_colon,
    _bare_cr,
    _nul,
    _double_te,
    _bad_version,
]
