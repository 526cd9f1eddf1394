"""The transition tables: every (state, input) pair, the cross-side rules, and the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgiserver.uwsgi import LocalProtocolError, State
from asgiserver.uwsgi._state import (
    CLOSE_EXPECTED,
    CROSS,
    OUR_TRANSITIONS,
    THEIR_TRANSITIONS,
    ConnectionState,
    Input,
)

PACKAGE = Path(__file__).parent.parent
SOURCE = PACKAGE / "src" / "asgiserver" / "uwsgi"
PAIRS = [(s, i) for s in State for i in Input]


def make(their: State = State.IDLE, our: State = State.IDLE) -> ConnectionState:
    cs = ConnectionState()
    cs.their, cs.our = their, our
    return cs


@pytest.mark.parametrize(("state", "event"), PAIRS)
def test_every_peer_pair(state: State, event: Input) -> None:
    # A pair missing from the table fails closed: their side goes to ERROR.
    cs = make(their=state)
    new = cs.process_theirs(event)
    assert new is cs.their is THEIR_TRANSITIONS.get((state, event), State.ERROR)


@pytest.mark.parametrize(("state", "event"), PAIRS)
def test_every_local_pair(state: State, event: Input) -> None:
    # A pair missing from the table is the caller's error, and changes nothing.
    cs = make(their=State.DONE, our=state)
    expected = OUR_TRANSITIONS.get((state, event))
    if expected is None:
        with pytest.raises(LocalProtocolError):
            cs.process_ours(event)
        assert cs.our is state
    else:
        cs.process_ours(event)
        assert cs.our is expected


@pytest.mark.parametrize("their", list(State))
def test_a_response_needs_a_request_or_its_failure(their: State) -> None:
    cs = make(their=their)
    if their in (State.IDLE, State.HEAD):
        with pytest.raises(LocalProtocolError, match="before a request"):
            cs.process_ours(Input.RESPONSE)
        assert cs.our is State.IDLE
    else:
        cs.process_ours(Input.RESPONSE)
        assert cs.our is State.SEND_BODY


def test_eof_before_a_request_leaves_nothing_to_send() -> None:
    cs = make()
    cs.process_theirs(Input.EOF)
    assert (cs.their, cs.our) == (State.CLOSED, State.MUST_CLOSE)


def test_eof_after_the_request_still_owes_the_response() -> None:
    cs = make(their=State.DONE)
    cs.process_theirs(Input.EOF)
    assert (cs.their, cs.our) == (State.CLOSED, State.IDLE)


@pytest.mark.parametrize("event", [Input.EOF, Input.FAILURE])
def test_body_cut_short_under_our_response(event: Input) -> None:
    cs = make(their=State.SEND_BODY, our=State.SEND_BODY)
    cs.process_theirs(event)
    assert (cs.their, cs.our) == (State.ERROR, State.MUST_CLOSE)


@pytest.mark.parametrize("our", [State.IDLE, State.DONE])
def test_failure_keeps_our_side_when_no_response_is_in_flight(our: State) -> None:
    cs = make(their=State.SEND_BODY, our=our)
    cs.process_theirs(Input.FAILURE)
    assert (cs.their, cs.our) == (State.ERROR, our)


def test_fail_ours() -> None:
    cs = make(their=State.DONE, our=State.SEND_BODY)
    cs.fail_ours()
    assert cs.our is State.ERROR
    assert cs.our in CLOSE_EXPECTED


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(list(Input))), max_size=30))
def test_random_walks_keep_the_invariants(steps: list[tuple[bool, Input]]) -> None:
    cs = ConnectionState()
    for theirs, event in steps:
        before = (cs.their, cs.our)
        if theirs:
            cs.process_theirs(event)
            if before[0] in (State.ERROR, State.CLOSED):
                assert cs.their is State.ERROR  # terminal: nothing is accepted any more
            if cs.our is not before[1]:
                assert CROSS[before[0], cs.their, before[1]] is cs.our
        else:
            try:
                cs.process_ours(event)
            except LocalProtocolError:
                assert (cs.their, cs.our) == before
            else:
                assert cs.our is OUR_TRANSITIONS[before[1], event]
        # Our side never leaves a close-expected state (DONE, MUST_CLOSE, ERROR).
        if before[1] in CLOSE_EXPECTED:
            assert cs.our in CLOSE_EXPECTED


def render_tables() -> str:
    """The README's state table, generated from the tables (so the docs can't drift)."""
    lines = ["| side | from | input | to |", "|---|---|---|---|"]
    for (state, event), new in THEIR_TRANSITIONS.items():
        lines.append(f"| theirs | {state.value} | {event.value} | {new.value} |")
    for (state, event), new in OUR_TRANSITIONS.items():
        lines.append(f"| ours | {state.value} | {event.value} | {new.value} |")
    for (old, new, our), our_new in CROSS.items():
        lines.append(
            f"| ours | {our.value} | theirs {old.value} -> {new.value} | {our_new.value} |"
        )
    return "\n".join(lines)


def test_readme_table_is_generated_from_the_tables() -> None:
    readme = (PACKAGE / "README.md").read_text()
    assert render_tables() in readme, "regenerate with: " + render_tables()


def test_no_other_module_assigns_states() -> None:
    for path in SOURCE.glob("*.py"):
        if path.name == "_state.py":
            continue
        text = path.read_text()
        assert not re.search(r"\.(their|our)\s*=[^=]", text), path.name
        assert "_TRANSITIONS" not in text, path.name
