"""`send_response()` and `send_body()`: the same bytes, states and errors as the separate events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgiserver.http1 import (
    Data,
    EndOfMessage,
    LocalProtocolError,
    Response,
    ServerConnection,
)

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",  # pipelined
]
STATUSES = [200, 204, 304, 404, 500, 199, 1000]
HEADER_SETS: list[list[tuple[bytes, bytes]]] = [
    [],
    [(b"content-length", b"5")],
    [(b"content-length", b"2")],
    [(b"Content-Length", b"x")],
    [(b"transfer-encoding", b"chunked")],
    [(b"connection", b"close"), (b"content-type", b"text/plain")],
    [(b"bad name", b"v")],
    [(b"x", b"a\r\nb")],
]


def _outcome(conn: ServerConnection, calls: list[object]) -> tuple[object, ...]:
    errors = []
    for call in calls:
        try:
            call(conn)  # type: ignore[operator]
        except LocalProtocolError as exc:
            errors.append(str(exc))
            break
    return (
        b"".join(conn.data_to_send()),
        conn.our_state,
        conn.their_state,
        conn.close_expected(),
        conn.events_received(),
        errors,
    )


def _fresh(request: bytes) -> ServerConnection:
    conn = ServerConnection()
    conn.receive_data(request)
    conn.events_received()
    return conn


@given(
    request=st.sampled_from(REQUESTS),
    status=st.sampled_from(STATUSES),
    headers=st.sampled_from(HEADER_SETS),
    body=st.sampled_from([b"", b"hello", b"hi"]),
    end=st.booleans(),
    more=st.sampled_from([b"", b"world", b"!!!"]),
    more_end=st.booleans(),
)
def test_the_same_as_the_separate_events(
    request: bytes,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    end: bool,
    more: bytes,
    more_end: bool,
) -> None:
    def by_events(conn: ServerConnection) -> None:
        conn.send(Response(status, list(headers)))
        if body:
            conn.send(Data(body))
        if end:
            conn.send(EndOfMessage())

    def more_by_events(conn: ServerConnection) -> None:
        if more:
            conn.send(Data(more))
        if more_end:
            conn.send(EndOfMessage())

    expected = _outcome(_fresh(request), [by_events, more_by_events])
    got = _outcome(
        _fresh(request),
        [
            lambda conn: conn.send_response(status, list(headers), body, end),
            lambda conn: conn.send_body(more, more_end),
        ],
    )
    assert got == expected


def test_a_complete_response_in_one_call() -> None:
    conn = _fresh(REQUESTS[0])
    conn.send_response(200, [(b"content-length", b"5")], b"hello", True)
    assert conn.data_to_send() == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", b"hello"]
    assert conn.our_state.name == "IDLE"


def test_a_rejected_body_leaves_the_head_sent() -> None:
    conn = _fresh(REQUESTS[0])
    with pytest.raises(LocalProtocolError, match="longer than its content-length"):
        conn.send_response(200, [(b"content-length", b"1")], b"hello", True)
    assert conn.data_to_send() == [b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n"]
    assert conn.close_expected()
