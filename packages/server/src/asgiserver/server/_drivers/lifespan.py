"""The lifespan driver: runs the ASGI lifespan protocol with a task and timeouts over
`asgiserver.lifespan`, which decides every transition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from asgiserver import lifespan
from asgiserver.server._asgi.types import ASGIApp, Message

logger = logging.getLogger("asgiserver.error")

_MODES = {"auto": lifespan.Mode.AUTO, "on": lifespan.Mode.ON, "off": lifespan.Mode.OFF}


class LifespanRunner:
    def __init__(
        self,
        app: ASGIApp,
        mode: str,
        state: dict[str, Any],
        *,
        startup_timeout: float,
        shutdown_timeout: float,
    ) -> None:
        self.app = app
        self.machine = lifespan.Lifespan(mode=_MODES[mode])
        self.mode = mode
        self.state = state
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._events: list[lifespan.Event] = []

    async def startup(self) -> bool:
        """Run lifespan startup; False means the server must not serve (exit code 3)."""
        machine = self.machine
        machine.startup()
        if machine.should_call_app:
            self.task = asyncio.get_running_loop().create_task(self._run_app())
        event = await self._outcome(
            (lifespan.StartupComplete, lifespan.StartupFailed, lifespan.Unsupported),
            self.startup_timeout,
        )
        if isinstance(event, lifespan.StartupFailed):
            logger.error("Application startup failed: %s", event.message or "(no message)")
            await self._stop_task()
            return False
        if isinstance(event, lifespan.Unsupported):
            logger.info("ASGI 'lifespan' protocol appears unsupported: %s", event.reason)
        elif self.mode != "off":
            logger.info("Application startup complete.")
        return True

    async def shutdown(self) -> bool:
        machine = self.machine
        machine.shutdown()
        self._notify()
        event = await self._outcome(
            (lifespan.ShutdownComplete, lifespan.ShutdownFailed), self.shutdown_timeout
        )
        ok = isinstance(event, lifespan.ShutdownComplete)
        if not ok:
            logger.error(
                "Application shutdown failed: %s", getattr(event, "message", "") or "(no message)"
            )
        elif self.task is not None:
            logger.info("Application shutdown complete.")
        await self._stop_task()
        return ok

    async def _outcome(self, kinds: tuple[type, ...], timeout: float) -> lifespan.Event:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        timed_out = False
        while True:
            self._events.extend(self.machine.events_received())
            for index, event in enumerate(self._events):
                if isinstance(event, kinds):
                    del self._events[: index + 1]
                    return event
            if timed_out:
                raise RuntimeError("lifespan machine gave no outcome after a timeout")
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(self._waiter(), remaining)
            except TimeoutError:
                self.machine.timed_out()
                timed_out = True

    async def _run_app(self) -> None:
        scope = self.machine.scope(self.state)
        try:
            await self.app(scope, self._receive, self._send)
        except asyncio.CancelledError:
            self.machine.app_raised(asyncio.CancelledError())
            raise
        except BaseException as exc:
            if self.mode == "on" or not isinstance(exc, Exception):
                logger.error("Exception in 'lifespan' protocol", exc_info=exc)
            self.machine.app_raised(exc)
        else:
            self.machine.app_returned()
        finally:
            self._notify()

    def _waiter(self) -> asyncio.Future[None]:
        """A future resolved by the next `_notify()`; created before any await, so no wake-up is lost."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _receive(self) -> Message:
        while True:
            message = self.machine.next_message()
            if message is not None:
                return dict(message)
            await self._waiter()

    async def _send(self, message: Mapping[str, Any]) -> None:
        self.machine.app_sent(message)
        self._notify()

    async def _stop_task(self) -> None:
        task = self.task
        if task is None or task.done():
            return
        # Give the app a moment to return after its final message, then cancel it.
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
