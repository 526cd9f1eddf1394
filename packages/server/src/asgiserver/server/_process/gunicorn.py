"""A gunicorn worker class, for teams that keep gunicorn as their process manager:

    gunicorn -k asgiserver.server.GunicornWorker -w 4 myproject.main:app

gunicorn stays an optional dependency: it is imported only when this worker class is used. The worker
serves with asgiserver's protocols, and notifies gunicorn's heartbeat from its event loop, so a blocked
loop is caught by gunicorn's `--timeout`. Logs go where gunicorn's go: error lines through its error
log at its `--log-level`, access lines through its `--access-logfile` in its `--access-logformat`
(unless `--log-format json` or `--access-log-format` is set for asgiserver).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from gunicorn.arbiter import Arbiter  # type: ignore[import-not-found, import-untyped, unused-ignore]
from gunicorn.workers.base import Worker as _GunicornBase  # type: ignore[import-not-found, import-untyped, unused-ignore]

from asgiserver.server import _logging
from asgiserver.server._config import Config, access_log_format
from asgiserver.server._config_file import layered
from asgiserver.server._importer import load_app
from asgiserver.server._process.worker import EXIT_STARTUP_FAILED, Worker, new_loop_factory


class GunicornWorker(_GunicornBase):  # type: ignore[misc]
    """Serve an ASGI application inside a gunicorn worker process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config_error: str | None = None
        try:
            self.asgi_config = gunicorn_config(self.cfg, os.environ)
        except ValueError as exc:  # reported from run(), where the worker can fail to boot
            self.config_error = str(exc)
            self.asgi_config = Config(app="")

    def init_signals(self) -> None:
        # The event loop installs its own handlers; gunicorn's would only set `alive`.
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, self.handle_usr1)
        signal.siginterrupt(signal.SIGUSR1, False)

    def run(self) -> None:
        if self.config_error is not None:
            self.log.error("asgiserver configuration: %s", self.config_error)
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
        self._route_logs()
        app = load_app(self.wsgi, interface="auto")
        sockets = [listener.sock for listener in self.sockets]
        worker = Worker(self.asgi_config, app, sockets, install_signals=True)

        async def serve() -> int:
            loop = asyncio.get_running_loop()

            def beat() -> None:
                self.notify()
                if self.ppid != _getppid():  # the arbiter went away
                    worker.request_stop()
                loop.call_later(1.0, beat)

            beat()
            return await worker.serve()

        with asyncio.Runner(loop_factory=new_loop_factory("auto")) as runner:
            code = runner.run(serve())
        if code == EXIT_STARTUP_FAILED:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
        sys.exit(code)

    def _route_logs(self) -> None:
        """asgiserver's loggers write through gunicorn's handlers, as gunicorn's own workers do."""
        config = self.asgi_config
        line_format = config.access_log_format
        if line_format is None:
            try:
                line_format = access_log_format(self.cfg.access_log_format)
            except ValueError as exc:  # an atom we do not know, such as %({name}e)s
                self.log.warning("access log: %s; using asgiserver's own format", exc)
        _logging.configure(
            config.log_level,
            config.access_log,
            None,
            config.log_format,
            config.access_log_exclude,
            line_format,
        )
        if config.log_format == "json":
            return  # one JSON object per line on stdout and stderr, as asked
        error = logging.getLogger("asgiserver.error")
        error.handlers = list(self.log.error_log.handlers)
        error.setLevel(self.log.error_log.level)
        access = logging.getLogger("asgiserver.access")
        access.handlers = list(self.log.access_log.handlers)
        # No --access-logfile: gunicorn writes no access log, and neither do we.
        access.setLevel(logging.INFO if self.cfg.accesslog else logging.WARNING)


def _getppid() -> int:
    return os.getppid()


# The Config fields that gunicorn's own settings give, and the settings they come from.
_FROM_GUNICORN: dict[str, tuple[str, ...]] = {
    "timeout_keep_alive": ("keepalive",),
    "timeout_graceful_shutdown": ("graceful_timeout",),
    "limit_request_line": ("limit_request_line",),
    "limit_request_fields": ("limit_request_fields",),
    "limit_request_headers_size": ("limit_request_field_size", "limit_request_fields"),
    "backlog": ("backlog",),
    "access_log": ("accesslog",),
    "forwarded_allow_ips": ("forwarded_allow_ips",),
    "ssl_certfile": ("certfile",),
    "ssl_keyfile": ("keyfile",),
    "ssl_ca_certs": ("ca_certs",),
    "ssl_cert_reqs": ("cert_reqs",),
}


def gunicorn_config(cfg: Any, environ: Mapping[str, str]) -> Config:
    """The worker's Config: what gunicorn's command line or config file sets wins, then
    `ASGISERVER_*` variables, then asgiserver's config file (asgiserver.toml or
    `[tool.asgiserver]` in pyproject.toml, or `$ASGISERVER_CONFIG`), then gunicorn's defaults for
    the settings it has, then asgiserver's defaults. Raises ValueError for a bad file or value."""
    ips = cfg.forwarded_allow_ips
    from_gunicorn: dict[str, Any] = {
        "timeout_keep_alive": float(cfg.keepalive),
        "timeout_graceful_shutdown": float(cfg.graceful_timeout),
        "limit_request_line": max(int(cfg.limit_request_line) or 8190, 256),
        "limit_request_fields": int(cfg.limit_request_fields) or 100,
        "limit_request_headers_size": max(
            (int(cfg.limit_request_field_size) or 8190) * (int(cfg.limit_request_fields) or 100),
            8192,
        ),
        "backlog": int(cfg.backlog),
        "access_log": bool(cfg.accesslog),
        "forwarded_allow_ips": tuple(
            ip.strip()
            for ip in (ips if isinstance(ips, list) else str(ips).split(","))
            if ip.strip()
        ),
        "ssl_certfile": cfg.certfile or None,
        "ssl_keyfile": cfg.keyfile or None,
        "ssl_ca_certs": cfg.ca_certs or None,
        "ssl_cert_reqs": int(cfg.cert_reqs),
    }
    layers, _ = layered({}, environ, environ.get("ASGISERVER_CONFIG") or None)
    values = {key: value for key, value in layers.items() if key not in _NOT_FOR_GUNICORN}
    settings = cfg.settings
    for name, value in from_gunicorn.items():
        explicit = any(
            settings[s].value != settings[s].default for s in _FROM_GUNICORN[name] if s in settings
        )
        if explicit or name not in values:
            values[name] = value
    return Config(app="", **values)


# Set by gunicorn itself (its APP argument, workers, logging), or meaningless in its worker.
_NOT_FOR_GUNICORN = frozenset({"app", "app_dir", "factory", "log_config"})
