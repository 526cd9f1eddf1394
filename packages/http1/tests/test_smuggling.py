"""The strictness probe matrix (research/anchors-features.md §1.11) and the request-smuggling
advisories (§4): every row is rejected, and a request pipelined behind it is never parsed.

RFC 9112 §11.2 (request smuggling), §6.1 (MUST close after CL+TE), §6.3 (body length).
"""

from __future__ import annotations

import pytest
from _helpers import drive, failure, one_byte_at_a_time, parse, respond

from asgiserver.http1 import (
    ConnectionFailed,
    Data,
    LocalProtocolError,
    Request,
    Response,
    ServerConnection,
    State,
)

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"


def post(*fields: bytes, body: bytes = b"") -> bytes:
    return (
        b"POST / HTTP/1.1\r\nHost: a\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body
    )


# (id, bytes before the smuggled request, status of the first response)
ROWS = [
    # §1.11 probe matrix
    ("cl+te", post(b"Content-Length: 4", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"), 400),
    ("te+cl", post(b"Transfer-Encoding: chunked", b"Content-Length: 4", body=b"0\r\n\r\n"), 400),
    ("two differing content-length", post(b"Content-Length: 1", b"Content-Length: 2"), 400),
    ("te chunked, identity", post(b"Transfer-Encoding: chunked, identity", body=b"0\r\n\r\n"), 400),
    ("te xchunked", post(b"Transfer-Encoding: xchunked", body=b"0\r\n\r\n"), 400),
    (
        "chunk data then garbage",
        post(b"Transfer-Encoding: chunked", body=b"3\r\nabcXY0\r\n\r\n"),
        400,
    ),
    (
        "bare LF in chunk ext",
        post(b"Transfer-Encoding: chunked", body=b"5;a\nb\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    ("bare LF throughout", b"GET / HTTP/1.1\nHost: a\n\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost: a\r\nX-A : a\r\n\r\n", 400),
    ("http/1.1 without host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("CONNECT", b"CONNECT victim.com:443 HTTP/1.1\r\nHost: victim.com:443\r\n\r\n", 501),
    ("NUL in field value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
    ("content-length -1", post(b"Content-Length: -1"), 400),
    ("content-length +5", post(b"Content-Length: +5", body=b"hello"), 400),
    ("request line 10 KB", b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ("request line 100 KB", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ("one field 100 KB", b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 100_000 + b"\r\n\r\n", 431),
    (
        "200 field lines",
        b"GET / HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(200))
        + b"\r\n",
        431,
    ),
    # §4 advisories
    (
        "CVE-2024-1135 repeated TE",
        post(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        400,
    ),
    (
        "CVE-2024-1135 conflicting TE",
        post(b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip", body=b"0\r\n\r\n"),
        400,
    ),
    (
        "CVE-2024-6827 invalid TE with CL",
        post(b"Transfer-Encoding: chunkedx", b"Content-Length: 5", body=b"hello"),
        400,
    ),
    (
        "CVE-2024-6827 invalid TE alone",
        post(b"Transfer-Encoding: chunked;x", body=b"0\r\n\r\n"),
        400,
    ),
    ("gunicorn#3366 duplicate Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("gunicorn#3366 duplicate Content-Type", post(b"Content-Type: a/b", b"Content-Type: c/d"), 400),
    ("authority-form outside CONNECT", b"GET a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("asterisk-form outside OPTIONS", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("control char in field value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400),
    ("content-length list, differing", post(b"Content-Length: 1, 2", body=b"ab"), 400),
    ("hypercorn#278 non-token method", b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (
        "daphne CVE-2026-44546 \\x0b",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bDaphne-Root-Path: /x\r\n\r\n",
        400,
    ),
    ("daphne CVE-2026-44546 \\x1c", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x1cY: b\r\n\r\n", 400),
    (
        "CVE-2025-43859 chunk terminator",
        post(b"Transfer-Encoding: chunked", body=b"1\r\naXX0\r\n\r\n"),
        400,
    ),
    (
        "CVE-2024-27982 space before name",
        b"GET / HTTP/1.1\r\n Content-Length: 5\r\nHost: a\r\n\r\n",
        400,
    ),
    (
        "CVE-2023-30589 lone CR",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: \rTransfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    ("llhttp#877 bare LF request line", b"GET /\nHost: a\r\n\r\n", 400),
    ("CVE-2026-71554 multiple Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: evil\r\n\r\n", 400),
    (
        "CVE-2025-22871 LF in chunk ext",
        post(b"Transfer-Encoding: chunked", body=b"1;\na\r\nx\r\n0\r\n\r\n"),
        400,
    ),
    (
        "quoted chunk ext with CR",
        post(b"Transfer-Encoding: chunked", body=b'1;a="\r"\r\nx\r\n0\r\n\r\n'),
        400,
    ),
    (
        "oversized chunk size",
        post(b"Transfer-Encoding: chunked", body=b"10000000000000000\r\n"),
        400,
    ),
    ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
]


@pytest.mark.parametrize(("wire", "status"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_row_is_rejected_and_nothing_after_it_is_parsed(
    wire: bytes, status: int, split: str
) -> None:
    data = wire + SMUGGLED
    chunks = [data] if split == "whole" else one_byte_at_a_time(data)
    conn, events = drive(chunks, eof=True)
    assert failure(events).error.status_hint == status
    assert not any(type(e) is Request and e.target == b"/smuggled" for e in events)
    assert conn.their_state is State.ERROR
    # The server answers with the hint and closes (RFC 9112 §6.1: MUST close after CL+TE).
    if conn.our_state in (State.IDLE, State.SEND_RESPONSE):
        out = respond(conn, status)
        assert out.startswith(b"HTTP/1.1 %d " % status)
        assert b"\r\nconnection: close\r\n" in out
    assert conn.close_expected()
    assert not conn.keep_alive
    assert conn.events_received() == []


def test_lowercase_method_is_accepted_as_sent() -> None:
    """§1.11 row "lowercase method": tokens are legal (RFC 9110 §9.1); kept as sent, so an app
    matching on ``GET`` does not treat ``get`` as GET."""
    (req, _) = parse(b"get / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert type(req) is Request and req.method == b"get"


def test_one_field_16_kb_is_accepted() -> None:
    """§1.11 row "one header 16 KB": within the default 64 KiB section limit."""
    (req, _) = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 16_000 + b"\r\n\r\n")
    assert type(req) is Request and len(req.headers[1][1]) == 16_000


def test_obs_text_nel_stays_one_opaque_value() -> None:
    """daphne CVE-2026-44546: \\x85 is obs-text (RFC 9110 §5.5) and stays inside one value; it
    never becomes a line break here (no splitlines anywhere)."""
    (req, _) = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x85Daphne-Root-Path: /x\r\n\r\n")
    assert type(req) is Request
    assert req.headers == [(b"host", b"a"), (b"x", b"a\x85Daphne-Root-Path: /x")]


def test_truncated_chunked_body_is_not_a_request() -> None:
    """gunicorn#3382: a chunked body cut by EOF is an error, not a complete request."""
    events = parse(post(b"Transfer-Encoding: chunked", body=b"5\r\nhel"), eof=True)
    assert [type(e) for e in events] == [Request, Data, ConnectionFailed]


@pytest.mark.parametrize(
    "value", [b"a\r\nSet-Cookie: x=1", b"a\nX: y", b"a\rX: y", b"a\x00", b"\r\n"]
)
def test_response_splitting_is_refused(value: bytes) -> None:
    """CVE-2020-7695 / CVE-2018-1000164: CR, LF or NUL in an outgoing value."""
    conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"])
    with pytest.raises(LocalProtocolError):
        conn.send(Response(200, [(b"x-a", value)]))
    assert conn.data_to_send() == []
    assert conn.our_state is State.SEND_RESPONSE  # a 500 can still be sent


@pytest.mark.parametrize("name", [b"x-a\r\nset-cookie", b"x a", b"x:a", b"", b"x\x00", "str"])
def test_invalid_response_field_names_are_refused(name: object) -> None:
    conn = ServerConnection()
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    with pytest.raises(LocalProtocolError):
        conn.send(Response(200, [(name, b"v")]))  # type: ignore[list-item]
    conn.send(Response(500, [(b"content-length", b"0")]))
    assert conn.data_to_send() == [
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"
    ]
