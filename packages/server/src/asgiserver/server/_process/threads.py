"""`--threads`: how many threads a worker gives the application's blocking code.

Two pools decide that, and an ASGI app may use either: asyncio's default executor
(`asyncio.to_thread`, `loop.run_in_executor(None, ...)`, asgiref's `sync_to_async` when not
thread-sensitive; Python sizes it from the host's CPU count, not the container's) and AnyIO's default
thread limiter (Starlette and FastAPI run sync endpoints, dependencies and file reads through it; 40
tokens). Both are set for the worker's loop before the lifespan starts. AnyIO is not a dependency:
it is set only when the application has it installed.
"""

from __future__ import annotations

import asyncio
import importlib
from concurrent.futures import ThreadPoolExecutor


def use_threads(loop: asyncio.AbstractEventLoop, count: int) -> None:
    """Size both pools to `count`; call from a task running on `loop` (AnyIO's limiter is kept
    per event loop and found through the running task)."""
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=count, thread_name_prefix="asgiserver-blocking")
    )
    try:
        to_thread = importlib.import_module("anyio.to_thread")  # not a dependency: maybe absent
    except ImportError:
        return
    to_thread.current_default_thread_limiter().total_tokens = count
