"""`--reload` for development: notice source changes under the watched directories.

With the optional `watchfiles` package a background thread waits for file-system events; without it the
master polls modification times once a second. Either way the master is woken and restarts workers.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path


class Reloader:
    def __init__(
        self,
        dirs: Iterable[str],
        includes: Iterable[str],
        excludes: Iterable[str],
        *,
        wake: Callable[[], None],
    ) -> None:
        self.dirs = [Path(d).resolve() for d in dirs]
        self.includes = tuple(includes)
        self.excludes = tuple(excludes)
        self.wake = wake
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._mtimes = self._scan()
        self._thread: threading.Thread | None = None
        try:
            import watchfiles  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
        except ImportError:
            pass
        else:
            self._thread = threading.Thread(
                target=self._watch, name="asgiserver-reload", daemon=True
            )
            self._thread.start()

    def _wanted(self, path: Path) -> bool:
        parts = path.parts
        if any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in self.excludes):
            return False
        return any(fnmatch.fnmatch(path.name, pattern) for pattern in self.includes)

    def _scan(self) -> dict[Path, float]:
        mtimes: dict[Path, float] = {}
        for root in self.dirs:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [
                    d for d in dirnames if not any(fnmatch.fnmatch(d, p) for p in self.excludes)
                ]
                for name in filenames:
                    path = Path(dirpath, name)
                    if self._wanted(path.relative_to(root)):
                        try:
                            mtimes[path] = path.stat().st_mtime
                        except OSError:
                            continue
        return mtimes

    def _watch(self) -> None:
        import watchfiles  # type: ignore[import-not-found, unused-ignore]

        for changes in watchfiles.watch(*self.dirs, stop_event=self._stop, yield_on_timeout=False):
            for _, name in changes:
                path = Path(name)
                root = next((r for r in self.dirs if path.is_relative_to(r)), None)
                if root is not None and self._wanted(path.relative_to(root)):
                    self._changed.set()
                    self.wake()
                    break

    def changed(self) -> bool:
        """True once per change (and then re-armed)."""
        if self._thread is None:
            mtimes = self._scan()
            if mtimes != self._mtimes:
                self._mtimes = mtimes
                return True
            return False
        if self._changed.is_set():
            self._changed.clear()
            return True
        return False

    def close(self) -> None:
        self._stop.set()
