"""Server configuration: one frozen dataclass shared by the CLI, `run()` and the workers."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal

LoopName = Literal["auto", "asyncio", "uvloop"]
LifespanName = Literal["auto", "on", "off"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]


@dataclass(frozen=True, slots=True)
class Config:
    """Every option of the server. Names follow uvicorn's where a user would expect them."""

    app: str | object = ""
    factory: bool = False
    app_dir: str | None = None
    interface: Literal["auto", "asgi3", "asgi2"] = "auto"

    # Listening.
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    fd: int | None = None
    backlog: int = 2048
    binds: tuple[str, ...] = ()
    uds_mode: int | None = None
    uds_owner: str | None = None
    reuse_port: bool = False

    # Process supervision (a master process forks workers when `workers` is set).
    workers: int | None = None
    preload: bool = False
    timeout_worker: float = 30.0
    max_requests: int | None = None
    max_requests_jitter: int = 0
    max_worker_lifetime: float | None = None
    max_worker_memory: int | None = None
    pid_file: str | None = None
    reload: bool = False
    reload_dirs: tuple[str, ...] = ()
    reload_includes: tuple[str, ...] = ("*.py",)
    reload_excludes: tuple[str, ...] = (".*", "*.pyc", "__pycache__")

    # Event loop and lifespan.
    loop: LoopName = "auto"
    lifespan: LifespanName = "auto"
    timeout_lifespan_startup: float = 60.0
    timeout_lifespan_shutdown: float = 30.0

    # ASGI scope.
    root_path: str = ""
    proxy_headers: bool = True
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1", "::1")

    # Protocol: HTTP/1.1 (with WebSocket upgrades), or uwsgi behind nginx `uwsgi_pass`.
    protocol: Literal["http", "uwsgi"] = "http"
    uwsgi_allow_from: tuple[str, ...] = ("127.0.0.1", "::1")

    # WebSocket.
    ws: Literal["auto", "none"] = "auto"
    ws_max_size: int = 16 * 1024 * 1024
    ws_max_queue: int = 32
    ws_ping_interval: float | None = 20.0
    ws_ping_timeout: float | None = 20.0
    ws_per_message_deflate: bool = True

    # Timeouts (seconds).
    timeout_keep_alive: float = 5.0
    timeout_request_head: float = 10.0
    timeout_request_body: float = 30.0
    timeout_graceful_shutdown: float = 30.0

    # Limits.
    limit_concurrency: int | None = None
    limit_request_line: int = 8 * 1024
    limit_request_headers_size: int = 64 * 1024
    limit_request_fields: int = 100
    limit_request_body: int | None = None

    # Response defaults.
    server_header: bool = True
    date_header: bool = True
    headers: tuple[tuple[str, str], ...] = ()

    # Logging.
    log_level: LogLevel = "info"
    access_log: bool = True

    # TLS.
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_keyfile_password: str | None = None
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: int = int(ssl.CERT_NONE)
    ssl_ciphers: str | None = None

    # Extra, for tests and embedding: called with the bound sockets once the server listens.
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def supervised(self) -> bool:
        """Whether a master process supervises workers (otherwise one process serves)."""
        return (
            self.workers is not None
            or self.reload
            or self.max_requests is not None
            or self.max_worker_lifetime is not None
            or self.max_worker_memory is not None
        )
