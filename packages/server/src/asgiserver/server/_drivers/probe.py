"""The tiny HTTP/1.1 exchange of the master's metrics and health listener (`--metrics`): one request
head in, one response out, then close. Parsed with the same strict `http1` package as every request
the workers serve; the master does its own (non-blocking, bounded) socket work."""

from __future__ import annotations

from asgiserver import http1

# The head of a scrape or a probe is a few hundred bytes; anything larger is refused (414 / 431).
# A body is never read (no route takes one): the answer goes out once the head is complete.
LIMITS = http1.Limits(max_request_line_bytes=1024, max_header_bytes=6 * 1024, max_header_count=50)
MAX_INPUT = 8 * 1024  # the listener closes a connection that sends more without a complete head

Probe = tuple[bytes, bytes]  # (method, path without its query)


class ProbeExchange:
    """One connection's request: `receive()` until it gives a (method, path) or an error status,
    then `answer()` gives the response's bytes."""

    __slots__ = ("_conn", "_head_only")

    def __init__(self) -> None:
        self._conn = http1.ServerConnection(limits=LIMITS)
        self._head_only = False

    def receive(self, data: bytes) -> Probe | int | None:
        """A complete request head as (method, path), an error status (400, 414, 431, 501...),
        or None while more bytes are needed. An empty `data` is the end of input."""
        conn = self._conn
        if data:
            conn.receive_data(data)
        else:
            conn.receive_eof()
        for event in conn.events_received():
            kind = type(event)
            if kind is http1.Request:
                method: bytes = event.method  # type: ignore[union-attr]
                self._head_only = method == b"HEAD"
                return method, event.target.partition(b"?")[0]  # type: ignore[union-attr]
            if kind is http1.ConnectionFailed:
                return event.error.status_hint or 400  # type: ignore[union-attr]
            if kind is http1.ConnectionClosed:
                return 400  # end of input before a complete head
        return None

    def answer(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
        """The whole response, `connection: close` (one exchange per connection); no body for a
        HEAD request (RFC 9110 §9.3.2)."""
        conn = self._conn
        fields = [
            *headers,
            (b"content-length", b"%d" % len(body)),
            (b"cache-control", b"no-store"),
            (b"connection", b"close"),
        ]
        try:
            conn.send(http1.Response(status=status, headers=fields))
            if body and not self._head_only:
                conn.send(http1.Data(body))
            conn.send(http1.EndOfMessage())
        except http1.LocalProtocolError:
            return b""  # the package refused the exchange's state: just close
        return b"".join(conn.data_to_send())
