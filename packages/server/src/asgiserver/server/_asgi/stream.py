"""The handles a driver gives the ASGI cycles: one per request (or WebSocket), never per connection.

HTTP/1.1 and uwsgi carry one request at a time, so their driver is its own handle; HTTP/2 gives each
stream its own. Method calls, not event objects: this is the hot path. All writes are synchronous
into the connection's buffer; `drain()` waits for this stream's write readiness.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from asgiserver.server._asgi.types import Headers


class FinishedCycle(Protocol):
    """What a stream may ask of a cycle that has finished (without importing the cycles)."""

    @property
    def response_complete(self) -> bool: ...


class HTTPStream(Protocol):
    """What an `HTTPCycle` writes its response to. Heads arrive finished (`response.py`): a driver
    adds only what its protocol needs (HTTP/1.1: `connection: close`)."""

    @property
    def write_paused(self) -> bool:
        """The client reads slower than the app writes: the app waits in `drain()`."""
        ...

    def send_head(self, status: int, headers: Headers, body: bytes, end: bool) -> None: ...

    def send_body(self, body: bytes, end: bool) -> None: ...

    def send_trailers(self, headers: Headers) -> None: ...

    def send_file(self, fd: int, offset: int, count: int) -> Awaitable[int] | None:
        """After the head: send `count` bytes of file `fd` from `offset` without copying them
        through Python (`os.sendfile`), and return how many went out (fewer only when the file
        ended first; a client that leaves meanwhile is `disconnect()`ed). Returns None, having
        done nothing, where that cannot be done (TLS, HTTP/2, uwsgi, a chunked body): the cycle
        then reads the file into `send_body()`."""
        ...

    def send_informational(self, status: int, headers: Headers) -> None: ...

    def want_body(self) -> None:
        """The app waits for request body bytes: send an owed 100 Continue and start reading."""
        ...

    def consumed(self, size: int) -> None:
        """The app has taken `size` bytes of request body (HTTP/2: WINDOW_UPDATE; HTTP/1: read on)."""
        ...

    def reset(self) -> None:
        """End this stream now with the response incomplete (HTTP/1: close; HTTP/2: RST_STREAM)."""
        ...

    def drain(self) -> Awaitable[None]: ...

    def cycle_finished(self, cycle: FinishedCycle) -> None:
        """The application returned; the last call a cycle makes."""
        ...


class WebSocketStream(Protocol):
    """What a `WebSocketCycle` runs over: the `ws` package on a byte channel that a driver gives it.

    Before `accept()` the handshake request is pending; `deny()` answers it with an HTTP response
    instead. After `accept()` (101 on HTTP/1.1, 200 on HTTP/2, as the ws package decides) messages go
    both ways; the stream feeds the cycle with `WebSocketCycle.deliver()` and `.closed()`.
    """

    @property
    def write_paused(self) -> bool: ...

    def accept(self, subprotocol: str | None, headers: Headers) -> None:
        """Answer the handshake; raises ValueError for a subprotocol or field the handshake forbids."""
        ...

    def deny(self, status: int, headers: Headers, body: bytes, more: bool) -> None:
        """Answer the handshake with an HTTP response (the first call sends the head)."""
        ...

    def send_text(self, text: str) -> None: ...

    def send_bytes(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake; raises ValueError for a code or reason that can't be sent."""
        ...

    def resume_reading(self) -> None:
        """The app has taken messages off a full queue."""
        ...

    def reset(self) -> None:
        """Drop this stream without a closing handshake (HTTP/1: close; HTTP/2: RST_STREAM)."""
        ...

    def drain(self) -> Awaitable[None]: ...

    def cycle_finished(self, cycle: object) -> None: ...
