# The optional compiled accelerator (_speedups.c); _frames holds the reference functions.

from ._events import BytesMessage, Event, TextMessage

def unmask(data: bytes | bytearray | memoryview, mask: bytes | bytearray, /) -> bytes: ...
def scan_messages(
    buf: bytearray,
    pos: int,
    max_length: int,
    events: list[Event],
    text_type: type[TextMessage],
    bytes_type: type[BytesMessage],
    /,
) -> int: ...
