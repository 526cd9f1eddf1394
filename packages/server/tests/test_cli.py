"""Command-line parsing into Config, environment defaults and bind addresses."""

from __future__ import annotations

import pytest

from asgiserver.server._cli import build_parser, config_from_args
from asgiserver.server._net.sockets import bind_specs, parse_tcp


def config(*argv: str):  # type: ignore[no-untyped-def]
    return config_from_args(build_parser().parse_args(["mod:app", *argv]))


def test_defaults_are_a_single_process() -> None:
    c = config()
    assert (c.host, c.port, c.workers, c.supervised) == ("127.0.0.1", 8000, None, False)
    assert c.lifespan == "auto" and c.ws == "auto" and c.protocol == "http"


def test_options() -> None:
    c = config(
        "--port",
        "0",
        "--limit-concurrency",
        "5",
        "--timeout-keep-alive",
        "1.5",
        "--no-server-header",
        "--header",
        "X-A: b",
        "--ws-max-size",
        "100",
        "--forwarded-allow-ips",
        "10.0.0.0/8, 127.0.0.1",
        "--protocol",
        "uwsgi",
    )
    assert c.port == 0 and c.limit_concurrency == 5 and c.timeout_keep_alive == 1.5
    assert c.server_header is False and c.headers == (("X-A", "b"),)
    assert c.ws_max_size == 100 and c.protocol == "uwsgi"
    assert c.forwarded_allow_ips == ("10.0.0.0/8", "127.0.0.1")


def test_supervision_options_start_a_master() -> None:
    assert config("--workers", "2").supervised
    assert config("--max-requests", "10").supervised
    assert config("--reload").supervised


def test_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert config().workers == 3


def test_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGISERVER_PORT", "9001")
    monkeypatch.setenv("ASGISERVER_ACCESS_LOG", "false")
    c = config()
    assert c.port == 9001 and c.access_log is False
    assert config("--port", "9002").port == 9002  # the command line wins


@pytest.mark.parametrize("bad", [["--port", "x"], ["--workers", "0"], ["--lifespan", "maybe"]])
def test_bad_values_exit_with_usage_error(bad: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["mod:app", *bad])
    assert info.value.code == 2


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]:8080", ("::1", 8080)),
        ("localhost", ("localhost", 8000)),
    ],
)
def test_parse_tcp(spec: str, expected: tuple[str, int]) -> None:
    assert parse_tcp(spec) == expected


def test_bind_specs_from_host_and_port() -> None:
    assert bind_specs(config("--host", "::1", "--port", "9")) == ["[::1]:9"]
    assert bind_specs(config("--uds", "/tmp/s")) == ["unix:/tmp/s"]
    assert bind_specs(config("--bind", "unix:/a", "--bind", "1.2.3.4:5")) == [
        "unix:/a",
        "1.2.3.4:5",
    ]
