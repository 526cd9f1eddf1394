"""A gunicorn worker class, for teams that keep gunicorn as their process manager:

    gunicorn -k asgiserver.server.GunicornWorker -w 4 myproject.main:app

gunicorn stays an optional dependency: it is imported only when this worker class is used. The worker
serves with asgiserver's protocols, and notifies gunicorn's heartbeat from its event loop, so a blocked
loop is caught by gunicorn's `--timeout`.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from gunicorn.arbiter import Arbiter  # type: ignore[import-not-found, import-untyped, unused-ignore]
from gunicorn.workers.base import Worker as _GunicornBase  # type: ignore[import-not-found, import-untyped, unused-ignore]

from asgiserver.server._config import Config
from asgiserver.server._importer import load_app
from asgiserver.server._process.worker import EXIT_STARTUP_FAILED, Worker, new_loop_factory


class GunicornWorker(_GunicornBase):  # type: ignore[misc]
    """Serve an ASGI application inside a gunicorn worker process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.cfg
        self.asgi_config = Config(
            app="",
            timeout_keep_alive=float(cfg.keepalive),
            timeout_graceful_shutdown=float(cfg.graceful_timeout),
            limit_request_line=max(int(cfg.limit_request_line) or 8190, 256),
            limit_request_fields=int(cfg.limit_request_fields) or 100,
            limit_request_headers_size=max(
                (int(cfg.limit_request_field_size) or 8190)
                * (int(cfg.limit_request_fields) or 100),
                8192,
            ),
            backlog=int(cfg.backlog),
            access_log=bool(cfg.accesslog),
            forwarded_allow_ips=tuple(
                ip.strip()
                for ip in (
                    cfg.forwarded_allow_ips
                    if isinstance(cfg.forwarded_allow_ips, list)
                    else str(cfg.forwarded_allow_ips).split(",")
                )
                if ip.strip()
            ),
            ssl_certfile=cfg.certfile or None,
            ssl_keyfile=cfg.keyfile or None,
            ssl_ca_certs=cfg.ca_certs or None,
            ssl_cert_reqs=int(cfg.cert_reqs),
        )

    def init_signals(self) -> None:
        # The event loop installs its own handlers; gunicorn's would only set `alive`.
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, self.handle_usr1)
        signal.siginterrupt(signal.SIGUSR1, False)

    def run(self) -> None:
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


def _getppid() -> int:
    import os

    return os.getppid()
