"""sd_notify datagrams and socket-activation discovery, without systemd."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from asgiserver.server._net.sockets import activated_sockets
from asgiserver.server._process.systemd import Notifier


def test_notify_sends_datagrams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    notifier = Notifier()
    assert notifier.enabled and notifier.watchdog_interval == 2.0
    notifier.notify("READY=1", "STATUS=ok")
    assert receiver.recv(100) == b"READY=1\nSTATUS=ok"
    notifier.close()
    receiver.close()


def test_without_systemd_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    notifier.notify("READY=1")  # no error


def test_sockets_for_another_process_are_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
    monkeypatch.setenv("LISTEN_FDS", "1")
    assert activated_sockets() == []
