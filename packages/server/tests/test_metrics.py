"""`--metrics` without processes: worker counters, snapshots over the pipe, the master's totals
(retired workers included), the text exposition, the probe listener's parsing and answers, and the
master's readiness through --shutdown-delay."""

from __future__ import annotations

import select
import signal
import socket
import time

import pytest

from asgiserver.server._config import Config, metrics_address
from asgiserver.server._drivers.metrics import (
    CLASSES,
    DURATION_BOUNDS,
    HTTP1,
    HTTP2,
    WEBSOCKET,
    RequestCounters,
)
from asgiserver.server._drivers.probe import ProbeExchange
from asgiserver.server._process.metrics import (
    MAX_SNAPSHOT,
    MetricsBook,
    Snapshot,
    decode_snapshot,
    encode_snapshot,
    escape_label,
)
from asgiserver.server._process.probes import ProbeListener
from asgiserver.server._process.supervisor import Supervisor, WorkerProcess

# ---- worker counters -----------------------------------------------------------------------------


def test_buckets_hold_observations_up_to_and_including_their_bound() -> None:
    counters = RequestCounters()
    for seconds in (0.0, 0.005, 0.0051, 10.0, 11.0):
        counters.request_done(HTTP1, 200, seconds)
    buckets = counters.buckets[HTTP1]
    assert buckets[0] == 2  # 0 and exactly 0.005 (`le` is inclusive)
    assert buckets[1] == 1
    assert buckets[len(DURATION_BOUNDS) - 1] == 1  # exactly 10
    assert buckets[-1] == 1  # +Inf
    assert counters.durations[HTTP1] == pytest.approx(21.0101)


def test_requests_count_by_protocol_and_class_and_rejections_skip_the_histogram() -> None:
    counters = RequestCounters()
    counters.request_done(WEBSOCKET, 101, None)
    counters.request_done(WEBSOCKET, 403, None)
    counters.request_done(HTTP2, 599, 0.1)
    counters.request_done(HTTP1, 999, None)  # nonsense: kept out of every class
    assert counters.requests[WEBSOCKET * CLASSES + 1] == 1
    assert counters.requests[WEBSOCKET * CLASSES + 4] == 1
    assert counters.requests[HTTP2 * CLASSES + 5] == 1
    assert counters.requests[HTTP1 * CLASSES] == 1
    assert sum(counters.buckets[WEBSOCKET]) == 0
    assert sum(counters.buckets[HTTP2]) == 1


# ---- snapshots over the pipe ---------------------------------------------------------------------


def test_a_snapshot_round_trips_and_stays_below_pipe_buf() -> None:
    counters = RequestCounters()
    counters.request_done(HTTP1, 200, 0.02)
    counters.received, counters.sent = 10, 20
    message = encode_snapshot(counters, [1, 2, 3, 4], 5, 0.25)
    assert message.startswith(b"S") and message.endswith(b"\n")
    snapshot = decode_snapshot(message[1:-1])
    assert snapshot is not None
    assert snapshot.requests == counters.requests
    assert snapshot.buckets == counters.buckets
    assert (snapshot.received, snapshot.sent) == (10, 20)
    assert snapshot.connections == [1, 2, 3, 4]
    assert (snapshot.in_flight, snapshot.loop_lag) == (5, 0.25)
    huge = RequestCounters()
    huge.requests = [2**63] * len(huge.requests)
    huge.buckets = [[2**63] * len(row) for row in huge.buckets]
    huge.durations = [1e18] * len(huge.durations)
    assert len(encode_snapshot(huge, [2**31] * 4, 2**31, 1e9)) <= MAX_SNAPSHOT


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[]", b'{"r": 1}', b"\xff", b'{"r":[],"b":[],"d":[],"i":0}']
)
def test_a_malformed_snapshot_is_ignored(body: bytes) -> None:
    assert decode_snapshot(body) is None


# ---- the master's totals ---------------------------------------------------------------------------


def snapshot(
    requests_2xx: int, *, sent: int = 0, connections: int = 0, lag: float = 0.0
) -> Snapshot:
    s = Snapshot()
    s.requests[HTTP1 * CLASSES + 2] = requests_2xx
    s.buckets[HTTP1][0] = requests_2xx
    s.sent = sent
    s.connections[HTTP1] = connections
    s.loop_lag = lag
    s.in_flight = connections
    return s


def test_totals_keep_the_counters_of_workers_gone_but_not_their_gauges() -> None:
    book = MetricsBook()
    book.update(1, snapshot(5, sent=100, connections=2, lag=0.5))
    book.update(2, snapshot(7, sent=50, connections=1, lag=0.1))
    total = book.totals()
    assert total.requests[HTTP1 * CLASSES + 2] == 12
    assert (total.sent, total.connections[HTTP1], total.in_flight) == (150, 3, 3)
    assert total.loop_lag == 0.5  # the largest, not a sum
    book.retire(1)
    book.retire(99)  # never reported: nothing to fold
    book.update(3, snapshot(0))  # its replacement starts from zero
    total = book.totals()
    assert total.requests[HTTP1 * CLASSES + 2] == 12
    assert total.buckets[HTTP1][0] == 12
    assert (total.sent, total.connections[HTTP1], total.loop_lag) == (150, 1, 0.1)
    book.update(2, snapshot(9, sent=60))
    assert book.totals().requests[HTTP1 * CLASSES + 2] == 14


def test_the_text_has_help_type_and_every_series() -> None:
    book = MetricsBook()
    book.update(1, snapshot(3))
    book.restarted("crash")
    text = book.render(workers=2).decode()
    assert text.endswith("\n")
    lines = text.splitlines()
    for name, kind in (
        ("asgiserver_requests_total", "counter"),
        ("asgiserver_request_duration_seconds", "histogram"),
        ("asgiserver_requests_in_flight", "gauge"),
        ("asgiserver_connections", "gauge"),
        ("asgiserver_workers", "gauge"),
        ("asgiserver_worker_restarts_total", "counter"),
        ("asgiserver_event_loop_lag_seconds", "gauge"),
        ("asgiserver_received_bytes_total", "counter"),
        ("asgiserver_sent_bytes_total", "counter"),
    ):
        assert f"# TYPE {name} {kind}" in lines
        assert any(line.startswith(f"# HELP {name} ") for line in lines)
    assert 'asgiserver_requests_total{protocol="http/1.1",status_class="2xx"} 3' in lines
    assert 'asgiserver_requests_total{protocol="websocket",status_class="1xx"} 0' in lines
    bucket = "asgiserver_request_duration_seconds_bucket"
    assert f'{bucket}{{protocol="http/1.1",le="0.005"}} 3' in lines
    assert f'{bucket}{{protocol="http/1.1",le="+Inf"}} 3' in lines  # cumulative
    assert 'asgiserver_request_duration_seconds_count{protocol="http/1.1"} 3' in lines
    assert not any('protocol="websocket",le=' in line for line in lines)
    assert 'asgiserver_worker_restarts_total{reason="crash"} 1' in lines
    assert "asgiserver_workers 2" in lines


def test_label_values_are_escaped() -> None:
    assert escape_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


# ---- the probe listener ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", (b"GET", b"/metrics")),
        (b"GET /readyz?verbose=1 HTTP/1.0\r\n\r\n", (b"GET", b"/readyz")),
        (b"POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", (b"POST", b"/livez")),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"x-a: b\r\n" * 60 + b"\r\n", 431),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
    ],
)
def test_probe_requests_are_parsed_strictly(data: bytes, expected: object) -> None:
    assert ProbeExchange().receive(data) == expected


def test_a_probe_request_may_arrive_in_pieces_and_end_early() -> None:
    exchange = ProbeExchange()
    assert exchange.receive(b"GET /li") is None
    assert exchange.receive(b"vez HTTP/1.1\r\nHost: x\r\n\r\n") == (b"GET", b"/livez")
    cut = ProbeExchange()
    assert cut.receive(b"GET /li") is None
    assert cut.receive(b"") == 400  # end of input before the head's end


def test_answers_close_and_head_has_no_body() -> None:
    exchange = ProbeExchange()
    exchange.receive(b"HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = exchange.answer(200, [(b"content-type", b"text/plain")], b"ok\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 3\r\n" in answer and b"connection: close\r\n" in answer
    assert answer.endswith(b"\r\n\r\n")


def run_listener(listener: ProbeListener, client: socket.socket) -> bytes:
    """Drive the listener as the master's loop does until the client has its whole answer."""
    received = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        readable, writable, _ = select.select(listener.read_fds(), listener.write_fds(), [], 0.05)
        for fd in readable:
            listener.on_readable(fd)
        for fd in writable:
            listener.on_writable(fd)
        try:
            chunk = client.recv(65536)
        except BlockingIOError:
            continue
        if not chunk:
            return received
        received += chunk
    raise AssertionError("no answer")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", b"200"),
        (b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        (b"PUT /livez HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"400"),  # TLS to a plain port
    ],
)
def test_the_listener_routes_and_closes(request_bytes: bytes, status: bytes) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    listener = ProbeListener(server, {b"/livez": lambda: (200, [], b"ok\n")})
    try:
        client = socket.create_connection(server.getsockname())
        client.sendall(request_bytes)
        client.setblocking(False)
        answer = run_listener(listener, client)
        assert answer.startswith(b"HTTP/1.1 " + status + b" ")
        assert not listener.clients
        client.close()
    finally:
        listener.close()


def test_the_listener_drops_idle_connections_at_their_deadline() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    listener = ProbeListener(server, {})
    try:
        client = socket.create_connection(server.getsockname())
        for _ in range(20):
            readable, _, _ = select.select(listener.read_fds(), [], [], 0.05)
            for fd in readable:
                listener.on_readable(fd)
            if listener.clients:
                break
        assert len(listener.clients) == 1
        deadline = listener.next_deadline()
        assert deadline is not None
        listener.expire(deadline)
        assert not listener.clients
        client.close()
    finally:
        listener.close()


# ---- the master -------------------------------------------------------------------------------------


def test_worker_messages_are_framed_across_reads() -> None:
    master = Supervisor(Config(metrics="127.0.0.1:0"))
    worker = WorkerProcess(pid=10, pipe=-1, generation=0, started=0.0, max_requests=None)
    message = encode_snapshot(RequestCounters(), [0, 0, 0, 0], 0, 0.0)
    first = master._messages(worker, b"RH" + message[:7])
    assert first == [(b"R", b""), (b"H", b"")]
    second = master._messages(worker, message[7:] + b"M")
    assert second == [(b"S", message[1:-1]), (b"M", b"")]
    assert worker.buffer == b""
    assert master._messages(worker, b"S" + b"x" * (MAX_SNAPSHOT + 1)) == []
    assert worker.buffer == b""  # an endless message is dropped, not buffered


def test_readiness_through_a_shutdown_delay() -> None:
    master = Supervisor(Config(metrics="127.0.0.1:0", shutdown_delay=30))
    assert master._readyz()[0] == 503  # no worker is ready yet
    master.serving = True
    assert master._readyz()[0] == 200
    master._on_stop_signal(signal.SIGTERM)
    assert master._readyz() == (503, master._readyz()[1], b"shutting down\n")
    assert master.drain_until is not None and not master.stopping
    master._on_stop_signal(signal.SIGTERM)  # the second: stop now
    assert master.stopping
    assert master._readyz()[0] == 503


@pytest.mark.parametrize("text", ["127.0.0.1:9100", "[::1]:0", "unix:/run/m.sock", "host:1"])
def test_metrics_addresses(text: str) -> None:
    assert metrics_address(text) == text


@pytest.mark.parametrize("text", ["9100", "unix:", ":9100", "::1:9100", "h:x", "h:70000", "[]:1"])
def test_bad_metrics_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        metrics_address(text)
