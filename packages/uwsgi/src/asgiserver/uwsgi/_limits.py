from __future__ import annotations

from dataclasses import dataclass
from typing import final

__all__ = ["Limits"]

# The uwsgi datasize field is a u16: no vars block can be larger than this.
MAX_DATASIZE = 0xFFFF


@final
@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits, all checked before the bytes they govern are buffered.

    ``max_vars_bytes``: largest accepted vars block (the packet's datasize), else ``VarsTooLarge``
    (431). The default, 64 KiB, admits every block the 16-bit datasize can express; lower it to
    bound per-connection memory further (uWSGI itself defaults to a 4 KiB ``buffer-size``).

    ``max_body_bytes``: largest accepted CONTENT_LENGTH, else ``BodyTooLarge`` (413) as soon as the
    vars block is parsed, before any body byte is read. ``None`` (the default) means no limit: the
    body is streamed as ``Data`` events and never buffered here, and nginx already enforces
    ``client_max_body_size`` (1 MiB by default).
    """

    max_vars_bytes: int = 64 * 1024
    max_body_bytes: int | None = None

    def __post_init__(self) -> None:
        if type(self.max_vars_bytes) is not int or self.max_vars_bytes < 0:
            raise ValueError(f"max_vars_bytes must be an int >= 0, not {self.max_vars_bytes!r}")
        if self.max_body_bytes is not None and (
            type(self.max_body_bytes) is not int or self.max_body_bytes < 0
        ):
            raise ValueError(
                f"max_body_bytes must be None or an int >= 0, not {self.max_body_bytes!r}"
            )
