"""`asgiserver module:app [options]`: the command-line interface.

The parser is generated from the `Option` metadata of the `Config` fields. Every option can also
come from an environment variable `ASGISERVER_<OPTION>` (dashes as underscores); the command line
wins, and the field's default applies when neither sets it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from asgiserver.server import __version__
from asgiserver.server._config import GROUPS, LOGGING, Config, Option, options
from asgiserver.server._run import EXIT_USAGE, run_config

# Not a Config field: run_config() takes it beside the Config.
LOG_CONFIG = Option(
    LOGGING,
    "logging configuration: a dictConfig .json file or a fileConfig .ini file",
    name="log-config",
    field="log_config",
)
OPTIONS: tuple[Option, ...] = (*options(), LOG_CONFIG)
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
    if kind == "argument":
        group.add_argument(opt.field, metavar=opt.metavar, **kwargs)
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
    return parser


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The options that environment variables set (an empty variable is unset).

    Raises ValueError, naming the variable, for a value that does not parse.
    """
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        for var in opt.env:
            if text := environ.get(var):
                try:
                    values[opt.field] = opt.from_text(text)
                except ValueError as exc:
                    raise ValueError(f"{var}: {exc}") from None
                break
    return values


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Each option's value, by precedence: command line > environment > command-line default.

    Options that none of them sets are left out, so the Config field's default applies.
    """
    values = {opt.field: opt.cli_default for opt in OPTIONS if opt.cli_default is not None}
    values.update(from_environment(os.environ if environ is None else environ))
    for name, value in vars(args).items():  # only what was given: every default is SUPPRESS
        values[name] = tuple(value) if isinstance(value, list) else value
    return values


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Config:
    values = resolve(args, environ)
    values.pop(LOG_CONFIG.field, None)
    return Config(**values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        values = resolve(args)
        log_config = values.pop(LOG_CONFIG.field, None)
        if values.get("ssl_keyfile") and not values.get("ssl_certfile"):
            raise ValueError("--ssl-keyfile needs --ssl-certfile")
        config = Config(**values)
    except ValueError as exc:
        parser.error(str(exc))
    sys.exit(run_config(config, log_config=log_config))
