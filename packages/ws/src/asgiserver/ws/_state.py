"""The closing-handshake state machine (RFC 6455 §7): the only place transitions are decided.

Per-frame work never consults the table; only message-level inputs do.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["TRANSITIONS", "Input", "State"]


class State(enum.Enum):
    """``OPEN``: both directions usable. ``CLOSING``: we sent a close and await the peer's.
    ``CLOSED``: the closing handshake is done, the connection failed, or input ended."""

    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


class Input(enum.Enum):
    SEND_MESSAGE = "SEND_MESSAGE"  # text or binary
    SEND_CONTROL = "SEND_CONTROL"  # ping or pong
    SEND_CLOSE = "SEND_CLOSE"
    RECV_CLOSE = "RECV_CLOSE"
    RECV_EOF = "RECV_EOF"
    FAIL = "FAIL"


_O, _C, _X = State.OPEN, State.CLOSING, State.CLOSED

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
    # §7.1.7: failing closes the connection whatever the handshake's progress.
    (_O, Input.FAIL): _X,
    (_C, Input.FAIL): _X,
}
"""(state, input) -> next state. A missing pair is refused: sends raise LocalProtocolError, and
peer input cannot reach it because parsing stops in CLOSED."""
