"""An in-memory h2 client wired to a ServerConnection, and raw frame builders."""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from asgiserver import h2adapter as h2a

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
GET = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"example.com")]


def request_headers(
    path: bytes = b"/", method: bytes = b"GET", extra: list[tuple[bytes, bytes]] | None = None
) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", method),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", path),
        *(extra or []),
    ]


class Client(h2.connection.H2Connection):
    """h2's client, except that a GOAWAY is recorded instead of freezing the state machine.

    (h2 refuses everything after any GOAWAY; RFC 9113 §6.8 lets streams in flight finish.)
    """

    goaway_frames: list[Any]

    def _receive_goaway_frame(self, frame: Any) -> Any:
        self.goaway_frames.append(frame)
        return [], []


class Pair:
    """A ServerConnection and an h2 client (no outbound validation: tests send anything)."""

    def __init__(
        self,
        limits: h2a.Limits | None = None,
        *,
        connect: bool = True,
        client_settings: dict[int, int] | None = None,
    ) -> None:
        self.server = h2a.ServerConnection(limits, enable_connect_protocol=connect)
        self.server.initiate()
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            validate_inbound_headers=False,
        )
        self.client = Client(config)
        self.client.goaway_frames = []
        if client_settings:
            self.client.local_settings = h2.settings.Settings(
                client=True,
                initial_values=client_settings,  # type: ignore[arg-type]
            )
        self.client.initiate_connection()
        self.client_events: list[Any] = []
        self.wire = b""  # everything the client sent, for split-invariance tests
        self.raw_out: list[tuple[int, int, int, bytes]] = []  # server frames answering raw()
        self.pump()

    def pump(self) -> list[h2a.Event]:
        events: list[h2a.Event] = []
        while True:
            data = self.client.data_to_send()
            if data:
                self.wire += data
                self.server.receive_data(data)
            events += self.server.events_received()
            out = b"".join(self.server.data_to_send())
            if out:
                self.client_events += self.client.receive_data(out)
            if not data and not out:
                return events

    def raw(self, data: bytes) -> list[h2a.Event]:
        """Bytes straight to the server (the client's h2 state is bypassed)."""
        self.wire += data
        self.server.receive_data(data)
        events = self.server.events_received()
        out = b"".join(self.server.data_to_send())
        self.raw_out += server_frames(out)
        return events

    def raw_headers(
        self, sid: int, fields: list[tuple[bytes, bytes]], end: bool = True
    ) -> list[h2a.Event]:
        """A HEADERS frame the client's h2 would refuse to send, encoded with its HPACK state."""
        flags = ("END_HEADERS", "END_STREAM") if end else ("END_HEADERS",)
        return self.raw(headers_frame(sid, self.client.encoder.encode(fields), flags))

    def raw_resets(self) -> dict[int, int]:
        return {f[2]: int.from_bytes(f[3], "big") for f in self.raw_out if f[0] == 0x3}

    def send_body(self, sid: int, data: bytes, end: bool = False) -> None:
        size = self.client.max_outbound_frame_size
        for i in range(0, len(data), size):
            last = i + size >= len(data)
            self.client.send_data(sid, data[i : i + size], end_stream=end and last)

    def get(self, sid: int, path: bytes = b"/", end: bool = True, **kw: Any) -> list[h2a.Event]:
        self.client.send_headers(sid, request_headers(path, **kw), end_stream=end)
        return self.pump()

    def respond(self, sid: int, body: bytes = b"", status: int = 200) -> list[h2a.Event]:
        self.server.send(h2a.Response(sid, status, [(b"content-length", b"%d" % len(body))]))
        if body:
            self.server.send(h2a.Data(sid, body))
        self.server.send(h2a.EndOfMessage(sid))
        return self.pump()

    def client_of(self, cls: type) -> list[Any]:
        return [e for e in self.client_events if isinstance(e, cls)]

    def response_body(self, sid: int) -> bytes:
        return b"".join(
            e.data
            for e in self.client_events
            if isinstance(e, h2.events.DataReceived) and e.stream_id == sid
        )

    def ended(self, sid: int) -> bool:
        return any(
            isinstance(e, h2.events.StreamEnded) and e.stream_id == sid for e in self.client_events
        )

    def resets(self) -> dict[int, int]:
        return {
            e.stream_id: int(e.error_code)
            for e in self.client_events
            if isinstance(e, h2.events.StreamReset)
        }

    def goaways(self) -> list[Any]:
        return self.client.goaway_frames

    def server_window(self) -> int:
        """Connection receive window as the server will have it once pending credit is sent."""
        manager = self.server._h2._inbound_flow_control_window_manager
        return manager.current_window_size + manager._bytes_processed


def frame(f: Frame) -> bytes:
    return f.serialize()


def settings(**values: int) -> bytes:
    f = SettingsFrame(0)
    for k, v in values.items():
        f.settings[int(k.split("_", 1)[1]) if k.startswith("s_") else int(k)] = v
    return f.serialize()


def headers_frame(sid: int, block: bytes, flags: tuple[str, ...] = ("END_HEADERS",)) -> bytes:
    f = HeadersFrame(sid)
    f.data = block
    for flag in flags:
        f.flags.add(flag)
    return f.serialize()


def continuation(sid: int, block: bytes, end: bool = False) -> bytes:
    f = ContinuationFrame(sid)
    f.data = block
    if end:
        f.flags.add("END_HEADERS")
    return f.serialize()


def data_frame(sid: int, data: bytes, end: bool = False, pad: int | None = None) -> bytes:
    f = DataFrame(sid)
    f.data = data
    if end:
        f.flags.add("END_STREAM")
    if pad is not None:
        f.flags.add("PADDED")
        f.pad_length = pad
    return f.serialize()


def rst(sid: int, code: int = 8) -> bytes:
    f = RstStreamFrame(sid)
    f.error_code = code
    return f.serialize()


def ping(opaque: bytes = b"12345678", ack: bool = False) -> bytes:
    f = PingFrame(0)
    f.opaque_data = opaque
    if ack:
        f.flags.add("ACK")
    return f.serialize()


def window_update(sid: int, n: int) -> bytes:
    f = WindowUpdateFrame(sid)
    f.window_increment = n
    return f.serialize()


def priority(sid: int, depends_on: int = 0) -> bytes:
    f = PriorityFrame(sid)
    f.depends_on = depends_on
    return f.serialize()


def raw_frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes((ftype, flags)) + sid.to_bytes(4, "big") + payload
    )


def server_frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """Split server output into (type, flags, stream id, payload)."""
    out = []
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        out.append(
            (
                data[pos + 3],
                data[pos + 4],
                int.from_bytes(data[pos + 5 : pos + 9], "big"),
                data[pos + 9 : pos + 9 + length],
            )
        )
        pos += 9 + length
    return out
