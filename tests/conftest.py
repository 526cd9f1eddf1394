"""End-to-end harness: start the real `asgiserver` command on a free loopback port and stop it by PID."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"
IN_CI = os.environ.get("CI", "").lower() == "true"
LISTEN_RE = re.compile(r"Listening on (https?)://(\[[^\]]+\]|[^:\s]+):(\d+)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI every end-to-end test runs: a skip (a missing tool, or a declared dependency that
    `pytest.importorskip` did not find) is a failure there, never a silent pass."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI (CI=true): {reason}"


def require_tool(name: str) -> str:
    """A test that needs a missing tool fails in CI and skips elsewhere."""
    path = shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/sbin") if (p := Path(d) / name).exists()), None
    )
    if path is None:
        message = f"{name} is not installed"
        if IN_CI:
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return path


def asgiserver_command() -> list[str]:
    script = Path(sys.executable).parent / "asgiserver"
    return [str(script)] if script.exists() else [sys.executable, "-m", "asgiserver"]


class ServerProcess:
    """A running `asgiserver` process; its output is collected by reader threads."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, wait: bool = True):
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [*asgiserver_command(), *args],
            cwd=APPS,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        self.pid = self.proc.pid
        self._out: list[str] = []
        self._err: list[str] = []
        self._listening = threading.Event()
        self.scheme = "http"
        self.host = "127.0.0.1"
        self.port = 0
        for stream, sink in ((self.proc.stdout, self._out), (self.proc.stderr, self._err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()
        if wait:
            self.wait_listening()

    def _pump(self, stream: object, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            line = raw.decode("utf-8", "replace")
            sink.append(line)
            match = LISTEN_RE.search(line)
            if match and not self._listening.is_set():
                self.scheme, host, port = match.groups()
                self.host = host.strip("[]")
                self.port = int(port)
                self._listening.set()

    def wait_listening(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    f"server did not start (rc={self.proc.poll()}):\n{self.stderr}"
                )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    def wait_for_stderr(self, text: str, timeout: float = 5) -> bool:
        """Whether `text` shows up on stderr within `timeout` (a reader thread collects it)."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def connect(self, timeout: float = 10) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        return sock

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(
                f"server {self.pid} did not exit in {timeout}s:\n{self.stderr}"
            ) from None

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


@pytest.fixture
def start_server() -> Iterator[type[ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, wait: bool = True) -> ServerProcess:
        proc = ServerProcess(["--port", "0", *args], env=env, wait=wait)
        started.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in started:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait(10)
        # Shown by pytest only when the test failed.
        print(f"---- server {proc.pid} stderr ----\n{proc.stderr}")


@pytest.fixture
def server(start_server: object) -> ServerProcess:
    return start_server("testapp:app")  # type: ignore[operator, no-any-return]


_LEFTOVER: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_response(sock: socket.socket, *, head_only: bool = False) -> tuple[bytes, bytes]:
    """Read one HTTP/1.1 response (sized, chunked or close-delimited) from a raw socket.

    Bytes read past the response are kept for the next call on the same socket (pipelining).
    With `head_only`, the bytes after the head are returned instead and nothing is kept.
    """
    buf = bytearray(_LEFTOVER.pop(sock, b""))
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full head: {bytes(buf)!r}")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    if head_only:
        return head, rest
    lower = head.lower()
    match = re.search(rb"\r\ncontent-length: *(\d+)", lower)
    status = int(head.split(b" ", 2)[1])
    if 100 <= status < 200 or status in (204, 304):
        _LEFTOVER[sock] = rest
        return head, b""
    body = bytearray(rest)
    if match:
        size = int(match.group(1))
        while len(body) < size:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            body += chunk
        _LEFTOVER[sock] = bytes(body[size:])
        return head, bytes(body[:size])
    if b"transfer-encoding: chunked" in lower:
        while b"\r\n0\r\n\r\n" not in body and not body.startswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-chunked-body")
            body += chunk
        end = (
            body.find(b"0\r\n\r\n")
            if body.startswith(b"0\r\n\r\n")
            else body.find(b"\r\n0\r\n\r\n") + 2
        )
        _LEFTOVER[sock] = bytes(body[end + 5 :])
        return head, decode_chunked(bytes(body[: end + 5]))
    while chunk := sock.recv(65536):
        body += chunk
    return head, bytes(body)


def decode_chunked(data: bytes) -> bytes:
    out = bytearray()
    while True:
        line, _, data = data.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[:size]
        data = data[size + 2 :]


def recv_until_closed(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = bytearray()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return bytes(data)


# ---- real proxies in front of the server ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_on(*hosts: str) -> int:
    """A port free on every one of `hosts`: the same port on several loopback addresses stands for
    several machines."""
    for _ in range(50):
        port = free_port()
        try:
            for host in hosts:
                with socket.socket() as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return port
    raise AssertionError(f"no port free on all of {hosts}")


@contextmanager
def listening_process(argv: list[str], port: int, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` until it listens on 127.0.0.1:`port` (10 s at most); stop it by PID afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    error = proc.stderr.read() if proc.poll() is not None else b""  # type: ignore[union-attr]
                    raise AssertionError(f"{name} did not start: {error!r}") from None
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http}
}}
"""


@contextmanager
def running_nginx(tmp: Path, port: int, http: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real nginx with its own configuration (`http` is the inside of its http block), its files
    in `tmp`, listening on 127.0.0.1:`port`, stopped by PID."""
    binary = require_tool("nginx")
    # As root, nginx workers would drop to "nobody", who cannot write into the private temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, http=http))
    argv = [binary, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
    with listening_process(argv, port, "nginx") as proc:
        yield proc
