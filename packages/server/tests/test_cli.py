"""Command-line parsing into Config, environment defaults and bind addresses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from asgiserver.server._cli import OPTIONS, build_parser, config_from_args, main, resolve
from asgiserver.server._config import (
    GROUPS,
    Config,
    Option,
    access_log_format,
    access_path,
    cert_reqs,
    connection_window,
    header,
    integer,
    metrics_address,
    octal,
    positive,
    seconds,
    trusted_peer,
    window,
    workers_count,
)
from asgiserver.server._net.sockets import bind_specs, parse_tcp

ALL_ENV = {var for opt in OPTIONS for var in opt.env} | {"ASGISERVER_CONFIG"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The tests' own environment must not leak in (a developer's ASGISERVER_PORT, say), nor an
    asgiserver.toml or pyproject.toml in the working directory."""
    for var in ALL_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def config(*argv: str) -> Config:
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


# ---- the parser is generated from Config field metadata ----------------------------------------

# A valid value, unlike the default, for each kind of value parser.
SAMPLES = {
    str: "x",
    integer: "7",
    positive: "7",
    workers_count: "7",
    access_path: "/health*",
    access_log_format: "%(h)s %(r)s",
    seconds: "7.5",
    octal: "17",
    header: "x-a:1",
    cert_reqs: "required",
    trusted_peer: "10.0.0.0/8",
    window: "70000",
    connection_window: "70000",
    metrics_address: "127.0.0.1:9100",
}
OPTION_LIST = [opt for opt in OPTIONS if opt.kind != "argument"]


def sample(opt: Option) -> str:
    """A text that sets `opt` to something other than its default."""
    if opt.kind in ("flag", "switch"):
        return "false" if getattr(Config(), opt.field, False) else "true"
    if opt.choices:
        return next(c for c in opt.choices if c != getattr(Config(), opt.field))
    if opt.kind in ("repeat", "list"):
        return f"{SAMPLES[opt.parse]},{SAMPLES[opt.parse]}"
    return SAMPLES[opt.parse]


def argv_for(opt: Option, text: str) -> list[str]:
    """The command line that sets `opt` as `text` does in its environment variable."""
    if opt.kind == "flag":
        return [opt.flags[0]]
    if opt.kind == "switch":
        return [opt.flags[0] if text == "true" else "--no-" + opt.name]
    if opt.kind == "repeat":
        return [arg for item in text.split(",") for arg in (opt.flags[0], item)]
    return [opt.flags[0], text]


def test_every_option_field_has_metadata() -> None:
    for f in dataclasses.fields(Config):
        if f.name == "extra":  # for embedding only
            continue
        opt = f.metadata.get("option")
        assert isinstance(opt, Option), f.name
        assert opt.group in GROUPS and opt.help, f.name
    assert [opt.field for opt in OPTIONS][:-1] == [
        f.name for f in dataclasses.fields(Config) if f.name != "extra"
    ]


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for opt in OPTION_LIST:
        for spelling in opt.flags:
            assert f"{spelling} " in text or f"{spelling}," in text, spelling
        if opt.kind == "switch":
            assert f"--no-{opt.name}" in text
        for var in opt.env:
            assert var in text
        assert opt.help.split(";")[0][:30] in " ".join(text.split())
    for title in GROUPS:
        assert f"\n{title}:\n" in text


@pytest.mark.parametrize("opt", OPTION_LIST, ids=lambda opt: opt.name)
def test_each_env_var_maps_to_its_field(opt: Option, monkeypatch: pytest.MonkeyPatch) -> None:
    text = sample(opt)
    from_command_line = resolve(build_parser().parse_args(["mod:app", *argv_for(opt, text)]))
    assert from_command_line[opt.field] != getattr(Config(), opt.field, None)
    var = "ASGISERVER_" + opt.name.upper().replace("-", "_")
    assert opt.env[0] == var
    monkeypatch.setenv(var, text)
    from_environment = resolve(build_parser().parse_args(["mod:app"]))
    assert from_environment[opt.field] == from_command_line[opt.field]


def test_foreign_variables_come_after_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1")
    assert config().forwarded_allow_ips == ("10.0.0.1",)
    monkeypatch.setenv("ASGISERVER_FORWARDED_ALLOW_IPS", "10.0.0.2, 10.0.0.3")
    assert config().forwarded_allow_ips == ("10.0.0.2", "10.0.0.3")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("ASGISERVER_WORKERS", "4")
    assert config().workers == 4
    assert config("-w", "5").workers == 5


@pytest.mark.parametrize("text", ["1", "true", "True", "yes", "on"])
def test_booleans_in_the_environment(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGISERVER_RELOAD", text)
    monkeypatch.setenv("ASGISERVER_ACCESS_LOG", {"1": "0", "true": "false"}.get(text, "off"))
    c = config()
    assert c.reload is True and c.access_log is False


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGISERVER_PORT", "")
    monkeypatch.setenv("ASGISERVER_ACCESS_LOG", "")
    assert (config().port, config().access_log) == (8000, True)


def test_command_line_defaults_that_differ_from_the_field() -> None:
    assert Config().app_dir is None  # run(): sys.path is left alone
    assert config().app_dir == "."  # asgiserver: the current directory, as uvicorn does


@pytest.mark.parametrize(
    ("alias", "option"),
    [
        ("-b", "--bind"),
        ("-w", "--workers"),
        ("--timeout-worker-healthcheck", "--timeout-worker"),
        ("--limit-max-requests", "--max-requests"),
        ("--limit-max-requests-jitter", "--max-requests-jitter"),
        ("--pid-file", "--pid"),
        ("--keep-alive", "--timeout-keep-alive"),
        ("--graceful-timeout", "--timeout-graceful-shutdown"),
    ],
)
def test_aliases(alias: str, option: str) -> None:
    opt = next(opt for opt in OPTIONS if option in opt.flags)
    assert alias in opt.flags
    value = "1.2.3.4:5" if option == "--bind" else "3"
    assert config(alias, value) == config(option, value) != config()


@pytest.mark.parametrize(
    "bad",
    [
        ["--port", "x"],
        ["--fd", "1.5"],
        ["--backlog", "0"],
        ["--workers", "-1"],
        ["--max-requests-jitter", "x"],
        ["--timeout-keep-alive", "-1"],
        ["--ws-ping-interval", "nan"],
        ["--uds-mode", "9"],
        ["--header", "no-colon"],
        ["--ssl-cert-reqs", "maybe"],
        ["--loop", "trio"],
        ["--interface", "asgi4"],
        ["--log-level", "INFO"],
        ["--no-reload"],
        ["--unknown"],
        ["--ssl-keyfile", "key.pem"],
        ["--access-log-format", "%(zz)s"],
        ["--access-log-format", "%({server}x)s"],
        ["--access-log-exclude", "health"],
        ["--log-format", "xml"],
        ["--workers", "many"],
    ],
)
def test_bad_options_exit_2_with_one_line(
    bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["mod:app", *bad])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("asgiserver: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("var", "text"),
    [
        ("ASGISERVER_PORT", "x"),
        ("ASGISERVER_ACCESS_LOG", "maybe"),
        ("ASGISERVER_LOOP", "trio"),
        ("ASGISERVER_HEADER", "x-a:1,no-colon"),
        ("ASGISERVER_TIMEOUT_KEEP_ALIVE", "-1"),
        ("WEB_CONCURRENCY", "0"),
    ],
)
def test_bad_environment_values_exit_2_naming_the_variable(
    var: str, text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(var, text)
    with pytest.raises(SystemExit) as info:
        main(["mod:app"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"asgiserver: error: {var}: ") and err.count("\n") == 1, err


def test_missing_app(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "asgiserver: error: the following arguments are required: APP\n"
    )
    assert [opt.env for opt in OPTIONS if opt.kind == "argument"] == [()]  # APP has no variable
