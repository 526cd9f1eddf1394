"""The configuration file layer, precedence with the environment and the command line,
`--print-config`, `--check-config` and `--workers auto` (with a fake cgroup tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asgiserver.server import _config
from asgiserver.server._cli import OPTIONS, build_parser, main, resolve_with_sources
from asgiserver.server._config import Config, cpu_limit
from asgiserver.server._config_file import from_table

ALL_ENV = {var for opt in OPTIONS for var in opt.env} | {"ASGISERVER_CONFIG"}


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ALL_ENV | {"ASGISERVER_CGROUP_ROOT"}:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def config(*argv: str, environ: dict[str, str] | None = None) -> Config:
    values, _ = resolve_with_sources(build_parser().parse_args(list(argv)), environ or {})
    values.pop("log_config", None)
    return Config(**values)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_asgiserver_toml_then_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.asgiserver]\napp = "py:app"\nport = 1\n')
    assert (config().app, config().port) == ("py:app", 1)
    write(tmp_path / "asgiserver.toml", 'app = "toml:app"\n')
    assert (config().app, config().port) == ("toml:app", 8000)  # one file, not both
    other = write(tmp_path / "other.toml", "port = 3\n")
    assert config("--config", str(other)).port == 3
    assert config(environ={"ASGISERVER_CONFIG": "other.toml"}).port == 3


def test_a_pyproject_without_the_table_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert config("a:b") == config("a:b", "--config", str(write(tmp_path / "e.toml", "")))


def test_keys_with_dashes_or_underscores_and_aliases() -> None:
    values = from_table(
        {
            "timeout-keep-alive": 30,
            "limit_request_line": 100,
            "bind": ["0.0.0.0:8000", "unix:/tmp/s"],
            "forwarded-allow-ips": "10.0.0.1, 10.0.0.2",
            "header": ["x-a: 1"],
            "access-log": False,
            "workers": 4,
            "pid-file": "/tmp/pid",
            "uds-mode": "660",
            "ssl-cert-reqs": "required",
        },
        "f.toml",
    )
    assert values == {
        "timeout_keep_alive": 30.0,
        "limit_request_line": 100,
        "binds": ("0.0.0.0:8000", "unix:/tmp/s"),
        "forwarded_allow_ips": ("10.0.0.1", "10.0.0.2"),
        "headers": (("x-a", "1"),),
        "access_log": False,
        "workers": 4,
        "pid_file": "/tmp/pid",
        "uds_mode": 0o660,
        "ssl_cert_reqs": 2,
    }


# Every layer over the one below it, and a list replaced, never extended.
def test_precedence_command_line_environment_file_default(tmp_path: Path) -> None:
    write(
        tmp_path / "asgiserver.toml",
        'app = "f:app"\nport = 1\nhost = "::1"\nbacklog = 7\nheader = ["x-file: 1"]\n',
    )
    environ = {"ASGISERVER_PORT": "2", "ASGISERVER_HOST": "10.0.0.1", "ASGISERVER_HEADER": "x-e:1"}
    values, sources = resolve_with_sources(
        build_parser().parse_args(["c:app", "--port", "3"]), environ
    )
    assert values["app"] == "c:app" and sources["app"] == "command line"
    assert values["port"] == 3 and sources["port"] == "command line"
    assert values["host"] == "10.0.0.1" and sources["host"] == "env ASGISERVER_HOST"
    assert values["headers"] == (("x-e", "1"),)  # replaces the file's list
    assert values["backlog"] == 7 and sources["backlog"] == "asgiserver.toml"
    assert "timeout_keep_alive" not in values  # the field's default


def test_web_concurrency_is_environment_below_asgiserver_workers(tmp_path: Path) -> None:
    write(tmp_path / "asgiserver.toml", "workers = 2\n")
    assert config().workers == 2
    assert config(environ={"WEB_CONCURRENCY": "3"}).workers == 3
    assert config(environ={"WEB_CONCURRENCY": "3", "ASGISERVER_WORKERS": "4"}).workers == 4
    assert config("-w", "5", environ={"ASGISERVER_WORKERS": "4"}).workers == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("timout-keep-alive = 3", "x.toml: unknown key 'timout-keep-alive' (did you mean "),
        ("wrokers = 3", "x.toml: unknown key 'wrokers' (did you mean 'workers'?)"),
        ("[server]\nport = 1", "x.toml: unknown key 'server' "),
        ('port = "80"', "x.toml: 'port': expected an integer, not str '80'"),
        ("port = 1.5", "x.toml: 'port': expected an integer, not float 1.5"),
        ("access-log = 1", "x.toml: 'access-log': expected true or false, not int 1"),
        ("workers = true", "x.toml: 'workers': expected an integer or a string, not the boolean"),
        ("workers = 0", "x.toml: 'workers': expected a number > 0 or auto, not '0'"),
        ('lifespan = "maybe"', "x.toml: 'lifespan': invalid choice: 'maybe'"),
        ("bind = 8000", "x.toml: 'bind': expected a list, not int 8000"),
        ('header = ["no-colon"]', "x.toml: 'header': expected NAME:VALUE"),
        ("timeout-keep-alive = -1", "x.toml: 'timeout-keep-alive': must be >= 0"),
        ("port = ", "x.toml: invalid TOML: "),
        ("port = 1\nport = 2", "x.toml: invalid TOML: "),
    ],
)
def test_bad_files_exit_2_with_one_line_naming_file_and_key(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "x.toml", text + "\n")
    with pytest.raises(SystemExit) as info:
        main(["--config", "x.toml", "mod:app"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("asgiserver: error: " + expected), err
    assert err.count("\n") == 1, err


def test_a_missing_config_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--config", "missing.toml", "mod:app"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("asgiserver: error: missing.toml: cannot read")


def test_print_config_round_trips_and_names_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "asgiserver.toml", 'app = "nothere:app"\nheader = ["x-a: 1"]\nuds-mode = 432\n'
    )
    argv = ["--print-config", "--ssl-cert-reqs", "optional", "--no-http2"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0  # the app was not imported
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert 'app = "nothere:app"  # asgiserver.toml' in lines
    assert "http2 = false  # command line" in lines
    assert 'ssl-cert-reqs = "optional"  # command line' in lines
    assert 'host = "127.0.0.1"' in lines  # a default: no source
    assert "# uds =  (not set)" in lines
    assert len(lines) == len(OPTIONS)  # one line each
    # The output is a configuration file that gives the same configuration.
    write(tmp_path / "printed.toml", out)
    assert config("--config", "printed.toml") == config("--ssl-cert-reqs", "optional", "--no-http2")


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "good.py", "async def app(scope, receive, send): pass\n")
    with pytest.raises(SystemExit) as info:
        main(["--check-config", "good:app"])
    assert info.value.code == 0
    with pytest.raises(SystemExit) as info:
        main(["--check-config", "bad:app"])
    assert info.value.code == 1
    assert "could not import module 'bad'" in capsys.readouterr().err


def test_app_is_required_somewhere(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--port", "1"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "asgiserver: error: the following arguments are required: APP\n"
    )


# ---- --workers auto ------------------------------------------------------------------------


def cgroup(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return str(root)


@pytest.mark.parametrize(
    ("files", "affinity", "expected"),
    [
        ({"cpu.max": "150000 100000\n"}, 8, 2),  # v2 quota, rounded up
        ({"cpu.max": "50000 100000\n"}, 8, 1),
        ({"cpu.max": "800000 100000\n"}, 3, 3),  # never more than the affinity mask
        ({"cpu.max": "max 100000\n"}, 5, 5),  # no quota
        ({}, 6, 6),  # no cgroup files at all
        ({"cpu/cpu.cfs_quota_us": "250000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 8, 3),  # v1
        ({"cpu,cpuacct/cpu.cfs_quota_us": "-1", "cpu,cpuacct/cpu.cfs_period_us": "100000"}, 4, 4),
        ({"cpu.max": "garbage"}, 4, 4),
    ],
)
def test_cpu_limit(files: dict[str, str], affinity: int, expected: int, tmp_path: Path) -> None:
    assert cpu_limit(cgroup(tmp_path / "cg", files), affinity=affinity) == expected


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_cpu_limit_takes_the_smallest_quota_from_the_own_cgroup_up(
    version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = {"": "/kubepods/pod1/c1", "cpu": "/kubepods/pod1/c1", "cpuacct": "/kubepods/pod1/c1"}
    monkeypatch.setattr(_config, "_own_cgroups", lambda: own)
    if version == "v2":
        files = {"kubepods/pod1/cpu.max": "200000 100000", "kubepods/cpu.max": "400000 100000"}
    else:
        files = {
            "cpu/kubepods/pod1/c1/cpu.cfs_quota_us": "200000",
            "cpu/kubepods/pod1/c1/cpu.cfs_period_us": "100000",
            "cpu/cpu.cfs_quota_us": "-1",
            "cpu/cpu.cfs_period_us": "100000",
        }
    assert cpu_limit(cgroup(tmp_path / "cg", files), affinity=8) == 2


def test_workers_auto_from_the_variable_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASGISERVER_CGROUP_ROOT", cgroup(tmp_path / "cg", {"cpu.max": "1 100000"}))
    assert config("--workers", "auto").workers == 1
    assert config(environ={"WEB_CONCURRENCY": "auto"}).workers == 1
    write(tmp_path / "asgiserver.toml", 'workers = "auto"\n')
    assert config().workers == 1
    assert config("--workers", "auto").workers <= len(os.sched_getaffinity(0))
