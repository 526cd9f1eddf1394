"""Per-connection limits and abuse budgets, checked before input is buffered or decoded."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import final

__all__ = ["Limits"]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what a peer may make us buffer, decode or do.

    Advertised in our SETTINGS (RFC 9113 §6.5.2) and enforced with the same values:
    ``max_concurrent_streams`` (over it: RST_STREAM(REFUSED_STREAM), RFC 9113 §5.1.2),
    ``initial_window_size`` (per-stream receive window), ``max_frame_size`` (FRAME_SIZE_ERROR past
    it, RFC 9113 §4.2), ``max_header_list_size`` (decoded, name + value + 32 per field; 431 on the
    stream past it).

    Not advertised: ``connection_window`` (the connection receive window, raised once after the
    preface, RFC 9113 §6.9.2; it bounds the unconsumed request body per connection),
    ``max_header_block_bytes`` (encoded HEADERS + CONTINUATION bytes, checked before HPACK
    decoding; GOAWAY(ENHANCE_YOUR_CALM) past it), ``max_continuation_frames`` (per header block),
    ``max_header_count`` (fields per header or trailer list; 431), ``max_requests`` (then a
    graceful GOAWAY), ``reset_budget`` (stream resets by the peer or provoked by it, and refused
    streams, before GOAWAY(ENHANCE_YOUR_CALM); each cleanly finished stream earns one back),
    ``max_new_streams_per_read`` (streams opened by one ``receive_data`` call; the rest are
    refused), ``max_control_frames`` (PING, SETTINGS, PRIORITY, WINDOW_UPDATE, RST_STREAM on
    closed streams, empty DATA, unknown frames and frames on closed streams before
    GOAWAY(ENHANCE_YOUR_CALM); useful work earns credit back).
    """

    max_concurrent_streams: int = 100
    initial_window_size: int = 256 * 1024
    connection_window: int = 1024 * 1024
    max_frame_size: int = 16384
    max_header_list_size: int = 64 * 1024
    max_header_block_bytes: int = 64 * 1024
    max_continuation_frames: int = 8
    max_header_count: int = 100
    max_requests: int = 1000
    reset_budget: int = 100
    max_new_streams_per_read: int = 200
    max_control_frames: int = 1000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value < 0:
                raise ValueError(f"Limits.{f.name} must be a non-negative int, not {value!r}")
        # RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE is 2^14..2^24-1; windows are at most 2^31-1.
        if not 16384 <= self.max_frame_size <= (1 << 24) - 1:
            raise ValueError("Limits.max_frame_size must be in 16384..16777215 (RFC 9113 §6.5.2)")
        if self.initial_window_size > (1 << 31) - 1:
            raise ValueError("Limits.initial_window_size must be at most 2^31-1 (RFC 9113 §6.9.2)")
        if not 65535 <= self.connection_window <= (1 << 31) - 1:
            raise ValueError("Limits.connection_window must be in 65535..2^31-1 (RFC 9113 §6.9.2)")
        if self.max_requests < 1 or self.max_new_streams_per_read < 1:
            raise ValueError("Limits.max_requests and max_new_streams_per_read must be at least 1")
