"""The real `asgiserver` command: configuration layers in every mode, `--print-config`,
`--check-config`, bad files, `--workers auto` on a fake cgroup tree, JSON logs, access-log
exclusions and log injection."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conftest import APPS, ServerProcess, asgiserver_command

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("ASGISERVER_")} | {
    "PYTHONUNBUFFERED": "1"
}
CLEAN_ENV.pop("WEB_CONCURRENCY", None)


def wait_until(predicate: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*asgiserver_command(), *args],
        cwd=cwd,
        env={**CLEAN_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


# ---- precedence: command line > environment > file > default, in each mode ----------------------


@pytest.mark.parametrize("mode", ["single", "workers"])
def test_every_layer_in_every_mode(mode: str, start_server, tmp_path: Path) -> None:
    conf = tmp_path / "conf.toml"
    conf.write_text(
        'app = "testapp:app"\n'
        'root-path = "/file"\n'  # env wins
        'header = ["x-file: 1"]\n'  # the command line's list replaces it
        "server_header = false\n"  # the file wins over the default
        "date-header = false\n"  # env wins
        + ("workers = 3\n" if mode == "workers" else "")  # WEB_CONCURRENCY (env) wins
    )
    env = {
        "ASGISERVER_ROOT_PATH": "/env",
        "ASGISERVER_DATE_HEADER": "true",
        "ASGISERVER_HEADER": "x-env: 1",  # the command line wins
    }
    if mode == "workers":
        env["WEB_CONCURRENCY"] = "2"
    server: ServerProcess = start_server("--config", str(conf), "--header", "x-cli: 1", env=env)
    response = httpx.get(server.url + "/scope", timeout=5)
    assert response.json()["root_path"] == "/env"
    assert response.headers.get("x-cli") == "1"
    assert "x-env" not in response.headers and "x-file" not in response.headers
    assert "server" not in response.headers
    assert "date" in response.headers
    if mode == "workers":
        assert "starting 2 worker(s)" in server.stderr
    else:
        assert "Master process" not in server.stderr
    assert server.stop() == 0


def test_gunicorn_worker_class_reads_environment_and_file(tmp_path: Path) -> None:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        pytest.importorskip("gunicorn")
    conf = tmp_path / "asgi.toml"
    conf.write_text('header = ["x-file: 1"]\nserver-header = false\ndate-header = false\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            *(str(gunicorn), "-k", "asgiserver.server.GunicornWorker", "-w", "1"),
            *("-b", f"127.0.0.1:{port}", "testapp:app"),
        ],
        cwd=APPS,
        env={**CLEAN_ENV, "ASGISERVER_CONFIG": str(conf), "ASGISERVER_DATE_HEADER": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def get() -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        except httpx.HTTPError:
            return None

    try:
        assert wait_until(lambda: get() is not None, timeout=30)
        response = get()
        assert response is not None and response.text == "hello"
        assert response.headers.get("x-file") == "1" and "server" not in response.headers
        assert "date" in response.headers
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


# ---- --print-config, --check-config, bad files ---------------------------------------------------


def test_print_config_shows_each_source_without_importing_the_app(tmp_path: Path) -> None:
    (tmp_path / "asgiserver.toml").write_text(
        'app = "not_importable:app"\nworkers = 3\ntimeout-keep-alive = 7\n'
    )
    done = run("--print-config", "--port", "9", cwd=tmp_path, env={"ASGISERVER_WORKERS": "4"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "port = 9  # command line" in lines
    assert "workers = 4  # env ASGISERVER_WORKERS" in lines
    assert "timeout-keep-alive = 7.0  # asgiserver.toml" in lines
    assert 'app = "not_importable:app"  # asgiserver.toml' in lines
    assert 'host = "127.0.0.1"' in lines and "# uds =  (not set)" in lines
    assert tomllib.loads(done.stdout)["workers"] == 4


def test_check_config(tmp_path: Path) -> None:
    assert run("--check-config", "testapp:app", cwd=APPS).returncode == 0
    done = run("--check-config", "--app-dir", str(APPS), "testapp:missing", cwd=tmp_path)
    assert done.returncode == 1
    assert "missing" in done.stderr


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "asgiserver.toml",
            "timout-keep-alive = 3\n",
            "asgiserver: error: asgiserver.toml: unknown key 'timout-keep-alive' "
            "(did you mean 'timeout-keep-alive'?)\n",
        ),
        (
            "pyproject.toml",
            "[tool.asgiserver]\nworkers = 'many'\n",
            "asgiserver: error: pyproject.toml [tool.asgiserver]: 'workers': "
            "expected a number > 0 or auto, not 'many'\n",
        ),
    ],
)
def test_a_bad_file_exits_2_with_one_line(
    name: str, text: str, expected: str, tmp_path: Path
) -> None:
    (tmp_path / name).write_text(text)
    done = run("testapp:app", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, expected)


def test_workers_auto_follows_the_cgroup_quota(start_server, tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # one CPU
    env = {"ASGISERVER_CGROUP_ROOT": str(tmp_path)}
    done = run("--print-config", "--workers", "auto", cwd=tmp_path, env=env)
    assert "workers = 1  # command line" in done.stdout.splitlines()
    server: ServerProcess = start_server("testapp:app", "--workers", "auto", env=env)
    assert "starting 1 worker(s)" in server.stderr
    assert httpx.get(server.url + "/", timeout=5).text == "hello"
    assert server.stop() == 0


# ---- logs --------------------------------------------------------------------------------------


def test_json_logs_on_both_streams(start_server) -> None:
    server: ServerProcess = start_server(
        "testapp:app",
        "--log-format",
        "json",
        "--access-log-exclude",
        "/pid",
        "--access-log-exclude",
        "/stat*",
    )
    with httpx.Client(base_url=server.url, timeout=5) as client:
        client.get("/?a=1&b=2", headers={"user-agent": "probe/1", "referer": "http://r/"})
        client.get("/pid")  # excluded
        client.get("/status", params={"code": "204"})  # excluded by prefix
        client.get("/status", params={"code": "503"})  # errors are still logged
        assert client.get("/error-before").status_code == 500
    assert wait_until(lambda: server.stdout.count("\n") >= 3)
    assert server.stop() == 0
    out = [json.loads(line) for line in server.stdout.splitlines()]
    err = [json.loads(line) for line in server.stderr.splitlines()]
    assert [(e["path"], e["status"]) for e in out] == [
        ("/", 200),
        ("/status", 503),
        ("/error-before", 500),
    ]
    first = out[0]
    assert first["logger"] == "asgiserver.access" and first["level"] == "INFO"
    assert first["pid"] == server.pid and first["time"].endswith("Z")
    assert first["client"].startswith("127.0.0.1:") and first["method"] == "GET"
    assert (first["query"], first["http_version"], first["bytes"]) == ("a=1&b=2", "1.1", 5)
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert (first["user_agent"], first["referer"]) == ("probe/1", "http://r/")
    assert any("Listening on" in e["message"] for e in err)
    (failure,) = [e for e in err if "traceback" in e]
    assert failure["level"] == "ERROR" and failure["logger"] == "asgiserver.error"
    assert "RuntimeError: boom before the response" in failure["traceback"]


def uwsgi_packet(vars: dict[bytes, bytes]) -> bytes:
    block = b"".join(
        struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in vars.items()
    )
    return struct.pack("<BHB", 0, len(block), 0) + block


def test_a_log_injection_attempt_is_escaped(start_server) -> None:
    """nginx decodes %0A in PATH_INFO: a request must not forge a log line or drive a terminal."""
    server: ServerProcess = start_server("testapp:app", "--protocol", "uwsgi")
    forged = b'/x HTTP/1.1" 200 0 0.1ms\n127.0.0.1:1 - "GET /admin\x1b[2J'
    with server.connect() as sock:
        sock.sendall(
            uwsgi_packet(
                {
                    b"REQUEST_METHOD": b"GET",
                    b"REQUEST_URI": forged,
                    b"PATH_INFO": forged,
                    b"QUERY_STRING": b"",
                    b"SERVER_PROTOCOL": b"HTTP/1.1",
                    b"SERVER_NAME": b"x",
                    b"SERVER_PORT": b"80",
                }
            )
        )
        while sock.recv(65536):
            pass
    assert wait_until(lambda: "\n" in server.stdout)
    assert server.stop() == 0
    (line,) = server.stdout.splitlines()
    assert "\\n127.0.0.1:1" in line and "\\x1b[2J" in line and "\x1b" not in line


def test_access_log_format_with_gunicorn_atoms(start_server) -> None:
    server: ServerProcess = start_server(
        "testapp:app",
        "--access-log-format",
        '%(h)s "%(r)s" %(s)s %(B)s "%(a)s" %({x-trace}i)s %({Content-Type}o)s %({x-none}o)s',
        "--access-log-exclude",
        "/pid",
    )
    with httpx.Client(base_url=server.url, timeout=5) as client:
        client.get("/pid")  # excluded
        client.get("/?q=1", headers={"user-agent": "probe/1", "x-trace": "abc"})
    assert wait_until(lambda: "\n" in server.stdout)
    assert server.stop() == 0
    assert server.stdout.splitlines() == [
        '127.0.0.1 "GET /?q=1 HTTP/1.1" 200 5 "probe/1" abc text/plain -'
    ]
