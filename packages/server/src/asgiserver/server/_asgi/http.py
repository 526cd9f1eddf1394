"""The one ASGI HTTP cycle, shared by every protocol that carries HTTP requests (HTTP/1.1, uwsgi, HTTP/2).

A driver creates an `HTTPCycle` per request, feeds it the request body (`feed_body`, `end_body`,
`disconnect`) and gives it an `HTTPStream` handle to write the response to. The cycle owns the ASGI
rules: message order and validation, `http.disconnect`, OSError from `send()` after a disconnect (spec
2.4), response finishing (`response.py`), deferred response heads so a single-chunk body gets a
Content-Length, trailers and early hints, file bodies (`http.response.pathsend`,
`http.response.zerocopysend`), `--timeout-request`, and the drain at shutdown (`shutdown()`).
Drivers never see ASGI messages.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
from collections.abc import Callable

from asgiserver.server._asgi.response import ResponseDefaults, header_list
from asgiserver.server._asgi.stream import HTTPStream
from asgiserver.server._asgi.types import (
    ASGIApp,
    ASGIProtocolError,
    ClientDisconnected,
    Headers,
    Message,
    Scope,
)

logger = logging.getLogger("asgiserver.error")

_ERROR_HEAD: Headers = [(b"content-type", b"text/plain; charset=utf-8")]
_ERROR_BODIES = {
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}
FILE_CHUNK = 64 * 1024  # a file body read into send_body() where sendfile cannot be used


class HTTPCycle:
    """One request/response exchange between a protocol driver and the ASGI application."""

    __slots__ = (
        "_body",
        "_body_ended",
        "_body_size",
        "_drain_told",
        "_head",
        "_length_framed",
        "_no_body",
        "_request_done",
        "_waiter",
        "body_complete",
        "bytes_sent",
        "defaults",
        "disconnected",
        "draining",
        "expect_trailers",
        "failed",
        "response_complete",
        "response_headers",
        "response_started",
        "scope",
        "start_time",
        "status",
        "stream",
    )

    def __init__(
        self,
        scope: Scope,
        stream: HTTPStream,
        defaults: ResponseDefaults,
        body_complete: bool,
        start_time: float = 0.0,
    ) -> None:
        self.scope = scope
        self.stream = stream
        self.defaults = defaults
        self.body_complete = body_complete
        self.start_time = start_time
        self._body: list[bytes] = []
        self._body_size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._head: tuple[int, Headers, bool, bool] | None = None
        self._body_ended = False
        self._request_done = False
        self._no_body = False
        self.disconnected = False
        self.draining = False  # the server is shutting down: see shutdown()
        self._drain_told = False  # the app was handed http.disconnect because of the drain
        self._length_framed = False  # the app's head carries a Content-Length
        self.response_started = False
        self.response_complete = False
        self.expect_trailers = False
        self.failed = False  # the app raised or broke the protocol: the driver may close after
        self.status = 0
        self.response_headers: Headers | None = None  # as the app sent them (access log atoms)
        self.bytes_sent = 0

    # ---- driver side -------------------------------------------------------------------------------

    def feed_body(self, data: bytes) -> int:
        """Queue request body bytes; returns how many are buffered, for read flow control."""
        self._body.append(data)
        size = self._body_size = self._body_size + len(data)
        waiter = self._waiter  # _wake(), inline: called for every read of a body
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return size

    def end_body(self) -> None:
        self.body_complete = True
        waiter = self._waiter  # _wake(), inline: called for every request
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def disconnect(self) -> None:
        """The client went away (or the connection is being torn down)."""
        self.disconnected = True
        self._wake()

    def shutdown(self) -> None:
        """The server drains (graceful stop, reload, recycling).

        An app that waits for the disconnect once it has the whole request (SSE, long polling) gets
        `http.disconnect` now, so it can end before the graceful timeout cancels it. Unlike a real
        disconnect (ASGI spec, "Disconnect - receive event"), the client is still there: `send()`
        keeps working, so what the app sends after it (a last event telling the client to
        reconnect) arrives, and the response ends properly (the final chunk on HTTP/1.1,
        END_STREAM on HTTP/2); the driver then closes the connection (or the HTTP/2 GOAWAY
        completes). An app still reading its request body gets the body first.
        """
        self.draining = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- application side --------------------------------------------------------------------------

    async def receive(self) -> Message:
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        if self._request_done:
            # The whole body was delivered: the next message is the disconnect, whenever it comes
            # (a drain counts, see shutdown()).
            await self._wait(lambda: self.disconnected or self.response_complete or self.draining)
            if not self.disconnected and not self.response_complete:
                self._drain_told = True
            return {"type": "http.disconnect"}
        if not self._body and not self.body_complete:
            self.stream.want_body()
            await self._wait(lambda: bool(self._body) or self.body_complete or self.disconnected)
            if self.disconnected:
                return {"type": "http.disconnect"}
        more_body = not self.body_complete
        if not more_body:
            self._request_done = True
        if not self._body:
            return {"type": "http.request", "body": b"", "more_body": more_body}
        chunks = self._body
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._body_size = 0
        if more_body:
            self.stream.consumed(len(body))
        return {"type": "http.request", "body": body, "more_body": more_body}

    async def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    async def send(self, message: Message) -> None:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise ASGIProtocolError(f"ASGI message without a type: {message!r}") from None
        if self.disconnected:
            raise ClientDisconnected("the client has disconnected")
        if kind == "http.response.body":
            if self._send_body(message):
                await self.stream.drain()
                if self.disconnected:
                    raise ClientDisconnected("the client has disconnected")
        elif kind == "http.response.start":
            self._send_start(message)
        elif kind == "http.response.trailers":
            self._send_trailers(message)
        elif kind == "http.response.early_hint":
            self._send_early_hint(message)
        elif kind == "http.response.pathsend":
            await self._send_path(message)
        elif kind == "http.response.zerocopysend":
            await self._send_zerocopy(message)
        else:
            raise ASGIProtocolError(f"unexpected ASGI message type {kind!r} in an HTTP cycle")

    def _send_start(self, message: Message) -> None:
        if self.response_started:
            raise ASGIProtocolError("http.response.start sent twice")
        status = message.get("status")
        if type(status) is not int or not 200 <= status <= 599:
            raise ASGIProtocolError(f"invalid response status {status!r}")
        # Checked and finished now, so a bad field fails this send() though the head waits for
        # the body; the protocol package checks the bytes themselves when it writes them.
        sent_headers = message.get("headers", ())  # one lookup: finish() and the access log
        headers, has_length = self.defaults.finish(status, sent_headers)
        trailers = bool(message.get("trailers", False))
        self._length_framed = has_length
        self.response_started = True
        self.status = status
        self.response_headers = sent_headers
        self.expect_trailers = trailers
        # RFC 9110 §9.3.2, §15.3.5, §15.4.5: HEAD, 204 and 304 responses carry no content.
        self._no_body = status == 204 or status == 304 or self.scope.get("method") == "HEAD"
        self._head = (status, headers, trailers, has_length)

    def _send_body(self, message: Message) -> bool:
        """Write a body message; True when the app must wait for the client to read (flow control)."""
        if not self.response_started:
            raise ASGIProtocolError("http.response.body sent before http.response.start")
        if self._body_ended:
            raise ASGIProtocolError("http.response.body sent after the response body ended")
        body = message.get("body", b"")
        if type(body) is not bytes:
            if isinstance(body, (bytearray, memoryview)):
                body = bytes(body)
            else:
                raise ASGIProtocolError("http.response.body 'body' must be bytes")
        more_body = bool(message.get("more_body", False))
        end = not more_body and not self.expect_trailers
        head = self._head
        if head is not None:
            self._head = None
            status, headers, trailers, has_length = head
            # The whole body is known: frame it with a Content-Length (RFC 9110 §8.6). For HEAD,
            # only a body the app did send says what a GET would carry.
            if (
                end
                and not has_length
                and not trailers
                and status != 204
                and status != 304
                and (body or not self._no_body)
            ):
                headers.append((b"content-length", b"%d" % len(body)))
            if self._no_body:
                body = b""
            self.bytes_sent += len(body)
            self.stream.send_head(status, headers, body, end)
        else:
            if self._no_body:
                body = b""
            self.bytes_sent += len(body)
            self.stream.send_body(body, end)
        if not more_body:
            self._body_ended = True
            if end:
                self._complete()
            return False
        return self.stream.write_paused

    def _send_trailers(self, message: Message) -> None:
        if not self.expect_trailers or not self._body_ended:
            raise ASGIProtocolError(
                "http.response.trailers needs 'trailers': True in http.response.start and a "
                "final http.response.body first"
            )
        if self.response_complete:
            raise ASGIProtocolError("http.response.trailers sent after the response ended")
        headers = header_list(message.get("headers", ()))
        if message.get("more_trailers", False):
            raise ASGIProtocolError("more_trailers is not supported: send all trailers at once")
        self.stream.send_trailers(headers)
        self._complete()

    def _send_early_hint(self, message: Message) -> None:
        if self.response_started:
            raise ASGIProtocolError("http.response.early_hint sent after http.response.start")
        links = message.get("links", ())
        headers: Headers = []
        for link in links:
            if type(link) is not bytes:
                raise ASGIProtocolError("http.response.early_hint 'links' must be bytes")
            headers.append((b"link", link))
        if headers:
            self.stream.send_informational(103, headers)

    async def _send_path(self, message: Message) -> None:
        """`http.response.pathsend` (ASGI extension): the server opens, sends and closes the file.

        A file that cannot be opened (or is not a regular file) fails the response: a 500 while
        the head is still held back, an aborted response after; the OSError reaches the app."""
        self._check_file_message("http.response.pathsend")
        path = message.get("path")
        if not isinstance(path, str):
            raise ASGIProtocolError("http.response.pathsend 'path' must be a string")
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it).
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            self._finish_after_error()
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                self._finish_after_error()
                raise OSError(errno.EINVAL, "not a regular file", path)
            await self._send_fd(fd, 0, None, False)
        finally:
            os.close(fd)

    async def _send_zerocopy(self, message: Message) -> None:
        """`http.response.zerocopysend` (ASGI extension): part of a file the app opened, from
        `offset` (default: the file's position) for `count` bytes (default: to its end). The app
        closes its file; we never do."""
        self._check_file_message("http.response.zerocopysend")
        file = message.get("file")
        try:
            fd = file if type(file) is int else file.fileno()  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            raise ASGIProtocolError("http.response.zerocopysend 'file' has no descriptor") from None
        offset = message.get("offset")
        count = message.get("count")
        for value in (offset, count):
            if value is not None and (type(value) is not int or value < 0):
                raise ASGIProtocolError("zerocopysend 'offset' and 'count' must be ints >= 0")
        if offset is None:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        await self._send_fd(fd, offset, count, bool(message.get("more_body", False)))

    def _check_file_message(self, kind: str) -> None:
        if not self.response_started:
            raise ASGIProtocolError(f"{kind} sent before http.response.start")
        if self._body_ended:
            raise ASGIProtocolError(f"{kind} sent after the response body ended")

    async def _send_fd(self, fd: int, offset: int, count: int | None, more_body: bool) -> None:
        """A file body: with the held-back head (Content-Length: the bytes to send, as for a
        single body message) unless one went out already; sendfile where the stream can."""
        if count is None:
            count = max(os.fstat(fd).st_size - offset, 0)
        end = not more_body and not self.expect_trailers
        stream = self.stream
        head = self._head
        if head is not None:
            self._head = None
            status, headers, trailers, has_length = head
            if end and not has_length and not trailers and status != 204 and status != 304:
                headers.append((b"content-length", b"%d" % count))
            stream.send_head(status, headers, b"", end and (self._no_body or not count))
        elif end and (self._no_body or not count):
            stream.send_body(b"", True)
        if not self._no_body and count:
            await self._transfer(fd, offset, count)
            if end:
                stream.send_body(b"", True)
        if not more_body:
            self._body_ended = True
            if end:
                self._complete()

    async def _transfer(self, fd: int, offset: int, count: int) -> None:
        stream = self.stream
        pending = stream.send_file(fd, offset, count)
        if pending is not None:
            sent = await pending
            self.bytes_sent += sent
        else:
            sent = 0
            while sent < count and not self.disconnected:
                # A read of a local file, on the loop: short, and the page cache usually has it.
                data = os.pread(fd, min(FILE_CHUNK, count - sent), offset + sent)
                if not data:
                    break
                sent += len(data)
                self.bytes_sent += len(data)
                stream.send_body(data, False)
                await stream.drain()
                await asyncio.sleep(0)  # a fast client must not keep other requests waiting
        if self.disconnected:
            raise ClientDisconnected("the client has disconnected")
        if sent < count:
            # The promised length cannot be met: the response must not look complete (RFC 9112
            # §6.3: an incomplete message is detected by the close; HTTP/2: RST_STREAM).
            self.failed = True
            self._body_ended = True
            stream.reset()
            raise OSError(f"the file ended {count - sent} bytes short of the response length")

    def _complete(self) -> None:
        self.response_complete = True
        waiter = self._waiter  # _wake(), inline: called for every response
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self, app: ASGIApp, timeout: float | None = None) -> None:
        """Run the application for this request; every outcome leaves the stream consistent.

        With a `timeout` (`--timeout-request`; 0 is off), an app that has not returned in time is
        cancelled.
        """
        try:
            if not timeout:
                await app(self.scope, self.receive, self.send)
            else:
                deadline = asyncio.timeout(timeout)
                try:
                    async with deadline:
                        await app(self.scope, self.receive, self.send)
                except TimeoutError:
                    if not deadline.expired():
                        raise  # the app's own TimeoutError: an exception like any other
                    self._timed_out(timeout)
                    return
        except ClientDisconnected:
            pass  # spec 2.4: raised by us, not logged as an error
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                self._finish_after_error()
                raise
            logger.error("Exception in ASGI application", exc_info=exc)
            self._finish_after_error()
        else:
            if not self.response_started:
                if self._drain_told:
                    # It stopped as the drain asked, before answering: the client still waits.
                    self._finish_after_error(503)
                else:
                    if not self.disconnected:
                        logger.error("ASGI application returned without starting a response")
                    self._finish_after_error()
            elif not self.response_complete and not self.disconnected:
                head = self._head
                if head is not None:
                    # A response that ends without a body is completed with an empty one.
                    self.expect_trailers = False
                    self._send_body({})
                elif self._drain_told and not self._length_framed:
                    # It ended its stream as the drain asked (SSE frameworks cancel their writer
                    # and return): end the response properly rather than cut it.
                    if self._body_ended:
                        self.stream.send_trailers([])
                    else:
                        self.stream.send_body(b"", True)
                    self._complete()
                else:
                    logger.error("ASGI application returned without completing the response")
                    self.failed = True
                    self.stream.reset()
        finally:
            self.stream.cycle_finished(self)

    def _timed_out(self, timeout: float) -> None:
        """`--timeout-request`: a 504 while no head has gone out, else the response is aborted
        (HTTP/1: the connection closes; HTTP/2: RST_STREAM INTERNAL_ERROR, as for any response the
        server could not finish, RFC 9113 §7: CANCEL says the stream is no longer needed, but the
        client still wants this response and the server failed to produce it)."""
        scope = self.scope
        logger.error(
            "Request timed out after %gs: %s %s", timeout, scope.get("method"), scope.get("path")
        )
        self._finish_after_error(504)

    def _finish_after_error(self, status: int = 500) -> None:
        self.failed = True
        if self.disconnected or self.response_complete:
            return
        if self._head is not None or not self.response_started:
            self._head = None
            self.response_started = True
            self.status = status
            self.expect_trailers = False
            body = _ERROR_BODIES[status]
            headers, _ = self.defaults.finish(status, _ERROR_HEAD)
            headers.append((b"content-length", b"%d" % len(body)))
            if self.scope.get("method") == "HEAD":
                body = b""
            self.bytes_sent = len(body)
            self.stream.send_head(status, headers, body, True)
            self._complete()
        else:
            self.stream.reset()
