"""The connection state machine: every transition of both sides is decided here, nowhere else.

One request per connection (the uwsgi protocol has no keep-alive): the peer sends one packet
(4-byte header, vars block, CONTENT_LENGTH body bytes), we send one HTTP/1.x response, and the
connection close delimits the response body (RFC 9112 section 6.3, rule 8).
"""

from __future__ import annotations

from enum import Enum

from ._errors import LocalProtocolError

__all__ = [
    "State",
    "Input",
    "ConnectionState",
    "THEIR_TRANSITIONS",
    "OUR_TRANSITIONS",
    "CROSS",
    "CLOSE_EXPECTED",
]


class State(Enum):
    IDLE = "IDLE"  # nothing received (theirs) / no response started (ours)
    HEAD = "HEAD"  # theirs: inside the 4-byte packet header or the vars block
    SEND_BODY = "SEND_BODY"  # theirs: request body; ours: response body
    DONE = "DONE"  # message complete
    MUST_CLOSE = "MUST_CLOSE"  # ours: nothing (more) may be sent; close the transport
    CLOSED = "CLOSED"  # theirs: clean EOF
    ERROR = "ERROR"

    # Members are singletons compared by identity: hash them by identity too, in C. Python
    # 3.11's Enum.__hash__ is a Python function, called for every table lookup's tuple key.
    __hash__ = object.__hash__


class Input(Enum):
    BYTES = "BYTES"  # theirs: the first bytes of the packet
    REQUEST = "REQUEST"  # theirs: vars block parsed
    RESPONSE = "RESPONSE"  # ours
    END_OF_MESSAGE = "END_OF_MESSAGE"  # both
    EOF = "EOF"  # theirs
    FAILURE = "FAILURE"  # both: a protocol error

    __hash__ = object.__hash__


# A missing (state, input) pair is a peer error: that side goes to ERROR.
THEIR_TRANSITIONS: dict[tuple[State, Input], State] = {
    (State.IDLE, Input.BYTES): State.HEAD,
    (State.HEAD, Input.REQUEST): State.SEND_BODY,
    (State.SEND_BODY, Input.END_OF_MESSAGE): State.DONE,
    (State.IDLE, Input.EOF): State.CLOSED,  # closed before sending anything
    (State.DONE, Input.EOF): State.CLOSED,  # closed (or half-closed) after the whole request
    (State.HEAD, Input.FAILURE): State.ERROR,
    (State.SEND_BODY, Input.FAILURE): State.ERROR,
}

# A missing (state, input) pair is our caller's error: LocalProtocolError.
OUR_TRANSITIONS: dict[tuple[State, Input], State] = {
    (State.IDLE, Input.RESPONSE): State.SEND_BODY,
    (State.SEND_BODY, Input.END_OF_MESSAGE): State.DONE,
    # A broken response (wrong body length): the head is out, nothing can repair it.
    (State.SEND_BODY, Input.FAILURE): State.ERROR,
}

# What a change of their state does to ours: (their old, their new, our) -> our new.
CROSS: dict[tuple[State, State, State], State] = {
    # EOF before any request: there is nothing to answer.
    (State.IDLE, State.CLOSED, State.IDLE): State.MUST_CLOSE,
    # The request body was cut short under a response in progress: the peer is gone.
    (State.SEND_BODY, State.ERROR, State.SEND_BODY): State.MUST_CLOSE,
}

# Our states in which the transport should be closed once the queued bytes are written.
CLOSE_EXPECTED = frozenset({State.DONE, State.MUST_CLOSE, State.ERROR})

# A response answers a request, or the error that replaced it (the status_hint response).
_NO_REQUEST_YET = frozenset({State.IDLE, State.HEAD})


class ConnectionState:
    """Both sides' states; the connection feeds it inputs and never assigns states itself."""

    __slots__ = ("our", "their")

    def __init__(self) -> None:
        self.their = State.IDLE
        self.our = State.IDLE

    def process_theirs(self, event: Input) -> State:
        """Apply a peer input; an unknown pair sends their side to ERROR. Returns the new state."""
        old = self.their
        new = THEIR_TRANSITIONS.get((old, event), State.ERROR)
        self.their = new
        our = CROSS.get((old, new, self.our))
        if our is not None:
            self.our = our
        return new

    def process_ours(self, event: Input) -> None:
        """Apply one of our inputs; raise LocalProtocolError (state unchanged) if not allowed."""
        if event is Input.RESPONSE and self.their in _NO_REQUEST_YET:
            raise LocalProtocolError("can't send a Response before a request (or its failure)")
        try:
            self.our = OUR_TRANSITIONS[self.our, event]
        except KeyError:
            raise LocalProtocolError(
                f"can't send {event.value} when our state is {self.our.value}"
            ) from None

    def fail_ours(self) -> None:
        self.our = OUR_TRANSITIONS.get((self.our, Input.FAILURE), State.ERROR)
