"""The package's one error."""

from __future__ import annotations


class ProxyProtocolError(ValueError):
    """The bytes are not a valid PROXY protocol header. The connection must be closed: the
    specification forbids guessing what else it could be (section 5)."""
