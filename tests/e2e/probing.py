"""Helpers of the `--metrics` tests (test_metrics.py, test_health.py): find the listener's address
in the server's log, send it requests (over TCP or a unix socket) and parse /metrics with
prometheus_client's own parser."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from prometheus_client import parser  # a declared e2e dependency: never skipped

from conftest import ServerProcess

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
