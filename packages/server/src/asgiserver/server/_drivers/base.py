"""What drivers, connections and workers offer each other.

    Connection (asyncio, `_net`)  --receive_data/receive_eof/timer_fired/...-->  Driver
    Driver                        --write/pause_reading/arm/switch_to/...----->  Sink (the connection)
    Driver                        --scopes/defaults/start_cycle/...----------->  Services (the worker)

A driver is sans-IO in the sense that matters for testing: it never touches a socket, a loop or a
clock directly, so a fake `Sink` drives it (`tests/test_drivers.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ProxiedEndpoints:
    """What a PROXY protocol header (`--proxy-protocol`, `proxy_protocol.py`) says about its
    connection. `length`: the header's bytes, consumed before the connection's own. When `relayed`,
    `client` and `server` replace the socket's addresses; otherwise (LOCAL, UNKNOWN, UNSPEC) the
    socket's own are kept. `client_tls`: the client used TLS to the proxy (PP2_CLIENT_SSL)."""

    length: int
    relayed: bool
    client: Client
    server: Server
    client_tls: bool


class InvalidProxyHeader(ValueError):
    """The connection does not start with a valid PROXY header: it is closed unread."""


class Sink(Protocol):
    """The byte side of one connection, as a driver sees it."""

    timer_kind: int  # which deadline is armed; a driver sets NO_TIMER to disarm it lazily

    @property
    def client(self) -> Client: ...

    @property
    def server(self) -> Server: ...

    @property
    def secure(self) -> bool:
        """The client's connection is TLS: ours, or the proxy's by PROXY protocol (PP2_CLIENT_SSL).
        It decides the scheme; `alpn` is set only by our own TLS."""
        ...

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

    @property
    def zero_copy(self) -> bool:
        """`send_file()` can be used (a plain socket: TLS encrypts in user space)."""
        ...

    def send_file(self, fd: int, offset: int, count: int) -> Awaitable[int]:
        """Send `count` bytes of file `fd` from `offset` with `os.sendfile` (only if `zero_copy`),
        after what was written; returns the bytes sent, fewer only when the
        file ended first; raises ConnectionError when the client is gone."""
        ...

    def tls_extension(self) -> dict[str, Any] | None:
        """The ASGI `tls` scope extension of a TLS connection, else None."""
        ...

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

    def call_when_writable(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback` on a later loop turn once writing is not paused (the client reads
        again); never if the connection closes first. While writing is paused, the connection
        holds the client's input too."""
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

    def shutdown(self, restart: bool = False) -> None:
        """Graceful shutdown: finish what is in flight, take nothing new, close. `restart`: this
        process is being replaced (reload, recycling), which WebSockets hear as 1012."""
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

    def connection_closed(self) -> None:
        """A connection left `connections` (`--limit-connections` may accept again)."""
        ...


DriverFactory = Callable[[Sink], Driver]


def peer_text(client: Client) -> str:
    """A client as the log lines name it: `host:port`, or `-` on a unix socket."""
    return f"{client[0]}:{client[1]}" if client else "-"


def body_wait_left(
    sink: Sink, last_body_time: float, timeout: float, app_waiting: bool = True
) -> float:
    """At a body deadline: 0 when the client stopped sending the request body while the app waited
    for it; otherwise the seconds until the deadline is looked at again (bytes came meanwhile, or
    the body is held on purpose: the app is not reading it, or the client does not read our
    output, and the input waits)."""
    idle = sink.time() - last_body_time
    if idle < timeout:
        return timeout - idle
    if not app_waiting or sink.read_paused or sink.write_paused:
        return timeout
    return 0.0


def body_stalled(sink: Sink, last_body_time: float, timeout: float) -> bool:
    """At the connection's body deadline (HTTP/1.1, uwsgi): has the client stopped sending the
    request body? If not, the deadline is armed again for the time `body_wait_left` says."""
    left = body_wait_left(sink, last_body_time, timeout)
    if left:
        sink.arm(BODY_TIMER, left)
        return False
    return True
