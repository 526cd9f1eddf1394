"""`--metrics`: the master's Prometheus text, parsed by prometheus_client's own parser, summed over
real workers (one of them killed with SIGKILL), over TCP and a unix socket; and the listener's
answers to bad input."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conftest import APPS, ServerProcess, asgiserver_command, recv_until_closed

parser = pytest.importorskip("prometheus_client.parser")
websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

METRICS_RE = re.compile(r"Metrics and health checks on (http://\S+|unix:\S+)")
FAMILIES = {
    "asgiserver_requests_total": "counter",
    "asgiserver_request_duration_seconds": "histogram",
    "asgiserver_requests_in_flight": "gauge",
    "asgiserver_connections": "gauge",
    "asgiserver_workers": "gauge",
    "asgiserver_worker_restarts_total": "counter",
    "asgiserver_event_loop_lag_seconds": "gauge",
    "asgiserver_received_bytes_total": "counter",
    "asgiserver_sent_bytes_total": "counter",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics_address(server: ServerProcess) -> str:
    assert server.wait_for_stderr("Metrics and health checks on", timeout=20), server.stderr
    match = METRICS_RE.search(server.stderr)
    assert match is not None
    return match.group(1)


def probe(address: str, path: str, method: str = "GET") -> httpx.Response:
    """One request to the metrics listener (`http://host:port` or `unix:/path`)."""
    if address.startswith("unix:"):
        transport = httpx.HTTPTransport(uds=address[5:])
        with httpx.Client(transport=transport, timeout=10) as client:
            return client.request(method, "http://metrics" + path)
    return httpx.request(method, address + path, timeout=10)


def scrape(address: str) -> Samples:
    response = probe(address, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    kinds = {}
    for family in parser.text_string_to_metric_families(response.text):
        kinds[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    # The parser names a counter's family without `_total`.
    assert kinds == {name.removesuffix("_total"): kind for name, kind in FAMILIES.items()}
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def requests(samples: Samples, protocol: str, status_class: str) -> float:
    return value(samples, "asgiserver_requests_total", protocol=protocol, status_class=status_class)


def wait_for(address: str, check: Callable[[Samples], bool], timeout: float = 15) -> Samples:
    """Scrape until `check` holds: workers report once a second."""
    deadline = time.monotonic() + timeout
    samples = scrape(address)
    while not check(samples):
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never matched: {samples}")
        time.sleep(0.2)
        samples = scrape(address)
    return samples


def counters(samples: Samples) -> Samples:
    gauges = {"asgiserver_requests_in_flight", "asgiserver_connections", "asgiserver_workers"}
    gauges.add("asgiserver_event_loop_lag_seconds")
    return {key: v for key, v in samples.items() if key[0] not in gauges}


def test_totals_add_up_across_workers_and_never_go_back_when_one_is_killed(
    start_server,
) -> None:
    server: ServerProcess = start_server("opsapp:app", "--workers", "2", "--metrics", "127.0.0.1:0")
    address = metrics_address(server)
    pids: set[int] = set()
    answered = 0
    while len(pids) < 2 and answered < 200:  # fresh connections spread over both workers
        pids.add(int(httpx.get(server.url + "/pid").text))
        answered += 1
    assert len(pids) == 2
    for status in (404, 404, 503, 302):
        assert httpx.get(f"{server.url}/status/{status}").status_code == status

    def all_reported(s: Samples) -> bool:
        return (
            requests(s, "http/1.1", "2xx") == answered
            and requests(s, "http/1.1", "4xx") == 2
            and requests(s, "http/1.1", "5xx") == 1
            and requests(s, "http/1.1", "3xx") == 1
        )

    before = wait_for(address, all_reported)
    assert value(before, "asgiserver_workers") == 2
    total = answered + 4
    assert value(before, "asgiserver_request_duration_seconds_count", protocol="http/1.1") == total
    assert (
        value(before, "asgiserver_request_duration_seconds_bucket", protocol="http/1.1", le="+Inf")
        == total
    )
    assert value(before, "asgiserver_received_bytes_total") > 0
    assert value(before, "asgiserver_sent_bytes_total") > 0

    victim = pids.pop()
    os.kill(victim, signal.SIGKILL)
    after = wait_for(
        address,
        lambda s: (
            value(s, "asgiserver_worker_restarts_total", reason="crash") == 1
            and value(s, "asgiserver_workers") == 2
        ),
    )
    # Nothing went backwards: the killed worker's last report stays in the totals.
    for key, old in counters(before).items():
        assert after[key] >= old, key
    assert all_reported(after)
    assert value(after, "asgiserver_worker_restarts_total", reason="timeout") == 0
    assert value(after, "asgiserver_worker_restarts_total", reason="recycle") == 0

    for _ in range(5):
        httpx.get(server.url + "/")
    final = wait_for(address, lambda s: requests(s, "http/1.1", "2xx") == answered + 5)
    assert value(final, "asgiserver_worker_restarts_total", reason="crash") == 1
    assert server.stop() == 0


def test_protocols_and_status_classes_over_a_unix_socket(start_server, tmp_path: Path) -> None:
    sock = tmp_path / "metrics.sock"
    server: ServerProcess = start_server(
        "opsapp:app", "--workers", "1", "--metrics", f"unix:{sock}"
    )
    address = metrics_address(server)
    assert address == f"unix:{sock}"
    ws_url = server.url.replace("http://", "ws://")
    with connect(ws_url + "/ws") as ws:
        assert ws.recv(timeout=10) == "hello"
    with pytest.raises(websockets.exceptions.InvalidStatus) as denied:
        connect(ws_url + "/ws/deny", open_timeout=10)
    assert denied.value.response.status_code == 403
    with httpx.Client(http1=False, http2=True) as h2:  # prior knowledge over cleartext
        assert h2.get(server.url + "/").http_version == "HTTP/2"
        assert h2.get(server.url + "/status/404").status_code == 404
    assert httpx.get(server.url + "/").status_code == 200

    samples = wait_for(
        address,
        lambda s: (
            requests(s, "websocket", "1xx") == 1
            and requests(s, "websocket", "4xx") == 1
            and requests(s, "http/2", "2xx") == 1
            and requests(s, "http/2", "4xx") == 1
            and requests(s, "http/1.1", "2xx") == 1
        ),
    )
    # A WebSocket handshake counts as a WebSocket only, not as an HTTP/1.1 request too.
    assert sum(requests(samples, "http/1.1", c) for c in ("1xx", "3xx", "4xx", "5xx")) == 0
    assert value(samples, "asgiserver_request_duration_seconds_count", protocol="http/2") == 2
    assert value(samples, "asgiserver_requests_in_flight") == 0
    assert server.stop() == 0
    assert not sock.exists()


def raw_exchange(address: str, data: bytes, *, eof: bool = False) -> bytes:
    host, port = address.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        if eof:
            conn.shutdown(socket.SHUT_WR)
        return recv_until_closed(conn)


def test_the_listener_answers_bad_input_and_the_master_lives_on(start_server) -> None:
    server: ServerProcess = start_server("opsapp:app", "--workers", "1", "--metrics", "127.0.0.1:0")
    address = metrics_address(server)
    idle = socket.create_connection(address.removeprefix("http://").rsplit(":", 1), timeout=10)
    try:
        assert probe(address, "/nothing").status_code == 404
        assert probe(address, "/metrics", "POST").status_code == 405
        assert probe(address, "/readyz", "DELETE").headers["allow"] == "GET, HEAD"
        head = probe(address, "/livez", "HEAD")
        assert head.status_code == 200 and head.content == b""
        assert raw_exchange(address, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert raw_exchange(address, b"\x00\xff\xfe junk\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        long_line = b"GET /" + b"a" * 4000 + b" HTTP/1.1\r\n\r\n"
        assert raw_exchange(address, long_line).startswith(b"HTTP/1.1 414 ")
        big_head = b"GET /metrics HTTP/1.1\r\n" + b"x-a: b\r\n" * 2000 + b"\r\n"
        answer = raw_exchange(address, big_head)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
        assert raw_exchange(address, b"GET /metr", eof=True).startswith(b"HTTP/1.1 400 ")
        # An idle connection does not hold the listener up; the others are answered meanwhile.
        assert probe(address, "/livez").status_code == 200
        scrape(address)
    finally:
        idle.close()
    assert server.proc.poll() is None
    assert server.stop() == 0


def test_a_bad_metrics_address_is_a_usage_error() -> None:
    for bad in ("nonsense", "::1:9100"):
        proc = subprocess.run(
            [*asgiserver_command(), "opsapp:app", "--metrics", bad],
            cwd=APPS,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 2, (bad, proc.stderr)
        assert "--metrics" in proc.stderr
