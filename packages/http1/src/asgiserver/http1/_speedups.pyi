# The optional compiled accelerator (_speedups.c); the Python parser and _writer.encode_fields are
# the reference.

from ._events import Headers
from ._parser import NamesCache
from ._writer import Encoded

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
def encode_fields(headers: Headers, /) -> Encoded | None: ...
