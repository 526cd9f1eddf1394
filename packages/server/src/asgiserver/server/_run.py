"""`run()` and `run_config()`: serve in this process, or start the pre-fork master."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asgiserver.server import _logging
from asgiserver.server._asgi.types import ASGIApp
from asgiserver.server._config import Config
from asgiserver.server._importer import AppLoadError, load_app
from asgiserver.server._net.sockets import listeners
from asgiserver.server._process.supervisor import run_supervisor
from asgiserver.server._process.worker import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    Worker,
    new_loop_factory,
)

__all__ = ["EXIT_USAGE", "run", "run_config"]

logger = logging.getLogger("asgiserver.error")


def run(app: ASGIApp | str, **options: Any) -> int:
    """Serve `app` in this process until SIGINT/SIGTERM; returns the process exit code.

    `app` is an ASGI application or an import string ("module:attr"); options are `Config` fields.
    """
    config = Config(app=app, **options)
    return run_config(config)


def run_config(
    config: Config, log_config: str | None = None, reread: Callable[[], Config] | None = None
) -> int:
    """Serve `config`: in this process, or with a master and workers (`Config.supervised`).
    `reread` builds the configuration again from its sources; the master calls it on SIGHUP."""
    _logging.configure(
        config.log_level,
        config.access_log,
        log_config,
        config.log_format,
        config.access_log_exclude,
        config.access_log_format,
    )
    if config.supervised:
        return run_supervisor(config, log_config, reread)
    try:
        app = load_app(
            config.app, factory=config.factory, app_dir=config.app_dir, interface=config.interface
        )
    except AppLoadError as exc:
        logger.error("Error loading ASGI app: %s", exc)
        return EXIT_ERROR
    owns_unix_sockets = "LISTEN_FDS" not in os.environ
    try:
        sockets = listeners(config)
    except (OSError, ValueError) as exc:
        logger.error("Could not listen: %s", exc)
        return EXIT_ERROR
    try:
        loop_factory = new_loop_factory(config.loop)
    except ImportError:
        logger.error("--loop uvloop was asked for but uvloop is not installed")
        return EXIT_ERROR
    worker = Worker(config, app, sockets, shutdown_delay=config.shutdown_delay)
    if config.pid_file:
        Path(config.pid_file).write_text(f"{os.getpid()}\n")
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(worker.serve())
    except KeyboardInterrupt:  # pragma: no cover - signals are handled by the loop
        return EXIT_OK
    finally:
        for sock in sockets:
            if sock.family == socket.AF_UNIX and owns_unix_sockets:
                with contextlib.suppress(OSError, TypeError):
                    os.unlink(sock.getsockname())
            sock.close()
        if config.pid_file:
            with contextlib.suppress(OSError):
                os.unlink(config.pid_file)
        sys.stdout.flush()
