"""What drivers, connections and workers offer each other.

    Connection (asyncio, `_net`)  --receive_data/receive_eof/timer_fired/...-->  Driver
    Driver                        --write/pause_reading/arm/switch_to/...----->  Sink (the connection)
    Driver                        --scopes/defaults/start_cycle/...----------->  Services (the worker)

A driver is sans-IO in the sense that matters for testing: it never touches a socket, a loop or a
clock directly, so a fake `Sink` drives it (`tests/test_drivers.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from asgiserver.server._asgi.response import ResponseDefaults
from asgiserver.server._asgi.scope import Client, ScopeBuilder, Server
from asgiserver.server._asgi.types import ASGIApp
from asgiserver.server._config import Config
from asgiserver.server._drivers.metrics import RequestCounters

if TYPE_CHECKING:
    import asyncio

# The kinds of the connection's one deadline; a driver says which is armed and hears which fired.
NO_TIMER, HEAD_TIMER, KEEPALIVE_TIMER, BODY_TIMER, LINGER_TIMER = range(5)


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Sink(Protocol):
    """The byte side of one connection, as a driver sees it."""

    timer_kind: int  # which deadline is armed; a driver sets NO_TIMER to disarm it lazily

    @property
    def client(self) -> Client: ...

    @property
    def server(self) -> Server: ...

    @property
    def secure(self) -> bool: ...

    @property
    def alpn(self) -> str | None:
        """The protocol TLS negotiated (RFC 7301), or None."""
        ...

    @property
    def write_paused(self) -> bool: ...

    @property
    def read_paused(self) -> bool: ...

    @property
    def closed(self) -> bool:
        """The transport is gone or closing: nothing more can be written."""
        ...

    @property
    def closing(self) -> bool:
        """Closed, or asked to close after the current response (graceful shutdown, errors)."""
        ...

    def write(self, chunks: list[bytes]) -> None: ...

    def hold(self, seconds: float | None) -> None:
        """Hold writes and join them (pipelined responses, a burst of frames) until `flush()`."""
        ...

    def flush(self) -> None: ...

    def drain(self) -> Awaitable[None]: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...

    def close_lingering(self) -> None:
        """Close after a response sent before the request was read to its end (RFC 9112 §9.6)."""
        ...

    def arm(self, kind: int, seconds: float) -> None:
        """Set the one deadline; the driver hears `timer_fired(kind)` unless it disarms first."""
        ...

    def time(self) -> float: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Cancellable: ...

    def create_future(self) -> asyncio.Future[None]:
        """A future of this connection's loop, for a stream's own write readiness (HTTP/2)."""
        ...

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback` on the next loop turn (pipelined requests, never recursively)."""
        ...

    def switch_to(self, driver: Driver) -> None:
        """From now on this driver gets the connection's input (a WebSocket after its 101)."""
        ...


class Driver(Protocol):
    """One protocol on one connection, fed by the connection."""

    def receive_data(self, data: bytes) -> None: ...

    def receive_eof(self) -> None: ...

    def connection_lost(self) -> None: ...

    def timer_fired(self, kind: int) -> None: ...

    def shutdown(self) -> None:
        """Graceful shutdown: finish what is in flight, take nothing new, close."""
        ...


class Services(Protocol):
    """What a worker offers its drivers."""

    config: Config
    app: ASGIApp
    defaults: ResponseDefaults
    scopes: ScopeBuilder
    access_log: bool
    shutting_down: bool
    connections: set[Any]  # the open connections, for shutdown
    metrics: RequestCounters | None  # --metrics, else None

    limit_concurrency: int | None
    inflight: int  # application coroutines running

    def overloaded(self) -> bool:
        """`--limit-concurrency` is reached: new requests get 503."""
        ...

    def start_cycle(self, run: Coroutine[Any, Any, None]) -> None:
        """Run one request's (or WebSocket's) application coroutine."""
        ...

    def cycle_done(self) -> None:
        """Called from inside that coroutine's task as its last step."""
        ...


DriverFactory = Callable[[Sink], Driver]


def body_stalled(sink: Sink, last_body_time: float, timeout: float) -> bool:
    """At the body deadline: has the client stopped sending the request body? If not (bytes came
    meanwhile, or the app is not reading, so input is paused on purpose), re-arm for the time left."""
    idle = sink.time() - last_body_time
    if idle < timeout or sink.read_paused:
        sink.arm(BODY_TIMER, timeout - idle if idle < timeout else timeout)
        return False
    return True
