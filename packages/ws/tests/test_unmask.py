"""Masking (RFC 6455 §5.3): the compiled accelerator against the pure-Python reference.

``_frames.unmask_python`` defines the behaviour; ``_speedups.unmask`` must return the same bytes
for the same inputs: any length (across its 8-byte words and the reference's 16 KiB chunks), any
start offset in a larger buffer, bytes, bytearray or memoryview, a 4-byte or an empty mask.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from ws_helpers import compiled_unmask, frame

from asgiserver.ws import BytesMessage, Limits, ServerConnection, TextMessage, _connection, _frames
from asgiserver.ws._frames import unmask_python

# Around the compiled loop's 8-byte words and the reference's 16 KiB chunks.
EDGES = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 4095, 4096, 4097, 16383, 16384, 16385, 32771, 70000]
masks = st.one_of(st.binary(min_size=4, max_size=4), st.just(b""))


def spec_unmask(data: bytes, mask: bytes) -> bytes:
    """§5.3 word for word: octet i XOR octet i MOD 4 of the key."""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data)) if mask else bytes(data)


@given(data=st.binary(max_size=300), mask=masks)
def test_the_reference_follows_the_rfc(data: bytes, mask: bytes) -> None:
    assert unmask_python(data, mask) == spec_unmask(data, mask)


@pytest.mark.parametrize("length", EDGES)
def test_the_reference_follows_the_rfc_at_chunk_edges(length: int) -> None:
    data = random.Random(length).randbytes(length)
    assert unmask_python(data, b"\x01\x80\xfe\x37") == spec_unmask(data, b"\x01\x80\xfe\x37")


@given(
    length=st.one_of(st.integers(0, 70_000), st.sampled_from(EDGES)),
    offset=st.integers(0, 9),
    seed=st.integers(0, 2**32),
    mask=masks,
    kind=st.sampled_from(["bytes", "bytearray", "memoryview of bytes", "memoryview of bytearray"]),
    mask_kind=st.sampled_from([bytes, bytearray]),
)
@example(length=70_000, offset=3, seed=0, mask=b"\xff\x00\xaa\x55", kind="bytes", mask_kind=bytes)
def test_compiled_matches_the_reference(
    length: int, offset: int, seed: int, mask: bytes, kind: str, mask_kind: type
) -> None:
    unmask = compiled_unmask()
    blob = random.Random(seed).randbytes(offset + length + 5)
    data: bytes | bytearray | memoryview
    if kind == "bytes":
        data = blob[offset : offset + length]
    elif kind == "bytearray":
        data = bytearray(blob[offset : offset + length])
    elif kind == "memoryview of bytes":
        data = memoryview(blob)[offset : offset + length]  # an odd start, no copy
    else:
        data = memoryview(bytearray(blob))[offset : offset + length]
    key = mask_kind(mask)
    got = unmask(data, key)
    assert type(got) is bytes
    assert got == unmask_python(data, key)
    assert unmask(got, key) == bytes(data)  # XOR twice is the identity


def test_compiled_rejects_what_the_engine_never_passes() -> None:
    unmask = compiled_unmask()
    with pytest.raises(ValueError, match="4 bytes"):
        unmask(b"abcdef", b"abc")
    with pytest.raises(TypeError):
        unmask("text", b"abcd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        unmask(b"abcdef")  # type: ignore[call-arg]
    with pytest.raises(BufferError):  # not contiguous
        unmask(memoryview(b"abcdefgh")[::2], b"abcd")


@pytest.mark.parametrize("read", [1, 7, 4096, 5003, 70_001])
@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_large_frames_in_reads_of_any_size(opcode: int, read: int) -> None:
    """Every call site: small payloads (inlined or sliced), large ones (a memoryview of the
    buffer), and a text frame consumed piece by piece as it arrives, in each mask phase."""
    text = "".join(chr(0x41 + i % 26) + "\u00e9\u20ac\U0001f600" for i in range(12_000))
    payload = text.encode() if opcode == 0x1 else random.Random(read).randbytes(100_003)
    small = b"\xc3\xa9" * 1500  # 3000 bytes: under the inlining bound
    just_over = b"\xc3\xa9" * 2049  # 4098 bytes: just over it
    wire = frame(opcode, payload) + frame(opcode, small) + frame(opcode, just_over)
    if read == 1:
        wire = wire[:20_000]  # byte by byte is slow: the first text pieces are enough
    conn = ServerConnection(limits=Limits(max_message_bytes=1 << 20, max_frame_bytes=1 << 20))
    events = []
    for i in range(0, len(wire), read):
        conn.receive_data(wire[i : i + read])
        events += conn.events_received()
    if read == 1:
        assert events == []
        return
    if opcode == 0x1:
        assert events == [
            TextMessage(text),
            TextMessage("\u00e9" * 1500),
            TextMessage("\u00e9" * 2049),
        ]
    else:
        assert events == [BytesMessage(payload), BytesMessage(small), BytesMessage(just_over)]


def test_the_engine_calls_the_implementation_under_test(unmask_impl: str) -> None:
    """The conftest fixture really switches what the connection calls."""
    expected = compiled_unmask() if unmask_impl == "compiled" else unmask_python
    assert vars(_connection)["unmask"] is expected  # the name the engine calls
    assert _frames.unmask is expected
