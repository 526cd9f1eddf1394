"""The one ASGI WebSocket cycle, and the asyncio protocol of an accepted WebSocket connection.

An HTTP/1.1 upgrade request becomes a `WebSocketSession` while the HTTP/1.1 protocol still owns the
transport: the application sees `websocket.connect` and answers with `websocket.accept` (then the 101 is
sent, the transport switches to this session and the bytes that followed the request are fed to
`asgiserver.ws`), `websocket.close` (403), or the `websocket.http.response` denial extension. Pings and
the closing handshake are done by the ws package; this module adds keep-alive pings, flow control and
the ASGI rules.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import TYPE_CHECKING, Any

from asgiserver import http1, ws
from asgiserver.server._base import WriteBatcher
from asgiserver.server._http import (
    ASGIProtocolError,
    ClientDisconnected,
    Headers,
    header_list,
)
from asgiserver.server._importer import Message, Scope

if TYPE_CHECKING:
    from asgiserver.server._h1 import H1Protocol
    from asgiserver.server._state import ServerState

logger = logging.getLogger("asgiserver.error")

_CONNECTING, _OPEN, _CLOSING, _CLOSED = range(4)
CLOSE_TIMEOUT = 5.0  # how long we wait for the peer's close frame after sending ours

_TextMessage = ws.TextMessage
_BytesMessage = ws.BytesMessage


class WebSocketSession(asyncio.Protocol):
    __slots__ = (
        "_close_timer",
        "_connect_sent",
        "_denial",
        "_disconnect",
        "_out",
        "_ping_timer",
        "_pong_payload",
        "_read_paused",
        "_waiter",
        "conn",
        "h1",
        "handshake",
        "loop",
        "phase",
        "queue",
        "scope",
        "state",
        "transport",
    )

    def __init__(self, h1: H1Protocol, handshake: ws.HandshakeRequest, scope: Scope) -> None:
        self.h1: H1Protocol | None = h1
        self.state: ServerState = h1.state
        self.loop = h1.loop
        self.transport = h1.transport
        self.handshake = handshake
        self.scope = scope
        self.phase = _CONNECTING
        self.conn: ws.ServerConnection | None = None
        self.queue: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._connect_sent = False
        self._disconnect: Message | None = None
        self._denial: tuple[int, Headers] | None = None
        self._read_paused = False
        self._ping_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._pong_payload: bytes | None = None
        self._out = WriteBatcher(self.loop)
        self._out.transport = self.transport

    # ---- the application side ------------------------------------------------------------------------

    async def run(self) -> None:
        state = self.state
        try:
            await state.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                logger.error("Exception in ASGI application", exc_info=exc)
            if self.phase == _CONNECTING:
                self._deny(500, b"Internal Server Error")
            elif self.phase == _OPEN:
                self._close_with(1011, "")
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            if self.phase == _CONNECTING:
                if self._denial is not None:
                    logger.error("ASGI application returned without finishing its denial response")
                    self._abort()
                else:
                    logger.error(
                        "ASGI application returned without accepting or closing the WebSocket"
                    )
                    self._deny(500, b"Internal Server Error")
            elif self.phase == _OPEN:
                self._close_with(1000, "")
        finally:
            state.finish_task()

    async def receive(self) -> Message:
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        while not self.queue:
            if self._disconnect is not None:
                return dict(self._disconnect)
            waiter = self._waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        message = self.queue.popleft()
        if self._read_paused and len(self.queue) < self.state.config.ws_max_queue:
            self._read_paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        return message

    async def send(self, message: Message) -> None:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise ASGIProtocolError(f"ASGI message without a type: {message!r}") from None
        phase = self.phase
        if phase == _OPEN:
            if kind == "websocket.send":
                self._send_data(message)
                if self._out.paused:
                    await self._out.drain()
                    if self.phase == _CLOSED:
                        raise ClientDisconnected("the WebSocket is closed")
                return
            if kind == "websocket.close":
                self._close_with(*self._close_args(message))
                return
            raise ASGIProtocolError(f"unexpected ASGI message {kind!r} on an open WebSocket")
        if phase == _CLOSED or self._disconnect is not None:
            raise ClientDisconnected("the WebSocket is closed")
        # _CONNECTING
        if self._denial is not None:
            if kind != "websocket.http.response.body":
                raise ASGIProtocolError("expected websocket.http.response.body")
            self._denial_body(message)
        elif kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.close":
            # ASGI: closing before accepting is a 403 to the HTTP request.
            self._deny(403, b"")
        elif kind == "websocket.http.response.start":
            status = message.get("status")
            if type(status) is not int or not 100 <= status <= 599:
                raise ASGIProtocolError(f"invalid response status {status!r}")
            self._denial = (status, header_list(message.get("headers", ())))
        else:
            raise ASGIProtocolError(f"unexpected ASGI message {kind!r} before websocket.accept")

    @staticmethod
    def _close_args(message: Message) -> tuple[int, str]:
        code = message.get("code", 1000)
        reason = message.get("reason") or ""
        if type(code) is not int or type(reason) is not str:
            raise ASGIProtocolError("websocket.close needs an int code and a str reason")
        return code, reason

    def _send_data(self, message: Message) -> None:
        conn = self.conn
        assert conn is not None
        data = message.get("bytes")
        if data is not None:
            if type(data) is not bytes:
                raise ASGIProtocolError("websocket.send 'bytes' must be bytes")
            conn.send(_BytesMessage(data))
        else:
            text = message.get("text")
            if type(text) is not str:
                raise ASGIProtocolError("websocket.send needs 'bytes' or 'text'")
            conn.send(_TextMessage(text))
        self._write()

    # ---- handshake -----------------------------------------------------------------------------------

    def _accept(self, message: Message) -> None:
        h1 = self.h1
        config = self.state.config
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and type(subprotocol) is not str:
            raise ASGIProtocolError("websocket.accept 'subprotocol' must be a str")
        extra = header_list(message.get("headers", ()))
        for name, _ in extra:
            if name.lower() == b"sec-websocket-protocol":
                raise ASGIProtocolError("use 'subprotocol', not a sec-websocket-protocol header")
        try:
            response = ws.accept(
                self.handshake,
                subprotocol=subprotocol,
                extra_headers=extra,
                deflate=ws.DeflateOptions() if config.ws_per_message_deflate else None,
            )
        except ws.LocalProtocolError as exc:
            raise ASGIProtocolError(str(exc)) from None
        if h1 is None or h1.transport is None or h1.transport.is_closing():
            self.phase = _CLOSED
            raise ClientDisconnected("the client went away during the handshake")
        headers = list(response.headers)
        if self.state.server_header is not None:
            headers.append(self.state.server_header)
        if self.state.date_header_enabled:
            headers.append(self.state.date_header)
        h1.conn.send(http1.InformationalResponse(status=101, headers=headers))
        h1._write()
        trailing = h1.conn.trailing_data
        h1.detach()
        self.h1 = None
        transport = self.transport
        assert transport is not None
        transport.set_protocol(self)
        self.state.connections.add(self)
        self.phase = _OPEN
        self.conn = ws.ServerConnection(
            limits=ws.Limits(
                max_message_bytes=config.ws_max_size, max_frame_bytes=config.ws_max_size
            ),
            extensions=response.extensions,
            trailing_data=trailing,
        )
        self._arm_ping()
        self._handle_events()

    def _deny(self, status: int, body: bytes) -> None:
        """Answer the upgrade request with a plain HTTP response instead of a 101."""
        h1 = self.h1
        self.phase = _CLOSED
        if h1 is not None:
            h1.respond_and_close(status, [], body)
            self.h1 = None
        self._disconnect = {"type": "websocket.disconnect", "code": 1006, "reason": ""}

    def _denial_body(self, message: Message) -> None:
        body = message.get("body", b"")
        if type(body) is not bytes:
            raise ASGIProtocolError("websocket.http.response.body 'body' must be bytes")
        assert self._denial is not None
        h1 = self.h1
        if h1 is None:
            raise ClientDisconnected("the client went away")
        status, headers = self._denial
        more = bool(message.get("more_body", False))
        h1.stream_denial(status, headers, body, more)
        if not more:
            self._denial = None
            self.h1 = None
            self.phase = _CLOSED
            self._disconnect = {"type": "websocket.disconnect", "code": 1006, "reason": ""}
        else:
            self._denial = (status, [])  # head already sent; later bodies continue it

    # ---- transport side (after the switch) -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # pragma: no cover
        pass  # the transport was handed over from the HTTP/1.1 protocol

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn is None:
            return
        conn.receive_data(data)
        self._handle_events()

    def eof_received(self) -> bool | None:
        if self.conn is not None:
            self.conn.receive_eof()
            self._handle_events()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self._cancel_timers()
        self.phase = _CLOSED
        if self._disconnect is None:
            self._set_disconnect(1006, "")
        self._out.resume()

    def pause_writing(self) -> None:
        self._out.pause()

    def resume_writing(self) -> None:
        self._out.resume()

    def _handle_events(self) -> None:
        conn = self.conn
        assert conn is not None
        queue = self.queue
        for event in conn.events_received():
            kind = type(event)
            if kind is _TextMessage:
                queue.append({"type": "websocket.receive", "text": event.text})  # type: ignore[union-attr]
            elif kind is _BytesMessage:
                queue.append({"type": "websocket.receive", "bytes": event.data})  # type: ignore[union-attr]
            elif kind is ws.Pong:
                self._on_pong(event.data)  # type: ignore[union-attr]
            elif kind is ws.CloseReceived:
                self._set_disconnect(event.code, event.reason)  # type: ignore[union-attr]
            elif kind is ws.ConnectionClosed:
                self._set_disconnect(event.code, "")  # type: ignore[union-attr]
            elif kind is ws.ConnectionFailed:
                error = event.error  # type: ignore[union-attr]
                logger.info("WebSocket protocol error from the client: %s", error)
                self._set_disconnect(error.close_code, "")
        self._write()
        if queue:
            self._wake()
            if len(queue) >= self.state.config.ws_max_queue and not self._read_paused:
                transport = self.transport
                if transport is not None and not transport.is_closing():
                    self._read_paused = True
                    transport.pause_reading()
        if conn.close_expected():
            self._close_transport()

    def _set_disconnect(self, code: int, reason: str) -> None:
        if self._disconnect is None:
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self.phase = _CLOSED
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _write(self) -> None:
        """Frames sent within one loop iteration go out in one write: an app echoing a burst of
        messages would otherwise cost a syscall per message."""
        conn = self.conn
        if conn is None:
            return
        chunks = conn.data_to_send()
        if chunks:
            self._out.hold()
            self._out.write(chunks)

    def _close_with(self, code: int, reason: str) -> None:
        conn = self.conn
        if conn is None or self.phase != _OPEN:
            return
        try:
            conn.send(ws.Close(code, reason))
        except ws.LocalProtocolError as exc:
            raise ASGIProtocolError(str(exc)) from None
        self.phase = _CLOSING
        self._write()
        if conn.close_expected():
            self._close_transport()
        elif self._close_timer is None:
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._close_transport)

    def _close_transport(self) -> None:
        self._cancel_timers()
        self._out.flush()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def _abort(self) -> None:
        h1 = self.h1
        if h1 is not None:
            h1.abort()
            self.h1 = None
        self._close_transport()

    # ---- keep-alive pings ------------------------------------------------------------------------

    def _arm_ping(self) -> None:
        interval = self.state.config.ws_ping_interval
        if interval and interval > 0:
            self._ping_timer = self.loop.call_later(interval, self._on_ping_timer)

    def _on_ping_timer(self) -> None:
        """Every ping interval a ping; a pong must come back within the ping timeout."""
        self._ping_timer = None
        conn = self.conn
        if self.phase != _OPEN or conn is None:
            return
        if self._pong_payload is not None:
            # RFC 6455 §5.5.2/§5.5.3: a peer that does not answer a ping is gone.
            logger.info("WebSocket client did not answer a ping in time; closing")
            self._set_disconnect(1006, "")
            self._close_transport()
            return
        payload = os.urandom(4)
        conn.send(ws.Ping(payload))
        self._write()
        timeout = self.state.config.ws_ping_timeout
        if timeout and timeout > 0:
            self._pong_payload = payload
            self._ping_timer = self.loop.call_later(timeout, self._on_ping_timer)
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

    # ---- server control ------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Graceful shutdown: a 1001 Going Away close; the app hears the disconnect and finishes."""
        if self.phase == _OPEN:
            self._close_with(1001, "server shutting down")
        elif self.phase == _CONNECTING and self.h1 is not None:
            self._deny(503, b"Service Unavailable")


def websocket_scope(h1: H1Protocol, handshake: ws.HandshakeRequest, base: dict[str, Any]) -> Scope:
    scope = dict(base)
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if h1.scheme == "https" else "ws"
    scope["subprotocols"] = list(handshake.subprotocols)
    scope["extensions"] = {"websocket.http.response": {}}
    scope["asgi"] = {"version": "3.0", "spec_version": "2.5"}
    del scope["method"]
    return scope
