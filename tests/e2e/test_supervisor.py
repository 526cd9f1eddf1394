"""The pre-fork supervisor over real processes, signals and sockets; every wait is bounded."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import APPS, ServerProcess, asgiserver_command, read_response, recv_until_closed


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def wait_until(predicate: Callable[[], bool], timeout: float = 15, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def fetch_pid(url: str) -> int:
    with httpx.Client(timeout=5) as client:
        return int(client.get(url + "/pid").text)


class RequestLoop:
    """A steady stream of requests on fresh connections, counting failures."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.ok = 0
        self.failures: list[str] = []
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        host, port = self.url.rsplit("/", 1)[1].rsplit(":", 1)
        while not self._stop.is_set():
            try:
                with socket.create_connection((host, int(port)), timeout=10) as sock:
                    sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    data = recv_until_closed(sock)
                head, _, body = data.partition(b"\r\n\r\n")
                if head.startswith(b"HTTP/1.1 200"):
                    self.ok += 1
                    self.pids.add(int(body))
                else:
                    self.failures.append(f"response {data[:40]!r}")
            except (OSError, ValueError) as exc:
                self.failures.append(repr(exc))
            time.sleep(0.002)

    @contextmanager
    def running(self) -> Iterator[RequestLoop]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(15)


def test_workers_serve_from_distinct_processes(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "3")
    assert wait_until(lambda: len(children(server.pid)) == 3)
    pids: set[int] = set()
    loop = RequestLoop(server.url, threads=6)
    with loop.running():
        wait_until(lambda: len(loop.pids) >= 2, timeout=10)
    pids = loop.pids
    assert not loop.failures
    assert len(pids) >= 2, pids
    assert pids <= children(server.pid)
    assert server.stop() == 0


def test_limit_connections_sends_the_next_connection_to_a_worker_with_room(start_server) -> None:
    """--limit-connections 1 with two workers: the worker holding a connection stops accepting, so
    the second connection goes to the other worker, and a third waits until one closes."""
    server: ServerProcess = start_server(
        "testapp:app", "--workers", "2", "--limit-connections", "1"
    )
    assert wait_until(lambda: server.stderr.count("Listening on") == 2)
    request = b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n"
    held = [server.connect(), server.connect()]
    pids = set()
    for sock in held:
        sock.sendall(request)
        pids.add(read_response(sock)[1])
    assert len(pids) == 2  # one connection in each worker
    with server.connect() as third:
        third.sendall(request)
        third.settimeout(1.0)
        with pytest.raises(TimeoutError):
            third.recv(1)
        held.pop().close()
        third.settimeout(5)
        assert read_response(third)[1] in pids
    held[0].close()
    assert server.stop() == 0


def test_killed_worker_is_replaced_under_load(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "2")
    assert wait_until(lambda: len(children(server.pid)) == 2)
    victim = fetch_pid(server.url)
    loop = RequestLoop(server.url)
    with loop.running():
        time.sleep(0.5)
        os.kill(victim, signal.SIGKILL)
        assert wait_until(
            lambda: len(children(server.pid)) == 2 and victim not in children(server.pid)
        )
        time.sleep(0.5)
    assert loop.ok > 20
    # Only requests in flight on the killed worker may fail.
    assert len(loop.failures) <= 4, loop.failures
    assert server.wait_for_stderr("died")
    assert server.stop() == 0


def test_hup_reload_under_load_drops_nothing(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "2")
    assert wait_until(lambda: len(children(server.pid)) == 2)
    before = children(server.pid)
    loop = RequestLoop(server.url)
    with loop.running():
        time.sleep(0.5)
        server.signal(signal.SIGHUP)
        assert wait_until(lambda: "Reload complete" in server.stderr)
        assert wait_until(lambda: not (children(server.pid) & before))
        time.sleep(0.5)
    assert loop.failures == []
    after = children(server.pid)
    assert len(after) == 2 and not (after & before)
    assert server.stop() == 0


def test_ttin_and_ttou_change_the_worker_count(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "1")
    assert wait_until(lambda: len(children(server.pid)) == 1)
    server.signal(signal.SIGTTIN)
    assert wait_until(lambda: len(children(server.pid)) == 2)
    server.signal(signal.SIGTTIN)
    assert wait_until(lambda: len(children(server.pid)) == 3)
    server.signal(signal.SIGTTOU)
    assert wait_until(lambda: len(children(server.pid)) == 2)
    assert server.stop() == 0


def test_blocked_worker_is_dumped_killed_and_replaced(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "1", "--timeout-worker", "2")
    blocked = fetch_pid(server.url)
    with server.connect() as sock:
        sock.sendall(b"GET /block?seconds=60 HTTP/1.1\r\nHost: t\r\n\r\n")
        start = time.monotonic()
        assert wait_until(
            lambda: blocked not in children(server.pid) and len(children(server.pid)) == 1,
            timeout=15,
        )
        assert time.monotonic() - start < 8
    assert wait_until(lambda: fetch_pid(server.url) != blocked)
    assert server.wait_for_stderr("event loop blocked")
    assert server.wait_for_stderr("testapp.py")  # faulthandler's traceback of the blocked worker
    assert server.stop() == 0


def test_max_requests_recycles_workers_without_failures(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "1", "--max-requests", "5")
    pids = set()
    for _ in range(20):
        pids.add(fetch_pid(server.url))
    assert len(pids) >= 3, pids
    assert server.stop() == 0


@pytest.mark.parametrize("workers", ["1", "4"])
def test_lifespan_startup_failure_exits_3(start_server, workers: str) -> None:
    server: ServerProcess = start_server(
        "testapp:app", "--workers", workers, env={"TESTAPP_FAIL_STARTUP": "1"}, wait=False
    )
    assert server.wait(30) == 3
    assert "database unreachable" in server.stderr


def test_crash_loop_stops_the_master_non_zero(start_server) -> None:
    server: ServerProcess = start_server("crashapp:app", "--workers", "2", wait=False)
    assert server.wait(60) not in (0, None)
    assert "giving up" in server.stderr


def test_term_lets_the_in_flight_request_finish(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "2")
    with server.connect() as sock:
        sock.sendall(b"GET /slow?delay=1.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)
        server.signal(signal.SIGTERM)
        _, body = read_response(sock)
    assert body == b"slow done"
    assert server.wait() == 0


def _spawn_with_fd3(
    sock: socket.socket, args: list[str], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    fd = sock.fileno()
    command = " ".join(map(_quote, [*asgiserver_command(), *args]))
    return subprocess.Popen(
        ["/bin/sh", "-c", f"LISTEN_PID=$$ LISTEN_FDS=1 exec {command}"],
        cwd=APPS,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(3,),
        preexec_fn=lambda: os.dup2(fd, 3),
    )


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_systemd_socket_activation(workers: list[str]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    proc = _spawn_with_fd3(listener, ["testapp:app", *workers], {})
    listener.close()
    try:
        assert wait_until(lambda: _get(f"http://127.0.0.1:{port}/") == "hello", timeout=20)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def _get(url: str) -> str | None:
    try:
        return httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return None


def test_sd_notify_ready_and_stopping(start_server, tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(20)
    server: ServerProcess = start_server(
        "testapp:app", "--workers", "2", env={"NOTIFY_SOCKET": path}
    )
    messages = []
    while not any("READY=1" in m for m in messages):
        messages.append(receiver.recv(4096).decode())
    server.signal(signal.SIGTERM)
    while not any("STOPPING=1" in m for m in messages):
        messages.append(receiver.recv(4096).decode())
    assert server.wait() == 0
    receiver.close()


def test_unix_socket_mode_bits(start_server, tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    server: ServerProcess = start_server(
        "testapp:app", "--workers", "1", "--bind", f"unix:{path}", "--uds-mode", "600", wait=False
    )
    assert wait_until(lambda: path.exists() and "Listening on" in server.stderr)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=10) as client:
        assert client.get("http://x/").text == "hello"
    assert server.stop() == 0
    assert not path.exists()


def test_several_binds_and_a_pid_file(start_server, tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    server: ServerProcess = start_server(
        "testapp:app",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{ports[0]}",
        "--bind",
        f"[::1]:{ports[1]}" if socket.has_ipv6 else f"127.0.0.1:{ports[1]}",
        "--pid",
        str(pid_file),
    )
    assert wait_until(lambda: pid_file.exists())
    assert int(pid_file.read_text()) == server.pid
    assert _get(f"http://127.0.0.1:{ports[0]}/") == "hello"
    if socket.has_ipv6:
        assert wait_until(lambda: _get(f"http://[::1]:{ports[1]}/") == "hello")
    assert server.stop() == 0
    assert not pid_file.exists()


def test_reload_restarts_workers_on_a_file_change(start_server, tmp_path: Path) -> None:
    app_file = tmp_path / "reloadable.py"
    template = (
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'%s'})\n"
    )
    app_file.write_text(template % "v1")
    server: ServerProcess = start_server(
        "reloadable:app", "--app-dir", str(tmp_path), "--reload", "--reload-dir", str(tmp_path)
    )
    assert _get(server.url + "/") == "v1"
    time.sleep(1.1)  # a later mtime than the first scan
    app_file.write_text(template % "v2")
    assert wait_until(lambda: _get(server.url + "/") == "v2", timeout=20)
    assert server.stop() == 0


def test_gunicorn_worker_class(tmp_path: Path) -> None:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        pytest.importorskip("gunicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "-k",
            "asgiserver.server.GunicornWorker",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "testapp:app",
        ],
        cwd=APPS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: _get(f"http://127.0.0.1:{port}/") == "hello", timeout=30)
        scope = httpx.get(f"http://127.0.0.1:{port}/scope", timeout=5).json()
        assert scope["state"]["greeting"] == "hello from lifespan"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0


def test_gunicorn_worker_class_logs_through_gunicorn(tmp_path: Path) -> None:
    """Access lines go to gunicorn's --access-logfile in its --access-logformat (a response header
    atom included), error lines to its error log in its own line format."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        pytest.importorskip("gunicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    access = tmp_path / "access.log"
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "-k",
            "asgiserver.server.GunicornWorker",
            "-b",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(access),
            "--access-logformat",
            '%(h)s "%(r)s" %(s)s %({content-type}o)s %({x-probe}i)s',
            "testapp:app",
        ],
        cwd=APPS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: _get(f"http://127.0.0.1:{port}/pid") is not None, timeout=30)
        httpx.get(f"http://127.0.0.1:{port}/?g=1", headers={"x-probe": "p1"}, timeout=5)
        expected = '127.0.0.1 "GET /?g=1 HTTP/1.1" 200 text/plain p1'
        assert wait_until(lambda: access.exists() and expected in access.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0
    # gunicorn's error format: "[date] [pid] [INFO] message" for our lines too.
    assert any("[INFO] Listening on http://127.0.0.1:" in line for line in stderr.splitlines())


def test_workers_stop_when_the_master_is_killed(start_server) -> None:
    server: ServerProcess = start_server("testapp:app", "--workers", "2")
    assert wait_until(lambda: len(children(server.pid)) == 2)
    workers = children(server.pid)
    server.signal(signal.SIGKILL)
    server.wait()

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    assert wait_until(lambda: not any(alive(pid) for pid in workers), timeout=15)


def test_term_while_workers_are_booting_stops_everything(start_server) -> None:
    """A worker told to stop between fork() and its own signal setup must not serve forever."""
    for _ in range(5):
        server: ServerProcess = start_server("testapp:app", "--workers", "4", wait=False)
        assert wait_until(lambda s=server: "Started worker" in s.stderr, timeout=15, interval=0.001)
        server.signal(signal.SIGTERM)
        assert server.wait(20) == 0


def test_hup_reads_the_configuration_file_again(start_server, tmp_path: Path) -> None:
    """As with gunicorn: the new workers of a HUP reload run with the file as it is now; a bad file
    or a listener change is refused with one log line and the server keeps serving."""
    conf = tmp_path / "asgiserver.toml"
    conf.write_text('workers = 1\nheader = ["x-generation:one"]\n')
    server: ServerProcess = start_server("testapp:app", "--config", str(conf))

    def generation() -> str | None:
        try:
            return httpx.get(server.url + "/", timeout=5).headers.get("x-generation")
        except httpx.HTTPError:
            return None

    assert generation() == "one"
    conf.write_text('workers = 2\nheader = ["x-generation:two"]\n')
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: generation() == "two" and len(children(server.pid)) == 2, 20)
    assert server.wait_for_stderr("Configuration reloaded")

    conf.write_text("workers = 2\nwrokers = 3\n")  # a misspelt key: refused, nothing changes
    server.signal(signal.SIGHUP)
    assert server.wait_for_stderr("Configuration not reloaded, keeping the current one")
    assert "wrokers" in server.stderr and "workers" in server.stderr
    conf.write_text('workers = 2\nheader = ["x-generation:three"]\nuds = "/tmp/x.sock"\n')
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: generation() == "three", 20)
    assert server.wait_for_stderr("--uds cannot change without a restart")
    assert server.stop() == 0
