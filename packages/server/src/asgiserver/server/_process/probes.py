"""The master's `--metrics` listener: `GET /metrics`, `/livez` and `/readyz`, served from inside the
master's `select()` loop, never by the application.

Everything is non-blocking and bounded: at most MAX_CLIENTS connections at once (the listener is not
polled beyond that, so others wait in the backlog), MAX_INPUT bytes and DEADLINE seconds each, one
request per connection, closed after its answer.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from asgiserver.server._drivers.probe import MAX_INPUT, ProbeExchange

MAX_CLIENTS = 16
DEADLINE = 5.0

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


@dataclass
class _Client:
    sock: socket.socket
    deadline: float
    exchange: ProbeExchange = field(default_factory=ProbeExchange)
    received: int = 0
    out: bytes = b""  # the answer, while it is being written


class ProbeListener:
    """Accepts, reads, answers and closes; `routes` maps a path to what answers it."""

    def __init__(self, sock: socket.socket, routes: dict[bytes, Callable[[], Answer]]) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.routes = routes
        self.clients: dict[int, _Client] = {}

    def read_fds(self) -> list[int]:
        reading = [fd for fd, client in self.clients.items() if not client.out]
        if len(self.clients) < MAX_CLIENTS:
            reading.append(self.sock.fileno())
        return reading

    def write_fds(self) -> list[int]:
        return [fd for fd, client in self.clients.items() if client.out]

    def next_deadline(self) -> float | None:
        return min((client.deadline for client in self.clients.values()), default=None)

    def owns(self, fd: int) -> bool:
        return fd == self.sock.fileno() or fd in self.clients

    def on_readable(self, fd: int) -> None:
        if fd == self.sock.fileno():
            self._accept()
            return
        client = self.clients.get(fd)
        if client is None:
            return
        try:
            data = client.sock.recv(MAX_INPUT + 1 - client.received)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(fd)
            return
        client.received += len(data)
        result = client.exchange.receive(data)
        if result is None:
            if client.received > MAX_INPUT:
                self._close(fd)
            return
        if isinstance(result, int):
            status, headers, body = result, [_TEXT], b"Bad Request\n" if result == 400 else b""
        else:
            status, headers, body = self._route(*result)
        out = client.exchange.answer(status, headers, body)
        if not out:
            self._close(fd)
            return
        client.out = out
        self.on_writable(fd)  # a small answer usually fits the socket buffer at once

    def on_writable(self, fd: int) -> None:
        client = self.clients.get(fd)
        if client is None:
            return
        try:
            sent = client.sock.send(client.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(fd)
            return
        client.out = client.out[sent:]
        if not client.out:
            self._close(fd)

    def expire(self, now: float) -> None:
        for fd, client in list(self.clients.items()):
            if now >= client.deadline:
                self._close(fd)

    def close(self) -> None:
        for fd in list(self.clients):
            self._close(fd)
        self.sock.close()

    def _route(self, method: bytes, path: bytes) -> Answer:
        route = self.routes.get(path)
        if route is None:
            return 404, [_TEXT], b"Not Found\n"
        if method not in (b"GET", b"HEAD"):
            return 405, [_TEXT, (b"allow", b"GET, HEAD")], b"Method Not Allowed\n"
        return route()

    def _accept(self) -> None:
        while len(self.clients) < MAX_CLIENTS:
            try:
                sock, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. EMFILE: try again on the next turn
            sock.setblocking(False)
            self.clients[sock.fileno()] = _Client(sock, time.monotonic() + DEADLINE)

    def _close(self, fd: int) -> None:
        client = self.clients.pop(fd, None)
        if client is not None:
            with contextlib.suppress(OSError):
                client.sock.close()
