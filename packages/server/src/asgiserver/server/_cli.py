"""`asgiserver module:app [options]`: the command-line interface.

The parser is generated from the `Option` metadata of the `Config` fields. Every option can also
come from an environment variable `ASGISERVER_<OPTION>` (dashes as underscores) or a TOML file
(`--config`, `asgiserver.toml`, `[tool.asgiserver]` in pyproject.toml): command line >
environment > file > default (`_config_file.py`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from asgiserver.server import __version__
from asgiserver.server._config import GROUPS, Config, Option
from asgiserver.server._config_file import LOG_CONFIG, OPTIONS, layered, render
from asgiserver.server._config_file import from_environment as _from_environment
from asgiserver.server._importer import AppLoadError, load_app
from asgiserver.server._run import EXIT_USAGE, run_config

__all__ = ["LOG_CONFIG", "OPTIONS", "build_parser", "config_from_args", "main", "resolve"]

EXIT_ERROR = 1
# Command-line only: not options of the server, so neither variables nor file keys.
_META = ("config_file", "print_config", "check_config")
_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the long usage: `asgiserver --help` has it."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _argtype(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Our parsers raise ValueError with a message; argparse shows ArgumentTypeError's."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def _help(opt: Option) -> str:
    """The option's help, then its default (when it has one worth showing) and its variables."""
    default = opt.cli_default if opt.cli_default is not None else _FIELD_DEFAULTS.get(opt.field)
    notes = []
    if opt.kind != "flag" and default not in (None, "", ()):
        notes.append(f"default: {_shown(default)}")
    if opt.env:
        notes.append("env " + ", ".join(opt.env))
    text = f"{opt.help} ({'; '.join(notes)})" if notes else opt.help
    return text.replace("%", "%%")  # argparse %-formats help strings


def _add(group: argparse._ActionsContainer, opt: Option) -> None:
    kwargs: dict[str, Any] = {"help": _help(opt)}
    kind = opt.kind
    if kind == "argument":  # optional here: the file may name it
        group.add_argument(
            opt.field, metavar=opt.metavar, nargs="?", default=argparse.SUPPRESS, **kwargs
        )
        return
    kwargs["dest"] = opt.field
    kwargs["default"] = argparse.SUPPRESS  # absent from the namespace unless given
    if kind == "flag":
        kwargs["action"] = "store_true"
    elif kind == "switch":
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs["metavar"] = opt.metavar
        if kind == "list":
            kwargs["type"] = _argtype(opt.from_text)
        else:
            if opt.parse is not str:
                kwargs["type"] = _argtype(opt.parse)
            if opt.choices:
                kwargs["choices"] = opt.choices
            if kind == "repeat":
                kwargs["action"] = "append"
    group.add_argument(*opt.flags, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="asgiserver",
        usage="%(prog)s [options] APP",
        description="Serve an ASGI application over HTTP/1.1 (and TLS).",
    )
    parser.add_argument("--version", action="version", version=f"asgiserver {__version__}")
    groups = {title: parser.add_argument_group(title) for title in GROUPS}
    for opt in OPTIONS:
        _add(parser if opt.kind == "argument" else groups[opt.group], opt)
    config = parser.add_argument_group("configuration")
    config.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="TOML file of options (default: ./asgiserver.toml, else [tool.asgiserver] in "
        "./pyproject.toml; env ASGISERVER_CONFIG); the environment and the command line win",
    )
    config.add_argument(
        "--print-config",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the effective configuration as TOML, with where each value comes from, "
        "and exit without importing the application",
    )
    config.add_argument(
        "--check-config",
        action="store_true",
        default=argparse.SUPPRESS,
        help="check the configuration and import the application, then exit (1 if it fails)",
    )
    return parser


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The options that environment variables set (an empty variable is unset).

    Raises ValueError, naming the variable, for a value that does not parse.
    """
    return _from_environment(environ)[0]


def resolve_with_sources(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each option's value, by precedence: command line > environment > file > default, and
    where each one comes from. Options that no layer sets are left out (the field's default)."""
    environ = os.environ if environ is None else environ
    given = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()  # only what was given: every default is SUPPRESS
        if name not in _META
    }
    config_file = getattr(args, "config_file", None) or environ.get("ASGISERVER_CONFIG") or None
    return layered(given, environ, config_file, cwd)


def resolve(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Each option's value, by precedence: command line > environment > file > default."""
    return resolve_with_sources(args, environ, cwd)[0]


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Config:
    values = resolve(args, environ, cwd)
    values.pop(LOG_CONFIG.field, None)
    return Config(**values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        values, sources = resolve_with_sources(args)
        if getattr(args, "print_config", False):
            sys.stdout.write(render(values, sources))
            sys.exit(0)
        config, log_config = config_from(values)
    except ValueError as exc:
        parser.error(str(exc))
    if getattr(args, "check_config", False):
        sys.exit(check_config(config))

    def reread() -> Config:
        """SIGHUP: the same command line, the file and environment as they are now."""
        return config_from(resolve_with_sources(args)[0])[0]

    sys.exit(run_config(config, log_config=log_config, reread=reread))


def config_from(values: dict[str, Any]) -> tuple[Config, str | None]:
    """The Config of resolved option values, and --log-config; ValueError when they do not fit."""
    values = dict(values)
    log_config = values.pop(LOG_CONFIG.field, None)
    if not values.get("app"):
        raise ValueError("the following arguments are required: APP")
    if values.get("ssl_keyfile") and not values.get("ssl_certfile"):
        raise ValueError("--ssl-keyfile needs --ssl-certfile")
    if values.get("proxy_protocol") and values.get("protocol") == "uwsgi":
        raise ValueError("--proxy-protocol is for HTTP listeners, not --protocol uwsgi")
    return Config(**values), log_config


def check_config(config: Config) -> int:
    """`--check-config`: import the application as a worker would; 0, or 1 with the error."""
    try:
        load_app(
            config.app, factory=config.factory, app_dir=config.app_dir, interface=config.interface
        )
    except AppLoadError as exc:
        print(f"asgiserver: error loading ASGI app: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"asgiserver: configuration OK, application {config.app} imported")
    return 0
