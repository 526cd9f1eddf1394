"""The plainest whole messages in one call: the compiled scan against the pure-Python reference.

``_frames.scan_messages_python`` defines the behaviour; ``_speedups.scan_messages`` must take the
same frames, make equal events of the same types, and stop at the same place, on any bytes: every
frame the reference leaves (fragments, control frames, reserved bits, unmasked or non-minimal
lengths, 64-bit lengths, over the limit, incomplete, invalid UTF-8) goes to the engine's general
parser, which the rest of the suite tests on both paths.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from ws_helpers import compiled_scan, frame

from asgiserver.ws import BytesMessage, Event, TextMessage, _connection, _frames
from asgiserver.ws._frames import scan_messages_python

texts = st.lists(
    st.one_of(st.integers(0, 0x7F), st.integers(0x80, 0xD7FF), st.integers(0xE000, 0x10FFFF)),
    max_size=80,
).map(lambda cps: "".join(map(chr, cps)).encode())
payloads = st.one_of(
    st.binary(max_size=300),
    texts,
    st.binary(min_size=120, max_size=130),  # around the last 7-bit length
    st.integers(0, 2).map(lambda k: b"\xc3\xa9" * (100 + 20 * k)),  # text past the stack buffer
)
frames = st.builds(
    lambda opcode, payload, fin, rsv, mask, length_size: frame(
        opcode,
        payload,
        fin=fin,
        rsv=rsv,
        mask=mask,
        # 0 (7 bits) only fits up to 125; 2 and 8 below 126 and 65536 are non-minimal.
        length_size=None if length_size == 0 and len(payload) > 125 else length_size,
    ),
    opcode=st.sampled_from([0x1, 0x2, 0x1, 0x2, 0x0, 0x8, 0x9, 0xA, 0x3]),
    payload=payloads,
    fin=st.booleans() | st.just(True),
    rsv=st.sampled_from([0, 0, 0, 0x40, 0x20, 0x10]),
    mask=st.binary(min_size=4, max_size=4) | st.none(),
    length_size=st.sampled_from([None, None, None, 0, 2, 8]),
)
# Bad UTF-8 in a frame that is otherwise taken: a cut character, a stray byte, a surrogate.
bad_texts = st.builds(
    lambda good, junk: frame(0x1, good + junk, mask=b"\x01\x80\xfe\x37"),
    texts,
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]),
)


def run(
    scan: Callable[..., int], buf: bytearray, pos: int, max_length: int
) -> tuple[int | str, list[Event]]:
    events: list[Event] = []
    try:
        end = scan(buf, pos, max_length, events, TextMessage, BytesMessage)
    except Exception as exc:  # whatever either raises, the other must raise too
        return type(exc).__name__, events
    return end, events


@given(
    wire=st.lists(st.one_of(frames, bad_texts), max_size=8).map(b"".join),
    cut=st.integers(0, 10_000),
    pos=st.integers(0, 12),
    max_length=st.sampled_from([0, 5, 125, 126, 200, 1 << 24]),
)
@example(wire=frame(0x2, b"x" * 125, length_size=2), cut=10_000, pos=0, max_length=1 << 24)
def test_compiled_matches_the_reference(wire: bytes, cut: int, pos: int, max_length: int) -> None:
    buf = bytearray(wire[: min(cut, len(wire))])  # often an incomplete last frame
    pos = min(pos, len(buf))
    expected = run(scan_messages_python, buf, pos, max_length)
    got = run(compiled_scan(), buf, pos, max_length)
    assert got == expected
    assert [type(e) for e in got[1]] == [type(e) for e in expected[1]]


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 125, 126, 255, 256, 257, 1000, 65535])
def test_the_reference_takes_plain_whole_messages(size: int) -> None:
    """§5.2/§5.3: final, masked, unreserved text and binary frames of either length form, each
    unmasked with its own key; the first frame of any other kind stops it."""
    rng = random.Random(size)
    data = rng.randbytes(size)
    text = ("é" * size)[: size // 2]
    wire = (
        frame(0x2, data, mask=rng.randbytes(4))
        + frame(0x1, text.encode(), mask=rng.randbytes(4))
        + frame(0x9, b"ping")
        + frame(0x2, b"after")
    )
    for scan in (scan_messages_python, compiled_scan()):
        events: list[Event] = []
        end = scan(bytearray(b"??" + wire), 2, 1 << 20, events, TextMessage, BytesMessage)
        assert events == [BytesMessage(data), TextMessage(text)]
        assert end == 2 + wire.index(frame(0x9, b"ping"))


def test_the_limit_is_inclusive() -> None:
    wire = bytearray(frame(0x2, b"12345") + frame(0x2, b"123456"))
    for scan in (scan_messages_python, compiled_scan()):
        events: list[Event] = []
        assert scan(wire, 0, 5, events, TextMessage, BytesMessage) == 11
        assert events == [BytesMessage(b"12345")]


def test_compiled_events_are_the_real_thing() -> None:
    """Made without __init__, they must still be frozen, hashable, equal to constructed ones."""
    events: list[Event] = []
    wire = bytearray(frame(0x1, b"hi") + frame(0x2, b"\x00"))
    compiled_scan()(wire, 0, 100, events, TextMessage, BytesMessage)
    text, data = events
    assert (type(text), type(data)) == (TextMessage, BytesMessage)
    assert hash(text) == hash(TextMessage("hi")) and repr(data) == "BytesMessage(data=b'\\x00')"
    assert type(text.text) is str and type(data.data) is bytes
    with pytest.raises(AttributeError):
        text.text = "changed"  # type: ignore[misc]


def test_compiled_rejects_what_the_engine_never_passes() -> None:
    scan = compiled_scan()
    with pytest.raises(TypeError):
        scan(bytearray(), 0, 1, (), TextMessage, BytesMessage)
    with pytest.raises(TypeError):
        scan(bytearray(), 0, 1, [], "TextMessage", BytesMessage)
    with pytest.raises(TypeError):
        scan(bytearray(), 0, 1, [])
    with pytest.raises(ValueError):
        scan(bytearray(), -1, 1, [], TextMessage, BytesMessage)


def test_the_engine_calls_the_implementation_under_test(unmask_impl: str) -> None:
    """The conftest fixture really switches what the connection calls."""
    expected = compiled_scan() if unmask_impl == "compiled" else scan_messages_python
    assert vars(_connection)["scan_messages"] is expected
    assert _frames.scan_messages is expected
