"""Sans-IO uwsgi protocol, as nginx ``uwsgi_pass`` speaks it, for asgiserver.

One request per connection: a uwsgi packet (header, CGI vars, body) in, an HTTP/1.x response out,
delimited by the connection close. ``Request`` events carry ASGI HTTP scope fields ready to use.
"""

from ._connection import ServerConnection
from ._errors import (
    BodyTooLarge,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    UnsupportedPacket,
    VarsTooLarge,
)
from ._events import (
    ConnectionClosed,
    ConnectionFailed,
    Data,
    EndOfMessage,
    Event,
    Request,
    Response,
    SendEvent,
)
from ._limits import Limits
from ._state import State

__all__ = [
    "ServerConnection",
    "Limits",
    "State",
    # events
    "Request",
    "Response",
    "Data",
    "EndOfMessage",
    "ConnectionClosed",
    "ConnectionFailed",
    "Event",
    "SendEvent",
    # errors
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "VarsTooLarge",
    "BodyTooLarge",
    "UnsupportedPacket",
]
