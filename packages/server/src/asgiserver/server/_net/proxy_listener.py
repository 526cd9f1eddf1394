"""Listeners whose connections start with a PROXY protocol header (`--proxy-protocol`).

A connection is accepted here rather than by `loop.create_server`: its header is read from the
socket before any transport exists, peeking (`MSG_PEEK`) and consuming exactly the header's bytes,
never one after it. The socket is then handed to `loop.connect_accepted_socket`, so that TLS, when
configured, starts after the header on the same connection (HAProxy in TCP mode with TLS passed
through sends the header before the ClientHello), and the connection is served as any other.

The specification ("The PROXY protocol", HAProxy, section 2.1 and 5) forbids guessing: a
connection without a valid header is closed unread; only trusted peers may send one, so peers
outside `--forwarded-allow-ips` are closed at accept. The header must arrive within
`--timeout-request-head`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

from asgiserver.server._drivers.base import InvalidProxyHeader, ProxiedEndpoints
from asgiserver.server._net.listener import ConnectionGate, Listener

logger = logging.getLogger("asgiserver.error")

ReadHeader = Callable[[bytes], ProxiedEndpoints | None]


class _Pending:
    """A connection whose header has not fully arrived: the bytes of it consumed so far."""

    __slots__ = ("peer", "taken", "timer")

    def __init__(self, peer: str, timer: asyncio.TimerHandle) -> None:
        self.peer = peer
        self.taken = b""
        self.timer = timer


class ProxyProtocolListener(Listener):
    """Accepts on one listening socket; each connection is served once its header is read."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[ProxiedEndpoints], asyncio.BaseProtocol],
        read_header: ReadHeader,
        max_header_bytes: int,
        trusts: Callable[[str | None], bool],
        *,
        tls: ssl.SSLContext | None,
        header_timeout: float,
        backlog: int,
        gate: ConnectionGate | None = None,
    ) -> None:
        super().__init__(
            loop,
            sock,
            None,  # each connection's factory is made once its header is read (_serve)
            tls=tls,
            handshake_timeout=header_timeout,
            backlog=backlog,
            gate=gate,
        )
        self.proxied_factory = protocol_factory
        self.read_header = read_header
        self.max_header_bytes = max_header_bytes
        self.trusts = trusts
        self.header_timeout = header_timeout
        self.pending: dict[socket.socket, _Pending] = {}

    def close(self) -> None:
        """Stop accepting and close the connections still without a header (nothing of theirs
        has been read as a request); handshakes under way are cancelled."""
        if self.closed:
            return
        super().close()
        for conn in list(self.pending):
            self._drop(conn)

    # ---- accepting -----------------------------------------------------------------------------

    def _accepted(self, conn: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else None
        peer = host if host is not None else "unix socket"
        if not self.trusts(host):
            logger.warning(
                "Connection from %s refused: --proxy-protocol takes PROXY headers only "
                "from --forwarded-allow-ips",
                peer,
            )
            conn.close()
            return
        timer = self.loop.call_later(self.header_timeout, self._expire, conn)
        self.pending[conn] = _Pending(peer, timer)
        self.in_hand += 1
        self.loop.add_reader(conn.fileno(), self._readable, conn)

    # ---- one pending connection ------------------------------------------------------------------

    def _readable(self, conn: socket.socket) -> None:
        pending = self.pending.get(conn)
        if pending is None:
            return
        try:
            waiting = conn.recv(self.max_header_bytes - len(pending.taken), socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            logger.debug("Connection from %s lost before its PROXY header: %s", pending.peer, exc)
            self._drop(conn)
            return
        if not waiting:
            logger.info("Connection from %s closed before a full PROXY header", pending.peer)
            self._drop(conn)
            return
        try:
            endpoints = self.read_header(pending.taken + waiting)
        except InvalidProxyHeader as exc:
            logger.info("Invalid PROXY header from %s: %s", pending.peer, exc)
            self._drop(conn)
            return
        try:
            if endpoints is None:
                # Everything waiting belongs to the header: a v1 line without its CRLF yet, or less
                # than a v2 header's announced length. Take it, so the next peek sees new bytes.
                pending.taken += conn.recv(len(waiting))
                return
            rest = endpoints.length - len(pending.taken)
            while rest > 0:  # peeked, so already in the socket's buffer
                chunk = conn.recv(rest)
                if not chunk:
                    raise ConnectionResetError("closed in its PROXY header")
                rest -= len(chunk)
        except OSError as exc:
            logger.debug("Connection from %s lost in its PROXY header: %s", pending.peer, exc)
            self._drop(conn)
            return
        self._forget(conn)
        self._serve(conn, endpoints)

    def _expire(self, conn: socket.socket) -> None:
        pending = self.pending.get(conn)
        if pending is not None:
            logger.info("No PROXY header from %s within --timeout-request-head", pending.peer)
            self._drop(conn)

    def _forget(self, conn: socket.socket) -> None:
        pending = self.pending.pop(conn)
        pending.timer.cancel()
        self.loop.remove_reader(conn.fileno())
        self._release()

    def _drop(self, conn: socket.socket) -> None:
        self._forget(conn)
        conn.close()

    # ---- handing over to the loop ----------------------------------------------------------------

    def _serve(self, conn: socket.socket, endpoints: ProxiedEndpoints) -> None:
        factory = self.proxied_factory
        self._hand_over(conn, lambda: factory(endpoints))
