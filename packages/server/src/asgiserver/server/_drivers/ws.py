"""`WSChannel`: the ws package over a byte channel, for one WebSocket.

Before the handshake is answered the channel holds the validated request and an opener (the driver
that carried the handshake: HTTP/1.1 today, an HTTP/2 stream next), which sends the response the ws
package chose and hands over the bytes that followed the request. After that the channel is the
driver of those bytes: it feeds the `WebSocketCycle`, sends keep-alive pings, and closes when the
closing handshake is done (or after CLOSE_TIMEOUT). Its backpressure pauses its own input only.

When the client breaks the protocol, the ws package delivers the messages that were complete before
the bad frame and then `ConnectionFailed`, and waits for our close frame (state FAILING). The
channel lets the app have those messages and answer them: the close, with the error's code, goes
out when the app asks for the next message (and gets the disconnect), closes, returns, or after
CLOSE_TIMEOUT, whichever comes first (RFC 6455 §7.1.7; Autobahn|Testsuite 3.2, 4.1.3, 5.15).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable
from typing import Protocol

from asgiserver import ws
from asgiserver.server._asgi.types import ClientDisconnected, Headers, Message
from asgiserver.server._asgi.websocket import WebSocketCycle
from asgiserver.server._drivers.base import Cancellable, Services, Sink

logger = logging.getLogger("asgiserver.error")

CLOSE_TIMEOUT = 5.0  # how long we wait for the peer's close frame after sending ours, and how
# long an app may take to answer the messages before a protocol error before our close goes out
# The app's messages wait in the ws connection until the end of the loop iteration, so a burst of
# them costs one write; once this many bytes wait they go out at once, so write flow control
# (`write_paused`) still sees them. A message is counted by its length in bytes or characters (up
# to 4 bytes each in UTF-8) plus room for its frame header.
HOLD_LIMIT = 64 * 1024
FRAME_ROOM = 14

_TextMessage = ws.TextMessage
_BytesMessage = ws.BytesMessage


class WSOpener(Protocol):
    """The driver that carried the handshake request."""

    def open_websocket(self, status: int, headers: Headers) -> bytes | None:
        """Send the accepting response; the bytes after the request, or None if the peer is gone."""
        ...

    def deny_websocket(self, status: int, headers: Headers, body: bytes, more: bool) -> None: ...


class WSChannel:
    __slots__ = (
        "_close_timer",
        "_closing",
        "_failure",
        "_held",
        "_ping_timer",
        "_pong_payload",
        "conn",
        "cycle",
        "handshake",
        "opener",
        "services",
        "sink",
    )

    def __init__(
        self, services: Services, sink: Sink, handshake: ws.HandshakeRequest, opener: WSOpener
    ) -> None:
        self.services = services
        self.sink = sink
        self.handshake = handshake
        self.opener: WSOpener | None = opener
        self.cycle: WebSocketCycle | None = None
        self.conn: ws.ServerConnection | None = None
        self._closing = False
        self._failure: ws.RemoteProtocolError | None = None  # the client's error, our close owed
        self._ping_timer: Cancellable | None = None
        self._close_timer: Cancellable | None = None
        self._pong_payload: bytes | None = None
        # Bytes of the app's messages waiting in `conn` for `_write_held` (0: nothing scheduled).
        self._held = 0

    # ---- WebSocketStream (called by the cycle) -----------------------------------------------------

    @property
    def write_paused(self) -> bool:
        return self.sink.write_paused

    def accept(self, subprotocol: str | None, headers: Headers) -> None:
        config = self.services.config
        try:
            response = ws.accept(
                self.handshake,
                subprotocol=subprotocol,
                extra_headers=headers,
                deflate=ws.DeflateOptions() if config.ws_per_message_deflate else None,
            )
        except ws.LocalProtocolError as exc:
            raise ValueError(str(exc)) from None
        opener = self.opener
        trailing = (
            None
            if opener is None
            else opener.open_websocket(response.status, list(response.headers))
        )
        if trailing is None:
            raise ClientDisconnected("the client went away during the handshake")
        self.opener = None
        self.conn = ws.ServerConnection(
            limits=ws.Limits(
                max_message_bytes=config.ws_max_size, max_frame_bytes=config.ws_max_size
            ),
            extensions=response.extensions,
            trailing_data=trailing,
        )
        self.sink.switch_to(self)
        self._arm_ping()
        self._handle_events()

    def deny(self, status: int, headers: Headers, body: bytes, more: bool) -> None:
        opener = self.opener
        if opener is None:
            raise ClientDisconnected("the client went away")
        if not more:
            self.opener = None
        opener.deny_websocket(status, headers, body, more)

    def send_text(self, text: str) -> None:
        self.conn.send_text(text)  # type: ignore[union-attr]
        self._hold(len(text))

    def send_bytes(self, data: bytes) -> None:
        self.conn.send_bytes(data)  # type: ignore[union-attr]
        self._hold(len(data))

    def _hold(self, size: int) -> None:
        """A message of about `size` bytes waits in `conn`: written by `_write_held` at the end of
        this loop iteration, or at once past HOLD_LIMIT."""
        held = self._held
        if not held:
            self.sink.call_soon(self._write_held)
        held += size + FRAME_ROOM
        if held > HOLD_LIMIT:
            self._write_held()
            held = 1  # nothing waits now, but _write_held is still scheduled
        self._held = held

    def close(self, code: int, reason: str) -> None:
        conn = self.conn
        if conn is None or self._closing:
            return
        failure = self._failure
        if failure is not None:
            # The client broke the protocol: its error's code, whatever the app asked for.
            code, reason = failure.close_code, str(failure).encode()[:123].decode(errors="ignore")
        try:
            conn.send(ws.Close(code, reason))
        except ws.LocalProtocolError as exc:
            raise ValueError(str(exc)) from None
        self._closing = True
        self._write()
        if conn.close_expected():
            self._close_transport()
        elif self._close_timer is None:
            self._close_timer = self.sink.call_later(CLOSE_TIMEOUT, self._close_transport)

    def resume_reading(self) -> None:
        self.sink.resume_reading()

    def reset(self) -> None:
        self.opener = None
        self._close_transport()

    def drain(self) -> Awaitable[None]:
        return self.sink.drain()

    def cycle_finished(self, cycle: object) -> None:
        self.services.cycle_done()

    # ---- Driver (the connection's input, after the handshake) --------------------------------------

    def receive_data(self, data: bytes) -> None:
        conn = self.conn
        if conn is not None:
            conn.receive_data(data)
            self._handle_events()

    def receive_eof(self) -> None:
        conn = self.conn
        if conn is not None:
            conn.receive_eof()
            self._handle_events()

    def connection_lost(self) -> None:
        self._cancel_timers()
        self._closing = True
        cycle = self.cycle
        if cycle is not None:
            cycle.closed(1006, "")

    def timer_fired(self, kind: int) -> None:
        pass  # the channel keeps its own ping and close timers

    def shutdown(self, restart: bool = False) -> None:
        cycle = self.cycle
        if cycle is not None:
            cycle.shutdown(restart)

    def _handle_events(self) -> None:
        conn = self.conn
        cycle = self.cycle
        assert conn is not None and cycle is not None
        full = False
        messages: list[Message] = []  # handed to the cycle together, before any other event
        for event in conn.events_received():
            kind = type(event)
            if kind is _BytesMessage:
                messages.append({"type": "websocket.receive", "bytes": event.data})  # type: ignore[union-attr]
                continue
            if kind is _TextMessage:
                messages.append({"type": "websocket.receive", "text": event.text})  # type: ignore[union-attr]
                continue
            if messages:
                full = cycle.deliver(messages) or full
                messages = []
            if kind is ws.Pong:
                self._on_pong(event.data)  # type: ignore[union-attr]
            elif kind is ws.CloseReceived:
                self._closing = True
                cycle.closed(event.code, event.reason)  # type: ignore[union-attr]
            elif kind is ws.ConnectionClosed:
                self._closing = True
                cycle.closed(event.code, "")  # type: ignore[union-attr]
            elif kind is ws.ConnectionFailed:
                error = event.error  # type: ignore[union-attr]
                logger.info("WebSocket protocol error from the client: %s", error)
                if conn.state is ws.State.FAILING:
                    # Our close is owed: the app first gets the messages before the error.
                    self._failure = error
                    cycle.failed(error.close_code)
                    self._close_timer = self.sink.call_later(CLOSE_TIMEOUT, self._fail_late)
                else:
                    self._closing = True
                    cycle.closed(error.close_code, "")
        if messages:
            full = cycle.deliver(messages) or full
        self._write()
        if full and not self.sink.read_paused:
            self.sink.pause_reading()
        if conn.close_expected():
            self._close_transport()

    def _write(self) -> None:
        """Frames sent within one loop iteration go out in one write: an app echoing a burst of
        messages would otherwise cost a syscall per message."""
        conn = self.conn
        if conn is None:
            return
        chunks = conn.data_to_send()
        if chunks:
            sink = self.sink
            sink.hold(None)
            sink.write(chunks)

    def _write_held(self) -> None:
        """At the end of the loop iteration in which the app sent its first held message, or at
        once past HOLD_LIMIT: without `hold()`, so write flow control sees the bytes now."""
        self._held = 0
        conn = self.conn
        if conn is not None:
            chunks = conn.data_to_send()
            if chunks:
                self.sink.write(chunks)

    def _close_transport(self) -> None:
        self._closing = True
        self._cancel_timers()
        self._write()  # what the app sent last is still held
        self.sink.flush()
        self.sink.close()

    def _fail_late(self) -> None:
        """The app did not come back for the disconnect in time: close without its answers."""
        self._close_timer = None
        failure = self._failure
        self.close(0, "")
        if self.cycle is not None and failure is not None:
            self.cycle.closed(failure.close_code, "")

    # ---- keep-alive pings --------------------------------------------------------------------------

    def _arm_ping(self) -> None:
        interval = self.services.config.ws_ping_interval
        if interval and interval > 0:
            self._ping_timer = self.sink.call_later(interval, self._on_ping_timer)

    def _on_ping_timer(self) -> None:
        """Every ping interval a ping; a pong must come back within the ping timeout."""
        self._ping_timer = None
        conn = self.conn
        if self._closing or conn is None or self._failure is not None:
            return
        if self._pong_payload is not None:
            # RFC 6455 §5.5.2/§5.5.3: a peer that does not answer a ping is gone.
            logger.info("WebSocket client did not answer a ping in time; closing")
            if self.cycle is not None:
                self.cycle.closed(1006, "")
            self._close_transport()
            return
        payload = os.urandom(4)
        conn.send(ws.Ping(payload))
        self._write()
        timeout = self.services.config.ws_ping_timeout
        if timeout and timeout > 0:
            self._pong_payload = payload
            self._ping_timer = self.sink.call_later(timeout, self._on_ping_timer)
        else:
            self._arm_ping()

    def _on_pong(self, data: bytes) -> None:
        if self._pong_payload is not None and data == self._pong_payload:
            self._pong_payload = None
            if self._ping_timer is not None:
                self._ping_timer.cancel()
            self._arm_ping()

    def _cancel_timers(self) -> None:
        for timer in (self._ping_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._close_timer = None
