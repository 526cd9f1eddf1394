"""`/livez` and `/readyz` on the `--metrics` listener through startup, a blocked event loop, a
reload and a stop; and `--shutdown-delay`, with a master and in a single process."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
from test_metrics import metrics_address, probe

from conftest import ServerProcess


def wait_status(address: str, path: str, status: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (answer := probe(address, path).status_code) != status:
        assert time.monotonic() < deadline, f"{path} stayed {answer}, expected {status}"
        time.sleep(0.1)


def test_readyz_waits_for_lifespan_startup_livez_does_not(start_server, tmp_path: Path) -> None:
    gate = tmp_path / "warmed-up"
    server: ServerProcess = start_server(
        "opsapp:app",
        "--workers",
        "1",
        "--metrics",
        "127.0.0.1:0",
        env={"OPSAPP_STARTUP_GATE": str(gate)},
        wait=False,
    )
    address = metrics_address(server)
    assert server.wait_for_stderr("Started worker")
    time.sleep(0.3)  # the worker is in its lifespan startup, waiting for the gate
    ready = probe(address, "/readyz")
    assert ready.status_code == 503 and ready.text == "starting\n"
    assert probe(address, "/livez").status_code == 200  # waiting is not being blocked
    gate.touch()
    server.wait_listening()
    wait_status(address, "/readyz", 200)
    assert server.stop() == 0


def test_a_blocked_event_loop_fails_livez_until_it_runs_again(start_server) -> None:
    # --timeout-worker above the block: the master must not kill the worker first.
    server: ServerProcess = start_server(
        "opsapp:app", "--workers", "1", "--timeout-worker", "30", "--metrics", "127.0.0.1:0"
    )
    address = metrics_address(server)
    wait_status(address, "/livez", 200)
    blocked = threading.Thread(
        target=lambda: httpx.get(server.url + "/block?7", timeout=30), daemon=True
    )
    blocked.start()
    wait_status(address, "/livez", 503, timeout=20)
    assert "not answering" in probe(address, "/livez").text
    assert probe(address, "/readyz").status_code == 200  # still ready: it will serve again
    blocked.join(30)
    wait_status(address, "/livez", 200)
    assert "has not answered" not in server.stderr  # not killed
    assert server.stop() == 0


def test_readyz_stays_ready_through_a_hup_reload(start_server) -> None:
    server: ServerProcess = start_server("opsapp:app", "--workers", "1", "--metrics", "127.0.0.1:0")
    address = metrics_address(server)
    wait_status(address, "/readyz", 200)
    server.signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while "Reload complete" not in server.stderr:
        assert time.monotonic() < deadline, server.stderr
        assert probe(address, "/readyz").status_code == 200
        time.sleep(0.05)
    assert probe(address, "/readyz").status_code == 200
    assert server.stop() == 0


def test_shutdown_delay_turns_readyz_503_at_once_and_serves_until_it_ends(start_server) -> None:
    server: ServerProcess = start_server(
        "opsapp:app", "--workers", "1", "--metrics", "127.0.0.1:0", "--shutdown-delay", "2"
    )
    address = metrics_address(server)
    wait_status(address, "/readyz", 200)
    server.signal(signal.SIGTERM)
    wait_status(address, "/readyz", 503, timeout=2)
    assert probe(address, "/readyz").text == "shutting down\n"
    # Still serving new connections during the delay; the stop has not begun.
    assert httpx.get(server.url + "/", timeout=10).text == "ok"
    assert probe(address, "/livez").status_code == 200
    assert "Stopping gracefully" not in server.stderr
    assert server.wait(20) == 0
    log = server.stderr
    assert log.index("serving 2s more") < log.index("Stopping gracefully")


def test_a_second_sigterm_during_the_delay_stops_at_once(start_server) -> None:
    server: ServerProcess = start_server(
        "opsapp:app", "--workers", "1", "--metrics", "127.0.0.1:0", "--shutdown-delay", "60"
    )
    server.signal(signal.SIGTERM)
    assert server.wait_for_stderr("serving 60s more")
    server.signal(signal.SIGTERM)
    assert server.wait(15) == 0
    assert "Second stop signal" in server.stderr


def test_shutdown_delay_in_a_single_process(start_server) -> None:
    server: ServerProcess = start_server("opsapp:app", "--shutdown-delay", "1.5")
    server.signal(signal.SIGTERM)
    assert server.wait_for_stderr("Stopping in 1.5s")
    assert httpx.get(server.url + "/", timeout=10).text == "ok"  # still serving
    assert server.wait(20) == 0
    log = server.stderr
    assert log.index("Stopping in 1.5s") < log.index("Shutting down")

    second: ServerProcess = start_server("opsapp:app", "--shutdown-delay", "60")
    second.signal(signal.SIGTERM)
    assert second.wait_for_stderr("Stopping in 60s")
    second.signal(signal.SIGINT)
    assert second.wait(15) == 0
    assert "Second stop signal" in second.stderr
