"""``ServerConnection``: HTTP/2 (RFC 9113) on h2's state machine, with our contract around it.

What h2 does: frame parsing, HPACK, stream and connection state, flow-control windows, SETTINGS
and PING acks.  What we do around it, and why:

* Input is pre-scanned frame by frame (9-byte headers) and fed to h2 one frame at a time, so a
  bad frame late in a read never loses the events of the good ones before it, and every abuse
  guard counts frames before h2 (or HPACK) spends anything on them.
* Header lists are decoded by h2's HPACK decoder but validated here (``_headers.py``): h2 sees an
  empty list, so a malformed request is a stream error answered with a status (RFC 9113 §8.1.1),
  never the connection error h2 would make of it.
* GOAWAY frames are written and read here, never by h2: h2 refuses every send after any GOAWAY,
  while RFC 9113 §6.8 lets streams in flight finish.
* Response bodies are buffered per stream and framed at flush time within the send window and the
  peer's current SETTINGS_MAX_FRAME_SIZE (h2 neither splits nor buffers).
* Request-body credit goes back only when the application consumed the bytes (``consumed``),
  so unconsumed body per connection is bounded by ``Limits.connection_window``.

The private h2 surfaces this relies on (the ``decoder`` attribute, ``open_inbound_streams``,
``max_inbound_frame_size``, ``local_settings`` before ``initiate_connection``) are pinned by
``h2>=4.4.1,<4.5`` and exercised by the tests.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Iterable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hpack import Decoder, HPACKError

from ._errors import (
    ErrorCode,
    ExcessiveLoad,
    IncompleteMessage,
    LocalProtocolError,
    RemoteProtocolError,
)
from ._events import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    GoAwayReceived,
    Headers,
    InformationalResponse,
    Response,
    StreamFailed,
    StreamReset,
    Writable,
)
from ._headers import STATUS, parse_request, parse_trailers, response_headers
from ._limits import Limits

__all__ = ["ServerConnection"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4

# Frame types (RFC 9113 §6) and flags.
_DATA = 0x0
_HEADERS = 0x1
_SETTINGS = 0x4
_GOAWAY = 0x7
_CONTINUATION = 0x9
_END_STREAM = 0x1
_ACK = 0x1
_END_HEADERS = 0x4

_MAX_STREAM_ID = (1 << 31) - 1
_SHUTDOWN_PING = b"h2a-shut"  # opaque data of the PING that closes a graceful shutdown
_SETTING_CONNECT = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL


_GOAWAY_HEAD = b"\x00\x00\x08\x07\x00\x00\x00\x00\x00"


def _goaway(last_stream_id: int, error_code: int) -> bytes:
    """A GOAWAY frame (RFC 9113 §6.8), written without h2 so h2 keeps working."""
    return _GOAWAY_HEAD + last_stream_id.to_bytes(4, "big") + error_code.to_bytes(4, "big")


def _ping(opaque: bytes) -> bytes:
    return b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + opaque  # RFC 9113 §6.7


class _Decoder(Decoder):
    """HPACK decoding as usual (RFC 7541), but the list goes to us, not to h2.

    h2 then sees an empty list, so none of its header checks (content-length, trailers, pseudo-
    fields) can turn a malformed request into a connection error: ``_headers.py`` judges it and
    the error stays on its stream (RFC 9113 §8.1.1).  The dynamic table is updated either way,
    which keeps HPACK in sync (RFC 9113 §4.3).
    """

    block: Any

    def decode(self, data: bytes, raw: bool = False) -> Iterable[Any]:
        self.block = super().decode(data, raw=True)
        return []


class _H2(h2.connection.H2Connection):
    @property
    def open_inbound_streams(self) -> int:
        # h2 fails the connection (TooManyStreamsError) on a stream past its limit; RFC 9113
        # §5.1.2 lets us refuse just that stream, which ServerConnection does.  Reading the
        # parent property still forgets closed streams.
        h2.connection.H2Connection.open_inbound_streams.fget(self)  # type: ignore[attr-defined]
        return 0


class _Stream:
    __slots__ = (
        "bad",
        "blocked",
        "buffered",
        "chunks",
        "dirty",
        "eom",
        "expected",
        "failed",
        "framed",
        "head",
        "head_sent",
        "received",
        "remote_ended",
        "sid",
        "trailers",
        "trailers_in",
        "unconsumed",
    )

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.failed = False  # StreamFailed emitted: no Data/EndOfMessage will follow
        self.remote_ended = False
        self.head: tuple[int, list[tuple[bytes, bytes]]] | None = None  # held Response
        self.head_sent = False
        self.chunks: deque[bytes | memoryview] = deque()
        self.buffered = 0
        self.framed = 0  # response bytes framed so far (progress, see waiting_streams())
        self.blocked = False  # stopped with bytes left: emit Writable when they are all framed
        self.eom = False
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.unconsumed = 0  # request bytes delivered and not yet consumed()
        self.expected: int | None = None  # Content-Length
        self.received = 0
        self.bad: RemoteProtocolError | None = None  # malformed trailers, found at StreamEnded
        self.trailers_in: list[tuple[bytes, bytes]] | None = None
        self.dirty = False  # in ServerConnection._held: head or body not handed to h2 yet


def _padded(value: bytes) -> bytes:
    return value + b"=" * (-len(value) % 4)


# RFC 9113 §6.5.2: the values a SETTINGS frame may carry, where the RFC bounds them.
_SETTING_BOUNDS = {0x2: (0, 1), 0x4: (0, _MAX_STREAM_ID), 0x5: (16384, (1 << 24) - 1), 0x8: (0, 1)}
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def valid_upgrade_settings(value: bytes) -> bool:
    """Whether an HTTP2-Settings field value (RFC 7540 §3.2.1: the base64url payload of a
    SETTINGS frame, padding omitted) is well formed, so that applying it cannot fail."""
    value = value.rstrip(b"=")
    if not value or len(value) > 4096 or value.translate(None, _BASE64URL):
        return False
    try:
        payload = base64.urlsafe_b64decode(_padded(value))
    except (binascii.Error, ValueError):
        return False
    if len(payload) % 6:
        return False
    for pos in range(0, len(payload), 6):
        bounds = _SETTING_BOUNDS.get(int.from_bytes(payload[pos : pos + 2], "big"))
        value_ = int.from_bytes(payload[pos + 2 : pos + 6], "big")
        if bounds is not None and not bounds[0] <= value_ <= bounds[1]:
            return False
    return True


class ServerConnection:
    """The server side of one HTTP/2 connection.  See the package README for the contract."""

    def __init__(
        self, limits: Limits | None = None, *, enable_connect_protocol: bool = False
    ) -> None:
        self._limits = limits = limits if limits is not None else Limits()
        self._connect = enable_connect_protocol
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        conn = _H2(config=config)
        # RFC 9113 §6.5.2: what we advertise is what we enforce.  Values given to a fresh
        # Settings are current at once (h2 otherwise applies some only on the peer's ACK, and the
        # decoder cap and inbound frame size never, brief §1.5), and we set the two h2 reads
        # outside its settings ourselves.
        codes = h2.settings.SettingCodes
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                codes.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
                codes.INITIAL_WINDOW_SIZE: limits.initial_window_size,
                codes.MAX_FRAME_SIZE: limits.max_frame_size,
                codes.MAX_HEADER_LIST_SIZE: limits.max_header_list_size,
                _SETTING_CONNECT: int(enable_connect_protocol),
            },
        )
        conn.max_inbound_frame_size = limits.max_frame_size
        # Lists up to twice the advertised size are decoded and answered 431 on their stream;
        # past that HPACK stops early and the connection fails (an HPACK bomb, RFC 7541 §7.3).
        self._decoder = _Decoder(max(2 * limits.max_header_list_size, 4096))
        self._decoder.block = None
        conn.decoder = self._decoder
        self._h2 = conn

        self._inbuf = b""
        self._initiated = False
        self._preface = False
        self._first_frame = True
        self._events: list[Event] = []
        self._fresh: set[int] = set()  # streams whose Request/StreamFailed is not drained yet
        self._dropped: set[int] = set()  # ...and that were reset before the driver saw them
        self._out: list[bytes] = []
        self._streams: dict[int, _Stream] = {}
        self._held: list[_Stream] = []
        self._highest = 0
        self._block_sid = 0
        self._block_frames = 0
        self._block_bytes = 0
        self._refuse = 0
        self._refuse_charged = False
        self._requests = 0
        self._new_streams = 0
        self._reset_budget = limits.reset_budget
        self._control_budget = limits.max_control_frames
        self._control_refund = max(1, limits.max_control_frames // 100)
        self._failed = False
        self._eof = False
        self._terminated = False
        self._goaway_last: int | None = None
        self._ping_pending = False
        self._peer_goaway = False

    # -- public contract ---------------------------------------------------------------------

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def open_streams(self) -> int:
        """Streams our side has not finished (response not fully framed, not reset)."""
        return len(self._streams)

    def initiate(self) -> None:
        """Queue our SETTINGS (RFC 9113 §3.4) and raise the connection window (§6.9.2)."""
        if self._initiated:
            return
        self._initiated = True
        conn = self._h2
        conn.initiate_connection()
        delta = self._limits.connection_window - conn.inbound_flow_control_window
        if delta > 0:
            conn.increment_flow_control_window(delta)

    def initiate_upgrade(self, settings: bytes) -> None:
        """Start as the server of an HTTP/1.1 `Upgrade: h2c` (RFC 7540 §3.2), instead of initiate().

        ``settings`` is the request's HTTP2-Settings value, checked first with
        `valid_upgrade_settings()` (the caller must refuse the upgrade otherwise, before its 101).
        The upgrade request becomes stream 1, half-closed (remote): the caller answers it with
        ``Response(1, ...)`` as for any request; no Request event is emitted for it. The client
        still sends the connection preface after the 101 (RFC 7540 §3.5).
        """
        if self._initiated:
            raise LocalProtocolError("initiate_upgrade() must be the first call")
        if not valid_upgrade_settings(settings):
            raise LocalProtocolError("invalid HTTP2-Settings value (RFC 7540 §3.2.1)")
        self._initiated = True
        conn = self._h2
        conn.initiate_upgrade_connection(_padded(settings.rstrip(b"=")))
        delta = self._limits.connection_window - conn.inbound_flow_control_window
        if delta > 0:
            conn.increment_flow_control_window(delta)
        stream = _Stream(1)
        stream.remote_ended = True
        self._streams[1] = stream
        self._highest = 1
        self._requests += 1

    def receive_data(self, data: bytes) -> None:
        if self._failed or self._eof or self._terminated or not data:
            return
        if not self._initiated:
            self.initiate()
        buf = self._inbuf + bytes(data) if self._inbuf else bytes(data)
        self._new_streams = 0
        pos = 0
        if not self._preface:
            n = min(len(buf), 24)
            if buf[:n] != PREFACE[:n]:
                self._fail(RemoteProtocolError("invalid connection preface (RFC 9113 §3.4)"))
                return
            if n < 24:
                self._inbuf = buf
                return
            self._preface = True
            self._feed(PREFACE)
            pos = 24
        end = len(buf)
        max_frame = self._limits.max_frame_size
        while end - pos >= 9:
            length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
            if length > max_frame:  # RFC 9113 §4.2, before buffering it
                self._fail(
                    RemoteProtocolError(
                        f"frame of {length} bytes over SETTINGS_MAX_FRAME_SIZE",
                        ErrorCode.FRAME_SIZE_ERROR,
                    )
                )
                return
            stop = pos + 9 + length
            if stop > end:
                break
            self._frame(
                buf[pos + 3],
                buf[pos + 4],
                int.from_bytes(buf[pos + 5 : pos + 9], "big") & _MAX_STREAM_ID,
                length,
                buf[pos:stop],
            )
            if self._failed:
                return
            pos = stop
        self._inbuf = buf[pos:]

    def receive_eof(self) -> None:
        if self._failed or self._eof or self._terminated:
            return
        if self._inbuf or self._block_sid:
            self._fail(IncompleteMessage("end of input inside the preface or a frame"))
            self._eof = True
            return
        self._eof = True
        self._streams.clear()
        self._held.clear()
        self._events.append(ConnectionClosed())

    def events_received(self) -> list[Event]:
        events = self._events
        if not events:
            return []
        self._events = []
        self._fresh.clear()
        if self._dropped:
            dropped = self._dropped
            events = [e for e in events if getattr(e, "stream_id", 0) not in dropped]
            self._dropped = set()
        return events

    def data_to_send(self) -> list[bytes]:
        if self._held:
            for st in self._held:
                self._materialise(st)
            self._held.clear()
        self._drain()
        out = self._out
        self._out = []
        return out

    def close_expected(self) -> bool:
        return (
            self._failed
            or self._eof
            or self._terminated
            or (
                (self._goaway_last is not None or self._peer_goaway)
                and not self._streams
                and not self._ping_pending
            )
        )

    def consumed(self, stream_id: int, n: int) -> None:
        """The application took ``n`` bytes of the stream's request body: give the credit back."""
        if n < 0:
            raise LocalProtocolError("consumed() takes a non-negative byte count")
        st = self._streams.get(stream_id)
        if st is None or not n or self._failed:
            return  # the credit of an ended stream was given back when it ended
        n = min(n, st.unconsumed)
        if n:
            st.unconsumed -= n
            self._h2.acknowledge_received_data(n, stream_id)

    def buffered(self, stream_id: int) -> int:
        """Response bytes queued on the stream and not yet framed (window or frame size)."""
        st = self._streams.get(stream_id)
        if st is None:
            return 0
        if st.dirty:
            self._materialise(st)
        return st.buffered

    def waiting_streams(self) -> dict[int, int]:
        """Streams with response bytes still queued (the peer's flow-control window, RFC 9113
        §6.9, has not let them out yet): stream id -> response bytes framed on it so far.

        Without a clock the package cannot tell a slow reader from one that never opens its window;
        a caller compares two calls some time apart, and a stream whose count did not move made no
        progress (an abandoned or hostile reader holding the response in memory)."""
        waiting: dict[int, int] = {}
        for sid, st in self._streams.items():
            if st.dirty:
                self._materialise(st)
            if st.buffered:
                waiting[sid] = st.framed
        return waiting

    def start_shutdown(self) -> None:
        """Graceful GOAWAY in two phases (RFC 9113 §6.8).

        First GOAWAY(2^31-1) and a PING; on its ACK, every stream the client opened before it
        saw the first GOAWAY has reached us, so the second GOAWAY names the real last stream.
        Streams up to it finish; later ones are refused.
        """
        if self._failed or self._eof or self._terminated:
            return
        if self._goaway_last is not None or self._ping_pending:
            return
        if not self._preface:
            self._final_goaway(0)
            return
        self._push(_goaway(_MAX_STREAM_ID, ErrorCode.NO_ERROR) + _ping(_SHUTDOWN_PING))
        self._ping_pending = True

    def timed_out(self) -> None:
        """The server's preface or idle deadline passed: GOAWAY(NO_ERROR) and close."""
        if self._failed or self._eof or self._terminated:
            return
        self._push(_goaway(self._highest, ErrorCode.NO_ERROR))
        self._terminated = True
        self._streams.clear()
        self._held.clear()

    def send(self, event: Event) -> None:
        t = type(event)
        try:
            if t is Data:
                assert isinstance(event, Data)
                self._send_data(event.stream_id, event.data)
            elif t is Response:
                assert isinstance(event, Response)
                self._send_response(event)
            elif t is EndOfMessage:
                assert isinstance(event, EndOfMessage)
                self._send_end(event.stream_id, event.headers)
            elif t is InformationalResponse:
                assert isinstance(event, InformationalResponse)
                self._send_informational(event)
            elif t is StreamReset:
                assert isinstance(event, StreamReset)
                self._send_reset(event.stream_id, event.error_code)
            else:
                raise LocalProtocolError(f"cannot send {t.__name__}")
        except h2.exceptions.StreamClosedError as exc:  # pragma: no cover - defensive
            # h2 thinks the stream is closed: it was reset in band; drop the send.
            self._streams.pop(exc.stream_id, None)

    # -- sending -------------------------------------------------------------------------------

    def _live(self, sid: int) -> _Stream | None:
        st = self._streams.get(sid)
        if st is not None:
            return st
        if type(sid) is not int or sid <= 0 or not sid & 1 or sid > self._highest:
            raise LocalProtocolError(f"stream {sid!r} was never opened by the client")
        return None  # closed or reset: the driver learns that in band

    def _send_response(self, event: Response) -> None:
        st = self._live(event.stream_id)
        status = event.status
        if type(status) is not int or not 200 <= status <= 599:
            raise LocalProtocolError(f"invalid final status {status!r}")
        headers = response_headers(event.headers)
        if st is None:
            return
        if st.head is not None or st.head_sent:
            raise LocalProtocolError("Response sent twice")
        st.head = (status, headers)
        if not st.dirty:
            st.dirty = True
            self._held.append(st)

    def _materialise(self, st: _Stream) -> None:
        """Send what send() held back on the stream: its head, then as much body as fits."""
        st.dirty = False
        if st.sid not in self._streams:
            return
        if st.head is not None:
            self._send_head(st, False)
        if st.buffered:
            self._flush(st, 1 << 30)

    def _send_head(self, st: _Stream, end: bool) -> None:
        assert st.head is not None
        status, headers = st.head
        st.head = None
        st.head_sent = True
        self._h2.send_headers(st.sid, [(b":status", STATUS[status]), *headers], end_stream=end)

    def _send_informational(self, event: InformationalResponse) -> None:
        st = self._live(event.stream_id)
        status = event.status
        # RFC 9113 §8.6: HTTP/2 has no 101; §8.1: 1xx heads precede the final one.
        if type(status) is not int or not 100 <= status <= 199 or status == 101:
            raise LocalProtocolError(f"invalid informational status {status!r}")
        headers = response_headers(event.headers)
        if st is None or st.head is not None or st.head_sent:
            return  # after the final status an interim one is meaningless: dropped
        self._h2.send_headers(st.sid, [(b":status", STATUS[status]), *headers])

    def _send_data(self, sid: int, data: bytes) -> None:
        st = self._live(sid)
        if st is None:
            return
        if st.head is None and not st.head_sent:
            raise LocalProtocolError("Data before Response")
        if st.eom:
            raise LocalProtocolError("Data after EndOfMessage")
        if not data:
            return
        st.chunks.append(data)
        st.buffered += len(data)
        if not st.dirty:  # framed at EndOfMessage or data_to_send(): fewer, fuller frames
            st.dirty = True
            self._held.append(st)

    def _send_end(self, sid: int, trailers: Headers) -> None:
        st = self._live(sid)
        fields = response_headers(trailers) if trailers else None
        if st is None:
            return
        if st.head is None and not st.head_sent:
            raise LocalProtocolError("EndOfMessage before Response")
        if st.eom:
            raise LocalProtocolError("EndOfMessage sent twice")
        st.eom = True
        st.trailers = fields or None
        if st.head is not None:
            if not st.buffered and st.trailers is None:
                self._send_head(st, True)  # one HEADERS frame with END_STREAM
                self._local_done(st)
                return
            self._send_head(st, False)
        self._flush(st, 1 << 30)

    def _send_reset(self, sid: int, code: int) -> None:
        st = self._live(sid)
        if not isinstance(code, int) or not 0 <= code <= 0xFFFFFFFF:
            raise LocalProtocolError(f"invalid error code {code!r}")
        if st is None:
            return
        del self._streams[sid]
        self._h2.reset_stream(sid, code)
        self._release(st)

    def _flush(self, st: _Stream, frames: int) -> bool:
        """Frame up to ``frames`` DATA frames; True if the stream could send more now."""
        conn = self._h2
        sid = st.sid
        chunks = st.chunks
        ended = False
        if st.head is not None:  # a window opened before data_to_send() released the head
            self._send_head(st, False)
        while st.buffered and frames:
            window = conn.local_flow_control_window(sid)
            if window <= 0:  # may be negative after the peer shrank its window (RFC 9113 §6.9.2)
                break
            size = min(window, conn.max_outbound_frame_size, st.buffered)
            first = chunks[0]
            if len(first) == size:
                chunks.popleft()
                chunk: bytes | memoryview = first
            elif len(first) > size:
                view = memoryview(first)
                chunks[0] = view[size:]
                chunk = view[:size]
            else:
                parts = []
                need = size
                while need:
                    c = chunks[0]
                    if len(c) <= need:
                        parts.append(chunks.popleft())
                        need -= len(c)
                    else:
                        view = memoryview(c)
                        parts.append(view[:need])
                        chunks[0] = view[need:]
                        need = 0
                chunk = b"".join(parts)
            st.buffered -= size
            st.framed += size
            ended = not st.buffered and st.eom and st.trailers is None
            conn.send_data(sid, chunk, end_stream=ended)
            frames -= 1
            if self._control_budget < self._limits.max_control_frames:
                self._control_budget += 1
        if st.buffered:
            st.blocked = True
            return frames == 0 and conn.local_flow_control_window(sid) > 0
        if st.eom:
            if st.trailers is not None:
                conn.send_headers(sid, st.trailers, end_stream=True)  # RFC 9113 §8.1
            elif not ended:
                conn.end_stream(sid)  # END_STREAM always reaches the wire
            self._local_done(st)
        elif st.blocked:
            st.blocked = False
            self._events.append(Writable(sid))
        return False

    def _flush_all(self) -> None:
        # Round-robin, one frame per stream a turn, so one large response cannot take the whole
        # connection window from the others.
        pending = [st for st in self._streams.values() if st.buffered or st.blocked]
        while pending:
            pending = [st for st in pending if self._flush(st, 1)]

    def _local_done(self, st: _Stream) -> None:
        """Our side of the stream is finished: forget it and return its credit."""
        del self._streams[st.sid]
        if not st.remote_ended:
            # RFC 9113 §8.1: a response may complete before the request; then RST_STREAM
            # (NO_ERROR) asks the client to stop sending the body.
            self._h2.reset_stream(st.sid, ErrorCode.NO_ERROR)
        elif not st.failed and self._reset_budget < self._limits.reset_budget:
            self._reset_budget += 1  # a cleanly finished stream earns a reset back
        self._release(st)

    def _release(self, st: _Stream) -> None:
        # RFC 9113 §6.9: credit for bytes nobody will read goes back to the connection window,
        # or a few abandoned uploads would stall every later stream.
        st.chunks.clear()
        st.buffered = 0
        if st.unconsumed:
            self._h2.acknowledge_received_data(st.unconsumed, st.sid)
            st.unconsumed = 0

    def _drain(self) -> None:
        # h2's output moves to ours before we add frames of our own, keeping the wire order.
        data = self._h2.data_to_send()
        if data:
            self._out.append(data)

    def _push(self, frame: bytes) -> None:
        """Queue a frame of our own after everything h2 queued so far."""
        self._drain()
        self._out.append(frame)

    def _final_goaway(self, last: int) -> None:
        self._push(_goaway(last, ErrorCode.NO_ERROR))
        self._goaway_last = last
        self._ping_pending = False

    def _fail(self, error: RemoteProtocolError) -> None:
        if self._failed:
            return
        self._push(_goaway(self._highest, error.error_code))  # RFC 9113 §5.4.1
        self._failed = True
        self._streams.clear()
        self._held.clear()
        self._inbuf = b""
        self._events.append(ConnectionFailed(error))

    def _charge_reset(self) -> None:
        # h2o's reset budget: resets and refusals cost one each, clean streams earn one back.
        # Counting the resets we send for peer errors too covers CVE-2025-8671 ("MadeYouReset")
        # as well as CVE-2023-44487 (rapid reset).
        self._reset_budget -= 1
        if self._reset_budget < 0:
            self._fail(ExcessiveLoad("too many stream resets (RFC 9113 §10.5)"))

    def _charge_control(self) -> None:
        # RFC 9113 §10.5: frames that cost us work but carry no request (CVE-2019-9512/9515/9518).
        self._control_budget -= 1
        if self._control_budget < 0:
            self._fail(ExcessiveLoad("too many control frames (RFC 9113 §10.5)"))

    # -- receiving -----------------------------------------------------------------------------

    def _frame(self, ftype: int, flags: int, sid: int, length: int, frame: bytes) -> None:
        limits = self._limits
        if self._block_sid:
            # RFC 9113 §6.10: nothing may interleave with a header block.
            if ftype != _CONTINUATION or sid != self._block_sid:
                self._fail(RemoteProtocolError("frame inside a header block (RFC 9113 §6.10)"))
                return
            self._block_frames += 1
            self._block_bytes += length
            if self._block_frames > limits.max_continuation_frames:
                self._fail(ExcessiveLoad("too many CONTINUATION frames"))
                return
            if self._block_bytes > limits.max_header_block_bytes:
                self._fail(ExcessiveLoad("header block too large to decode"))
                return
            if flags & _END_HEADERS:
                self._block_sid = 0
            self._feed(frame)
            return
        if self._first_frame:
            if ftype != _SETTINGS or flags & _ACK:
                self._fail(RemoteProtocolError("the client preface must end with SETTINGS"))
                return
            self._first_frame = False
        if ftype == _DATA:
            if (length == 0 and not flags & _END_STREAM) or sid not in self._streams:
                self._charge_control()  # empty DATA, or DATA h2 will answer with RST_STREAM
                if self._failed:
                    return
            self._feed(frame)
        elif ftype == _HEADERS:
            self._headers_frame(flags, sid, length, frame)
        elif ftype == _GOAWAY:
            self._goaway_frame(sid, length, frame)
        elif ftype <= _CONTINUATION:
            self._charge_control()
            if not self._failed:
                self._feed(frame)
        else:
            self._charge_control()  # RFC 9113 §5.5: unknown frame types are ignored

    def _headers_frame(self, flags: int, sid: int, length: int, frame: bytes) -> None:
        limits = self._limits
        if length > limits.max_header_block_bytes:
            self._fail(ExcessiveLoad("header block too large to decode"))
            return
        if not flags & _END_HEADERS:
            self._block_sid = sid
            self._block_frames = 0
            self._block_bytes = length
        if sid > self._highest:
            self._new_streams += 1
            if self._goaway_last is not None and sid > self._goaway_last:
                self._refuse = sid  # RFC 9113 §6.8: after our GOAWAY, not processed
                self._refuse_charged = False
            elif (
                len(self._streams) >= limits.max_concurrent_streams
                or self._new_streams > limits.max_new_streams_per_read
            ):
                self._refuse = sid  # RFC 9113 §5.1.2, §8.7
                self._refuse_charged = True
        else:
            st = self._streams.get(sid)
            if st is None:
                self._charge_control()  # HEADERS on a closed stream: h2 resets it
                if self._failed:
                    return
            elif not st.remote_ended and not flags & _END_STREAM:
                # RFC 9113 §8.1: trailers without END_STREAM are malformed, a stream error.  h2
                # would fail the connection, so it gets the frame with END_STREAM set (it still
                # decodes the block, keeping HPACK in sync) and we reset the stream after.
                frame = frame[:4] + bytes((flags | _END_STREAM,)) + frame[5:]
                if st.bad is None:
                    st.bad = RemoteProtocolError("trailers without END_STREAM (RFC 9113 §8.1)")
        self._feed(frame)

    def _goaway_frame(self, sid: int, length: int, frame: bytes) -> None:
        if sid:
            self._fail(RemoteProtocolError("GOAWAY on a stream (RFC 9113 §6.8)"))
            return
        if length < 8:
            self._fail(RemoteProtocolError("short GOAWAY", ErrorCode.FRAME_SIZE_ERROR))
            return
        self._charge_control()
        if self._failed:
            return
        # Not given to h2: it would drop its pending output and refuse every later send, while
        # the streams the client already opened may still finish (RFC 9113 §6.8).
        self._peer_goaway = True
        last = int.from_bytes(frame[9:13], "big") & _MAX_STREAM_ID
        self._events.append(GoAwayReceived(last, int.from_bytes(frame[13:17], "big")))

    def _feed(self, frame: bytes) -> None:
        try:
            events = self._h2.receive_data(frame)
        except h2.exceptions.ProtocolError as exc:
            code = int(getattr(exc, "error_code", ErrorCode.PROTOCOL_ERROR))
            if code == ErrorCode.PROTOCOL_ERROR and isinstance(exc.__cause__, HPACKError):
                code = ErrorCode.COMPRESSION_ERROR  # RFC 9113 §4.3
            # h2 queued a GOAWAY of its own last; ours carries the code we report.
            data = self._h2.data_to_send()
            if data[-17:-8] == _GOAWAY_HEAD:
                data = data[:-17]
            if data:
                self._out.append(data)
            self._fail(RemoteProtocolError(str(exc) or type(exc).__name__, code))
            return
        except Exception as exc:  # anything else h2, hpack or hyperframe let escape
            self._fail(RemoteProtocolError(f"{type(exc).__name__}: {exc}"))
            return
        try:
            for event in events:
                handler = _HANDLERS.get(type(event))
                if handler is not None:
                    handler(self, event)
                    if self._failed:
                        return
        except Exception as exc:  # pragma: no cover - a bug of ours; the peer still gets a GOAWAY
            self._fail(
                RemoteProtocolError(f"{type(exc).__name__}: {exc}", ErrorCode.INTERNAL_ERROR)
            )

    def _on_request(self, event: h2.events.RequestReceived) -> None:
        sid = event.stream_id
        assert sid is not None
        self._highest = sid
        fields = self._decoder.block
        self._decoder.block = None
        if self._refuse == sid:
            self._refuse = 0
            self._h2.reset_stream(sid, ErrorCode.REFUSED_STREAM)
            if self._refuse_charged:
                self._charge_reset()
            return
        self._requests += 1
        st = _Stream(sid)
        self._streams[sid] = st
        self._fresh.add(sid)
        parsed = parse_request(sid, fields or (), self._limits, self._connect)
        if type(parsed) is tuple:
            request, st.expected = parsed
            if st.expected and event.stream_ended is not None:
                parsed = RemoteProtocolError(
                    "Content-Length without a body (RFC 9113 §8.1.1)", status_hint=400
                )
            else:
                self._events.append(request)
        if type(parsed) is not tuple:
            assert isinstance(parsed, RemoteProtocolError)
            st.failed = True
            self._events.append(StreamFailed(sid, parsed))
            self._charge_reset()
            if self._failed:
                return
        if self._control_budget < self._limits.max_control_frames:
            self._control_budget = min(
                self._control_budget + self._control_refund, self._limits.max_control_frames
            )
        if self._requests >= self._limits.max_requests and self._goaway_last is None:
            self._final_goaway(sid)  # graceful: this and earlier streams finish

    def _on_data(self, event: h2.events.DataReceived) -> None:
        sid = event.stream_id
        assert sid is not None and event.data is not None
        n = event.flow_controlled_length or 0
        st = self._streams.get(sid)
        if st is None or st.failed or st.eom:
            if n:  # nobody will read it: credit back at once (RFC 9113 §6.9)
                self._h2.acknowledge_received_data(n, sid)
            return
        data = event.data
        size = len(data)
        if n > size:  # padding is never the application's to consume (RFC 9113 §6.1)
            self._h2.acknowledge_received_data(n - size, sid)
        st.received += size
        if st.expected is not None and st.received > st.expected:
            st.unconsumed += size
            self._reset_malformed(st, "body longer than Content-Length (RFC 9113 §8.1.1)")
            return
        if size:
            st.unconsumed += size
            self._events.append(Data(sid, data))

    def _on_trailers(self, event: h2.events.TrailersReceived) -> None:
        fields = self._decoder.block
        self._decoder.block = None
        st = self._streams.get(event.stream_id or 0)
        if st is None or st.failed or st.bad is not None:
            return
        parsed = parse_trailers(fields or (), self._limits)
        if type(parsed) is list:
            st.trailers_in = parsed
        else:
            assert isinstance(parsed, RemoteProtocolError)
            st.bad = parsed

    def _on_stream_ended(self, event: h2.events.StreamEnded) -> None:
        st = self._streams.get(event.stream_id or 0)
        if st is None:
            return
        st.remote_ended = True
        if st.failed or st.eom:
            return
        if st.bad is not None:
            self._reset_malformed(st, str(st.bad))
        elif st.expected is not None and st.received != st.expected:
            self._reset_malformed(st, "body shorter than Content-Length (RFC 9113 §8.1.1)")
        elif st.trailers_in is not None:
            self._events.append(EndOfMessage(st.sid, st.trailers_in))
        else:
            self._events.append(EndOfMessage(st.sid))

    def _reset_malformed(self, st: _Stream, message: str) -> None:
        # RFC 9113 §8.1.1: a malformed request found mid-body is a stream error; no response can
        # follow what the application may already have started.
        del self._streams[st.sid]
        self._h2.reset_stream(st.sid, ErrorCode.PROTOCOL_ERROR)
        self._release(st)
        if st.sid in self._fresh:
            self._dropped.add(st.sid)
        else:
            self._events.append(StreamFailed(st.sid, RemoteProtocolError(message)))
        self._charge_reset()

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        sid = event.stream_id or 0
        st = self._streams.pop(sid, None)
        if st is None:
            return
        self._release(st)
        if sid in self._fresh:
            self._dropped.add(sid)  # opened and reset in one batch: the driver never sees it
        else:
            self._events.append(StreamReset(sid, int(event.error_code or 0)))
        self._charge_reset()

    def _on_window_update(self, event: h2.events.WindowUpdated) -> None:
        sid = event.stream_id
        if not sid:
            self._flush_all()
            return
        st = self._streams.get(sid)
        if st is not None and (st.buffered or st.blocked):
            self._flush(st, 1 << 30)

    def _on_settings(self, event: h2.events.RemoteSettingsChanged) -> None:
        codes = h2.settings.SettingCodes
        changed = event.changed_settings
        if codes.INITIAL_WINDOW_SIZE in changed or codes.MAX_FRAME_SIZE in changed:
            self._flush_all()  # RFC 9113 §6.9.2: every stream window moved

    def _on_ping_ack(self, event: h2.events.PingAckReceived) -> None:
        if self._ping_pending and event.ping_data == _SHUTDOWN_PING:
            self._final_goaway(self._highest)


_HANDLERS: dict[type, Any] = {
    h2.events.DataReceived: ServerConnection._on_data,
    h2.events.RequestReceived: ServerConnection._on_request,
    h2.events.StreamEnded: ServerConnection._on_stream_ended,
    h2.events.TrailersReceived: ServerConnection._on_trailers,
    h2.events.StreamReset: ServerConnection._on_reset,
    h2.events.WindowUpdated: ServerConnection._on_window_update,
    h2.events.RemoteSettingsChanged: ServerConnection._on_settings,
    h2.events.PingAckReceived: ServerConnection._on_ping_ack,
}
