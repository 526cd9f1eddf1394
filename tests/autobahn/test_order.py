"""What the fixes behind Autobahn|Testsuite's strict cases guarantee, end to end and without Python 2:
the app answers the messages that came before a protocol error before the close goes out (3.2, 4.1.3,
5.15), and invalid UTF-8 fails a text frame at the bad byte, before the frame ends (6.4.3, 6.4.4).

Against the real `asgiserver` command on this directory's echo app; raw sockets, frames built here.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from pathlib import Path

import pytest

from conftest import ServerProcess, read_response, recv_until_closed

HERE = Path(__file__).parent
KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  # Autobahn's 6.4.x text, 11 bytes


def masked(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    assert n < 126
    head = bytes([(0x80 if fin else 0) | rsv | opcode, 0x80 | n]) + mask
    return head + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each unmasked server frame (small ones only)."""
    out = []
    while data:
        n = data[1] & 0x7F
        assert n < 126, data[:4]
        out.append((data[0] & 0x0F, data[2 : 2 + n]))
        data = data[2 + n :]
    return out


def opened(server: ServerProcess) -> tuple[socket.socket, bytes]:
    sock = server.connect()
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head, rest = read_response(sock, head_only=True)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


@pytest.fixture
def echo(start_server) -> ServerProcess:
    return start_server("echo:app", "--app-dir", str(HERE), "--ws-ping-interval", "0")


@pytest.mark.parametrize(
    "bad",
    [
        masked(0x1, b"x", rsv=0x20),  # 3.2: RSV = 2 (RFC 6455 §5.2)
        masked(0x5, b""),  # 4.1.3: reserved non-control opcode
        masked(0xD, b""),  # 4.2.3: reserved control opcode
        masked(0x0, b"x", fin=False),  # 5.15's kind: a continuation with nothing to continue
    ],
    ids=["3.2", "4.1.3", "4.2.3", "5.15"],
)
def test_a_message_before_a_bad_frame_is_answered_before_the_close(
    echo: ServerProcess, bad: bytes
) -> None:
    sock, rest = opened(echo)
    with sock:
        # One write: the message, the bad frame, and a ping that must never be answered (§7.1.7).
        sock.sendall(masked(0x1, b"Hello, world!") + bad + masked(0x9, b"never"))
        got = frames(rest + recv_until_closed(sock))
    assert got[0] == (0x1, b"Hello, world!")
    assert got[1][0] == 0x8 and int.from_bytes(got[1][1][:2], "big") == 1002
    assert len(got) == 2


def test_fragments_then_a_stray_continuation_answer_first(echo: ServerProcess) -> None:
    """Autobahn 5.15, in one write: a 2-fragment message, a stray continuation, a message."""
    sock, rest = opened(echo)
    with sock:
        sock.sendall(
            masked(0x1, b"frag", fin=False)
            + masked(0x0, b"ment")
            + masked(0x0, b"stray", fin=False)
            + masked(0x1, b"never")
        )
        got = frames(rest + recv_until_closed(sock))
    assert [op for op, _ in got] == [0x1, 0x8]
    assert got[0][1] == b"fragment"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (KOSME, b"\xf4\x90\x80\x80"),  # 6.4.3: the bad sequence in the second chop
        (KOSME + b"\xf4", b"\x90"),  # 6.4.4: its second byte alone
    ],
    ids=["6.4.3", "6.4.4"],
)
def test_invalid_utf8_fails_a_frame_at_the_bad_byte(
    echo: ServerProcess, first: bytes, second: bytes
) -> None:
    sock, rest = opened(echo)
    payload = first + second + b"edited"
    wire = masked(0x1, payload)
    head = len(wire) - len(payload)
    with sock:
        sock.sendall(wire[: head + len(first)])
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):  # a valid prefix: nothing yet
            rest += sock.recv(100)
        sock.sendall(wire[head + len(first) : head + len(first) + len(second)])
        # The close comes now, though the frame still lacks its last 6 bytes.
        got = frames(rest + recv_until_closed(sock, timeout=5))
    assert [(op, int.from_bytes(p[:2], "big")) for op, p in got] == [(0x8, 1007)]


def test_an_app_that_never_asks_again_still_gets_the_close_out(start_server) -> None:
    """The answers before a protocol error may wait for the app, but not forever: the close goes
    out after the channel's deadline (CLOSE_TIMEOUT, 5 s)."""
    server = start_server("echo:first_only", "--app-dir", str(HERE), "--ws-ping-interval", "0")
    sock, rest = opened(server)
    with sock:
        started = time.monotonic()
        sock.sendall(masked(0x1, b"one") + masked(0x1, b"two") + masked(0x1, b"x", rsv=0x10))
        got = frames(rest + recv_until_closed(sock, timeout=15))
        waited = time.monotonic() - started
    assert got[0] == (0x1, b"one")
    assert got[-1][0] == 0x8 and int.from_bytes(got[-1][1][:2], "big") == 1002
    assert 4 < waited < 10
