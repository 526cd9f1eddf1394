"""The transition table (RFC 6455 §7) is walked pair by pair, and the README diagram is generated
from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ws_helpers import close_frame, frame

from asgiserver.ws import (
    Close,
    CloseReceived,
    ConnectionClosed,
    ConnectionFailed,
    LocalProtocolError,
    Ping,
    ServerConnection,
    State,
    TextMessage,
)
from asgiserver.ws._state import TRANSITIONS, Input


def in_state(state: State) -> ServerConnection:
    conn = ServerConnection()
    if state is State.CLOSING:
        conn.send(Close())
    elif state is State.FAILING:
        conn.receive_data(frame(0x1, b"x", mask=None))
    elif state is State.CLOSED:
        conn.receive_data(close_frame(1000))
    conn.events_received()
    conn.data_to_send()
    assert conn.state is state
    return conn


def apply(conn: ServerConnection, inp: Input) -> None:
    if inp is Input.SEND_MESSAGE:
        conn.send(TextMessage("x"))
    elif inp is Input.SEND_CONTROL:
        conn.send(Ping())
    elif inp is Input.SEND_CLOSE:
        conn.send(Close())
    elif inp is Input.RECV_CLOSE:
        conn.receive_data(close_frame(1000))
    elif inp is Input.RECV_EOF:
        conn.receive_eof()
    else:
        conn.receive_data(frame(0x1, b"x", mask=None))


SENDS = {Input.SEND_MESSAGE, Input.SEND_CONTROL, Input.SEND_CLOSE}
REPORTED = {Input.RECV_CLOSE: CloseReceived, Input.RECV_EOF: ConnectionClosed}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("inp", list(Input))
def test_every_state_input_pair(state: State, inp: Input) -> None:
    conn = in_state(state)
    target = TRANSITIONS.get((state, inp))
    if target is None and inp in SENDS:
        with pytest.raises(LocalProtocolError):
            apply(conn, inp)
        assert conn.state is state
        assert conn.data_to_send() == []
        return
    apply(conn, inp)
    events = conn.events_received()
    if target is None or state is State.CLOSED:
        # Peer input after the end or a failure is ignored (RFC 6455 §5.5.1, §7.1.7).
        assert (conn.state, events, conn.data_to_send()) == (state, [], [])
        return
    assert conn.state is target
    if inp is Input.FAIL:
        assert type(events[-1]) is ConnectionFailed
        # From OPEN the caller's close is still owed; from CLOSING ours is already out.
        assert conn.data_to_send() == []
    elif inp in REPORTED and state is not State.FAILING:
        assert [type(e) for e in events] == [REPORTED[inp]]
    else:
        assert events == []  # after ConnectionFailed nothing more is reported
    assert conn.close_expected() is (target is State.CLOSED)


def test_closed_is_terminal() -> None:
    assert all(
        target is State.CLOSED for (s, _), target in TRANSITIONS.items() if s is State.CLOSED
    )


def mermaid() -> str:
    lines = ["stateDiagram-v2", "    [*] --> OPEN"]
    for (state, inp), target in TRANSITIONS.items():
        lines.append(f"    {state.name} --> {target.name}: {inp.name}")
    return "\n".join(lines)


def test_readme_diagram_is_generated_from_the_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert f"```mermaid\n{mermaid()}\n```" in readme, mermaid()
