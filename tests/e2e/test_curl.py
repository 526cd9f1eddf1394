"""The real `asgiserver` command driven by curl, as operators and scripts use it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import ServerProcess, require_tool


def curl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [require_tool("curl"), "--silent", "--show-error", "--max-time", "20", *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def test_large_post_uses_expect_100_continue(server: ServerProcess, tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"z" * (3 * 2**20))  # curl sends Expect: 100-continue for large bodies
    result = curl("-v", "--data-binary", f"@{body}", f"{server.url}/length")
    assert result.returncode == 0, result.stderr
    assert result.stdout == str(3 * 2**20).encode()
    assert b"HTTP/1.1 100 Continue" in result.stderr


def test_chunked_upload(server: ServerProcess, tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_bytes(bytes(range(256)) * 1000)
    result = curl(
        "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{body}", f"{server.url}/echo"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == body.read_bytes()


def test_raw_chunked_download(server: ServerProcess) -> None:
    result = curl("--raw", f"{server.url}/chunks")
    assert result.stdout == b"".join(b"7\r\nchunk%d;\r\n" % i for i in range(5)) + b"0\r\n\r\n"


def test_http10_client(server: ServerProcess) -> None:
    result = curl("--http1.0", "-i", f"{server.url}/chunks")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"chunk0;chunk1;chunk2;chunk3;chunk4;"


def test_head_request(server: ServerProcess) -> None:
    result = curl("-I", f"{server.url}/head")
    assert result.stdout.startswith(b"HTTP/1.1 200")
    assert b"content-length: 29" in result.stdout.lower()


def test_keep_alive_reuses_the_connection(server: ServerProcess) -> None:
    result = curl("-v", f"{server.url}/", f"{server.url}/pid")
    assert result.stdout == b"hello" + str(server.pid).encode()
    assert b"Re-using existing connection" in result.stderr or b"Reusing existing" in result.stderr
