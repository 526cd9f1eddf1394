"""Hypothesis properties of what the app sends: round trip of failure texts, unknown keys
ignored, and totality over arbitrary objects in every phase."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from asgiserver.lifespan import (
    ConnectionFailed,
    Lifespan,
    Mode,
    ShutdownComplete,
    ShutdownFailed,
    StartupComplete,
    StartupFailed,
    State,
)


def starting() -> Lifespan:
    m = Lifespan(Mode.ON)
    m.startup()
    m.next_message()
    return m


def started() -> Lifespan:
    m = starting()
    m.app_sent({"type": "lifespan.startup.complete"})
    m.events_received()
    return m


def stopping() -> Lifespan:
    m = started()
    m.shutdown()
    m.next_message()
    return m


@given(st.text())
@example("")
@example("line one\nline two")
def test_failure_messages_round_trip(text: str) -> None:
    """Spec "Startup Failed"/"Shutdown Failed": the app's message reaches the server unchanged."""
    m = starting()
    m.app_sent({"type": "lifespan.startup.failed", "message": text})
    assert m.events_received() == [StartupFailed(text)]
    m = stopping()
    m.app_sent({"type": "lifespan.shutdown.failed", "message": text})
    assert m.events_received() == [ShutdownFailed(text)]


extra_keys = st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in ("type", "message")),
    st.one_of(st.none(), st.integers(), st.text(max_size=5), st.binary(max_size=5)),
    max_size=4,
)


@given(extra_keys)
def test_unknown_keys_are_ignored(extra: dict[str, object]) -> None:
    m = starting()
    m.app_sent({**extra, "type": "lifespan.startup.complete"})
    assert m.events_received() == [StartupComplete()]
    m.shutdown()
    m.app_sent({"type": "lifespan.shutdown.complete", **extra})
    assert m.events_received() == [ShutdownComplete()]


anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=40),
        st.binary(max_size=10),
        st.sampled_from(
            [
                "lifespan.startup.complete",
                "lifespan.startup.failed",
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed",
                "type",
                "message",
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["type", "message"]),
                inner.filter(lambda x: isinstance(x, (str, int, bytes, bool, type(None)))),
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)


@given(anything)
@example({"type": "lifespan.startup.complete", "message": float("nan")})
@example({"type": "lifespan.startup.failed", "message": b"bytes"})
def test_any_object_yields_exactly_one_defined_outcome(message: object) -> None:
    """Totality: whatever the app passes to send(), each phase answers with exactly one of
    its own events, never an exception."""
    m = starting()
    m.app_sent(message)  # type: ignore[arg-type]
    [event] = m.events_received()
    assert type(event) in (StartupComplete, StartupFailed)

    m = started()
    m.app_sent(message)  # type: ignore[arg-type]
    [event] = m.events_received()
    assert type(event) is ConnectionFailed
    assert m.state is State.APP_FAILED

    m = stopping()
    m.app_sent(message)  # type: ignore[arg-type]
    [event] = m.events_received()
    assert type(event) in (ShutdownComplete, ShutdownFailed)
