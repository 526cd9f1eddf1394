"""Test-side peer: builds uwsgi packets the way nginx does, and drives a connection.

Independent of the package's parser on purpose: struct packs what the parser unpacks by hand.
(Named uwsgi_wire, not wire, so a monorepo-wide pytest run can't mix it up with a sibling's.)
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Sequence
from urllib.parse import unquote_to_bytes

from asgiserver.uwsgi import ConnectionFailed, Data, Event, Limits, ServerConnection

Pairs = Sequence[tuple[bytes, bytes]]


def encode_vars(pairs: Pairs) -> bytes:
    return b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in pairs)


def header(size: int, modifier1: int = 0, modifier2: int = 0) -> bytes:
    return struct.pack("<BHB", modifier1, size, modifier2)


def packet(pairs: Pairs, body: bytes = b"", *, modifier1: int = 0, modifier2: int = 0) -> bytes:
    block = encode_vars(pairs)
    return header(len(block), modifier1, modifier2) + block + body


def nginx_vars(
    method: bytes = b"GET",
    uri: bytes = b"/",
    *,
    body: bytes = b"",
    content_type: bytes = b"",
    headers: Iterable[tuple[bytes, bytes]] = ((b"HTTP_HOST", b"example.test"),),
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> list[tuple[bytes, bytes]]:
    """The vars of nginx 1.22's stock uwsgi_params, in its order (see tests/corpus)."""
    path, _, query = uri.partition(b"?")
    length = b"%d" % len(body) if body else b""
    pairs = [
        (b"QUERY_STRING", query),
        (b"REQUEST_METHOD", method),
        (b"CONTENT_TYPE", content_type),
        (b"CONTENT_LENGTH", length),
        (b"REQUEST_URI", uri),
        (b"PATH_INFO", unquote_to_bytes(path)),
        (b"DOCUMENT_ROOT", b"/srv/www"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"REQUEST_SCHEME", b"http"),
        (b"REMOTE_ADDR", b"192.0.2.7"),
        (b"REMOTE_PORT", b"50123"),
        (b"SERVER_PORT", b"80"),
        (b"SERVER_NAME", b"example.test"),
    ]
    pairs += list(headers)
    if content_type:
        pairs.append((b"HTTP_CONTENT_TYPE", content_type))
    if body:
        pairs.append((b"HTTP_CONTENT_LENGTH", length))
    pairs += list(extra)
    return pairs


def drive(
    chunks: Iterable[bytes], *, eof: bool = True, limits: Limits | None = None
) -> tuple[ServerConnection, list[Event]]:
    conn = ServerConnection(limits)
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events += conn.events_received()
    if eof:
        conn.receive_eof()
        events += conn.events_received()
    return conn, events


def normalize(events: list[Event]) -> list[object]:
    """Merge adjacent Data events (chunk boundaries are not semantics); errors compare by
    class, hint and message."""
    out: list[object] = []
    for event in events:
        prev = out[-1] if out else None
        if type(event) is Data and type(prev) is Data:
            out[-1] = Data(prev.data + event.data)
        elif type(event) is ConnectionFailed:
            err = event.error
            out.append(("failed", type(err), err.status_hint, str(err)))
        else:
            out.append(event)
    return out


def split(wire: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(points)]


def failure(events: list[Event]) -> ConnectionFailed:
    assert events, "no events"
    last = events[-1]
    assert type(last) is ConnectionFailed, events
    assert all(type(e) is not ConnectionFailed for e in events[:-1])
    return last
