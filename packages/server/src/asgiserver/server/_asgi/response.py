"""Response finishing, the same for every protocol: the fields a server adds to a response head.

RFC 9110 §6.6.1 (Date), §10.2.4 (Server), §8.6 (Content-Length). An application's own `date` and
`server` fields win over ours; `--header` fields are always added. Content-Length is added when the
whole body is known at the time the head goes out (one body message); never to a 204 (which may not
carry it), a 304 or a response with trailers. Transfer-Encoding from the application is dropped: the
protocol frames the body itself (ASGI HTTP spec). Connection-specific fields (`connection`,
`keep-alive`) are never added here: that is a driver's decision, and HTTP/2 forbids them.
"""

from __future__ import annotations

from email.utils import formatdate

from asgiserver.server._asgi.types import ASGIProtocolError, Headers


class ResponseDefaults:
    """The fields a worker adds to every response, and the shared Date value (refreshed each second)."""

    __slots__ = ("date", "date_enabled", "extra", "server")

    def __init__(self, server_header: bool, date_header: bool, extra: Headers) -> None:
        self.server: tuple[bytes, bytes] | None = (
            (b"server", b"asgiserver") if server_header else None
        )
        self.date_enabled = date_header
        self.date = (b"date", b"")
        self.extra = extra
        self.refresh_date()

    def refresh_date(self) -> None:
        self.date = (b"date", formatdate(usegmt=True).encode("ascii"))

    def fields(self) -> Headers:
        """The default fields alone, for responses the server writes itself (errors, handshakes)."""
        out: Headers = []
        if self.server is not None:
            out.append(self.server)
        if self.date_enabled:
            out.append(self.date)
        out += self.extra
        return out

    def finish(self, status: int, headers: object) -> tuple[Headers, bool]:
        """Check an application's header list and add the default fields, in one pass.

        Returns the fields and whether they carry a Content-Length. Raises ASGIProtocolError for a
        malformed list, so the `send()` that carries it fails even when the head is held back.
        """
        out: Headers = []
        has_length = has_date = has_server = False
        try:
            for header in headers:  # type: ignore[attr-defined]
                name, value = header
                if type(name) is not bytes or type(value) is not bytes:
                    raise ASGIProtocolError("header names and values must be bytes")
                lowered = name.lower()
                if lowered == b"content-length":
                    if status == 204:
                        continue  # RFC 9110 §8.6: MUST NOT be sent in a 204
                    has_length = True
                elif lowered == b"transfer-encoding":
                    continue
                elif lowered == b"date":
                    has_date = True
                elif lowered == b"server":
                    has_server = True
                out.append(header)
        except (TypeError, ValueError):
            raise ASGIProtocolError("headers must be an iterable of [name, value] pairs") from None
        if not has_server and self.server is not None:
            out.append(self.server)
        if not has_date and self.date_enabled:
            out.append(self.date)
        if self.extra:
            out += self.extra
        return out, has_length


def header_list(raw: object) -> Headers:
    """Check the shape and types of a header list (trailers, denial and handshake headers)."""
    try:
        headers = [(name, value) for name, value in raw]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ASGIProtocolError("headers must be an iterable of [name, value] pairs") from None
    for name, value in headers:
        if type(name) is not bytes or type(value) is not bytes:
            raise ASGIProtocolError("header names and values must be bytes")
    return headers
