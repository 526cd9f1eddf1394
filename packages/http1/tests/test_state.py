"""The state machine: every (state, input) pair, and the rule that only _state decides."""

from __future__ import annotations

import itertools
import pathlib
import re

import pytest

from asgiserver.http1 import LocalProtocolError, RemoteProtocolError, State
from asgiserver.http1._state import (
    CLIENT_TRANSITIONS,
    SERVER_GUARDS,
    SERVER_TRANSITIONS,
    ConnectionState,
    Input,
)

SERVER_INPUTS = [Input.INFORMATIONAL, Input.SWITCH, Input.RESPONSE, Input.END_OF_MESSAGE]


@pytest.mark.parametrize(
    ("server", "client", "inp"),
    list(itertools.product(State, State, SERVER_INPUTS)),
)
def test_every_server_input_in_every_state(server: State, client: State, inp: Input) -> None:
    """A listed transition happens; anything else raises and changes nothing."""
    cs = ConnectionState()
    cs.server, cs.client = server, client
    key = (server, inp)
    allowed = key in SERVER_TRANSITIONS and client in SERVER_GUARDS.get(key, frozenset(State))
    if allowed:
        cs.server_event(inp)
        new = SERVER_TRANSITIONS[key]
        # ... possibly followed by a state-triggered step: next cycle or must-close.
        successors = {new, State.IDLE, State.MUST_CLOSE} if new is State.DONE else {new}
        assert cs.server in successors
    else:
        with pytest.raises(LocalProtocolError):
            cs.server_event(inp)
        assert (cs.server, cs.client) == (server, client)


@pytest.mark.parametrize(("state", "inp"), list(itertools.product(State, Input)))
def test_client_table_is_closed(state: State, inp: Input) -> None:
    """The parser only feeds listed client transitions; any other pair fails closed with our own
    error: the client goes to ERROR and the connection will not be reused."""
    cs = ConnectionState()
    cs.client = state
    if (state, inp) in CLIENT_TRANSITIONS:
        cs.client_event(inp)
    else:
        with pytest.raises(RemoteProtocolError):
            cs.client_event(inp)
        assert cs.client is State.ERROR and not cs.keep_alive


@pytest.mark.parametrize(("state", "inp"), list(itertools.product(State, Input)))
def test_client_inputs_sent_by_us(state: State, inp: Input) -> None:
    """ClientConnection: our own illegal input raises LocalProtocolError and changes nothing."""
    cs = ConnectionState()
    cs.client = state
    if (state, inp) in CLIENT_TRANSITIONS:
        cs.client_event(inp, local=True)
        assert cs.client is not state or state is State.MUST_CLOSE or inp is Input.END_OF_MESSAGE
    else:
        with pytest.raises(LocalProtocolError):
            cs.client_event(inp, local=True)
        assert cs.client is state and cs.keep_alive


@pytest.mark.parametrize(
    ("server", "client", "inp"),
    list(itertools.product(State, State, [*SERVER_INPUTS, Input.CONNECTION_CLOSED])),
)
def test_server_inputs_received_by_a_client(server: State, client: State, inp: Input) -> None:
    """ClientConnection: a server input the tables do not allow fails the server role closed."""
    cs = ConnectionState()
    cs.server, cs.client = server, client
    key = (server, inp)
    if key in SERVER_TRANSITIONS and client in SERVER_GUARDS.get(key, frozenset(State)):
        cs.server_event(inp, local=False)
        assert cs.server is not State.ERROR
    else:
        with pytest.raises(RemoteProtocolError):
            cs.server_event(inp, local=False)
        assert cs.server is State.ERROR and not cs.keep_alive


def test_server_close_while_client_idle() -> None:
    """RFC 9112 §9.6: once the server has closed, the client cannot send another request."""
    cs = ConnectionState()
    cs.server_event(Input.CONNECTION_CLOSED, local=False)
    assert (cs.client, cs.server) == (State.MUST_CLOSE, State.CLOSED)


@pytest.mark.parametrize(
    ("server", "client", "keep_alive", "pending_switch", "inp"),
    list(
        itertools.product(
            State, State, [True, False], [True, False], [Input.RESPONSE, Input.END_OF_MESSAGE]
        )
    ),
)
def test_shortcuts_equal_server_event(
    server: State, client: State, keep_alive: bool, pending_switch: bool, inp: Input
) -> None:
    """server_response() and server_end() do exactly what server_event() does, errors too."""
    outcomes = []
    for shortcut in (False, True):
        cs = ConnectionState()
        cs.server, cs.client = server, client
        cs.keep_alive, cs.pending_switch = keep_alive, pending_switch
        try:
            if not shortcut:
                result: object = cs.server_event(inp)
            elif inp is Input.RESPONSE:
                result = cs.server_response()
            else:
                result = cs.server_end()
        except LocalProtocolError as exc:
            result = str(exc)
        outcomes.append((result, cs.client, cs.server, cs.keep_alive, cs.pending_switch))
    assert outcomes[0] == outcomes[1]


def test_may_pipeline() -> None:
    cs = ConnectionState()
    assert not cs.may_pipeline()
    cs.request(keep_alive=True, upgrade=False, complete=True, local=True)
    assert cs.may_pipeline()
    cs.disable_keep_alive()
    assert not cs.may_pipeline()


def test_full_cycle_returns_to_idle() -> None:
    cs = ConnectionState()
    cs.request(keep_alive=True, upgrade=False, complete=True)
    assert (cs.client, cs.server) == (State.DONE, State.SEND_RESPONSE)
    cs.server_event(Input.RESPONSE)
    assert cs.server_event(Input.END_OF_MESSAGE) is True
    assert (cs.client, cs.server) == (State.IDLE, State.IDLE)


def test_not_keep_alive_ends_in_must_close() -> None:
    cs = ConnectionState()
    cs.request(keep_alive=False, upgrade=False, complete=True)
    assert cs.client is State.MUST_CLOSE
    cs.server_event(Input.RESPONSE)
    assert cs.server_event(Input.END_OF_MESSAGE) is False
    assert cs.server is State.MUST_CLOSE


def test_upgrade_then_switch() -> None:
    cs = ConnectionState()
    cs.request(keep_alive=True, upgrade=True, complete=True)
    assert cs.client is State.MIGHT_SWITCH_PROTOCOL
    cs.server_event(Input.SWITCH)
    assert (cs.client, cs.server) == (State.SWITCHED_PROTOCOL, State.SWITCHED_PROTOCOL)


def test_upgrade_refused_by_final_response() -> None:
    cs = ConnectionState()
    cs.request(keep_alive=True, upgrade=True, complete=True)
    cs.server_event(Input.RESPONSE)
    assert cs.client is State.DONE and not cs.pending_switch


def test_response_before_request_body_disables_keep_alive() -> None:
    """RFC 9112 §9.6: close rather than read and discard an unread body."""
    cs = ConnectionState()
    cs.request(keep_alive=True, upgrade=False, complete=False)
    cs.server_event(Input.RESPONSE)
    cs.server_event(Input.END_OF_MESSAGE)
    assert cs.server is State.MUST_CLOSE and not cs.keep_alive


def test_error_response_allowed_only_after_client_error() -> None:
    cs = ConnectionState()
    with pytest.raises(LocalProtocolError):
        cs.server_event(Input.RESPONSE)
    cs.client_failed()
    cs.server_event(Input.RESPONSE)
    cs.server_event(Input.END_OF_MESSAGE)
    assert cs.server is State.MUST_CLOSE


def test_clean_close_while_idle() -> None:
    cs = ConnectionState()
    cs.client_event(Input.CONNECTION_CLOSED)
    assert (cs.client, cs.server) == (State.CLOSED, State.MUST_CLOSE)


def test_only_state_module_assigns_states() -> None:
    """No other module decides transitions (assigns ``.client``/``.server`` of the state)."""
    src = pathlib.Path(__import__("asgiserver.http1._state").http1._state.__file__).parent
    pattern = re.compile(r"\.(client|server)\s*=[^=]")
    for path in src.glob("*.py"):
        if path.name != "_state.py":
            assert not pattern.search(path.read_text()), path.name


def test_request_only_from_idle() -> None:
    cs = ConnectionState()
    cs.request(keep_alive=True, upgrade=False, complete=True)
    with pytest.raises(LocalProtocolError):
        cs.request(keep_alive=True, upgrade=False, complete=True, local=True)
    assert cs.client is State.DONE
    with pytest.raises(RemoteProtocolError):
        cs.request(keep_alive=True, upgrade=False, complete=True)
    assert cs.client is State.ERROR and not cs.keep_alive
