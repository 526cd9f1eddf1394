"""Scale-out past one machine: two servers behind a real HAProxy, restarted one at a time under a
steady load, and not one request fails.

The two servers stand for two hosts: 127.0.0.2 and 127.0.0.3 (the whole 127/8 is loopback on Linux),
each with two workers, its application port and its metrics listener. HAProxy checks `/readyz` on the
metrics listener every 200 ms and takes a server out after one `503` (`fall 1`); it never retries a
request nor sends it to the other server (`retries 0`, no `option redispatch`), so a request that a
server refuses or drops reaches the client as an error. Each server in turn gets SIGTERM: `/readyz`
turns `503` at once while it keeps serving for `--shutdown-delay 1`, then it stops gracefully; it is
started again, and the next one is restarted once HAProxy sends it traffic again. This is the
contract the README's "More than one machine" documents.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from conftest import ServerProcess, free_port, free_port_on, listening_process, require_tool

HOSTS = {"a": "127.0.0.2", "b": "127.0.0.3"}

HAPROXY_CONF = """
global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 20s
    timeout server 20s
    option forwardfor
    # One try, on one server: a request that a server drops is a failure the client sees.
    retries 0
    no option redispatch
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server check port {metrics_port} inter 200ms fall 1 rise 1
    server a 127.0.0.2:{app_port}
    server b 127.0.0.3:{app_port}
"""


class Load:
    """Requests through the balancer, back to back from a few keep-alive clients, until stopped;
    every answer (the instance that gave it, and when) and every failure is recorded."""

    def __init__(self, url: str, clients: int = 2) -> None:
        self.url = url
        self.answers: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=20) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self.url)
                    if response.status_code == 200:
                        self.answers.append((time.monotonic(), response.json()["instance"]))
                    else:
                        self.failures.append(f"{response.status_code} {response.text[:200]!r}")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))

    def served_since(self, since: float) -> set[str]:
        return {instance for at, instance in list(self.answers) if at >= since}

    def has_served(self, instance: str, since: float) -> bool:
        return instance in self.served_since(since)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


def ready(host: str, port: int) -> bool:
    try:
        return httpx.get(f"http://{host}:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def haproxy(tmp_path: Path, app_port: int, metrics_port: int) -> Iterator[int]:
    binary = require_tool("haproxy")
    port = free_port()
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(HAPROXY_CONF.format(port=port, app_port=app_port, metrics_port=metrics_port))
    with listening_process([binary, "-db", "-f", str(conf)], port, "haproxy"):
        yield port


def test_hosts_restarted_in_turn_behind_haproxy_drop_nothing(
    start_server: Any, tmp_path: Path
) -> None:
    app_port, metrics_port = free_port_on(*HOSTS.values()), free_port_on(*HOSTS.values())

    def start(name: str) -> ServerProcess:
        host = HOSTS[name]
        server: ServerProcess = start_server(
            "deployapp:app",
            "--bind", f"{host}:{app_port}",
            "--metrics", f"{host}:{metrics_port}",
            "--workers", "2",
            "--shutdown-delay", "1",
            "--timeout-keep-alive", "75",
            env={"DEPLOYAPP_INSTANCE": name},
        )  # fmt: skip
        wait_until(lambda: ready(host, metrics_port), 20, f"{name} is ready")
        return server

    servers = {name: start(name) for name in HOSTS}
    with haproxy(tmp_path, app_port, metrics_port) as port:
        load = Load(f"http://127.0.0.1:{port}/")
        try:
            began = time.monotonic()
            wait_until(lambda: load.served_since(began) == set(HOSTS), 10, "both serve")
            first_stop = time.monotonic()
            for name in HOSTS:
                servers[name].signal(signal.SIGTERM)
                assert servers[name].wait(20) == 0
                stopped = time.monotonic()
                servers[name] = start(name)
                back = functools.partial(load.has_served, name, stopped)
                wait_until(back, 10, f"{name} serves again")
            restarted = time.monotonic()
            wait_until(lambda: load.served_since(restarted) == set(HOSTS), 10, "both serve after")
        finally:
            load.stop()
    before = {instance for at, instance in load.answers if at < first_stop}
    after = load.served_since(restarted)
    print(
        f"{len(load.answers)} requests in {time.monotonic() - began:.1f}s, {len(load.failures)} failed"
    )
    assert load.failures == []
    assert before == after == set(HOSTS)
