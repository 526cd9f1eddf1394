"""State shared by every connection of one worker process."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable, Coroutine
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from asgiserver import http1
from asgiserver.server._config import Config
from asgiserver.server._http import Headers, HTTPCycle
from asgiserver.server._importer import ASGIApp
from asgiserver.server._proxy import ProxyHeaders, TrustedAddresses

if TYPE_CHECKING:
    from asgiserver.server._base import StreamProtocol
    from asgiserver.server._websocket import WebSocketSession


def _task_starter(
    loop: asyncio.AbstractEventLoop,
) -> Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]:
    """Start request coroutines eagerly where Python supports it (3.12+), else as ordinary tasks.

    An eager task runs synchronously until its first real suspension, so a handler that never waits
    (a plain response) costs no scheduling round trip.
    """
    eager = getattr(asyncio, "eager_task_factory", None)
    if eager is not None and sys.version_info >= (3, 12):
        return lambda coro: eager(loop, coro)  # type: ignore[no-any-return]
    return loop.create_task


class ServerState:
    def __init__(self, config: Config, app: ASGIApp, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.app = app
        self.loop = loop
        self.http1_limits = http1.Limits(
            max_request_line_bytes=config.limit_request_line,
            max_header_bytes=config.limit_request_headers_size,
            max_header_count=config.limit_request_fields,
            max_body_bytes=config.limit_request_body,
        )
        self.connections: set[StreamProtocol | WebSocketSession] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.app_state: dict[str, Any] = {}
        self.inflight = 0
        self.total_requests = 0
        self.limit_concurrency = config.limit_concurrency
        self.shutting_down = False
        self.access_log = config.access_log
        self.server_header: tuple[bytes, bytes] | None = (
            (b"server", b"asgiserver") if config.server_header else None
        )
        self.date_header_enabled = config.date_header
        self.date_header = (b"date", b"")
        self.extra_headers: Headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in config.headers
        ]
        self.proxy = ProxyHeaders(config.forwarded_allow_ips) if config.proxy_headers else None
        self.uwsgi_allow = TrustedAddresses(config.uwsgi_allow_from)
        self._start_task = _task_starter(loop)
        self._date_timer: asyncio.TimerHandle | None = None
        self.on_request_done: Callable[[int], None] | None = None
        self.refresh_date()

    def refresh_date(self) -> None:
        """The Date header is formatted once a second and shared (RFC 9110 §6.6.1)."""
        self.date_header = (b"date", formatdate(usegmt=True).encode("ascii"))
        self._date_timer = self.loop.call_later(1.0, self.refresh_date)

    def stop_timers(self) -> None:
        if self._date_timer is not None:
            self._date_timer.cancel()
            self._date_timer = None

    def default_headers(self) -> Headers:
        headers: Headers = []
        if self.server_header is not None:
            headers.append(self.server_header)
        if self.date_header_enabled:
            headers.append(self.date_header)
        return headers

    def start_task(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run one request's (or WebSocket's) application coroutine; `finish_task` ends it."""
        self.inflight += 1
        task = self._start_task(coro)
        if not task.done():
            self.tasks.add(task)  # finish_task() removes it, from inside the task

    def start_cycle(self, cycle: HTTPCycle) -> None:
        self.start_task(cycle.run(self.app))

    def finish_task(self) -> None:
        """Called by the request's own task as its last step."""
        self.tasks.discard(asyncio.current_task())  # type: ignore[arg-type, unused-ignore]
        self.inflight -= 1
        self.total_requests += 1
        if self.on_request_done is not None:
            self.on_request_done(self.total_requests)

    @staticmethod
    def addresses(
        transport: asyncio.BaseTransport,
    ) -> tuple[tuple[str, int] | None, tuple[str, int | None] | None]:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            name = sock.getsockname()
            return None, ((name if isinstance(name, str) else name.decode()), None)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        server = (str(local[0]), int(local[1])) if isinstance(local, tuple) else None
        return client, server
