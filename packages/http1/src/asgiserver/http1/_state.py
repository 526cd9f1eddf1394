"""The connection state machine: every state transition is decided here, and only here.

Two roles, one ``State`` enum, one pair of tables for both connections (as h11 does): in a
``ServerConnection`` ``client`` is the peer and ``server`` is us; in a ``ClientConnection`` the
other way round.  An input our side may not send raises ``LocalProtocolError`` and changes
nothing; an input the peer may not send fails closed (its role goes to ERROR, keep-alive ends) and
raises ``RemoteProtocolError``, which the connection delivers in band.  Message-level inputs go
through the tables below; body bytes never do (the connection counts them).  After every input the state-triggered rules in ``_settle`` run to a fixed
point: keep-alive, protocol switch and the start of the next request/response cycle.

Life of one cycle::

    client: IDLE --Request--> SEND_BODY --EndOfMessage--> DONE
    server: IDLE --(client Request)--> SEND_RESPONSE --Response--> SEND_BODY --EndOfMessage--> DONE
    both DONE and keep-alive: both IDLE (next cycle); otherwise DONE -> MUST_CLOSE.

Upgrade: a request with ``Connection: upgrade`` sets ``pending_switch``; the client then waits in
MIGHT_SWITCH_PROTOCOL instead of DONE until we answer 101 (both SWITCHED_PROTOCOL) or a final
response (back to DONE).
"""

from __future__ import annotations

from enum import Enum
from typing import NoReturn

from ._errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "State",
    "Input",
    "CLIENT_TRANSITIONS",
    "SERVER_TRANSITIONS",
    "SERVER_GUARDS",
    "ConnectionState",
]


class State(Enum):
    IDLE = "IDLE"
    SEND_RESPONSE = "SEND_RESPONSE"
    SEND_BODY = "SEND_BODY"
    DONE = "DONE"
    MUST_CLOSE = "MUST_CLOSE"
    CLOSED = "CLOSED"
    MIGHT_SWITCH_PROTOCOL = "MIGHT_SWITCH_PROTOCOL"
    SWITCHED_PROTOCOL = "SWITCHED_PROTOCOL"
    ERROR = "ERROR"

    # Members are singletons: identity hashing keeps table lookups in C (Enum's is Python code).
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"State.{self.name}"


class Input(Enum):
    REQUEST = "REQUEST"  # client: a request head (drives the server out of IDLE too)
    END_OF_MESSAGE = "END_OF_MESSAGE"
    CONNECTION_CLOSED = "CONNECTION_CLOSED"  # clean EOF at a message boundary
    INFORMATIONAL = "INFORMATIONAL"  # server only: 1xx other than 101
    SWITCH = "SWITCH"  # server only: 101 Switching Protocols
    RESPONSE = "RESPONSE"  # server only: final response head

    __hash__ = object.__hash__


_S = State
_I = Input

CLIENT_TRANSITIONS: dict[tuple[State, Input], State] = {
    (_S.IDLE, _I.REQUEST): _S.SEND_BODY,
    (_S.IDLE, _I.CONNECTION_CLOSED): _S.CLOSED,
    (_S.SEND_BODY, _I.END_OF_MESSAGE): _S.DONE,
    (_S.DONE, _I.CONNECTION_CLOSED): _S.CLOSED,
    (_S.MUST_CLOSE, _I.CONNECTION_CLOSED): _S.CLOSED,
    (_S.MIGHT_SWITCH_PROTOCOL, _I.CONNECTION_CLOSED): _S.CLOSED,
}

SERVER_TRANSITIONS: dict[tuple[State, Input], State] = {
    (_S.IDLE, _I.REQUEST): _S.SEND_RESPONSE,
    (_S.SEND_RESPONSE, _I.INFORMATIONAL): _S.SEND_RESPONSE,
    (_S.SEND_RESPONSE, _I.RESPONSE): _S.SEND_BODY,
    (_S.SEND_RESPONSE, _I.SWITCH): _S.SWITCHED_PROTOCOL,
    # An error response to a request whose head could not be parsed (RFC 9112 §2.2, §3).
    (_S.IDLE, _I.RESPONSE): _S.SEND_BODY,
    (_S.SEND_BODY, _I.END_OF_MESSAGE): _S.DONE,
    # The server closing at a message boundary, as a ClientConnection sees it (RFC 9112 §9.6).
    (_S.IDLE, _I.CONNECTION_CLOSED): _S.CLOSED,
    (_S.DONE, _I.CONNECTION_CLOSED): _S.CLOSED,
    (_S.MUST_CLOSE, _I.CONNECTION_CLOSED): _S.CLOSED,
}

# Server transitions allowed only while the client is in one of these states.
SERVER_GUARDS: dict[tuple[State, Input], frozenset[State]] = {
    (_S.IDLE, _I.RESPONSE): frozenset({_S.ERROR}),
    (_S.SEND_RESPONSE, _I.SWITCH): frozenset({_S.MIGHT_SWITCH_PROTOCOL}),
}

# SERVER_TRANSITIONS and SERVER_GUARDS merged, so a send costs one lookup.
_SERVER: dict[tuple[State, Input], tuple[State, frozenset[State] | None]] = {
    key: (new, SERVER_GUARDS.get(key)) for key, new in SERVER_TRANSITIONS.items()
}
_NO_TRANSITION: tuple[None, None] = (None, None)

_REQUEST = Input.REQUEST
_END_OF_MESSAGE = Input.END_OF_MESSAGE
_CONNECTION_CLOSED = Input.CONNECTION_CLOSED
_RESPONSE = Input.RESPONSE
_SWITCH = Input.SWITCH

_IDLE = State.IDLE
_SEND_BODY = State.SEND_BODY
# Where a request head takes both sides from IDLE, read off the tables once.
_CLIENT_AFTER_REQUEST = CLIENT_TRANSITIONS[_IDLE, _REQUEST]
_CLIENT_AFTER_REQUEST_AND_END = CLIENT_TRANSITIONS[_CLIENT_AFTER_REQUEST, _END_OF_MESSAGE]
_SERVER_AFTER_REQUEST = SERVER_TRANSITIONS[_IDLE, _REQUEST]
_SEND_RESPONSE = State.SEND_RESPONSE
# Where our own final response takes the server role in the common case, read off the tables.
_SERVER_AFTER_RESPONSE = SERVER_TRANSITIONS[_SEND_RESPONSE, _RESPONSE]
_SERVER_AFTER_END = SERVER_TRANSITIONS[_SERVER_AFTER_RESPONSE, _END_OF_MESSAGE]
_DONE = State.DONE
_MUST_CLOSE = State.MUST_CLOSE
_CLOSED = State.CLOSED
_MIGHT_SWITCH = State.MIGHT_SWITCH_PROTOCOL


class ConnectionState:
    """Both roles' states plus the two flags that drive state-triggered transitions."""

    __slots__ = ("client", "keep_alive", "pending_switch", "server")

    def __init__(self) -> None:
        self.client = State.IDLE
        self.server = State.IDLE
        self.keep_alive = True
        self.pending_switch = False

    def request(self, keep_alive: bool, upgrade: bool, complete: bool, local: bool = False) -> None:
        """A request head, received (``ServerConnection``) or sent (``local``, ``ClientConnection``),
        while both sides are IDLE; ``complete`` when its EndOfMessage came with it.  ``upgrade``:
        a 101 (or a 2xx to CONNECT) may switch protocols after it."""
        if self.client is not _IDLE or self.server is not _IDLE:
            self._refuse(True, _REQUEST, local)  # neither connection does this: fail closed
        self.server = _SERVER_AFTER_REQUEST
        self.pending_switch = upgrade
        if not keep_alive:
            self.keep_alive = False
        if complete:
            self.client = _CLIENT_AFTER_REQUEST_AND_END
            if upgrade or not keep_alive:
                self._settle()
        else:
            self.client = _CLIENT_AFTER_REQUEST

    def client_event(self, inp: Input, local: bool = False) -> bool:
        """Apply a client input, the peer's unless ``local``; return True when a new cycle
        started (both back to IDLE)."""
        new = CLIENT_TRANSITIONS.get((self.client, inp))
        if new is None:
            self._refuse(True, inp, local)
        self.client = new
        if inp is _CONNECTION_CLOSED:
            self.keep_alive = False
        return self._settle()

    def server_event(self, inp: Input, local: bool = True) -> bool:
        """Apply a server input, ours unless not ``local``; return True when a new cycle
        started."""
        new, guard = _SERVER.get((self.server, inp), _NO_TRANSITION)
        if new is None or (guard is not None and self.client not in guard):
            self._refuse(False, inp, local)
        if inp is _END_OF_MESSAGE:
            if self.client is _SEND_BODY:
                # Response complete, request body not read: close rather than drain (RFC 9112
                # §9.6), so unread body bytes are never parsed as a request.
                self.keep_alive = False
        elif inp is _RESPONSE:
            self.pending_switch = False  # a final response refuses the upgrade (RFC 9110 §7.8)
        elif inp is _SWITCH:
            self.client = State.SWITCHED_PROTOCOL
        elif inp is _CONNECTION_CLOSED:
            self.keep_alive = False
        self.server = new
        return self._settle()

    def server_response(self) -> bool:
        """``server_event(RESPONSE)`` for our own final response head, with the common case
        (a request is waiting for it) taken without the table lookup."""
        if self.server is not _SEND_RESPONSE:
            return self.server_event(_RESPONSE)
        self.pending_switch = False  # a final response refuses the upgrade (RFC 9110 §7.8)
        self.server = _SERVER_AFTER_RESPONSE
        return self._settle()

    def server_end(self) -> bool:
        """``server_event(END_OF_MESSAGE)`` for the end of our own response, the common case
        taken without the table lookup; True when a new cycle started."""
        if self.server is not _SERVER_AFTER_RESPONSE:
            return self.server_event(_END_OF_MESSAGE)
        if self.client is _SEND_BODY:
            self.keep_alive = False  # request body unread: close rather than drain (RFC 9112 §9.6)
        self.server = _SERVER_AFTER_END
        return self._settle()

    def _refuse(self, client: bool, inp: Input, local: bool) -> NoReturn:
        """An input missing from the tables: raise, failing the sender's role closed if it is
        the peer (like h2, an unknown pair never leaves the machine in a defined state)."""
        role, state = ("client", self.client) if client else ("server", self.server)
        peer = self.server if client else self.client
        what = f"{role} {inp.name.lower()} in state {state.name} (other side {peer.name})"
        if local:
            raise LocalProtocolError(f"cannot send {what}")
        if client:
            self.client = State.ERROR
        else:
            self.server = State.ERROR
        self.keep_alive = False
        self._settle()
        raise RemoteProtocolError(f"unexpected {what}")

    def may_pipeline(self) -> bool:
        """A client may send its next request before this cycle's response is complete: its
        request is complete and nothing rules out reuse (RFC 9112 §9.3.2)."""
        return self.client is _DONE and self.keep_alive and not self.pending_switch

    def client_failed(self) -> None:
        self.client = State.ERROR
        self.keep_alive = False
        self._settle()

    def server_failed(self) -> None:
        self.server = State.ERROR
        self.keep_alive = False
        self._settle()

    def disable_keep_alive(self) -> None:
        self.keep_alive = False
        self._settle()

    def _settle(self) -> bool:
        """State-triggered transitions, run to a fixed point."""
        client = self.client
        if (
            self.keep_alive
            and not self.pending_switch
            and self.server is not _DONE
            and client is not _CLOSED
            and client is not _MIGHT_SWITCH
        ):
            return False  # fast path: no rule below can fire
        if client is _DONE and self.server is _DONE and self.keep_alive and not self.pending_switch:
            self.client = self.server = _IDLE  # fast path: the common end of a cycle
            return True
        new_cycle = False
        while True:
            client, server = self.client, self.server
            if client is _DONE and self.pending_switch:
                self.client = _MIGHT_SWITCH
            elif client is _MIGHT_SWITCH and not self.pending_switch:
                self.client = _DONE
            if not self.keep_alive:
                if self.client is _DONE:
                    self.client = _MUST_CLOSE
                if server is _DONE:
                    self.server = _MUST_CLOSE
            if self.client is _CLOSED and server is _IDLE:
                self.server = _MUST_CLOSE
            if self.server is _CLOSED and self.client is _IDLE:
                self.client = _MUST_CLOSE
            if self.client is _DONE and self.server is _DONE:
                self.client = self.server = _IDLE
                self.pending_switch = False
                new_cycle = True
            if self.client is client and self.server is server:
                return new_cycle
