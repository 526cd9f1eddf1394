"""The uwsgi protocol over asyncio (`--protocol uwsgi`): one request per connection from nginx
`uwsgi_pass`, driven by `asgiserver.uwsgi`, served by the same `HTTPCycle` as HTTP/1.1."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from asgiserver import uwsgi
from asgiserver.server._base import StreamProtocol, error_logger
from asgiserver.server._http import SPEC_VERSION, Headers, HTTPCycle

if TYPE_CHECKING:
    from asgiserver.server._state import ServerState

_Request = uwsgi.Request
_Data = uwsgi.Data
_EndOfMessage = uwsgi.EndOfMessage
_ConnectionFailed = uwsgi.ConnectionFailed
_ConnectionClosed = uwsgi.ConnectionClosed


class UwsgiProtocol(StreamProtocol):
    __slots__ = ("conn", "method", "request_line")

    def __init__(self, state: ServerState) -> None:
        super().__init__(state)
        self.conn = uwsgi.ServerConnection(
            limits=uwsgi.Limits(max_body_bytes=state.config.limit_request_body)
        )
        self.method = b""
        self.request_line = "-"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        allow = self.state.uwsgi_allow
        peer = self.client
        # Peers on a unix socket are local; TCP peers must be on the allow list.
        if allow is not None and peer is not None and not allow.trusts(peer[0]):
            error_logger.warning(
                "uwsgi connection from %s refused: not in --uwsgi-allow-from", peer[0]
            )
            self.cycle = None
            self._close()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._linger_data(data)
            return
        self.conn.receive_data(data)
        self._handle_events()

    def eof_received(self) -> bool | None:
        if self._lingering:
            self._close()
            return None
        self.conn.receive_eof()
        self._handle_events()
        # nginx half-closes only when the client aborted (uwsgi_ignore_client_abort is off by default).
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnect()
        self._close()
        return None

    def _handle_events(self) -> None:
        for event in self.conn.events_received():
            kind = type(event)
            if kind is _Data:
                self._on_data(event.data)  # type: ignore[union-attr]
            elif kind is _Request:
                self._on_request(event)  # type: ignore[arg-type]
            elif kind is _EndOfMessage:
                self._on_end_of_body()
            elif kind is _ConnectionFailed:
                error = event.error  # type: ignore[union-attr]
                error_logger.info("Invalid uwsgi request from %s: %s", self._peer(), error)
                cycle = self.cycle
                if cycle is not None:
                    cycle.disconnect()
                if cycle is None or not cycle.response_started:
                    self._reject(error.status_hint)
                else:
                    self._close()
                return
            elif kind is _ConnectionClosed:
                cycle = self.cycle
                if cycle is None or not cycle.body_complete:
                    if cycle is not None:
                        cycle.disconnect()
                    self._close()
                return

    def _on_request(self, event: uwsgi.Request) -> None:
        state = self.state
        self._cancel_timer()
        self.method = event.method
        query = event.query_string
        target = event.raw_path + (b"?" + query if query else b"")
        method = event.method.decode("ascii", "replace")
        path = target.decode("ascii", "backslashreplace")
        self.request_line = f"{method} {path} HTTP/{event.http_version}"
        if state.limit_concurrency is not None and state.inflight >= state.limit_concurrency:
            self._reject(503)
            return
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": SPEC_VERSION},
            "http_version": event.http_version,
            "server": event.server if event.server is not None else self.server,
            "client": event.client if event.client is not None else self.client,
            "scheme": event.scheme,
            "method": event.method.decode("ascii"),
            "root_path": event.root_path or state.config.root_path,
            "path": event.path,
            "raw_path": event.raw_path,
            "query_string": query,
            "headers": event.headers,
            "state": state.app_state.copy(),
            "extensions": {},
        }
        cycle = HTTPCycle(scope, self, body_complete=False, start_time=self.loop.time())
        self.cycle = cycle
        state.start_cycle(cycle)

    # ---- ResponseStream ------------------------------------------------------------------------------

    def start_response(
        self, status: int, headers: Headers, body: bytes, end: bool, trailers: bool
    ) -> None:
        if self._closed():
            return
        out: Headers = [h for h in headers if h[0].lower() != b"transfer-encoding"]
        if (
            end
            and self.method != b"HEAD"
            and not any(h[0].lower() == b"content-length" for h in out)
        ):
            out.append((b"content-length", str(len(body)).encode()))
        out.extend(self.state.default_headers())
        out.extend(self.state.extra_headers)
        try:
            self.conn.send(uwsgi.Response(status=status, headers=out))
        except uwsgi.LocalProtocolError as exc:
            error_logger.error("Invalid response from the ASGI application: %s", exc)
            self._close()
            raise
        self.send_body(body, end)

    def send_body(self, body: bytes, end: bool) -> None:
        if self._closed():
            return
        conn = self.conn
        if body:
            conn.send(_Data(body))
        if end:
            conn.send(_EndOfMessage())
        self._write_chunks(conn.data_to_send())
        if end:
            cycle = self.cycle
            if cycle is not None and self.state.access_log:
                self._log_access(
                    self.request_line, cycle.status, cycle.bytes_sent, cycle.start_time
                )
            self._close()

    def send_trailers(self, headers: Headers) -> None:
        self.send_body(b"", True)  # uwsgi responses are close-delimited: no trailers

    def send_informational(self, status: int, headers: Headers) -> None:
        pass  # nginx does not pass 1xx responses from a uwsgi upstream

    def _reject(self, status: int) -> None:
        body = b"Bad Request" if status == 400 else b"Error"
        try:
            self.conn.send(
                uwsgi.Response(
                    status=status,
                    headers=[
                        (b"content-type", b"text/plain"),
                        (b"content-length", str(len(body)).encode()),
                        *self.state.default_headers(),
                    ],
                )
            )
            self.conn.send(_Data(body))
            self.conn.send(_EndOfMessage())
            self._write_chunks(self.conn.data_to_send())
        except uwsgi.LocalProtocolError:
            pass
        self._close_lingering()
