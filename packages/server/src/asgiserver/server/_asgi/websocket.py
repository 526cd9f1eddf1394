"""The one ASGI WebSocket cycle, shared by the HTTP/1.1 upgrade and (next) HTTP/2's RFC 8441 streams.

The application sees `websocket.connect` and answers with `websocket.accept` (the stream then sends the
handshake response the ws package chose: 101 on HTTP/1.1, 200 on HTTP/2), `websocket.close` before
accepting (403), or the `websocket.http.response` denial extension. The cycle never owns a transport:
it talks to a `WebSocketStream` and is fed by it (`deliver`, `closed`). Pings, the closing handshake
and framing are the ws package's; message order, types and the disconnect are this module's.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from asgiserver.server._asgi.response import header_list
from asgiserver.server._asgi.stream import WebSocketStream
from asgiserver.server._asgi.types import (
    ASGIApp,
    ASGIProtocolError,
    ClientDisconnected,
    Headers,
    Message,
    Scope,
)

logger = logging.getLogger("asgiserver.error")

CONNECTING, OPEN, CLOSING, CLOSED = range(4)


class WebSocketCycle:
    __slots__ = (
        "_connect_sent",
        "_denial",
        "_disconnect",
        "_read_paused",
        "_waiter",
        "max_queue",
        "phase",
        "queue",
        "scope",
        "stream",
    )

    def __init__(self, scope: Scope, stream: WebSocketStream, max_queue: int) -> None:
        self.scope = scope
        self.stream = stream
        self.max_queue = max_queue
        self.phase = CONNECTING
        self.queue: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._connect_sent = False
        self._disconnect: Message | None = None
        self._denial: tuple[int, Headers] | None = None
        self._read_paused = False

    # ---- stream side -------------------------------------------------------------------------------

    def deliver(self, messages: list[Message]) -> bool:
        """Queue received messages, oldest first (all those from one read: one call); True when
        the queue has become full and the stream must stop reading."""
        queue = self.queue
        queue.extend(messages)
        self._wake()
        if len(queue) >= self.max_queue and not self._read_paused:
            self._read_paused = True
            return True
        return False

    def closed(self, code: int, reason: str) -> None:
        """The peer closed (with its code and reason), failed (1002/1007/1009...) or vanished (1006)."""
        if self._disconnect is None:
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self.phase = CLOSED
        self._wake()

    def failed(self, code: int) -> None:
        """The peer broke the protocol (1002/1007/1009...) after the messages already queued.

        The app still receives those messages and may answer them (the stream accepts sends until
        it closes); the disconnect comes after them, and handing it out closes the stream with
        `code`, so the close frame follows the answers (RFC 6455 §7.1.7). The stream also closes
        on its own after a deadline, and then calls `closed()`.
        """
        if self._disconnect is None:
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": ""}
        self._wake()

    def shutdown(self, restart: bool = False) -> None:
        """Graceful shutdown: a 1001 Going Away close, or 1012 Service Restart when this process
        is replaced (reload, recycling: the client should reconnect; RFC 6455 §7.4.1 and the IANA
        WebSocket Close Code Number Registry); a 503 before the app has accepted."""
        if self.phase == OPEN:
            if restart:
                self._close_with(1012, "service restart")
            else:
                self._close_with(1001, "server shutting down")
        elif self.phase == CONNECTING and self._denial is None:
            self._deny(503, b"Service Unavailable")

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- application side --------------------------------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                logger.error("Exception in ASGI application", exc_info=exc)
            if self.phase == CONNECTING:
                if self._denial is not None:
                    self._abort()
                else:
                    self._deny(500, b"Internal Server Error")
            elif self.phase == OPEN:
                self._close_with(1011, "")
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            if self.phase == CONNECTING:
                if self._denial is not None:
                    logger.error("ASGI application returned without finishing its denial response")
                    self._abort()
                else:
                    logger.error(
                        "ASGI application returned without accepting or closing the WebSocket"
                    )
                    self._deny(500, b"Internal Server Error")
            elif self.phase == OPEN:
                self._close_with(1000, "")
        finally:
            self.stream.cycle_finished(self)

    async def receive(self) -> Message:
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        queue = self.queue
        while not queue:
            disconnect = self._disconnect
            if disconnect is not None:
                if self.phase == OPEN:  # failed(): what came before is answered, now the close
                    self._close_with(disconnect["code"], "")
                    self.phase = CLOSED
                return dict(disconnect)
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        message = queue.popleft()
        if self._read_paused and len(queue) < self.max_queue:
            self._read_paused = False
            self.stream.resume_reading()
        return message

    async def send(self, message: Message) -> None:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise ASGIProtocolError(f"ASGI message without a type: {message!r}") from None
        phase = self.phase
        if phase == OPEN:
            if kind == "websocket.send":
                stream = self.stream
                data = message.get("bytes")
                if data is not None:
                    if type(data) is not bytes:
                        raise ASGIProtocolError("websocket.send 'bytes' must be bytes")
                    stream.send_bytes(data)
                else:
                    text = message.get("text")
                    if type(text) is not str:
                        raise ASGIProtocolError("websocket.send needs 'bytes' or 'text'")
                    stream.send_text(text)
                if stream.write_paused:
                    await stream.drain()
                    if self.phase == CLOSED:
                        raise ClientDisconnected("the WebSocket is closed")
                return
            if kind == "websocket.close":
                self._close_with(*self._close_args(message))
                return
            raise ASGIProtocolError(f"unexpected ASGI message {kind!r} on an open WebSocket")
        if phase == CLOSED or self._disconnect is not None:
            raise ClientDisconnected("the WebSocket is closed")
        if phase == CLOSING:
            raise ASGIProtocolError(f"unexpected ASGI message {kind!r} after websocket.close")
        # CONNECTING
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

    def _accept(self, message: Message) -> None:
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and type(subprotocol) is not str:
            raise ASGIProtocolError("websocket.accept 'subprotocol' must be a str")
        headers = header_list(message.get("headers", ()))
        for name, _ in headers:
            if name.lower() == b"sec-websocket-protocol":
                raise ASGIProtocolError("use 'subprotocol', not a sec-websocket-protocol header")
        try:
            self.stream.accept(subprotocol, headers)
        except ValueError as exc:
            raise ASGIProtocolError(str(exc)) from None
        except ClientDisconnected:
            self.phase = CLOSED
            raise
        if self.phase == CONNECTING:
            self.phase = OPEN

    def _close_with(self, code: int, reason: str) -> None:
        if self.phase != OPEN:
            return
        try:
            self.stream.close(code, reason)
        except ValueError as exc:
            raise ASGIProtocolError(str(exc)) from None
        if self.phase == OPEN:
            self.phase = CLOSING

    def _deny(self, status: int, body: bytes) -> None:
        """Answer the handshake with a plain HTTP response instead of accepting it."""
        self.phase = CLOSED
        self.stream.deny(status, [], body, False)
        self.closed(1006, "")

    def _denial_body(self, message: Message) -> None:
        body = message.get("body", b"")
        if type(body) is not bytes:
            raise ASGIProtocolError("websocket.http.response.body 'body' must be bytes")
        status, headers = self._denial  # type: ignore[misc]
        more = bool(message.get("more_body", False))
        self.stream.deny(status, headers, body, more)
        if not more:
            self._denial = None
            self.phase = CLOSED
            self.closed(1006, "")
        else:
            self._denial = (status, [])  # head already sent; later bodies continue it

    def _abort(self) -> None:
        self.phase = CLOSED
        self.stream.reset()
