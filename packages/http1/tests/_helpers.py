"""Test helpers: drive a ServerConnection and compare events."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any

import pytest

from asgiserver.http1 import (
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    Limits,
    Request,
    Response,
    ServerConnection,
)


def compiled_parse_head() -> Callable[..., Any]:
    """The compiled head parser; skips when the install could not build it, but fails in CI,
    which must build and test it."""
    try:
        from asgiserver.http1._speedups import parse_head
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("asgiserver.http1._speedups was not built (is there a C compiler?)")
        pytest.skip("asgiserver.http1._speedups was not built (no C compiler): pure path only")
    return parse_head


def drive(
    chunks: Iterable[bytes], *, eof: bool = False, limits: Limits | None = None
) -> tuple[ServerConnection, list[Event]]:
    """Feed chunks (draining after each) and optionally EOF; return the connection and events."""
    conn = ServerConnection(limits=limits)
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events += conn.events_received()
    if eof:
        conn.receive_eof()
        events += conn.events_received()
    return conn, events


def parse(data: bytes, *, eof: bool = False, limits: Limits | None = None) -> list[Event]:
    return drive([data], eof=eof, limits=limits)[1]


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in pairwise(points) if b > a]


Normal = tuple[object, ...]


def normalize(events: Iterable[Event]) -> list[Normal]:
    """Comparable form: adjacent Data merged (chunking is not semantics), errors by class+hint."""
    out: list[Normal] = []
    for ev in events:
        if type(ev) is Data:
            if out and out[-1][0] == "data":
                out[-1] = ("data", out[-1][1] + ev.data)  # type: ignore[operator]
            else:
                out.append(("data", ev.data))
        elif type(ev) is ConnectionFailed:
            out.append(("failed", type(ev.error).__name__, ev.error.status_hint))
        elif type(ev) is Request:
            out.append(("request", ev.method, ev.target, tuple(ev.headers), ev.http_version))
        elif type(ev) is EndOfMessage:
            out.append(("end", tuple(ev.headers)))
        else:
            out.append((type(ev).__name__,))
    return out


def failure(events: Sequence[Event]) -> ConnectionFailed:
    """The events end in ConnectionFailed, which is the only one."""
    assert events, "no events"
    last = events[-1]
    assert type(last) is ConnectionFailed, f"expected a failure, got {events!r}"
    assert not any(type(e) is ConnectionFailed for e in events[:-1])
    return last


def assert_rejected(
    data: bytes, status: int, *, eof: bool = False, in_body: bool = False
) -> ConnectionFailed:
    """Rejected with ``status``, the same way whole and one byte at a time; a head error gives
    no Request, a body error (``in_body``) comes after exactly one Request."""
    for chunks in ([data], one_byte_at_a_time(data)):
        conn, events = drive(chunks, eof=eof)
        failed = failure(events)
        assert failed.error.status_hint == status, (failed.error, status)
        requests = [e for e in events if type(e) is Request]
        assert len(requests) == (1 if in_body else 0), events
        assert conn.their_state.name == "ERROR"
        assert not conn.keep_alive
    return failure(parse(data, eof=eof))


def respond(
    conn: ServerConnection,
    status: int = 200,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
) -> bytes:
    """Send a whole response; return the bytes queued for it."""
    conn.send(Response(status, list(headers)))
    if body:
        conn.send(Data(body))
    conn.send(EndOfMessage())
    return b"".join(conn.data_to_send())


def request(
    method: bytes = b"GET",
    target: bytes = b"/",
    headers: Sequence[tuple[bytes, bytes]] = ((b"Host", b"example.com"),),
    body: bytes = b"",
    version: bytes = b"1.1",
) -> bytes:
    head = b"%s %s HTTP/%s\r\n" % (method, target, version)
    head += b"".join(b"%s: %s\r\n" % field for field in headers)
    return head + b"\r\n" + body
