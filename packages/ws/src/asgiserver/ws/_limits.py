"""Per-connection limits, checked before anything is buffered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

__all__ = ["Limits"]


@final
@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a peer can make us hold in memory; exceeding one fails with 1009.

    - ``max_message_bytes`` (16 MiB): a reassembled message, counted across fragments and after
      decompression. Checked from each frame header before its payload is buffered, and while
      inflating (the inflater never produces more than the remaining room, plus one byte).
    - ``max_frame_bytes`` (16 MiB): the declared payload length of one frame on the wire, checked as
      soon as the header is complete. The receive buffer never holds more than one incomplete frame,
      so this bounds it. Browsers send most messages as a single frame, hence the same default.
      Control frames are always limited to 125 bytes (RFC 6455 §5.5).
    """

    max_message_bytes: int = 16 * 2**20
    max_frame_bytes: int = 16 * 2**20

    def __post_init__(self) -> None:
        if self.max_message_bytes < 0 or self.max_frame_bytes < 0:
            raise ValueError("limits must not be negative")
