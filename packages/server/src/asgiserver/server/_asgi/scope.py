"""Building ASGI scopes: one place for the fields every protocol fills the same way.

`root_path` (ASGI HTTP spec, "root_path" and the WSGI compatibility section): `path` and `raw_path`
include it, so that PATH_INFO is `path` minus `root_path`, as uvicorn (0.26+), Starlette's routing and
asgiref's WSGI adapter read it. With `--root-path /api`, a request for `/items` gets `path`
`/api/items`. Behind a gateway that passes SCRIPT_NAME and PATH_INFO (uwsgi), `path` is SCRIPT_NAME +
PATH_INFO, unless PATH_INFO already starts with SCRIPT_NAME (nginx's stock `$document_uri` does).
Trusted proxy headers (`proxy.py`) are applied here, before the application, the access log or
`--limit-concurrency` sees the request: `client`, `scheme`, `server`, the `host` header and, for
`X-Forwarded-Prefix`, `root_path`, `path` and `raw_path` (the prefix goes in front of all three).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from asgiserver.server._asgi.proxy import ProxyHeaders
from asgiserver.server._asgi.types import HTTP_SPEC_VERSION, WEBSOCKET_SPEC_VERSION, Headers, Scope

Client = tuple[str, int] | None
Server = tuple[str, int | None] | None


def http_extensions(tls: dict[str, Any] | None) -> dict[str, Any]:
    """The `extensions` of an HTTP scope: the response messages every protocol's cycle takes
    (`http.py`), and the TLS facts of a TLS connection (asgiref specs/tls.rst)."""
    extensions: dict[str, Any] = {
        "http.response.trailers": {},
        "http.response.early_hint": {},
        "http.response.pathsend": {},
        "http.response.zerocopysend": {},
    }
    if tls is not None:
        extensions["tls"] = tls
    return extensions


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """(raw_path, query_string) of an origin-, absolute- or asterisk-form target (RFC 9112 §3.2)."""
    if target[:1] != b"/" and target != b"*":
        # absolute-form (RFC 9112 §3.2.2): the path starts after the scheme and the authority.
        rest = target.partition(b"://")[2]
        end = len(rest)
        for delimiter in (b"/", b"?"):
            found = rest.find(delimiter)
            if 0 <= found < end:
                end = found
        target = rest[end:]
        if target[:1] != b"/":
            target = b"/" + target
    raw_path, _, query = target.partition(b"?")
    return raw_path, query


def decode_path(raw_path: bytes) -> str:
    """ASGI `path`: percent-decoded, then UTF-8 (invalid sequences replaced)."""
    if b"%" in raw_path:
        raw_path = unquote_to_bytes(raw_path)
    return raw_path.decode("utf-8", "replace")


class ScopeBuilder:
    """Per-worker scope facts: the mount point, the lifespan state and the trusted proxies."""

    __slots__ = ("_raw_root", "app_state", "proxy", "root_path")

    def __init__(
        self, root_path: str, app_state: dict[str, Any], proxy: ProxyHeaders | None
    ) -> None:
        self.root_path = root_path.rstrip("/")
        self._raw_root = self.root_path.encode("utf-8")
        self.app_state = app_state
        self.proxy = proxy

    def trusts_peer(self, client: Client) -> bool:
        """Whether proxy headers from this direct peer are honoured (decided once per connection).

        A unix-socket peer (no address) is trusted when `--forwarded-allow-ips` says `unix` or `*`."""
        proxy = self.proxy
        if proxy is None:
            return False
        return proxy.trusted.unix if client is None else proxy.trusts(client[0])

    def _paths(self, target: bytes) -> tuple[str, bytes, bytes]:
        """(path, raw_path, query_string) of a request-target, below the root path."""
        if target[:1] == b"/":  # origin-form, the common case
            raw_path, _, query = target.partition(b"?")
        else:
            raw_path, query = split_target(target)
        path = decode_path(raw_path) if b"%" in raw_path else raw_path.decode("utf-8", "replace")
        if self.root_path:
            return self.root_path + path, self._raw_root + raw_path, query
        return path, raw_path, query

    def http(
        self,
        method: bytes,
        target: bytes,
        http_version: str,
        headers: Headers,
        scheme: str,
        client: Client,
        server: Server,
        trusted: bool,
        tls: dict[str, Any] | None,
    ) -> Scope:
        """The scope of a request that carries a request-target (HTTP/1.1, HTTP/2); `tls`: the TLS
        facts of a TLS connection (see `http_extensions`)."""
        # The hot path: written out here rather than through _paths() and _http_scope().
        if target[:1] == b"/":  # origin-form, the common case
            raw_path, _, query = target.partition(b"?")
        else:
            raw_path, query = split_target(target)
        path = decode_path(raw_path) if b"%" in raw_path else raw_path.decode("utf-8", "replace")
        root_path = self.root_path
        if root_path:
            path = root_path + path
            raw_path = self._raw_root + raw_path
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": HTTP_SPEC_VERSION},
            "http_version": http_version,
            "server": server,
            "client": client,
            "scheme": scheme,
            "method": method.decode("ascii"),
            "root_path": root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": headers,
            "state": self.app_state.copy(),
            "extensions": http_extensions(tls),
        }
        if trusted:
            self.proxy.apply(scope)  # type: ignore[union-attr]
        return scope

    def gateway_http(
        self,
        method: bytes,
        script_name: str,
        path_info: str,
        raw_path: bytes,
        query: bytes,
        http_version: str,
        headers: Headers,
        scheme: str,
        client: Client,
        server: Server,
    ) -> Scope:
        """The scope of a request from a gateway that splits the path (uwsgi's SCRIPT_NAME, PATH_INFO).

        The gateway is the proxy: its variables are trusted as they come."""
        root_path = script_name.rstrip("/") or self.root_path
        path = path_info
        if root_path and not (path == root_path or path.startswith(root_path + "/")):
            path = root_path + path
        raw_root = root_path.encode("utf-8")
        if root_path and not (raw_path == raw_root or raw_path.startswith(raw_root + b"/")):
            raw_path = raw_root + raw_path
        return _http_scope(
            http_version,
            server,
            client,
            scheme,
            method,
            root_path,
            path,
            raw_path,
            query,
            headers,
            self.app_state.copy(),
            {"http.response.pathsend": {}, "http.response.zerocopysend": {}},
        )

    def websocket(
        self,
        target: bytes,
        http_version: str,
        headers: Headers,
        secure: bool,
        client: Client,
        server: Server,
        subprotocols: list[str],
        trusted: bool,
        tls: dict[str, Any] | None = None,
    ) -> Scope:
        """The scope of a WebSocket handshake (HTTP/1.1 upgrade or RFC 8441 extended CONNECT)."""
        path, raw_path, query = self._paths(target)
        root_path = self.root_path
        scope: Scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": WEBSOCKET_SPEC_VERSION},
            "http_version": http_version,
            "server": server,
            "client": client,
            "scheme": "wss" if secure else "ws",
            "root_path": root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": headers,
            "subprotocols": subprotocols,
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        if tls is not None:
            scope["extensions"]["tls"] = tls
        if trusted:
            self.proxy.apply(scope)  # type: ignore[union-attr]
        return scope


def _http_scope(
    http_version: str,
    server: Server,
    client: Client,
    scheme: str,
    method: bytes,
    root_path: str,
    path: str,
    raw_path: bytes,
    query: bytes,
    headers: Headers,
    state: dict[str, Any],
    extensions: dict[str, Any],
) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": HTTP_SPEC_VERSION},
        "http_version": http_version,
        "server": server,
        "client": client,
        "scheme": scheme,
        "method": method.decode("ascii"),
        "root_path": root_path,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "state": state,
        "extensions": extensions,
    }
