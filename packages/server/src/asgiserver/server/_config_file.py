"""The layers below the command line: `ASGISERVER_*` environment variables, then a TOML file.

Precedence, for every option: command line > environment > file > default. A higher layer
replaces a list of a lower one. The file is `--config FILE`, else `asgiserver.toml` in the working
directory, else the `[tool.asgiserver]` table of `./pyproject.toml`; its keys are the long option
names, with dashes or underscores. Every value keeps its source, for `--print-config`.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

from asgiserver.server._config import (
    CERT_REQS,
    LOGGING,
    Config,
    Option,
    access_log_format,
    access_path,
    cert_reqs,
    header,
    integer,
    octal,
    options,
    positive,
    seconds,
    workers_count,
)

# Not a Config field: run_config() takes it beside the Config.
LOG_CONFIG: Final = Option(
    LOGGING,
    "logging configuration: a dictConfig .json file or a fileConfig .ini file",
    name="log-config",
    field="log_config",
)
OPTIONS: Final[tuple[Option, ...]] = (*options(), LOG_CONFIG)
DEFAULTS: Final = {f.name: f.default for f in fields(Config)}

FILE_NAME: Final = "asgiserver.toml"
PYPROJECT: Final = "pyproject.toml"
COMMAND_LINE: Final = "command line"

# A file key, dashes for underscores, to its option: long names and long aliases.
_BY_KEY: Final = {
    key: opt
    for opt in OPTIONS
    for key in (opt.name, *(a[2:] for a in opt.aliases if a.startswith("--")))
}

# TOML types a value may have, by value parser (a number or a string for the others).
_NUMBER: Final = (int, float)
_TYPES: Final[dict[Any, tuple[type, ...]]] = {
    str: (str,),
    integer: (int,),
    positive: (int,),
    seconds: _NUMBER,
    workers_count: (int, str),
    header: (str,),
    access_path: (str,),
    access_log_format: (str,),
    octal: (int, str),
    cert_reqs: (int, str),
}
_TYPE_NAMES: Final = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def from_environment(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The options environment variables set (an empty variable is unset), and their sources.

    Raises ValueError, naming the variable, for a value that does not parse.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        for var in opt.env:
            if text := environ.get(var):
                try:
                    values[opt.field] = opt.from_text(text)
                except ValueError as exc:
                    raise ValueError(f"{var}: {exc}") from None
                sources[opt.field] = f"env {var}"
                break
    return values, sources


def find(path: str | None, cwd: Path) -> tuple[str, dict[str, Any]] | None:
    """The configuration file's label and table: `path`, else asgiserver.toml, else pyproject.

    Raises ValueError for a file that cannot be read or is not TOML.
    """
    if path is not None:
        return path, _read(cwd / path, path)
    if (cwd / FILE_NAME).is_file():
        return FILE_NAME, _read(cwd / FILE_NAME, FILE_NAME)
    if (cwd / PYPROJECT).is_file():
        tool = _read(cwd / PYPROJECT, PYPROJECT).get("tool", {})
        table = tool.get("asgiserver") if isinstance(tool, dict) else None
        if isinstance(table, dict):
            return f"{PYPROJECT} [tool.asgiserver]", table
    return None


def _read(path: Path, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ValueError(f"{label}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{label}: invalid TOML: {exc}") from None


def from_table(table: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The options a file's table sets. Raises ValueError naming the file and the key."""
    values: dict[str, Any] = {}
    for key, raw in table.items():
        opt = _BY_KEY.get(key.replace("_", "-"))
        if opt is None:
            near = difflib.get_close_matches(key.replace("_", "-"), list(_BY_KEY), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"{label}: unknown key {key!r}{hint}")
        if opt.field in values:
            raise ValueError(f"{label}: {key!r}: set twice")
        try:
            values[opt.field] = _value(opt, raw)
        except ValueError as exc:
            raise ValueError(f"{label}: {key!r}: {exc}") from None
    return values


def _value(opt: Option, raw: Any) -> Any:
    kind = opt.kind
    if kind == "flag" or kind == "switch":
        _check(raw, (bool,))
        return raw
    if kind == "repeat" or kind == "list":
        if isinstance(raw, str):
            return opt.from_text(raw)
        if not isinstance(raw, list):
            raise ValueError(f"expected a list, not {_shown_type(raw)}")
        return tuple(_scalar(opt, item) for item in raw)
    return _scalar(opt, raw)


def _scalar(opt: Option, raw: Any) -> Any:
    _check(raw, _TYPES.get(opt.parse, (str, *_NUMBER)))
    return opt.parse_one(raw if isinstance(raw, str) else str(raw))


def _check(raw: Any, types: tuple[type, ...]) -> None:
    if (isinstance(raw, bool) and bool not in types) or not isinstance(raw, types):
        names = [_TYPE_NAMES[t] for t in types if not (t is int and float in types)]
        expected = " or ".join(names)
        raise ValueError(f"expected {expected}, not {_shown_type(raw)}")


def _shown_type(raw: Any) -> str:
    if isinstance(raw, bool):
        return f"the boolean {str(raw).lower()}"
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "a list"
    return f"{type(raw).__name__} {raw!r}"


def layered(
    command_line: Mapping[str, Any],
    environ: Mapping[str, str],
    config_path: str | None = None,
    cwd: Path | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each option set by some layer, by precedence, and the source of each value.

    Options that no layer sets are left out (the Config field's default applies), except those
    with a `cli_default`. Raises ValueError with a one-line message for the user.
    """
    values = {opt.field: opt.cli_default for opt in OPTIONS if opt.cli_default is not None}
    sources: dict[str, str] = {}
    found = find(config_path, cwd or Path.cwd())
    if found is not None:
        label, table = found
        from_file = from_table(table, label)
        values.update(from_file)
        sources.update(dict.fromkeys(from_file, label.removesuffix(" [tool.asgiserver]")))
    env_values, env_sources = from_environment(environ)
    values.update(env_values)
    sources.update(env_sources)
    values.update(command_line)
    sources.update(dict.fromkeys(command_line, COMMAND_LINE))
    return values, sources


# ---- --print-config --------------------------------------------------------------------------


def render(values: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """The effective configuration as TOML: every option, an unset one as a comment line, and
    the source of each value that is not a default in a trailing comment."""
    lines = []
    for opt in OPTIONS:
        value = values.get(opt.field, DEFAULTS.get(opt.field))
        if value is None or (value == "" and opt.kind == "argument"):
            lines.append(f"# {opt.name} =  (not set)")
            continue
        line = f"{opt.name} = {_toml(opt, value)}"
        if opt.field in sources:
            line += f"  # {sources[opt.field]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


_CERT_NAMES: Final = {number: name for name, number in CERT_REQS.items()}


def _toml(opt: Option, value: Any) -> str:
    if isinstance(value, tuple) and opt.kind in ("repeat", "list"):
        return "[" + ", ".join(_toml_one(opt, item) for item in value) + "]"
    return _toml_one(opt, value)


def _toml_one(opt: Option, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if opt.parse is octal:
        return json.dumps(f"{value:o}")
    if opt.parse is cert_reqs:
        return json.dumps(_CERT_NAMES.get(value, str(value)))
    if opt.parse is header:
        return json.dumps(f"{value[0]}: {value[1]}", ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)
