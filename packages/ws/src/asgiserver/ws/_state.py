"""The closing-handshake state machine (RFC 6455 §7): the only place transitions are decided.

Per-frame work never consults the table; only message-level inputs do.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["TRANSITIONS", "Input", "State"]


class State(enum.Enum):
    """``OPEN``: both directions usable. ``CLOSING``: we sent a close and await the peer's.
    ``FAILING``: the peer broke the protocol while we were OPEN; input is over, and we may still
    answer what came before the error, then owe our close frame (RFC 6455 §7.1.7).
    ``CLOSED``: the closing handshake is done, the connection failed, or input ended."""

    OPEN = "OPEN"
    CLOSING = "CLOSING"
    FAILING = "FAILING"
    CLOSED = "CLOSED"


class Input(enum.Enum):
    SEND_MESSAGE = "SEND_MESSAGE"  # text or binary
    SEND_CONTROL = "SEND_CONTROL"  # ping or pong
    SEND_CLOSE = "SEND_CLOSE"
    RECV_CLOSE = "RECV_CLOSE"
    RECV_EOF = "RECV_EOF"
    FAIL = "FAIL"


_O, _C, _F, _X = State.OPEN, State.CLOSING, State.FAILING, State.CLOSED

TRANSITIONS: Final[dict[tuple[State, Input], State]] = {
    (_O, Input.SEND_MESSAGE): _O,
    (_O, Input.SEND_CONTROL): _O,
    # §5.5.1: after sending a Close frame, no more data frames; pongs are still owed (§5.5.2).
    (_C, Input.SEND_CONTROL): _C,
    (_O, Input.SEND_CLOSE): _C,
    # §5.5.1: a received close is echoed at once (in OPEN), which completes the handshake.
    (_O, Input.RECV_CLOSE): _X,
    (_C, Input.RECV_CLOSE): _X,
    (_O, Input.RECV_EOF): _X,
    (_C, Input.RECV_EOF): _X,
    (_X, Input.RECV_EOF): _X,
    # §7.1.7: after a peer error nothing more is read. The messages before it were received
    # (§6.2) and delivered first; the caller may still answer them, as §5.5.1 lets an endpoint
    # finish its current message before its close, and then sends the close that ends the
    # connection. After our own close nothing is owed, so failing ends it at once.
    (_O, Input.FAIL): _F,
    (_C, Input.FAIL): _X,
    (_F, Input.SEND_MESSAGE): _F,
    (_F, Input.SEND_CONTROL): _F,
    (_F, Input.SEND_CLOSE): _X,
    (_F, Input.RECV_EOF): _X,
}
"""(state, input) -> next state. A missing pair is refused: sends raise LocalProtocolError, and
peer input cannot reach it because parsing stops in FAILING and CLOSED."""
