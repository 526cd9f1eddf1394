"""What a worker counts for `--metrics`: requests by protocol and status class, their durations,
and bytes. The drivers and the connection add to one `RequestCounters` per worker (plain integer
adds, no locks: one event loop owns it); the worker sends a cumulative snapshot to the master once a
second (`_process/metrics.py`), which adds up every worker's and renders the Prometheus text."""

from __future__ import annotations

from bisect import bisect_left

HTTP1, HTTP2, UWSGI, WEBSOCKET = range(4)
PROTOCOLS = ("http/1.1", "http/2", "uwsgi", "websocket")  # the `protocol` label, by index
CLASSES = 6  # slots per protocol: index status // 100 (1xx..5xx); slot 0 takes nonsense statuses

# Upper bounds of the duration histogram's buckets, in seconds (Prometheus' client defaults); the
# last bucket (+Inf) has no bound here.
DURATION_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class RequestCounters:
    """One worker's cumulative counters; only ever grow while the worker lives."""

    __slots__ = ("buckets", "durations", "received", "requests", "sent")

    def __init__(self) -> None:
        self.requests = [0] * (len(PROTOCOLS) * CLASSES)
        # Per protocol: observations per bucket (not cumulative; the master adds them up).
        self.buckets = [[0] * (len(DURATION_BOUNDS) + 1) for _ in PROTOCOLS]
        self.durations = [0.0] * len(PROTOCOLS)  # the histograms' sums
        self.received = 0
        self.sent = 0

    def request_done(self, protocol: int, status: int, seconds: float | None) -> None:
        """One answered request (or WebSocket handshake); `seconds` None for answers the
        application never made (rejections), which the duration histogram leaves out."""
        self.requests[protocol * CLASSES + (status // 100 if 100 <= status < 600 else 0)] += 1
        if seconds is not None:
            # Bucket i holds observations <= DURATION_BOUNDS[i] (Prometheus' `le` is inclusive).
            self.buckets[protocol][bisect_left(DURATION_BOUNDS, seconds)] += 1
            self.durations[protocol] += seconds
