"""The compiled head parser (``_speedups.parse_head``) against the Python parser, the reference,
and the compiled field encoder (``_speedups.encode_fields``) against ``_writer.encode_fields``.

The contract: whenever the compiled function returns a head, the Python fast path of
``ServerConnection._parse`` returns the very same parts for the same bytes, limits and names
cache; whenever the Python path rejects the bytes, the compiled function returns None (it never
gives a verdict itself).  It may also return None for valid heads it leaves to Python (another
target form or version, no fields, more than it handles), but it must take the common ones.
The encoder has the same contract: the same 4-tuple as the reference, or None, and None whenever
the reference raises.

The rest of the suite runs on both paths (conftest.py); these tests call the compiled functions
directly (the conftest still runs them twice, as every module).
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from _helpers import compiled_parse_head, normalize, split_at
from _strategies import Wire, cuts_for, requests
from hypothesis import example, given
from hypothesis import strategies as st

from asgiserver.http1 import Limits, RemoteProtocolError, ServerConnection, _connection
from asgiserver.http1._abnf import FIELD_VALUE_CHARS, TCHARS
from asgiserver.http1._parser import NamesCache, parse_fields, parse_request_line
from asgiserver.http1._writer import encode_fields

Head = tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]], list[bytes], tuple[bytes, ...], int]
NO_CACHE: NamesCache = ((), [], frozenset())
DEFAULT = Limits()


def compiled() -> Callable[..., Head | None]:
    return compiled_parse_head()


def reference(data: bytes, pos: int, limits: Limits, cache: NamesCache) -> Head | None:
    """What the Python fast path of ``ServerConnection._parse`` makes of the head at ``pos``:
    its parts, None when it is not complete within the limits' windows, or the error raised."""
    le = data.find(b"\r\n", pos, pos + limits.max_request_line_bytes + 2)
    if le < 0:
        return None
    method, target, version = parse_request_line(data, pos, le)
    i = data.find(b"\r\n\r\n", le, le + limits.max_header_bytes + 4)
    if i < 0:
        return None
    if i == le:
        return method, target, version, [], [], (), i + 4
    headers, lower, raw = parse_fields(data[le + 2 : i], limits.max_header_count, cache)
    return method, target, version, headers, lower, raw, i + 4


def check(
    data: bytes, pos: int = 0, limits: Limits = DEFAULT, cache: NamesCache = NO_CACHE
) -> Head | None:
    """Assert the contract for one input; return the compiled result."""
    got = compiled()(
        data,
        pos,
        limits.max_request_line_bytes,
        limits.max_header_bytes,
        limits.max_header_count,
        cache,
    )
    try:
        want = reference(data, pos, limits, cache)
    except RemoteProtocolError:
        assert got is None, (data, got)
        return None
    if got is not None:
        assert want is not None, (data, got)
        assert got == want
        assert all(type(part) is bytes for part in got[:3])
        assert all(type(n) is bytes and type(v) is bytes for n, v in got[3])
        assert type(got[4]) is list and type(got[5]) is tuple and type(got[6]) is int
        # ServerConnection keeps its per-connection names cache by the list's identity.
        assert (got[4] is cache[1]) == (want[4] is cache[1])
    return got


def names_cache(data: bytes) -> NamesCache:
    head = reference(data, 0, DEFAULT, NO_CACHE)
    assert head is not None
    return head[5], head[4], frozenset(head[4])


def is_common(wire: Wire) -> bool:
    """What the compiled parser must take: origin-form, at least one field."""
    return wire.target.startswith(b"/") and bool(wire.headers)


# ---------------------------------------------------------------------------- fixed cases

BROWSER = (
    b"GET /articles/2024?utm_source=feed HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
    b"accept-language: en-US,en;q=0.5\r\n"
    b"ACCEPT-ENCODING: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"X-Custom-Thing:  \t spaced \t value \t \r\n"
    b"x-lower-custom: \x80\xff obs-text\r\n"
    b"Empty:\r\n"
    b"\r\n"
)


def test_a_browser_head_is_taken_with_interned_common_names() -> None:
    got = check(BROWSER)
    assert got is not None
    method, target, version, headers, lower, raw, end = got
    assert (method, target, version, end) == (
        b"GET",
        b"/articles/2024?utm_source=feed",
        b"1.1",
        len(BROWSER),
    )
    assert headers[6] == (b"x-custom-thing", b"spaced \t value")
    assert headers[8] == (b"empty", b"")
    assert raw[0] == b"Host" and raw[4] == b"ACCEPT-ENCODING"
    again = check(BROWSER)
    assert again is not None
    # Common names are created once per module, in both their lowercase and Capitalised forms.
    assert again[4][0] is lower[0] and again[5][0] is raw[0] and again[4][4] is lower[4]
    assert again[0] is method and again[2] is version
    # A name received in lowercase serves as both forms; other names are fresh objects.
    assert again[5][7] is again[4][7] and again[4][6] is not lower[6]


def test_the_names_cache_is_reused_exactly_when_the_names_repeat() -> None:
    cache = names_cache(BROWSER)
    hit = check(BROWSER.replace(b"/articles", b"/other"), cache=cache)
    assert hit is not None and hit[4] is cache[1] and hit[5] is cache[0]
    # Same lowercase names, different case: a miss (the reference compares received names).
    miss = check(BROWSER.replace(b"Host:", b"HOST:"), cache=cache)
    assert miss is not None and miss[4] is not cache[1] and miss[4] == cache[1]
    assert check(BROWSER.replace(b"Empty:\r\n", b""), cache=cache)[4] is not cache[1]  # type: ignore[index]


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\n\r",  # incomplete
        b"GET / HTTP/1.1\r\nHost: a\r\n",
        b"GET / HTTP/1.1\r\n",
        b"GET / HTTP/1.1\r",
        b"GET",
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  # leading empty line: Python skips it
        b"GET / HTTP/1.0\r\n\r\n",  # no fields
        b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",  # absolute-form
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",  # asterisk-form
        b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",  # read as 1.1 by Python
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        b"GET / http/1.1\r\nHost: a\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",  # obs-fold
        b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost a\r\n\r\n",
        b"GET / HTTP/1.1\r\n: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nH\xc3\xb6st: a\r\n\r\n",
        b"G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\t HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
def test_everything_else_is_left_to_python(data: bytes) -> None:
    assert compiled()(data, 0, 8192, 65536, 100, NO_CACHE) is None
    check(data)


def test_each_byte_class_matches_the_python_grammar() -> None:
    parse_head = compiled()
    for byte in range(256):
        b = bytes([byte])
        method = parse_head(
            b"G" + b + b"T / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 8192, 65536, 100, NO_CACHE
        )
        assert (method is not None) == (byte in TCHARS), byte
        target = parse_head(
            b"GET /" + b + b" HTTP/1.1\r\nHost: a\r\n\r\n", 0, 8192, 65536, 100, NO_CACHE
        )
        # VCHARs, but a fragment ("#") is the Python path's to refuse (RFC 9112 §3.2).
        assert (target is not None) == (0x21 <= byte <= 0x7E and byte != 0x23), byte
        name = parse_head(
            b"GET / HTTP/1.1\r\nH" + b + b"st: a\r\n\r\n", 0, 8192, 65536, 100, NO_CACHE
        )
        assert (name is not None) == (byte in TCHARS or b == b":"), byte  # "H:st: a" is valid
        value = parse_head(
            b"GET / HTTP/1.1\r\nHost: a" + b + b"b\r\n\r\n", 0, 8192, 65536, 100, NO_CACHE
        )
        assert (value is not None) == (byte in FIELD_VALUE_CHARS), byte
        for data in (
            b"G" + b + b"T / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /" + b + b" HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nH" + b + b"st: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a" + b + b"b\r\n\r\n",
        ):
            check(data)


def test_limits_at_the_edge() -> None:
    data = b"GET /abc HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"
    line = len(b"GET /abc HTTP/1.1")
    section = len(b"Host: a\r\nX: 1\r\n")
    for max_line in (line - 1, line, line + 1):
        for max_bytes in (section - 2, section - 1, section, section + 1):
            for max_count in (0, 1, 2, 3):
                limits = Limits(
                    max_request_line_bytes=max(16, max_line),
                    max_header_bytes=max_bytes,
                    max_header_count=max_count,
                )
                got = check(data, 0, limits)
                fits = max_line >= line and max_bytes >= section and max_count >= 2
                assert (got is not None) == fits, (max_line, max_bytes, max_count)


def test_limits_beyond_ssize_t_mean_no_limit() -> None:
    got = compiled()(BROWSER, 0, 10**30, 10**30, 10**30, NO_CACHE)
    assert got is not None and got[6] == len(BROWSER)


def test_more_fields_than_it_handles_are_left_to_python() -> None:
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n"
    limits = Limits(max_header_count=1000)
    assert check(many, 0, limits) is None
    assert reference(many, 0, limits, NO_CACHE) is not None
    fewer = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n"
    assert check(fewer) is not None
    assert check(fewer, 0, Limits(max_header_count=99)) is None


def test_what_the_engine_never_passes() -> None:
    parse_head = compiled()
    head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    assert parse_head(bytearray(head), 0, 8192, 65536, 100, NO_CACHE) is None
    assert parse_head(memoryview(head), 0, 8192, 65536, 100, NO_CACHE) is None
    assert parse_head(head.decode(), 0, 8192, 65536, 100, NO_CACHE) is None
    assert parse_head(head, -1, 8192, 65536, 100, NO_CACHE) is None
    assert parse_head(head, len(head), 8192, 65536, 100, NO_CACHE) is None
    assert parse_head(head, 2**80, 8192, 65536, 100, NO_CACHE) is None
    assert parse_head(head, 0.0, 8192, 65536, 100, NO_CACHE) is None
    assert parse_head(head, 0, -1, 65536, 100, NO_CACHE) is None
    assert parse_head(head, 0, 8192, 65536, -(2**80), NO_CACHE) is None
    for cache in (None, (), ([b"Host"], [b"host"]), ((b"Host",), (b"host",)), ((1,), [b"host"])):
        got = parse_head(head, 0, 8192, 65536, 100, cache)
        assert got is not None and got[5] == (b"Host",)
    with pytest.raises(TypeError):
        parse_head(head, 0, "8192", 65536, 100, NO_CACHE)
    with pytest.raises(TypeError):
        parse_head(head, 0, 8192, 65536, 100)
    with pytest.raises(TypeError):
        parse_head(head, 0, 8192, 65536, 100, NO_CACHE, None)


# ---------------------------------------------------------------------------- properties

INTERESTING = [
    b"\r",
    b"\n",
    b"\x00",
    b" ",
    b"\t",
    b":",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"/",
    b"A",
    b"\r\n",
]


@st.composite
def mutated_heads(draw: st.DrawFn) -> bytes:
    """A valid request (from the grammar) with a few bytes inserted, replaced or deleted."""
    data = draw(requests()).data
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "replace", "delete", "upper"]))
        piece = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=2)))
        if kind == "insert":
            data = data[:at] + piece + data[at:]
        elif kind == "replace":
            data = data[:at] + piece + data[at + len(piece) :]
        elif kind == "delete":
            data = data[:at] + data[at + 1 :]
        else:
            data = data[:at] + data[at:].upper()
    return data


def edge_limits(data: bytes) -> st.SearchStrategy[Limits]:
    """Limits around this head's own sizes: its request line, its field section, its fields."""
    line = max(data.find(b"\r\n"), 0)
    end = data.find(b"\r\n\r\n")
    section = max(end - line, 0)
    count = data[:end].count(b"\r\n") if end >= 0 else 0
    return st.builds(
        Limits,
        max_request_line_bytes=st.integers(max(16, line - 1), max(16, line + 1)),
        max_header_bytes=st.integers(max(0, section - 3), section + 1),
        max_header_count=st.integers(max(0, count - 1), count + 1),
    )


@given(data=st.binary(max_size=200), pos=st.integers(0, 20))
@example(data=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", pos=0)
def test_arbitrary_bytes(data: bytes, pos: int) -> None:
    check(data, min(pos, len(data)))
    check(b"GET / HTTP/1.1\r\n" + data)
    check(b"GET / HTTP/1.1\r\nHost: a\r\n" + data)


@given(wire=requests(), prefix=st.binary(max_size=5))
def test_valid_heads_are_taken(wire: Wire, prefix: bytes) -> None:
    got = check(prefix + wire.data, len(prefix))
    if is_common(wire):
        assert got is not None
        assert got[3] == wire.headers


@given(data=mutated_heads(), st_data=st.data())
def test_mutated_heads(data: bytes, st_data: st.DataObject) -> None:
    check(data)
    limits = st_data.draw(edge_limits(data))
    check(data, 0, limits)
    other = st_data.draw(requests())
    check(data, 0, limits, names_cache(other.data) if other.headers else NO_CACHE)


@given(wire=requests(), st_data=st.data())
def test_the_names_cache(wire: Wire, st_data: st.DataObject) -> None:
    if not wire.headers:
        return
    cache = names_cache(wire.data)
    got = check(wire.data, 0, DEFAULT, cache)
    if is_common(wire):
        assert got is not None and got[4] is cache[1]
    mutated = st_data.draw(mutated_heads())
    check(mutated, 0, DEFAULT, cache)


def serve(chunks: list[bytes], parse_head: Any) -> tuple[list[object], list[str]]:
    """Events (normalised, with error messages) of a connection using ``parse_head``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_connection, "parse_head", parse_head)
        conn = ServerConnection(limits=Limits(max_header_count=8, max_header_bytes=300))
        events: list[Any] = []
        for chunk in chunks:
            conn.receive_data(chunk)
            events += conn.events_received()
            while conn.our_state.name == "SEND_RESPONSE" and conn.their_state.name == "DONE":
                conn.send_response(200, [(b"content-length", b"0")], end=True)
                events += conn.events_received()
        conn.receive_eof()
        events += conn.events_received()
    messages = [str(getattr(e, "error", "")) for e in events]
    return normalize(events), messages  # type: ignore[return-value]


@given(
    pipeline=st.lists(
        st.one_of(requests().map(lambda w: w.data), mutated_heads()), min_size=1, max_size=3
    ),
    st_data=st.data(),
)
def test_a_connection_behaves_the_same_on_both_paths(
    pipeline: list[bytes], st_data: st.DataObject
) -> None:
    data = b"".join(pipeline)
    chunks = split_at(data, st_data.draw(cuts_for(data)))
    assert serve(chunks, compiled()) == serve(chunks, None)


# ---------------------------------------------------------------------------- field encoding


def compiled_encode() -> Callable[..., Any]:
    compiled_parse_head()  # skips (or fails in CI) when the module was not built
    from asgiserver.http1._speedups import encode_fields as fast

    return fast


def check_encode(headers: Any) -> Any:
    """Assert the encoder's contract for one input; return the compiled result."""
    got = compiled_encode()(headers)
    try:
        want = encode_fields(headers)
    except Exception:  # whatever the reference raises, the compiled one defers
        assert got is None, (headers, got)
        return None
    if got is not None:
        assert got == want
        assert type(got) is tuple and type(got[0]) is bytes
        assert all(part is None or type(part) is bytes for part in got[1:])
    return got


FRAMING_NAMES = [
    b"content-length",
    b"Content-Length",
    b"CONTENT-LENGTH",
    b"transfer-encoding",
    b"Transfer-Encoding",
    b"connection",
    b"Connection",
    b"cOnNeCtIoN",
]
names = st.one_of(
    st.sampled_from([*FRAMING_NAMES, b"content-type", b"Server", b"set-cookie", b"x-a"]),
    st.text(TCHARS.decode(), min_size=1, max_size=12).map(str.encode),
    st.binary(max_size=6),
)
values = st.one_of(
    st.sampled_from([b"", b"13", b"chunked", b"close", b"keep-alive", b"text/plain"]),
    st.binary(max_size=12),
    st.text(max_size=8).map(lambda t: t.encode("utf-8")),
)
pairs = st.one_of(
    st.tuples(names, values),
    st.tuples(names, values).map(list),
    st.tuples(names, values, values),
    st.tuples(names, values).map(lambda p: (bytearray(p[0]), p[1])),
    st.tuples(names, values).map(lambda p: (p[0], p[1].decode("latin-1"))),
)


@given(headers=st.lists(pairs, max_size=8), as_tuple=st.booleans())
@example(headers=[(b"content-length", b"1"), (b"Content-Length", b"2")], as_tuple=False)
@example(headers=[(b"a", b"x\rb")], as_tuple=False)
@example(headers=[(b"a b", b"x")], as_tuple=False)
def test_encoding_arbitrary_fields(headers: list[Any], as_tuple: bool) -> None:
    check_encode(tuple(headers) if as_tuple else headers)


@given(
    headers=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(FRAMING_NAMES), st.text(TCHARS.decode(), min_size=1).map(str.encode)
            ),
            st.binary().filter(lambda v: not {0, 10, 13} & set(v)),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_valid_fields_are_encoded(headers: list[tuple[bytes, bytes]]) -> None:
    assert check_encode(headers) is not None


def test_what_the_encoder_leaves_to_python() -> None:
    fast = compiled_encode()
    for headers in (
        [],
        None,
        iter([(b"a", b"b")]),
        [[b"a", b"b"]],  # lists as pairs: Python handles them
        [(b"a", b"b")] * 129,  # more fields than the compiled encoder handles
        [(b"", b"b")],
        [(b"a:", b"b")],
        [(b"a", b"b\x00")],
        [(b"a", b"b\r\nx: y")],
        [(b"a", "b")],
    ):
        assert fast(headers) is None
        check_encode(headers)
    with pytest.raises(TypeError):
        fast()
    with pytest.raises(TypeError):
        fast([], [])


# ---------------------------------------------------------------------------- no leaks

LEAK_INPUTS = [
    BROWSER,
    BROWSER.replace(b"Host:", b"HoSt:"),
    BROWSER.replace(b"/articles", b"http://a/"),  # None at the target
    BROWSER.replace(b"keep-alive", b"keep\x00alive"),  # None late in the fields
    BROWSER[:-3],  # incomplete
    b"POST /x HTTP/1.0\r\nUnusual-Name: v\r\nhost: h\r\n\r\n",
]


LEAK_FIELDS: list[Any] = [
    [(b"content-type", b"text/plain"), (b"content-length", b"13")],
    ((b"Connection", b"close"), (b"connection", b"x"), (b"Transfer-Encoding", b"chunked")),
    [(b"content-type", b"text/plain"), (b"bad name", b"13")],  # None late
    [(b"content-type", b"text/plain\r\n")],  # None
    [[b"content-type", b"text/plain"]],  # None
]


def test_no_reference_or_memory_leaks() -> None:
    parse_head = compiled()
    caches = [NO_CACHE, names_cache(BROWSER)]
    warm = parse_head(BROWSER, 0, 8192, 65536, 100, caches[1])
    assert warm is not None
    interned = [warm[0], warm[2], *warm[4], *warm[5]]

    encode = compiled_encode()

    def run(rounds: int) -> None:
        for _ in range(rounds):
            for data in LEAK_INPUTS:
                for cache in caches:
                    parse_head(data, 0, 8192, 65536, 100, cache)
            for fields in LEAK_FIELDS:
                encode(fields)

    run(1000)
    gc.collect()
    tracked = [*LEAK_INPUTS, *caches, caches[1][0], caches[1][1], *interned]
    tracked += [*LEAK_FIELDS, *(part for fields in LEAK_FIELDS for pair in fields for part in pair)]
    counts = [sys.getrefcount(obj) for obj in tracked]
    tracemalloc.start()
    try:
        run(2000)
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        run(30_000)  # 510k calls
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One leaked object per call would be megabytes.
    assert after - before < 64 * 1024, after - before
    assert counts == [sys.getrefcount(obj) for obj in tracked]
