"""Flow control (RFC 9113 §5.2, §6.9), send buffering and SETTINGS (§6.5): advertised = enforced."""

from __future__ import annotations

import h2.events
import h2.exceptions
import h2.settings
import pytest
from _helpers import Pair, data_frame, raw_frame, request_headers, settings, window_update

from asgiserver import h2adapter as h2a

KiB = 1024


# -- §6.5.2 what the client records is what the server enforces ----------------------------------------


def test_6_5_2_advertised_settings_equal_limits() -> None:
    limits = h2a.Limits(
        max_concurrent_streams=7,
        initial_window_size=100_000,
        max_frame_size=32_768,
        max_header_list_size=9_000,
    )
    pair = Pair(limits)
    remote = pair.client.remote_settings
    assert remote.max_concurrent_streams == 7
    assert remote.initial_window_size == 100_000
    assert remote.max_frame_size == 32_768
    assert remote.max_header_list_size == 9_000
    assert remote.enable_connect_protocol == 1
    assert remote.enable_push == 0
    # ...and enforced, before and after the client's SETTINGS ack alike.
    server = pair.server._h2
    assert server.max_inbound_frame_size == 32_768
    assert server.local_settings.initial_window_size == 100_000


def test_6_5_2_initial_window_is_enforced() -> None:
    pair = Pair(h2a.Limits(initial_window_size=20_000))
    pair.get(1, end=False)
    assert pair.client.local_flow_control_window(1) == 20_000
    pair.raw(data_frame(1, b"x" * 16_000))
    events = pair.raw(data_frame(1, b"x" * 4_001))  # one byte past the advertised window
    assert isinstance(events[-1], h2a.ConnectionFailed)
    assert events[-1].error.error_code == h2a.ErrorCode.FLOW_CONTROL_ERROR


def test_6_5_2_max_frame_size_is_enforced() -> None:
    pair = Pair(h2a.Limits(max_frame_size=20_000))
    pair.get(1, end=False)
    assert pair.raw(data_frame(1, b"x" * 20_000)) == [h2a.Data(1, b"x" * 20_000)]
    events = pair.raw(data_frame(1, b"x" * 20_001))
    assert events[-1].error.error_code == h2a.ErrorCode.FRAME_SIZE_ERROR  # type: ignore[union-attr]


def test_6_5_2_header_list_size_is_enforced_per_stream() -> None:
    pair = Pair(h2a.Limits(max_header_list_size=9_000))
    fields = request_headers()
    size = sum(len(n) + len(v) + 32 for n, v in fields)
    fill = 9_000 - size - len(b"x-fill") - 32
    pair.client.send_headers(1, [*fields, (b"x-fill", b"a" * fill)], end_stream=True)
    assert isinstance(pair.pump()[0], h2a.Request)
    pair.client.send_headers(3, [*fields, (b"x-fill", b"a" * (fill + 1))], end_stream=True)
    [event] = pair.pump()
    assert isinstance(event, h2a.StreamFailed) and event.error.status_hint == 431


# -- §6.9 receiving: credit follows consumption ------------------------------------------------------------


def test_6_9_upload_larger_than_both_windows_completes_only_as_consumed() -> None:
    pair = Pair(h2a.Limits(initial_window_size=65_535, connection_window=65_535))
    pair.get(1, end=False, method=b"POST")
    body = bytes(range(256)) * 1024  # 256 KiB
    sent = 0
    received = b""
    for _ in range(100):
        window = pair.client.local_flow_control_window(1)
        chunk = body[sent : sent + min(window, 16_384)]
        if chunk:
            pair.send_body(1, chunk, end=sent + len(chunk) == len(body))
            sent += len(chunk)
        for event in pair.pump():
            if isinstance(event, h2a.Data):
                received += event.data
                pair.server.consumed(1, len(event.data))
        if sent == len(body):
            break
        if not chunk:
            # Nothing was consumed late: without consumed() the client would be stuck here.
            pytest.fail("client window did not reopen")
    pair.pump()
    assert received == body


def test_6_9_no_credit_without_consumption() -> None:
    pair = Pair(h2a.Limits(initial_window_size=65_535))
    pair.get(1, end=False, method=b"POST")
    pair.send_body(1, b"x" * 65_535)
    pair.pump()
    assert pair.client.local_flow_control_window(1) == 0
    pair.server.consumed(1, 65_535)
    pair.pump()
    assert pair.client.local_flow_control_window(1) == 65_535


def test_6_1_padding_credit_is_returned_at_once() -> None:
    pair = Pair()
    pair.get(1, end=False, method=b"POST")
    assert pair.raw(data_frame(1, b"abc", pad=200)) == [h2a.Data(1, b"abc")]
    assert pair.server_window() == (1 << 20) - 3


def test_6_9_2_connection_window_raised_once_so_one_slow_stream_cannot_stall() -> None:
    pair = Pair()
    assert pair.client.outbound_flow_control_window == 1 << 20
    pair.get(1, end=False, method=b"POST")
    pair.send_body(1, b"x" * 256 * KiB)  # fills stream 1's window; never consumed
    pair.pump()
    pair.get(3, end=False, method=b"POST")
    pair.send_body(3, b"y" * 100_000, end=True)
    events = pair.pump()
    assert sum(len(e.data) for e in events if isinstance(e, h2a.Data)) == 100_000


def test_6_9_credit_is_not_leaked_when_streams_end_with_unread_body() -> None:
    pair = Pair()
    for sid in (1, 3, 5, 7):
        pair.get(sid, end=False, method=b"POST")
        pair.send_body(sid, b"z" * 30_000)
    pair.pump()
    pair.server.consumed(1, 10_000)
    pair.respond(1)  # early response: RST(NO_ERROR), unread bytes credited
    pair.client.reset_stream(3, 8)  # peer reset
    pair.pump()
    pair.server.send(h2a.StreamReset(5, 8))  # driver reset
    pair.send_body(7, b"", end=True)
    pair.pump()
    pair.respond(7)
    assert pair.server.open_streams == 0
    assert pair.server_window() == 1 << 20


def test_6_9_late_data_after_reset_is_credited() -> None:
    pair = Pair()
    pair.get(1, end=False, method=b"POST")
    pair.respond(1)
    assert pair.resets() == {1: 0}
    events = pair.raw(data_frame(1, b"late" * 1000))  # in flight when the RST went out
    assert events == []
    assert pair.server_window() == 1 << 20
    assert pair.raw_resets() == {1: h2a.ErrorCode.STREAM_CLOSED}


# -- §6.9 sending: buffered within windows and frame size ---------------------------------------------------


def test_6_9_response_larger_than_the_window_resumes_on_window_update() -> None:
    pair = Pair()
    pair.get(1)
    body = b"r" * 200_000
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, body))
    pair.pump()
    assert pair.server.buffered(1) == 200_000 - 65_535
    assert len(pair.response_body(1)) == 65_535
    pair.server.send(h2a.EndOfMessage(1))
    writable: list[h2a.Event] = []
    while not pair.ended(1):
        pair.client.acknowledge_received_data(65_535, 1)
        writable += pair.pump()
    assert pair.response_body(1) == body
    assert writable == []  # EndOfMessage already sent: nobody waits on drain


def test_waiting_streams_show_progress_only_when_the_window_opens() -> None:
    """A caller with a clock finds a reader that never opens its window: the count of framed bytes
    of a waiting stream moves only when the client gives credit, and a finished stream is gone."""
    pair = Pair(client_settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    pair.get(1)
    pair.get(3)
    assert pair.server.waiting_streams() == {}  # no response bytes queued yet
    for sid in (1, 3):
        pair.server.send(h2a.Response(sid, 200))
        pair.server.send(h2a.Data(sid, b"z" * 50_000))
        pair.server.send(h2a.EndOfMessage(sid))
    pair.pump()
    assert pair.server.waiting_streams() == {1: 0, 3: 0}
    pair.client.increment_flow_control_window(10_000, 1)
    pair.pump()
    assert pair.server.waiting_streams() == {1: 10_000, 3: 0}
    pair.client.increment_flow_control_window(40_000, 1)
    pair.pump()
    assert pair.ended(1)
    assert pair.server.waiting_streams() == {3: 0}


def test_6_9_writable_when_the_buffer_drains() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"w" * 70_000))
    pair.pump()
    assert pair.server.buffered(1) == 70_000 - 65_535
    pair.client.increment_flow_control_window(10_000, 1)
    pair.client.increment_flow_control_window(10_000)
    assert pair.pump() == [h2a.Writable(1)]
    assert pair.server.buffered(1) == 0


def test_6_9_2_peer_shrinks_window_mid_response_and_raises_frame_size() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"a" * 40_000))
    pair.pump()
    # Window goes negative: 40_000 sent against a new initial window of 10_000.
    pair.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 10_000})
    pair.pump()
    pair.server.send(h2a.Data(1, b"b" * 60_000))
    pair.server.send(h2a.EndOfMessage(1))
    pair.pump()
    assert len(pair.response_body(1)) == 40_000
    pair.client.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE: 65_536})
    # h2's client applies its own new limit only when it reads our ACK, one read too late.
    pair.client.max_inbound_frame_size = 65_536
    pair.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 200_000})
    pair.client.increment_flow_control_window(100_000)  # the connection window never moves
    pair.pump()
    body = pair.response_body(1)
    assert body == b"a" * 40_000 + b"b" * 60_000 and pair.ended(1)
    sizes = [len(e.data) for e in pair.client_of(h2.events.DataReceived)]
    assert max(sizes) > 16_384  # the larger frame size was used once acknowledged


def test_6_9_round_robin_between_blocked_streams() -> None:
    pair = Pair()
    for sid in (1, 3):
        pair.get(sid)
        pair.server.send(h2a.Response(sid, 200))
        pair.server.send(h2a.Data(sid, b"%d" % sid * 100_000))
    pair.pump()  # connection window (65535) exhausted
    pair.client.increment_flow_control_window(32_768)
    pair.pump()
    counts = {
        sid: sum(len(e.data) for e in pair.client_of(h2.events.DataReceived) if e.stream_id == sid)
        for sid in (1, 3)
    }
    assert counts[3] >= 16_384  # stream 3 got a share, not only stream 1


def test_window_opening_before_data_to_send_sends_the_held_head_first() -> None:
    pair = Pair()
    pair.get(1)
    pair.get(3)
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"x" * 70_000))
    pair.pump()
    pair.server.send(h2a.Response(3, 200))
    pair.server.send(h2a.Data(3, b"y" * 10))  # held: no data_to_send() yet
    pair.client.increment_flow_control_window(70_000)
    pair.client.increment_flow_control_window(70_000, 1)
    pair.server.receive_data(pair.client.data_to_send())  # flushes every stream
    pair.server.send(h2a.EndOfMessage(1))
    pair.server.send(h2a.EndOfMessage(3))
    pair.pump()
    assert pair.response_body(3) == b"y" * 10 and pair.ended(3) and pair.ended(1)


def test_7_end_stream_always_reaches_the_wire_for_an_empty_last_body() -> None:
    pair = Pair()
    pair.get(1)
    pair.server.send(h2a.Response(1, 200))
    pair.server.send(h2a.Data(1, b"x"))
    pair.pump()
    pair.server.send(h2a.Data(1, b""))
    pair.server.send(h2a.EndOfMessage(1))
    pair.pump()
    assert pair.ended(1)


def test_window_update_overflow_on_a_stream_resets_only_that_stream() -> None:
    pair = Pair()
    pair.get(1)
    events = pair.raw(window_update(1, (1 << 31) - 1))
    assert events == [h2a.StreamReset(1, h2a.ErrorCode.FLOW_CONTROL_ERROR)]
    assert isinstance(pair.get(3)[0], h2a.Request)


def test_zero_window_update_is_a_connection_error() -> None:
    pair = Pair()
    events = pair.raw(raw_frame(0x8, 0, 0, b"\x00\x00\x00\x00"))
    assert isinstance(events[-1], h2a.ConnectionFailed)


def test_settings_frame_with_bad_value_fails_the_connection() -> None:
    pair = Pair()
    events = pair.raw(settings(s_4=1 << 31))
    assert isinstance(events[-1], h2a.ConnectionFailed)
    assert events[-1].error.error_code == h2a.ErrorCode.FLOW_CONTROL_ERROR
