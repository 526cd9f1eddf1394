"""One serving process: lifespan, listeners, connections, signals and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from asgiserver.server import _logging
from asgiserver.server._base import StreamProtocol
from asgiserver.server._config import Config
from asgiserver.server._h1 import H1Protocol
from asgiserver.server._importer import AppLoadError, ASGIApp, load_app
from asgiserver.server._lifespan import LifespanRunner
from asgiserver.server._sockets import describe, listeners, ssl_context
from asgiserver.server._state import ServerState
from asgiserver.server._uwsgi import UwsgiProtocol

logger = logging.getLogger("asgiserver.error")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STARTUP_FAILED = 3


class Worker:
    """Serves `config` on already-bound sockets until told to stop; returns an exit code."""

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        sockets: list[socket.socket],
        *,
        on_ready: Callable[[], None] | None = None,
        on_request_done: Callable[[int], None] | None = None,
        install_signals: bool = True,
    ) -> None:
        self.config = config
        self.app = app
        self.sockets = sockets
        self.on_ready = on_ready
        self.on_request_done = on_request_done
        self.install_signals = install_signals
        self.state: ServerState | None = None
        self._stop: asyncio.Event | None = None
        self._fast = False
        self._stop_requested = False
        self._interrupts = 0

    def request_stop(self, fast: bool = False) -> None:
        """Stop serving; a request made before `serve()` has started is kept and honoured."""
        self._fast = self._fast or fast
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        config = self.config
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        state = self.state = ServerState(config, self.app, loop)
        state.access_log = config.access_log and _logging.access_enabled()
        state.on_request_done = self.on_request_done
        if self.install_signals:
            self._install_signal_handlers(loop)
        runner = LifespanRunner(
            self.app,
            config.lifespan,
            state.app_state,
            startup_timeout=config.timeout_lifespan_startup,
            shutdown_timeout=config.timeout_lifespan_shutdown,
        )
        try:
            if not await runner.startup():
                return EXIT_STARTUP_FAILED
            tls = ssl_context(config)
            protocol: type[StreamProtocol] = (
                UwsgiProtocol if config.protocol == "uwsgi" else H1Protocol
            )
            servers = []
            for sock in self.sockets:
                server = await loop.create_server(
                    lambda: protocol(state),
                    sock=sock,
                    ssl=tls,
                    backlog=config.backlog,
                    ssl_handshake_timeout=config.timeout_request_head if tls else None,
                )
                servers.append(server)
                logger.info(
                    "Listening on %s (pid %d)", describe(sock, tls is not None), os.getpid()
                )
            if self.on_ready is not None:
                self.on_ready()
            await self._stop.wait()
            await self._shutdown(servers, state)
            await runner.shutdown()
            return EXIT_OK
        finally:
            state.stop_timers()
            if self.install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
                    with contextlib.suppress(Exception):
                        loop.remove_signal_handler(sig)

    async def _shutdown(self, servers: list[asyncio.Server], state: ServerState) -> None:
        logger.info("Shutting down")
        for server in servers:
            server.close()
        state.shutting_down = True
        for connection in list(state.connections):
            connection.shutdown()
        if state.tasks and not self._fast:
            logger.info("Waiting for %d in-flight request(s) to finish", len(state.tasks))
            deadline = asyncio.get_running_loop().time() + self.config.timeout_graceful_shutdown
            while state.tasks and not self._fast:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    logger.warning(
                        "Graceful shutdown timed out; cancelling %d request(s)", len(state.tasks)
                    )
                    break
                self._stop.clear()  # type: ignore[union-attr]
                stop_wait = asyncio.ensure_future(self._stop.wait())  # type: ignore[union-attr]
                await asyncio.wait(
                    {*state.tasks, stop_wait},
                    timeout=remaining,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                stop_wait.cancel()
        for task in list(state.tasks):
            task.cancel()
        if state.tasks:
            await asyncio.wait(state.tasks, timeout=5)
        for connection in list(state.connections):
            if connection.transport is not None:
                connection.transport.abort()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_signal(sig: int) -> None:
            if sig == signal.SIGQUIT:
                self.request_stop(fast=True)
                return
            if sig == signal.SIGINT:
                self._interrupts += 1
                if self._interrupts > 1:
                    logger.info("Second interrupt: stopping now")
                    self.request_stop(fast=True)
                    return
            self.request_stop()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
            loop.add_signal_handler(sig, on_signal, sig)


def new_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name in ("auto", "uvloop"):
        try:
            import uvloop  # type: ignore[import-not-found, unused-ignore]  # an optional extra
        except ImportError:
            if name == "uvloop":
                raise
        else:
            return cast(Callable[[], asyncio.AbstractEventLoop], uvloop.new_event_loop)
    return asyncio.new_event_loop


def run(app: ASGIApp | str, **options: Any) -> int:
    """Serve `app` in this process until SIGINT/SIGTERM; returns the process exit code.

    `app` is an ASGI application or an import string ("module:attr"); options are `Config` fields.
    """
    config = Config(app=app, **options)
    return run_config(config)


def run_config(config: Config, log_config: str | None = None) -> int:
    if config.supervised:
        from asgiserver.server._supervisor import run_supervisor

        return run_supervisor(config, log_config)
    _logging.configure(config.log_level, config.access_log, log_config)
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
    worker = Worker(config, app, sockets)
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
