"""The README's driving loop is executed as written, so it can't rot."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from uwsgi_wire import header, nginx_vars, packet

README = Path(__file__).parent.parent / "README.md"


def load_serve() -> Callable[..., None]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    source = next(b for b in blocks if "def serve(" in b)
    assert len(source.splitlines()) <= 40
    namespace: dict[str, object] = {}
    exec(compile(source, str(README), "exec"), namespace)
    serve = namespace["serve"]
    assert callable(serve)
    return serve


def run(chunks: list[bytes]) -> bytes:
    incoming = iter(chunks)
    out: list[bytes] = []
    load_serve()(lambda: next(incoming), out.append)
    return b"".join(out)


def test_request_with_a_body() -> None:
    wire = packet(nginx_vars(b"POST", b"/upload?x=1", body=b"hello"), b"hello")
    out = run([wire[:7], wire[7:-2], wire[-2:]])
    assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 22\r\n\r\nPOST /upload: 5 bytes\n"


def test_request_without_a_body_never_reads_eof() -> None:
    # The loop ends when the response is complete; recv() is not called again.
    out = run([packet(nginx_vars())])
    assert out == b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\nGET /: 0 bytes\n"


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([header(0, modifier1=5)], b"HTTP/1.1 501 Not Implemented\r\n\r\n"),
        (
            [packet(nginx_vars(b"POST", body=b"abc"), b"a"), b""],
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
        ),
        ([b""], b""),
    ],
)
def test_failures(chunks: list[bytes], expected: bytes) -> None:
    assert run(chunks) == expected
