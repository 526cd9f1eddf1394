# The optional compiled accelerator (_speedups.c); the Python parser is the reference.

from ._parser import NamesCache

def parse_head(
    data: bytes,
    pos: int,
    max_request_line_bytes: int,
    max_header_bytes: int,
    max_header_count: int,
    cache: NamesCache,
    /,
) -> (
    tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]], list[bytes], tuple[bytes, ...], int]
    | None
): ...
