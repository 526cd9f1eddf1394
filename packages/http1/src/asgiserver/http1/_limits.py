"""Per-connection limits, checked before input is buffered past them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import final

__all__ = ["Limits"]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what a peer may make us buffer or accept.

    ``max_request_line_bytes``: request line without its CRLF; 414 past it.
    ``max_header_bytes``: field lines of the header section (and, separately, of the trailer
    section) including their CRLFs; 431 past it.
    ``max_header_count``: field lines per header or trailer section; 431 past it.
    ``max_body_bytes``: ``None`` for no limit; 413 as soon as a Content-Length or the running total
    of chunk sizes exceeds it, before the body is read.
    ``max_chunk_extension_bytes``: total bytes of chunk extensions (everything between a chunk size
    and its CRLF) in one request; 400 past it.  Extensions are parsed and ignored, so this only
    bounds the work a peer can make us do without sending body bytes (CVE-2024-22019).
    ``max_status_line_bytes``: a response's status line without its CRLF (``ClientConnection``
    only); ``StatusLineTooLong`` past it.  The other limits bound responses as they bound requests.
    """

    max_request_line_bytes: int = 8 * 1024
    max_header_bytes: int = 64 * 1024
    max_header_count: int = 100
    max_body_bytes: int | None = None
    max_chunk_extension_bytes: int = 16 * 1024
    max_status_line_bytes: int = 8 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name == "max_body_bytes":
                continue
            if type(value) is not int or value < 0:
                raise ValueError(f"Limits.{f.name} must be a non-negative int, not {value!r}")
        if self.max_request_line_bytes < 16:
            raise ValueError("Limits.max_request_line_bytes must be at least 16")
        if self.max_status_line_bytes < 16:
            raise ValueError("Limits.max_status_line_bytes must be at least 16")
