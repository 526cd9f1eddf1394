"""The pre-fork master: binds the listeners once, forks workers and keeps them healthy.

The master runs no event loop and no threads of its own (the optional watchfiles reloader aside). It
sleeps in `select()` on a self-pipe that signal handlers write to (`signal.set_wakeup_fd`) and on one
pipe per worker, over which each worker's event loop reports: `R` ready (lifespan startup done), `H`
heartbeat (once a second, from the loop itself, so a blocked loop stops beating), `M` recycle me
(max requests reached), and with `--metrics` `S<json>\n` in place of `H`: a cumulative snapshot of
its counters (`metrics.py`). With `--metrics` the master also serves `/metrics`, `/livez` and
`/readyz` (`probes.py`) from the same loop.

Signals: TERM/INT graceful stop (a second INT: now), QUIT immediate, HUP rolling reload (new workers
first; the old ones drain only once every new one is ready), TTIN/TTOU one worker more/less, USR1 reopen
log files. The master tells a worker it retires (reload, recycling, TTOU) with HUP, not TERM: the
worker drains the same way, but its WebSockets are closed with 1012 (Service Restart, "reconnect")
instead of 1001 (Going Away); a stop of the whole server sends TERM. `--shutdown-delay`: the first
SIGTERM only turns /readyz to 503 and the graceful stop begins after the delay; a second TERM or
INT during the delay or the stop stops now. Exit codes: 0 after a stop, 3 when lifespan startup
failed, 1 when workers crash while
booting again and again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import logging
import os
import random
import select
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asgiserver.server import _logging
from asgiserver.server._asgi.types import ASGIApp
from asgiserver.server._config import Config
from asgiserver.server._importer import AppLoadError, load_app
from asgiserver.server._net.sockets import (
    bind,
    bind_specs,
    bind_tcp,
    bind_unix,
    describe,
    is_tcp,
    listeners,
    parse_tcp,
)
from asgiserver.server._process.metrics import (
    CONTENT_TYPE,
    MAX_SNAPSHOT,
    MetricsBook,
    decode_snapshot,
)
from asgiserver.server._process.probes import Answer, ProbeListener
from asgiserver.server._process.reloader import Reloader
from asgiserver.server._process.systemd import Notifier
from asgiserver.server._process.worker import Worker, new_loop_factory

logger = logging.getLogger("asgiserver.error")

EXIT_OK, EXIT_ERROR, EXIT_STARTUP_FAILED = 0, 1, 3
BOOT_FAILURES_BEFORE_GIVING_UP = 5
MAX_BACKOFF = 10.0
KILL_GRACE = 5.0  # after the graceful timeout, how long a worker may take to die before SIGKILL
LIVENESS_WINDOW = 5.0  # /livez: every worker's loop has beaten within this many seconds

_TEXT = (b"content-type", b"text/plain; charset=utf-8")

_SIGNALS = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGQUIT,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGCHLD,
)


@dataclass
class WorkerProcess:
    pid: int
    pipe: int
    generation: int
    started: float
    max_requests: int | None
    ready: bool = False
    last_beat: float = 0.0
    stopping_since: float | None = None
    aborted_at: float | None = None
    killed: bool = False
    buffer: bytes = field(default=b"", repr=False)


def reopen_log_files() -> None:
    """USR1: reopen every file handler (after logrotate moved the files away)."""
    for logger_ in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger_, "handlers", []):
            if isinstance(handler, logging.FileHandler):
                handler.acquire()
                try:
                    handler.close()
                    handler.stream = handler._open()
                finally:
                    handler.release()


# What a HUP cannot change: the listeners are bound once, by the master (and the app is imported
# by it with --preload); a change to these needs a restart.
_FIXED_ON_RELOAD = (
    "binds",
    "host",
    "port",
    "uds",
    "fd",
    "uds_mode",
    "uds_owner",
    "backlog",
    "reuse_port",
    "metrics",
    "pid_file",
    "preload",
    "reload",
    "reload_dirs",
    "reload_includes",
    "reload_excludes",
)


class Supervisor:
    def __init__(
        self,
        config: Config,
        log_config: str | None = None,
        reread: Callable[[], Config] | None = None,
    ) -> None:
        self.config = config
        self.log_config = log_config
        self.reread = reread  # builds the configuration again from its sources (SIGHUP)
        self.target = config.workers if config.workers is not None else 1
        self.workers: dict[int, WorkerProcess] = {}
        self.generation = 0
        self.sockets: list[socket.socket] = []
        self.app: ASGIApp | None = None
        self.notifier = Notifier()
        self.exit_code = EXIT_OK
        self.stopping = False
        self.stop_deadline = 0.0
        self.boot_failures = 0
        self.next_spawn = 0.0
        self.reloading = False
        self.signals: list[int] = []
        self.interrupts = 0
        self.reloader: Reloader | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._last_watchdog = 0.0
        self.owns_unix_sockets = "LISTEN_FDS" not in os.environ
        self.book = MetricsBook() if config.metrics is not None else None
        self.probes: ProbeListener | None = None
        self.serving = False  # /readyz: every worker has been ready, and no stop has begun
        self.drain_until: float | None = None  # --shutdown-delay: when the graceful stop begins

    # ---- lifecycle -------------------------------------------------------------------------------

    def run(self) -> int:
        config = self.config
        try:
            self.sockets = listeners(config, skip_tcp=config.reuse_port)
        except (OSError, ValueError) as exc:
            logger.error("Could not listen: %s", exc)
            return EXIT_ERROR
        if config.metrics is not None:
            try:
                self.probes = self._listen_probes(config.metrics)
            except (OSError, ValueError) as exc:
                logger.error("Could not listen on --metrics %s: %s", config.metrics, exc)
                for sock in self.sockets:
                    sock.close()
                return EXIT_ERROR
        if config.preload:
            try:
                self.app = self._load_app()
            except AppLoadError as exc:
                logger.error("Error loading ASGI app: %s", exc)
                return EXIT_ERROR
        for sock in self.sockets:
            os.set_inheritable(sock.fileno(), True)
        self._write_pid_file()
        self._install_signals()
        if config.reload:
            self.reloader = Reloader(
                config.reload_dirs or (config.app_dir or ".",),
                config.reload_includes,
                config.reload_excludes,
                wake=self._wake,
            )
        logger.info("Master process %d starting %d worker(s)", os.getpid(), self.target)
        try:
            self._loop()
        finally:
            self._cleanup()
        return self.exit_code

    def _loop(self) -> None:
        while True:
            now = time.monotonic()
            if self.drain_until is not None and now >= self.drain_until and not self.stopping:
                self._stop(graceful=True)  # the --shutdown-delay is over
            if not self.stopping:
                self._maintain(now)
            elif not self.workers:
                return
            else:
                self._enforce_stop_deadline(now)
            self._check_health(now)
            self._feed_systemd_watchdog(now)
            self._wait(1.0 if not self.stopping else 0.2)
            self._handle_signals()
            if self.reloader is not None and self.reloader.changed():
                logger.info("Source changed: restarting workers")
                self._start_reload()

    def _wait(self, timeout: float) -> None:
        fds = [self._wake_r, *(w.pipe for w in self.workers.values())]
        writing: list[int] = []
        probes = self.probes
        now = time.monotonic()
        if probes is not None:
            fds += probes.read_fds()
            writing = probes.write_fds()
            deadline = probes.next_deadline()
            if deadline is not None:
                timeout = min(timeout, deadline - now)
        if self.drain_until is not None and not self.stopping:
            timeout = min(timeout, self.drain_until - now)
        try:
            readable, writable, _ = select.select(fds, writing, [], max(0.0, timeout))
        except InterruptedError:
            return
        for fd in readable:
            if fd == self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 4096):
                        pass
            elif probes is not None and probes.owns(fd):
                probes.on_readable(fd)
            else:
                self._read_worker(fd)
        if probes is not None:
            for fd in writable:
                probes.on_writable(fd)
            probes.expire(time.monotonic())

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    # ---- signals ---------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in _SIGNALS:
            signal.signal(sig, self._on_signal)
            signal.siginterrupt(sig, False)

    def _on_signal(self, sig: int, frame: object) -> None:
        self.signals.append(sig)

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.pop(0)
            if sig == signal.SIGCHLD:
                self._reap()
            elif sig in (signal.SIGTERM, signal.SIGINT):
                self._on_stop_signal(sig)
            elif sig == signal.SIGQUIT:
                self._stop(graceful=False)
            elif sig == signal.SIGHUP and not self.stopping and self.drain_until is None:
                logger.info("SIGHUP: reloading workers")
                self._reread_config()
                self._start_reload()
            elif sig == signal.SIGTTIN and not self.stopping:
                self.target += 1
                logger.info("SIGTTIN: %d worker(s)", self.target)
            elif sig == signal.SIGTTOU and not self.stopping:
                if self.target > 1:
                    self.target -= 1
                    logger.info("SIGTTOU: %d worker(s)", self.target)
            elif sig == signal.SIGUSR1:
                reopen_log_files()
                self._signal_all(signal.SIGUSR1)
        self._reap()

    def _on_stop_signal(self, sig: int) -> None:
        if sig == signal.SIGINT:
            self.interrupts += 1
        delay = self.config.shutdown_delay
        if self.drain_until is not None or (
            self.stopping and (delay > 0 or (sig == signal.SIGINT and self.interrupts > 1))
        ):
            logger.info("Second stop signal: stopping workers now")
            self._stop(graceful=False)
        elif sig == signal.SIGTERM and delay > 0 and not self.stopping:
            # Readiness fails at once; serving goes on until load balancers (or Kubernetes
            # endpoints) have stopped sending new requests here.
            self.drain_until = time.monotonic() + delay
            self.serving = False
            self.notifier.notify("STOPPING=1")
            logger.info("SIGTERM: not ready; serving %gs more before stopping", delay)
        else:
            self._stop(graceful=True)

    def _stop(self, *, graceful: bool) -> None:
        self.serving = False
        if not self.stopping:
            self.stopping = True
            self.notifier.notify("STOPPING=1")
            logger.info("Stopping %s", "gracefully" if graceful else "now")
            self.stop_deadline = time.monotonic() + (
                self.config.timeout_graceful_shutdown + KILL_GRACE if graceful else KILL_GRACE
            )
        self._signal_all(signal.SIGTERM if graceful else signal.SIGQUIT)

    def _enforce_stop_deadline(self, now: float) -> None:
        if now >= self.stop_deadline:
            for worker in self.workers.values():
                if not worker.killed:
                    logger.warning("Worker %d did not stop in time: killing it", worker.pid)
                    self._kill(worker, signal.SIGKILL)

    # ---- workers -----------------------------------------------------------------------------------

    def _maintain(self, now: float) -> None:
        current = [
            w
            for w in self.workers.values()
            if w.generation == self.generation and w.stopping_since is None
        ]
        if self.reloading and all(w.ready for w in current) and len(current) >= self.target:
            for worker in self.workers.values():
                if worker.generation < self.generation and worker.stopping_since is None:
                    if self.book is not None and worker.generation >= 0:
                        self.book.restarted("reload")  # generation -1: counted as a recycle
                    self._retire(worker)
            self.reloading = False
            self.serving = self.drain_until is None  # (not stopping: _maintain runs only then)
            self.notifier.notify("READY=1", f"STATUS=serving with {len(current)} worker(s)")
            logger.info("Reload complete")
        if len(current) < self.target and now >= self.next_spawn:
            self._spawn()
        elif len(current) > self.target:
            for worker in sorted(current, key=lambda w: w.started, reverse=True)[
                : len(current) - self.target
            ]:
                self._retire(worker)

    def _reread_config(self) -> None:
        """SIGHUP reads the configuration again, as gunicorn does: the command line as given, the
        file as it is now, the master's environment. The new workers run with it (new TLS
        certificates, timeouts, worker count...); a bad file keeps the current configuration."""
        if self.reread is None:
            return
        try:
            new = self.reread()
        except (ValueError, OSError) as exc:
            logger.error("Configuration not reloaded, keeping the current one: %s", exc)
            return
        kept = [
            name for name in _FIXED_ON_RELOAD if getattr(new, name) != getattr(self.config, name)
        ]
        if kept:
            logger.warning(
                "Reload: %s cannot change without a restart; keeping the current value(s)",
                ", ".join(f"--{name.replace('_', '-')}" for name in kept),
            )
            new = dataclasses.replace(new, **{name: getattr(self.config, name) for name in kept})
        if new.workers != self.config.workers:
            self.target = new.workers if new.workers is not None else 1
        self.config = new
        _logging.configure(
            new.log_level,
            new.access_log,
            self.log_config,
            new.log_format,
            new.access_log_exclude,
            new.access_log_format,
        )
        logger.info("Configuration reloaded")

    def _start_reload(self) -> None:
        self.generation += 1
        self.reloading = True
        self.notifier.notify(
            "RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
        )

    def _retire(self, worker: WorkerProcess) -> None:
        if worker.stopping_since is None:
            worker.stopping_since = time.monotonic()
            self._kill(worker, signal.SIGHUP)  # a graceful stop with 1012 to WebSockets

    def _signal_all(self, sig: int) -> None:
        for worker in list(self.workers.values()):
            if sig in (signal.SIGTERM, signal.SIGQUIT) and worker.stopping_since is None:
                worker.stopping_since = time.monotonic()
            self._kill(worker, sig)

    def _kill(self, worker: WorkerProcess, sig: int) -> None:
        if sig == signal.SIGKILL:
            worker.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, sig)

    def _spawn(self) -> None:
        config = self.config
        max_requests = None
        if config.max_requests is not None:
            max_requests = config.max_requests + random.randint(
                0, max(0, config.max_requests_jitter)
            )
        read_fd, write_fd = os.pipe()
        # Signals are blocked across fork(): one arriving before the child has restored the
        # default handlers would otherwise reach its copy of the master's handler and be lost
        # (a worker told to stop while booting would serve forever).
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        master = os.getpid()
        pid = os.fork()
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        if pid == 0:  # the worker
            os.close(read_fd)
            code = EXIT_ERROR
            try:
                code = self._worker_main(write_fd, max_requests, master)
            except BaseException:
                logger.exception("Worker crashed")
            finally:
                logging.shutdown()
                os._exit(code)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        now = time.monotonic()
        self.workers[pid] = WorkerProcess(
            pid, read_fd, self.generation, now, max_requests, last_beat=now
        )
        logger.info("Started worker %d", pid)

    def _worker_main(self, pipe: int, max_requests: int | None, master: int) -> int:
        """A worker's life. `master` is the master's pid as read before fork(): read here, it would
        be 1 (or a subreaper) if the master were killed while this worker was still booting, and
        the worker would never notice that it had outlived its master."""
        import asyncio

        signal.set_wakeup_fd(-1)
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)  # blocked by the master across fork()
        os.close(self._wake_r)
        os.close(self._wake_w)
        for other in self.workers.values():
            os.close(other.pipe)
        if self.probes is not None:
            self.probes.close()  # the master's listener: this process's copies only
        self.notifier.close()
        faulthandler.enable(all_threads=True)  # SIGABRT from the watchdog dumps every stack
        config = self.config
        sockets = list(self.sockets)
        if config.reuse_port:
            sockets += [
                bind(spec, config, reuse_port=True) for spec in bind_specs(config) if is_tcp(spec)
            ]
        try:
            app = self.app if self.app is not None else self._load_app()
        except AppLoadError as exc:
            logger.error("Error loading ASGI app: %s", exc)
            return EXIT_ERROR

        def tell(message: bytes) -> None:
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(pipe, message)

        asked = False

        def on_request_done(total: int) -> None:
            nonlocal asked
            if max_requests is not None and total >= max_requests and not asked:
                asked = True
                tell(b"M")

        worker = Worker(
            config,
            app,
            sockets,
            on_ready=lambda: tell(b"R"),
            on_request_done=on_request_done,
            restart_on_hup=True,
        )

        async def serve() -> int:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, reopen_log_files)

            due = loop.time()

            def beat() -> None:
                nonlocal due
                if os.getppid() != master:
                    # The master died without stopping us (SIGKILL): never outlive it.
                    logger.warning(
                        "Master process %d is gone: worker %d stopping", master, os.getpid()
                    )
                    worker.request_stop()
                    return
                now = loop.time()
                tell(worker.heartbeat(max(0.0, now - due)))  # how late this timer ran: loop lag
                due = now + 1.0
                loop.call_later(1.0, beat)

            beat()
            code = await worker.serve()
            tell(worker.heartbeat(0.0))  # the last counters, read by the master when it reaps us
            return code

        with asyncio.Runner(loop_factory=new_loop_factory(config.loop)) as runner:
            return runner.run(serve())

    def _load_app(self) -> ASGIApp:
        config = self.config
        return load_app(
            config.app, factory=config.factory, app_dir=config.app_dir, interface=config.interface
        )

    def _read_worker(self, fd: int) -> None:
        worker = next((w for w in self.workers.values() if w.pipe == fd), None)
        if worker is None:
            return
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        now = time.monotonic()
        if not data:
            return  # EOF: the worker is exiting; reaping handles it
        worker.last_beat = now
        messages = self._messages(worker, data)
        kinds = {kind for kind, _ in messages}
        if b"R" in kinds and not worker.ready:
            worker.ready = True
            self.boot_failures = 0
            logger.info("Worker %d ready", worker.pid)
            if not self.reloading and self._all_ready():
                if not self.stopping and self.drain_until is None:
                    self.serving = True
                self.notifier.notify(
                    "READY=1", f"STATUS=serving with {len(self.workers)} worker(s)"
                )
        if b"M" in kinds and worker.stopping_since is None:
            logger.info("Worker %d reached its request limit: recycling it", worker.pid)
            self._replace(worker)
        self._keep_snapshots(worker, messages)

    def _messages(self, worker: WorkerProcess, data: bytes) -> list[tuple[bytes, bytes]]:
        """The worker's messages: single bytes (R, H, M), or S and a snapshot up to a line feed
        (possibly split across reads: the rest waits in the worker's buffer)."""
        buffer = worker.buffer + data
        messages: list[tuple[bytes, bytes]] = []
        start = 0
        while start < len(buffer):
            kind = buffer[start : start + 1]
            if kind == b"S":
                end = buffer.find(b"\n", start)
                if end < 0:
                    break
                messages.append((kind, buffer[start + 1 : end]))
                start = end + 1
            else:
                messages.append((kind, b""))
                start += 1
        worker.buffer = buffer[start:]
        if len(worker.buffer) > MAX_SNAPSHOT:
            worker.buffer = b""  # not a snapshot: never buffer without bound
        return messages

    def _keep_snapshots(self, worker: WorkerProcess, messages: list[tuple[bytes, bytes]]) -> None:
        book = self.book
        if book is None:
            return
        for kind, body in messages:
            if kind == b"S" and (snapshot := decode_snapshot(body)) is not None:
                book.update(worker.pid, snapshot)

    def _all_ready(self) -> bool:
        live = [w for w in self.workers.values() if w.stopping_since is None]
        return len(live) >= self.target and all(w.ready for w in live)

    def _replace(self, worker: WorkerProcess) -> None:
        """Graceful recycling: a new worker starts, and the old one drains once it is ready."""
        if self.book is not None and worker.generation >= 0:
            self.book.restarted("recycle")
        worker.generation = -1  # no longer counted; retired when the new one is ready
        self._spawn()
        self.reloading = True

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            self._read_last_snapshot(worker)
            os.close(worker.pipe)
            code = os.waitstatus_to_exitcode(status)
            if worker.stopping_since is not None:
                logger.info("Worker %d stopped (exit %d)", pid, code)
                continue
            if code == EXIT_STARTUP_FAILED:
                logger.error("Worker %d: application startup failed; stopping (exit 3)", pid)
                if self.reloading and any(w.ready for w in self.workers.values()):
                    logger.error("Reload aborted: the old workers keep serving")
                    self._abort_reload()
                    continue
                self.exit_code = EXIT_STARTUP_FAILED
                self._stop(graceful=False)
                continue
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            if self.book is not None:
                self.book.restarted("timeout" if worker.aborted_at is not None else "crash")
            if not worker.ready:
                self.boot_failures += 1
                logger.error("Worker %d died while booting (%s)", pid, how)
                if self.boot_failures >= BOOT_FAILURES_BEFORE_GIVING_UP:
                    logger.error(
                        "Workers failed to boot %d times in a row: giving up (exit 1)",
                        self.boot_failures,
                    )
                    self.exit_code = EXIT_ERROR
                    self._stop(graceful=False)
                    continue
                delay = min(MAX_BACKOFF, 0.1 * 2 ** (self.boot_failures - 1))
                self.next_spawn = time.monotonic() + delay
            else:
                logger.error("Worker %d died (%s): replacing it", pid, how)

    def _read_last_snapshot(self, worker: WorkerProcess) -> None:
        """A reaped worker's last counters (its pipe read to the end), then folded into the
        totals of workers gone."""
        book = self.book
        if book is None:
            return
        with contextlib.suppress(OSError):  # BlockingIOError: a forked grandchild holds the pipe
            while data := os.read(worker.pipe, 4096):
                self._keep_snapshots(worker, self._messages(worker, data))
        book.retire(worker.pid)

    def _abort_reload(self) -> None:
        for worker in list(self.workers.values()):
            if worker.generation == self.generation:
                self._retire(worker)
        self.generation -= 1
        for worker in self.workers.values():
            if worker.generation == self.generation + 1:
                worker.generation = -1
        self.reloading = False

    # ---- health ----------------------------------------------------------------------------------

    def _check_health(self, now: float) -> None:
        config = self.config
        for worker in list(self.workers.values()):
            if worker.killed:
                continue
            if worker.aborted_at is not None:
                if now - worker.aborted_at > 2.0:
                    self._kill(worker, signal.SIGKILL)  # faulthandler had its chance to dump
                continue
            if worker.stopping_since is not None:
                limit = config.timeout_graceful_shutdown + KILL_GRACE
                if now - worker.stopping_since > limit:
                    logger.warning(
                        "Worker %d did not drain in %.0fs: killing it", worker.pid, limit
                    )
                    self._kill(worker, signal.SIGKILL)
                continue
            silent = now - worker.last_beat
            timeout = (
                config.timeout_worker
                if worker.ready
                else max(config.timeout_worker, config.timeout_lifespan_startup + 5)
            )
            if silent > timeout:
                logger.error(
                    "Worker %d has not answered for %.1fs (event loop blocked?): dumping its stacks and killing it",
                    worker.pid,
                    silent,
                )
                # SIGABRT makes faulthandler print the traceback; SIGKILL follows if it survives.
                worker.aborted_at = now
                self._kill(worker, signal.SIGABRT)
                continue
            if not worker.ready or worker.generation < 0:
                continue
            if (
                config.max_worker_lifetime is not None
                and now - worker.started > config.max_worker_lifetime
            ):
                logger.info("Worker %d reached its maximum lifetime: recycling it", worker.pid)
                self._replace(worker)
            elif (
                config.max_worker_memory is not None
                and _rss_mib(worker.pid) > config.max_worker_memory
            ):
                logger.info(
                    "Worker %d exceeds %d MiB: recycling it", worker.pid, config.max_worker_memory
                )
                self._replace(worker)

    # ---- metrics and health probes ---------------------------------------------------------------

    def _listen_probes(self, address: str) -> ProbeListener:
        if address.startswith("unix:"):
            config = self.config
            sock = bind_unix(address[5:], 64, config.uds_mode, config.uds_owner)
        else:
            host, port = parse_tcp(address)
            sock = bind_tcp(host, port, 64)
        logger.info("Metrics and health checks on %s", describe(sock, False))
        routes = {b"/metrics": self._metrics, b"/livez": self._livez, b"/readyz": self._readyz}
        return ProbeListener(sock, routes)

    def _serving_workers(self) -> list[WorkerProcess]:
        return [w for w in self.workers.values() if w.stopping_since is None]

    def _metrics(self) -> Answer:
        assert self.book is not None
        body = self.book.render(len(self._serving_workers()))
        return 200, [(b"content-type", CONTENT_TYPE.encode())], body

    def _livez(self) -> Answer:
        """Every worker's event loop has beaten lately (a blocked loop does not)."""
        now = time.monotonic()
        stale = [w.pid for w in self._serving_workers() if now - w.last_beat > LIVENESS_WINDOW]
        if stale:
            pids = " ".join(map(str, stale))
            return 503, [_TEXT], f"worker(s) {pids} not answering\n".encode()
        return 200, [_TEXT], b"ok\n"

    def _readyz(self) -> Answer:
        """Every worker has finished lifespan startup, and no stop has begun. Stays ready
        through a reload and a worker's replacement: the others serve meanwhile."""
        if self.serving:
            return 200, [_TEXT], b"ok\n"
        if self.stopping or self.drain_until is not None:
            return 503, [_TEXT], b"shutting down\n"
        return 503, [_TEXT], b"starting\n"

    def _feed_systemd_watchdog(self, now: float) -> None:
        interval = self.notifier.watchdog_interval
        if interval is not None and now - self._last_watchdog >= interval:
            self._last_watchdog = now
            self.notifier.notify("WATCHDOG=1")

    # ---- files -----------------------------------------------------------------------------------

    def _write_pid_file(self) -> None:
        if self.config.pid_file:
            Path(self.config.pid_file).write_text(f"{os.getpid()}\n")

    def _cleanup(self) -> None:
        if self.config.pid_file:
            with contextlib.suppress(OSError):
                Path(self.config.pid_file).unlink()
        for sock in self.sockets:
            if sock.family == socket.AF_UNIX and self.owns_unix_sockets:
                name = sock.getsockname()
                with contextlib.suppress(OSError, TypeError):
                    os.unlink(name)
            sock.close()
        if self.reloader is not None:
            self.reloader.close()
        if self.probes is not None:
            name = (
                self.probes.sock.getsockname()
                if self.probes.sock.family == socket.AF_UNIX
                else None
            )
            self.probes.close()
            if isinstance(name, str) and name:
                with contextlib.suppress(OSError):
                    os.unlink(name)
        self.notifier.close()


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_supervisor(
    config: Config, log_config: str | None = None, reread: Callable[[], Config] | None = None
) -> int:
    """Run the master until it stops; logging is already configured (`_run.run_config`).
    `reread` builds the configuration again from its sources, for SIGHUP."""
    return Supervisor(config, log_config, reread).run()
