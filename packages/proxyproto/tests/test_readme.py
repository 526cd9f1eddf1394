"""The README's reading loop is executed as written, so it can't rot."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from asgiserver.proxyproto import ProxyProtocolError, encode_v1, encode_v2

README = Path(__file__).parent.parent / "README.md"


def load_read_header() -> Callable[..., object]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    source = next(b for b in blocks if "def read_header(" in b)
    namespace: dict[str, object] = {}
    exec(compile(source, str(README), "exec"), namespace)
    return namespace["read_header"]  # type: ignore[return-value]


class Stream:
    """A socket's receive queue that arrives in pieces: peek() sees what has arrived so far."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.buffer = b""

    def peek(self) -> bytes:
        if self.pieces:
            self.buffer += self.pieces.pop(0)
        return self.buffer

    def recv(self, n: int) -> bytes:
        taken, self.buffer = self.buffer[:n], self.buffer[n:]
        return taken


@pytest.mark.parametrize(
    "header",
    [
        encode_v1("inet", ("192.0.2.1", 5), ("192.0.2.2", 80)),
        encode_v2("proxy", "inet6", "stream", ("2001:db8::1", 5), ("2001:db8::2", 443)),
    ],
)
def test_reads_exactly_the_header(header: bytes) -> None:
    wire = header + b"\x16\x03\x01 the TLS ClientHello"
    stream = Stream([wire[:3], wire[3:20], wire[20:]])
    parsed = load_read_header()(stream.recv, stream.peek)
    assert parsed.length == len(header)  # type: ignore[attr-defined]
    assert stream.peek() + b"".join(stream.pieces) == b"\x16\x03\x01 the TLS ClientHello"


def test_garbage_and_eof_raise() -> None:
    read_header = load_read_header()
    with pytest.raises(ProxyProtocolError):
        stream = Stream([b"GET / HTTP/1.1\r\n"])
        read_header(stream.recv, stream.peek)
    with pytest.raises(ProxyProtocolError):
        stream = Stream([b"PROXY TCP4 1.2", b""])
        read_header(stream.recv, stream.peek)
