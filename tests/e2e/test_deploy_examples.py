"""The "Deploying" guide and its files in examples/ hold what they say.

Every `asgiserver` command line in them (README code blocks, comments at the top of the nginx and
HAProxy files, the systemd ExecStart, the Dockerfile's ENTRYPOINT + CMD, the Kubernetes container's
args) goes through the real parser (`--print-config`, which does not import the application). The
nginx and HAProxy files run for real in front of real servers, with only their listen addresses and
upstreams replaced (each replacement is explicit and must match exactly once). The systemd service
runs as systemd would start it (an inherited socket, NOTIFY_SOCKET, HUP, SIGTERM to the master), and
the Docker and Kubernetes files are checked against the options their command lines set.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from configparser import ConfigParser
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import (
    APPS,
    ServerProcess,
    asgiserver_command,
    free_port,
    free_port_on,
    listening_process,
    require_tool,
    running_nginx,
)

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
APP = "myproject.main:app"  # the application every example names; tests run deployapp instead
TEST_APP = "deployapp:app"
CLIENT = "127.0.0.2"  # the client's address, so that it differs from the proxy's (127.0.0.1)


# ---- reading the guide and the example files --------------------------------------------------------


def deploying_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Deploying\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w*)\n(.*?)```", markdown, re.S)


def comment_commands(text: str) -> list[list[str]]:
    """The command lines an example file documents in its comments (`#   asgiserver ...`)."""
    return [shlex.split(line) for line in re.findall(r"^#\s+(asgiserver\s.*)$", text, re.M)]


def unit(name: str) -> dict[str, dict[str, str]]:
    parser = ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((EXAMPLES / "systemd" / name).read_text())
    return {section: dict(parser[section]) for section in parser.sections()}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (EXAMPLES / "docker" / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for line in joined.splitlines()
        if line.strip()
        for word, _, rest in [line.strip().partition(" ")]
    ]


def docker_instruction(name: str) -> str:
    values = [rest for word, rest in dockerfile() if word == name]
    assert len(values) == 1, f"Dockerfile: expected one {name}, found {values}"
    return values[0]


def exec_form(name: str) -> list[str]:
    value = docker_instruction(name)
    assert value.startswith("["), f"{name} must be in exec form (a JSON array): {value}"
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(word, str) for word in parsed)
    return parsed


def kubernetes() -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = yaml.safe_load((EXAMPLES / "kubernetes" / "deployment.yaml").read_text())
    service = yaml.safe_load((EXAMPLES / "kubernetes" / "service.yaml").read_text())
    return deployment, service


def option_value(args: list[str], name: str) -> str | None:
    values = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == name]
    values += [arg.split("=", 1)[1] for arg in args if arg.startswith(name + "=")]
    assert len(values) <= 1, f"{name} given twice in {args}"
    return values[0] if values else None


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} exactly once"
    return text.replace(old, new)


def replace_arg(args: list[str], old: str, new: str) -> list[str]:
    assert args.count(old) == 1, f"expected {old!r} exactly once in {args}"
    return [new if arg == old else arg for arg in args]


def example_commands() -> dict[str, list[str]]:
    """Every asgiserver command line of the guide and the examples, without the program name."""
    commands: dict[str, list[str]] = {}
    for number, (language, body) in enumerate(code_blocks(deploying_section())):
        for line in body.splitlines():
            if language == "bash" and line.startswith("asgiserver "):
                commands[f"README block {number}: {line[:40]}"] = shlex.split(line)[1:]
    for path in ("nginx/asgiserver.conf", "nginx/uwsgi.conf", "haproxy/haproxy.cfg"):
        [argv] = comment_commands((EXAMPLES / path).read_text())
        commands[path] = argv[1:]
    exec_start = shlex.split(unit("asgiserver.service")["Service"]["ExecStart"])
    assert exec_start[0].endswith("/asgiserver"), exec_start
    commands["systemd ExecStart"] = exec_start[1:]
    commands["Dockerfile ENTRYPOINT + CMD"] = exec_form("ENTRYPOINT")[1:] + exec_form("CMD")
    commands["kubernetes args"] = container()["args"]
    return commands


def container() -> dict[str, Any]:
    deployment, _ = kubernetes()
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


@functools.cache
def effective_config(args: tuple[str, ...]) -> dict[str, Any]:
    """`asgiserver --print-config ARGS`, which must succeed, as a dict (it prints TOML)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGISERVER_")}
    env.pop("WEB_CONCURRENCY", None)
    with tempfile.TemporaryDirectory() as empty:  # no asgiserver.toml or pyproject.toml is read
        result = subprocess.run(
            [*asgiserver_command(), "--print-config", *args],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 0, f"asgiserver {shlex.join(args)} is rejected:\n{result.stderr}"
    return tomllib.loads(result.stdout)


def stop_budget(args: list[str]) -> float:
    """The longest a graceful stop can take with these options (see "Deploying")."""
    config = effective_config(tuple(args))
    return (
        config["shutdown-delay"]
        + config["timeout-graceful-shutdown"]
        + config["timeout-lifespan-shutdown"]
    )


def seconds(value: str) -> float:
    """A systemd or HAProxy time span such as `70`, `70s`, `1s`, `200ms`."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)?", value)
    assert match, value
    return float(match[1]) / (1000 if match[2] == "ms" else 1)


# ---- every command line parses ----------------------------------------------------------------------

COMMANDS = example_commands()


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_command_line_is_accepted(args: list[str]) -> None:
    config = effective_config(tuple(args))
    assert config["app"] == APP


def test_the_guide_names_only_files_that_exist_and_every_example() -> None:
    section = deploying_section()
    named = set(re.findall(r"examples/[\w./-]+\w", section))
    named |= {f"examples/systemd/{name}" for name in re.findall(r"`(asgiserver\.\w+)`", section)}
    shipped = {
        str(path.relative_to(ROOT))
        for path in EXAMPLES.rglob("*")
        if path.is_file() and path.parent != EXAMPLES and not path.name.startswith(".")
    }
    assert {name for name in named if not (ROOT / name).exists()} == set()
    assert shipped - named == set()


# ---- systemd ----------------------------------------------------------------------------------------


def test_systemd_units_agree() -> None:
    socket_unit, service = unit("asgiserver.socket"), unit("asgiserver.service")
    assert service["Unit"]["Requires"] == "asgiserver.socket"
    assert "asgiserver.socket" in service["Unit"]["After"].split()
    assert service["Service"]["Type"] == "notify"
    assert shlex.split(service["Service"]["ExecReload"]) == ["/bin/kill", "-HUP", "$MAINPID"]
    assert service["Service"]["KillMode"] == "mixed"  # SIGTERM to the master, which stops workers
    assert set(service["Service"]["RestartPreventExitStatus"].split()) == {"2", "3"}
    args = COMMANDS["systemd ExecStart"]
    # The socket comes from asgiserver.socket: an own listener would be ignored, so none is named.
    assert not {"--bind", "-b", "--host", "--port", "--uds", "--fd"} & set(args)
    assert port_of(socket_unit["Socket"]["ListenStream"]) == 8000
    assert seconds(service["Service"]["TimeoutStopSec"]) > stop_budget(args)


def test_systemd_service_runs_as_systemd_starts_it(tmp_path: Path) -> None:
    """The ExecStart line under socket activation and NOTIFY_SOCKET: READY=1 once it serves on the
    inherited socket, ExecReload reloads it, SIGTERM to the master alone (KillMode=mixed) stops it."""
    service = unit("asgiserver.service")["Service"]
    metrics = f"127.0.0.1:{free_port()}"
    args = replace_arg(COMMANDS["systemd ExecStart"], APP, TEST_APP)
    args = replace_arg(args, "127.0.0.1:9000", metrics)
    notify = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(notify))
        receiver.settimeout(0.2)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            master = spawn_socket_activated(listener, args, {"NOTIFY_SOCKET": str(notify)})
        try:
            messages: list[str] = []
            wait_for_notify(receiver, messages, "READY=1", master)
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).json()["path"] == "/"
            for probe in ("/readyz", "/livez"):  # the Kubernetes example's probes
                assert httpx.get(f"http://{metrics}{probe}", timeout=10).status_code == 200
            scraped = httpx.get(f"http://{metrics}/metrics", timeout=10)
            assert scraped.headers["content-type"].startswith("text/plain")
            reload = [
                word.replace("$MAINPID", str(master.pid))
                for word in shlex.split(service["ExecReload"])
            ]
            subprocess.run(reload, check=True, timeout=10)
            del messages[:]
            wait_for_notify(receiver, messages, "RELOADING=1", master)
            wait_for_notify(receiver, messages, "READY=1", master)
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
            master.send_signal(signal.SIGTERM)
            wait_for_notify(receiver, messages, "STOPPING=1", master)
            assert master.wait(seconds(service["TimeoutStopSec"])) == 0
        finally:
            if master.poll() is None:
                master.kill()
                master.wait(10)


def spawn_socket_activated(
    listener: socket.socket, args: list[str], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start the server as systemd does: the socket as fd 3, LISTEN_FDS=1 and LISTEN_PID its own
    PID (a shell sets it, then execs the server)."""
    fd = listener.fileno()
    command = shlex.join([*asgiserver_command(), *args])
    return subprocess.Popen(
        ["/bin/sh", "-c", f"LISTEN_PID=$$ LISTEN_FDS=1 exec {command}"],
        cwd=APPS,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # read once it exited: the test sends few requests, logs stay small
        pass_fds=(3,),
        preexec_fn=lambda: os.dup2(fd, 3),
    )


def wait_for_notify(
    receiver: socket.socket,
    messages: list[str],
    wanted: str,
    process: subprocess.Popen[bytes],
    timeout: float = 30,
) -> None:
    deadline = time.monotonic() + timeout
    while not any(wanted in message.split("\n") for message in messages):
        try:
            messages.append(receiver.recv(4096).decode())
        except TimeoutError:
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(
                    f"no {wanted} from the server (exit code {process.poll()}); got {messages}\n{stderr}"
                ) from None


# ---- Docker -------------------------------------------------------------------------------------------


def test_dockerfile() -> None:
    assert exec_form("ENTRYPOINT") == [
        "asgiserver"
    ]  # exec form: the server is PID 1 and gets SIGTERM
    args = COMMANDS["Dockerfile ENTRYPOINT + CMD"]
    # Kubernetes requires a numeric USER to check runAsNonRoot.
    user = docker_instruction("USER")
    assert user.isdigit() and int(user) != 0, user
    words = [word for word, _ in dockerfile()]
    assert words.index("USER") > max(i for i, word in enumerate(words) if word == "RUN")
    bind, metrics = option_value(args, "--bind"), option_value(args, "--metrics")
    assert bind and bind.startswith("0.0.0.0:") and metrics and metrics.startswith("0.0.0.0:")
    exposed = {int(port) for port in docker_instruction("EXPOSE").split()}
    assert exposed == {port_of(bind), port_of(metrics)}
    assert option_value(args, "--workers") == "auto"
    healthcheck = docker_instruction("HEALTHCHECK")
    probe = json.loads(healthcheck[healthcheck.index("CMD ") + 4 :])
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(probe))
    assert url and int(url[1]) == port_of(metrics) and url[2] in ("/readyz", "/livez")
    # `docker stop -t N` in the guide covers the stop budget.
    [timeout] = re.findall(r"docker stop -t (\d+)", deploying_section())
    assert int(timeout) > stop_budget(args)


# ---- Kubernetes ------------------------------------------------------------------------------------------


def test_kubernetes_manifests() -> None:
    deployment, service = kubernetes()
    pod = deployment["spec"]["template"]
    app = container()
    assert "command" not in app  # the image's ENTRYPOINT (asgiserver) runs, with these args
    args = COMMANDS["kubernetes args"]
    ports = {port["name"]: port["containerPort"] for port in app["ports"]}
    bind, metrics = option_value(args, "--bind"), option_value(args, "--metrics")
    assert bind and metrics
    assert ports == {"http": port_of(bind), "metrics": port_of(metrics)}
    assert app["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert app["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port_of(metrics))
    # A readiness probe sees the 503 well before the delay runs out.
    delay = float(option_value(args, "--shutdown-delay") or 0)
    readiness = app["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] < delay
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert grace > stop_budget(args)
    assert f"`terminationGracePeriodSeconds` ({grace})" in deploying_section()
    # --workers auto counts the CPU limit: a limit must be set (memory too, to bound the workers).
    assert option_value(args, "--workers") == "auto"
    assert app["resources"]["limits"]["cpu"] and app["resources"]["limits"]["memory"]
    assert pod["spec"]["securityContext"]["runAsUser"] == int(docker_instruction("USER"))
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] in ports


# ---- nginx, for real ---------------------------------------------------------------------------------------


@contextmanager
def nginx_example(tmp_path: Path, name: str, upstream: int, extra: dict[str, str]) -> Iterator[int]:
    """The example config with its listen port and upstream replaced, in a real nginx."""
    port = free_port()
    http = replace_once(
        (EXAMPLES / "nginx" / name).read_text(), "listen 80;", f"listen 127.0.0.1:{port};"
    )
    http = replace_once(http, "127.0.0.1:8000;", f"127.0.0.1:{upstream};")
    for old, new in extra.items():
        http = replace_once(http, old, new)
    with running_nginx(tmp_path, port, http):
        yield port


def example_server(start_server: Any, path: str, **env: str) -> ServerProcess:
    [argv] = comment_commands((EXAMPLES / path).read_text())
    args = replace_arg(replace_arg(argv[1:], APP, TEST_APP), "127.0.0.1:8000", "127.0.0.1:0")
    return start_server(*args, env=env)  # type: ignore[no-any-return]


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=20)


def test_nginx_proxy_pass_example(start_server: Any, tmp_path: Path) -> None:
    from websockets.sync.client import connect

    require_tool("nginx")
    server = example_server(start_server, "nginx/asgiserver.conf")
    with nginx_example(tmp_path, "asgiserver.conf", server.port, {}) as port:
        with client_from(CLIENT) as client:
            url = f"http://127.0.0.1:{port}/items"
            answers = [
                client.get(url, headers={"X-Forwarded-Prefix": "/evil"}).json() for _ in range(3)
            ]
        for info in answers:
            assert info["client"][0] == CLIENT  # X-Forwarded-For, from a trusted nginx
            assert info["scheme"] == "http"
            assert info["server"][1] == port  # X-Forwarded-Port
            # The map sends no Connection header for plain requests: the upstream connection stays.
            assert "connection" not in info["headers"]
            assert "x-forwarded-prefix" not in info["headers"]  # "": nginx drops the header
        sock = socket.create_connection(("127.0.0.1", port), source_address=(CLIENT, 0))
        with connect(f"ws://127.0.0.1:{port}/live", sock=sock, open_timeout=20) as ws:
            info = json.loads(ws.recv(timeout=20))
            ws.send("through nginx")
            assert ws.recv(timeout=20) == "through nginx"
        assert info["client"][0] == CLIENT
        assert info["scheme"] == "ws"
        assert info["headers"]["connection"].lower() == "upgrade"


def test_nginx_uwsgi_example(start_server: Any, tmp_path: Path) -> None:
    require_tool("nginx")
    server = example_server(start_server, "nginx/uwsgi.conf")
    params = "include /etc/nginx/uwsgi_params;"  # the stock file, where nginx is installed
    with (
        nginx_example(
            tmp_path, "uwsgi.conf", server.port, {"include uwsgi_params;": params}
        ) as port,
        client_from(CLIENT) as client,
    ):
        info = client.get(f"http://127.0.0.1:{port}/items").json()
    assert info["client"][0] == CLIENT  # uwsgi: nginx's REMOTE_ADDR
    assert info["path"] == "/items"


# ---- HAProxy, for real ---------------------------------------------------------------------------------------

HOSTS = {"app1": "127.0.0.2", "app2": "127.0.0.3"}  # the example's 10.0.0.21 and 10.0.0.22


def test_haproxy_example_balances_over_both_hosts(start_server: Any, tmp_path: Path) -> None:
    binary = require_tool("haproxy")
    text = (EXAMPLES / "haproxy" / "haproxy.cfg").read_text()
    [argv] = comment_commands(text)
    args = argv[1:]
    assert "    option httpchk GET /readyz\n" in text
    check = re.search(r"default-server check port (\d+) inter (\w+) fall (\d+) rise (\d+)", text)
    assert check and check[0] in deploying_section()
    metrics = option_value(args, "--metrics")
    assert metrics and int(check[1]) == port_of(metrics)
    # HAProxy takes a stopping host out (inter x fall) before its --shutdown-delay runs out.
    assert seconds(check[2]) * int(check[3]) < float(option_value(args, "--shutdown-delay") or 0)

    # The same two ports on two loopback addresses stand for the example's two hosts.
    app_port, metrics_port = free_port_on(*HOSTS.values()), free_port_on(*HOSTS.values())
    servers = {}
    for name, host in HOSTS.items():
        host_args = replace_arg(args, APP, TEST_APP)
        host_args = replace_arg(host_args, "0.0.0.0:8000", f"{host}:{app_port}")
        host_args = replace_arg(host_args, "0.0.0.0:9000", f"{host}:{metrics_port}")
        host_args = replace_arg(host_args, "10.0.0.5", "127.0.0.1")  # HAProxy's address here
        servers[name] = start_server(*host_args, env={"DEPLOYAPP_INSTANCE": name})
        # Ready once every worker has finished startup: the first one listening is not enough.
        assert ready_within(f"http://{host}:{metrics_port}/readyz", 20)
    port = free_port()
    config = replace_once(text, "bind :80", f"bind 127.0.0.1:{port}")
    config = replace_once(config, "check port 9000", f"check port {metrics_port}")
    config = replace_once(config, "10.0.0.21:8000", f"127.0.0.2:{app_port}")
    config = replace_once(config, "10.0.0.22:8000", f"127.0.0.3:{app_port}")
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    answers: list[dict[str, Any]] = []
    with (
        listening_process([binary, "-db", "-f", str(path)], port, "haproxy"),
        client_from(CLIENT) as client,
    ):

        def ask() -> str:
            answers.append(client.get(f"http://127.0.0.1:{port}/").json())
            return str(answers[-1]["instance"])

        until_answered(ask, lambda seen: set(seen) == set(HOSTS), "both hosts answer")
        # A stopping host: /readyz turns 503 while it serves on, HAProxy's check takes it out.
        servers["app1"].signal(signal.SIGTERM)
        until_answered(ask, lambda seen: seen[-10:] == ["app2"] * 10, "only app2 answers")
    for info in answers:
        assert info["client"][0] == CLIENT  # option forwardfor, from a trusted HAProxy
        assert info["server"][1] == port  # X-Forwarded-Port


def ready_within(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(url, timeout=10).status_code == 200:
            return True
        time.sleep(0.05)
    return False


def until_answered(ask: Callable[[], str], done: Callable[[list[str]], bool], what: str) -> None:
    """Ask through the balancer (every request must succeed) until the answers satisfy `done`."""
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while not done(seen):
        assert time.monotonic() < deadline, f"timed out waiting until {what}: {seen[-20:]}"
        seen.append(ask())
