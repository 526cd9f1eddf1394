"""Accepting connections ourselves, for what `loop.create_server` cannot do.

A `Listener` accepts on one listening socket and hands each connection to
`loop.connect_accepted_socket` (TLS, when configured, starts there). The worker uses one when:
- `--limit-connections` is set: accepting stops while the worker holds that many connections
  (`ConnectionGate`) and starts again when one closes. Nothing is refused: new connections wait in
  the kernel's listen backlog, or a worker with room takes them (they share the listening socket).
  `loop.create_server` has no way to pause accepting.
- `--proxy-protocol` is set: the PROXY header is read first (`proxy_listener.py`, a subclass).
Otherwise the worker keeps `loop.create_server`, whose accept loop is C code under uvloop.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable, Sized
from typing import Any

logger = logging.getLogger("asgiserver.error")

ACCEPT_RETRY_SECONDS = 1.0  # after EMFILE and the like, as asyncio's own accept loop waits
_ABORTED = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM)  # the peer left before accept()


class ConnectionGate:
    """`--limit-connections`: the connections one worker holds, from accept to close (served ones,
    and those its listeners still have in hand: a TLS handshake, a PROXY header)."""

    __slots__ = ("_connections", "_listeners", "limit")

    def __init__(self, limit: int, connections: Sized) -> None:
        self.limit = limit
        self._connections = connections  # the worker's served connections
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def full(self) -> bool:
        held = len(self._connections)
        for listener in self._listeners:
            held += listener.in_hand
        return held >= self.limit

    def released(self) -> None:
        """A connection closed (or was dropped before being served): accept again if there is
        room."""
        if not self.full:
            for listener in self._listeners:
                listener.resume()


class Listener:
    """Accepts on one listening socket and serves each connection with `protocol_factory`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.BaseProtocol] | None,
        *,
        tls: ssl.SSLContext | None,
        handshake_timeout: float,
        backlog: int,
        gate: ConnectionGate | None = None,
    ) -> None:
        self.loop = loop
        self.sock = sock
        # Workers share a listening socket: another may take the connection that woke this one,
        # and a blocking accept() would then stop the loop.
        sock.setblocking(False)
        self.protocol_factory = protocol_factory
        self.tls = tls
        self.handshake_timeout = handshake_timeout
        self.backlog = backlog
        self.gate = gate
        self.in_hand = 0  # accepted and not served yet (a TLS handshake, a PROXY header)
        self.handovers: set[asyncio.Task[Any]] = set()  # connect_accepted_socket under way
        self.accepting = False
        self.closed = False
        if gate is not None:
            gate.add(self)

    def start(self) -> None:
        self.resume()

    def resume(self) -> None:
        """Accept again (after the gate had room again, or after an accept error's pause)."""
        if self.closed or self.accepting or (self.gate is not None and self.gate.full):
            return
        self.accepting = True
        self.loop.add_reader(self.sock.fileno(), self._accept)

    def _pause(self) -> None:
        if self.accepting:
            self.accepting = False
            self.loop.remove_reader(self.sock.fileno())

    def close(self) -> None:
        """Stop accepting; connections still in hand are dropped (none was read as a request)."""
        if self.closed:
            return
        self._pause()
        self.closed = True
        self.sock.close()
        for task in list(self.handovers):
            task.cancel()

    def _accept(self) -> None:
        gate = self.gate
        for _ in range(self.backlog):  # as many as are waiting, bounded as asyncio bounds its own
            if gate is not None and gate.full:
                self._pause()  # the rest wait in the backlog, or another worker takes them
                return
            try:
                conn, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _ABORTED:
                    continue
                # Out of descriptors (EMFILE, ENFILE, ENOBUFS): stop listening for a moment
                # rather than spin on a readable listening socket.
                logger.error("Accepting a connection failed: %s; retrying in 1 s", exc)
                self._pause()
                self.loop.call_later(ACCEPT_RETRY_SECONDS, self.resume)
                return
            conn.setblocking(False)
            self._accepted(conn, address)

    def _accepted(self, conn: socket.socket, address: Any) -> None:
        """Serve it at once; a subclass may read from it first (a PROXY header)."""
        factory = self.protocol_factory
        assert factory is not None  # internal invariant: None only where a subclass overrides this
        self._hand_over(conn, factory)

    def _release(self) -> None:
        """One connection is no longer in hand (served, or gone)."""
        self.in_hand -= 1
        if self.gate is not None:
            self.gate.released()

    def _hand_over(
        self, conn: socket.socket, protocol_factory: Callable[[], asyncio.BaseProtocol]
    ) -> None:
        opening = self.loop.connect_accepted_socket(
            protocol_factory,
            conn,
            ssl=self.tls,
            ssl_handshake_timeout=self.handshake_timeout if self.tls is not None else None,
        )
        task: asyncio.Task[Any] = self.loop.create_task(opening)
        self.in_hand += 1
        self.handovers.add(task)
        task.add_done_callback(self._handed_over)

    def _handed_over(self, task: asyncio.Task[Any]) -> None:
        self.handovers.discard(task)
        served = not task.cancelled() and task.exception() is None
        if not task.cancelled() and not served:
            # A failed TLS handshake: the loop has closed the socket (as create_server's would).
            logger.debug("Connection closed during its TLS handshake: %s", task.exception())
        # Served, it is one of the worker's connections now, counted there; if not, it is gone.
        # Either way the gate looks again (a connection may have closed meanwhile).
        self._release()
