"""systemd integration without libsystemd: sd_notify (socket activation is in `_net/sockets.py`)."""

from __future__ import annotations

import contextlib
import os
import socket


class Notifier:
    """sd_notify(3): datagrams to $NOTIFY_SOCKET. Does nothing when not run by systemd."""

    def __init__(self) -> None:
        self._address: str | None = None
        self._sock: socket.socket | None = None
        address = os.environ.get("NOTIFY_SOCKET")
        if address and address[0] in "/@":
            self._address = "\0" + address[1:] if address[0] == "@" else address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.set_inheritable(False)
        usec = os.environ.get("WATCHDOG_USEC")
        watchdog_pid = os.environ.get("WATCHDOG_PID")
        self.watchdog_interval: float | None = None
        if usec and usec.isdigit() and (not watchdog_pid or watchdog_pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 1e6 / 2  # ping at half the deadline

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *fields: str) -> None:
        if self._sock is None or self._address is None:
            return
        with contextlib.suppress(OSError):
            self._sock.sendto("\n".join(fields).encode(), self._address)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
