"""`--metrics` in the master: each worker's cumulative snapshot, the sum over every worker (those
gone included, so counters never go backwards) and its Prometheus text exposition (format 0.0.4).

A worker sends `S<json>\\n` in place of its heartbeat byte once a second; one snapshot is far below
PIPE_BUF (4096 bytes), so each write reaches the master whole. The master keeps each worker's last
snapshot; when a worker goes away its counters are folded into `retired`. The requests it served in
its last second are lost, never counted twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from asgiserver.server._drivers.metrics import (
    CLASSES,
    DURATION_BOUNDS,
    PROTOCOLS,
    WEBSOCKET,
    RequestCounters,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RESTART_REASONS = ("crash", "timeout", "recycle", "reload")
MAX_SNAPSHOT = 4000  # below PIPE_BUF: a write of this size is atomic (POSIX write(2))
_BUCKETS = len(DURATION_BOUNDS) + 1


@dataclass
class Snapshot:
    """One worker's counters at one moment (the counters cumulative, the gauges current)."""

    requests: list[int] = field(default_factory=lambda: [0] * (len(PROTOCOLS) * CLASSES))
    buckets: list[list[int]] = field(default_factory=lambda: [[0] * _BUCKETS for _ in PROTOCOLS])
    durations: list[float] = field(default_factory=lambda: [0.0] * len(PROTOCOLS))
    received: int = 0
    sent: int = 0
    connections: list[int] = field(default_factory=lambda: [0] * len(PROTOCOLS))
    in_flight: int = 0
    loop_lag: float = 0.0


def encode_snapshot(
    counters: RequestCounters, connections: list[int], in_flight: int, loop_lag: float
) -> bytes:
    """The worker's heartbeat message with its counters."""
    message = {
        "r": counters.requests,
        "b": counters.buckets,
        "d": counters.durations,
        "i": counters.received,
        "o": counters.sent,
        "c": connections,
        "f": in_flight,
        "l": round(loop_lag, 6),
    }
    data = b"S" + json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(data) > MAX_SNAPSHOT:
        return b"H"  # cannot happen with these sizes; a heartbeat without numbers is still one
    return data


def decode_snapshot(body: bytes) -> Snapshot | None:
    """The JSON after `S`, or None if it is not a well-formed snapshot."""
    try:
        raw: Any = json.loads(body)
        snapshot = Snapshot(
            requests=_ints(raw["r"], len(PROTOCOLS) * CLASSES),
            buckets=[_ints(row, _BUCKETS) for row in _list(raw["b"], len(PROTOCOLS))],
            durations=[float(x) for x in _list(raw["d"], len(PROTOCOLS))],
            received=int(raw["i"]),
            sent=int(raw["o"]),
            connections=_ints(raw["c"], len(PROTOCOLS)),
            in_flight=int(raw["f"]),
            loop_lag=float(raw["l"]),
        )
    except (ValueError, TypeError, KeyError):
        return None
    return snapshot


def _list(value: Any, size: int) -> list[Any]:
    if not isinstance(value, list) or len(value) != size:
        raise ValueError("wrong shape")
    return value


def _ints(value: Any, size: int) -> list[int]:
    return [int(x) for x in _list(value, size)]


class MetricsBook:
    """Every worker's last snapshot, the folded counters of workers gone, and worker restarts."""

    def __init__(self) -> None:
        self.live: dict[int, Snapshot] = {}
        self.retired = Snapshot()
        self.restarts = dict.fromkeys(RESTART_REASONS, 0)

    def update(self, pid: int, snapshot: Snapshot) -> None:
        self.live[pid] = snapshot

    def retire(self, pid: int) -> None:
        """The worker is gone: its counters stay in the totals, its gauges leave them."""
        last = self.live.pop(pid, None)
        if last is not None:
            _add_counters(self.retired, last)

    def restarted(self, reason: str) -> None:
        self.restarts[reason] += 1

    def totals(self) -> Snapshot:
        total = Snapshot()
        _add_counters(total, self.retired)
        for snapshot in self.live.values():
            _add_counters(total, snapshot)
            total.connections = [
                a + b for a, b in zip(total.connections, snapshot.connections, strict=True)
            ]
            total.in_flight += snapshot.in_flight
            total.loop_lag = max(total.loop_lag, snapshot.loop_lag)
        return total

    def render(self, workers: int) -> bytes:
        return render(self.totals(), workers, self.restarts)


def _add_counters(into: Snapshot, other: Snapshot) -> None:
    into.requests = [a + b for a, b in zip(into.requests, other.requests, strict=True)]
    into.buckets = [
        [a + b for a, b in zip(mine, theirs, strict=True)]
        for mine, theirs in zip(into.buckets, other.buckets, strict=True)
    ]
    into.durations = [a + b for a, b in zip(into.durations, other.durations, strict=True)]
    into.received += other.received
    into.sent += other.sent


# ---- the text exposition format ------------------------------------------------------------------


def escape_label(value: str) -> str:
    """A label value in the text format: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def render(total: Snapshot, workers: int, restarts: dict[str, int]) -> bytes:
    """The Prometheus text exposition (0.0.4) of the whole server: every series always present."""
    out: list[str] = []

    def family(name: str, kind: str, help: str) -> None:
        out.append(f"# HELP {name} {help}")
        out.append(f"# TYPE {name} {kind}")

    def sample(name: str, value: float, labels: str = "") -> None:
        out.append(f"{name}{labels} {_number(value)}")

    family(
        "asgiserver_requests_total",
        "counter",
        "Requests answered, by protocol and status class; a WebSocket counts once, by its "
        "handshake answer.",
    )
    for index, protocol in enumerate(PROTOCOLS):
        for status_class in range(1, CLASSES):
            sample(
                "asgiserver_requests_total",
                total.requests[index * CLASSES + status_class],
                _labels(protocol=protocol, status_class=f"{status_class}xx"),
            )
    name = "asgiserver_request_duration_seconds"
    family(name, "histogram", "Time from a request's head to the end of the application's answer.")
    for index, protocol in enumerate(PROTOCOLS):
        if index == WEBSOCKET:
            continue  # a WebSocket's lifetime is not a request duration
        cumulative = 0
        for bound, count in zip((*DURATION_BOUNDS, None), total.buckets[index], strict=True):
            cumulative += count
            le = "+Inf" if bound is None else repr(bound)
            sample(f"{name}_bucket", cumulative, _labels(protocol=protocol, le=le))
        sample(f"{name}_sum", total.durations[index], _labels(protocol=protocol))
        sample(f"{name}_count", cumulative, _labels(protocol=protocol))
    family("asgiserver_requests_in_flight", "gauge", "Application calls running now.")
    sample("asgiserver_requests_in_flight", total.in_flight)
    family("asgiserver_connections", "gauge", "Open client connections, by protocol.")
    for index, protocol in enumerate(PROTOCOLS):
        sample("asgiserver_connections", total.connections[index], _labels(protocol=protocol))
    family("asgiserver_workers", "gauge", "Worker processes serving (not draining).")
    sample("asgiserver_workers", workers)
    family("asgiserver_worker_restarts_total", "counter", "Workers replaced, by the reason why.")
    for reason in RESTART_REASONS:
        sample("asgiserver_worker_restarts_total", restarts[reason], _labels(reason=reason))
    family(
        "asgiserver_event_loop_lag_seconds",
        "gauge",
        "How late the last heartbeat timer ran, the largest over the workers.",
    )
    sample("asgiserver_event_loop_lag_seconds", total.loop_lag)
    family("asgiserver_received_bytes_total", "counter", "Bytes received from clients.")
    sample("asgiserver_received_bytes_total", total.received)
    family("asgiserver_sent_bytes_total", "counter", "Bytes sent to clients.")
    sample("asgiserver_sent_bytes_total", total.sent)
    return ("\n".join(out) + "\n").encode()
