"""Logging through the standard `logging` module: `asgiserver.error` to stderr, `asgiserver.access`
to stdout, as text or one JSON object per line (`--log-format json`). A `--log-config` file
(dictConfig JSON, or an ini file) replaces these defaults.

Control characters that a client sent (in a path, a header) never reach a log line raw: they are
escaped (`\\n`, `\\x1b`), so a request cannot forge log lines or drive a terminal (log injection,
CVE-2020-7694 in uvicorn).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}

FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"

# C0 controls, DEL and C1 controls (0x9b is a terminal's CSI).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match[0]
    return _ESCAPES.get(char) or f"\\x{ord(char):02x}"


def escape(text: str) -> str:
    """`text` with control characters and newlines escaped, so that it stays one log line."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape_one, text)


_COLORS = {
    "CRITICAL": "\x1b[1;31m",
    "ERROR": "\x1b[31m",
    "WARNING": "\x1b[33m",
    "INFO": "\x1b[32m",
    "DEBUG": "\x1b[36m",
    "TRACE": "\x1b[34m",
}


def wants_color(stream: object, environ: Mapping[str, str]) -> bool:
    """Colour levels only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return not environ.get("NO_COLOR") and callable(isatty) and bool(isatty())


class TextFormatter(logging.Formatter):
    """The default format, with the message escaped (a traceback still follows on its lines),
    and the level coloured when `color` is set."""

    def __init__(self, fmt: str, datefmt: str, color: bool = False) -> None:
        super().__init__(fmt, datefmt=datefmt)
        self.color = color

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        if not self.color or record.levelname not in _COLORS:
            return super().formatMessage(record)
        levelname = record.levelname
        record.levelname = f"{_COLORS[levelname]}{levelname}\x1b[0m"
        try:
            return super().formatMessage(record)
        finally:
            record.levelname = levelname


def _rfc3339(created: float) -> str:
    """UTC, milliseconds: 2026-12-04T14:32:47.123Z."""
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, pid, and a traceback in the same
    line; access lines add the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        access = getattr(record, "access", None)
        if access is not None:
            entry.update(_access_fields(*access))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry)  # ASCII: every control character is escaped


def _access_fields(
    client: tuple[str, int] | None,
    method: bytes,
    target: bytes,
    http_version: str,
    headers: Iterable[tuple[bytes, bytes]] | None,
    status: int,
    size: int,
    seconds: float,
) -> dict[str, Any]:
    path, _, query = target.partition(b"?")
    user_agent = referer = None
    for name, value in headers or ():
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
        elif name == b"referer":
            referer = value.decode("latin-1")
    return {
        "client": host_port(client) if client else None,
        "method": method.decode("ascii", "replace") if method else None,
        "path": path.decode("ascii", "backslashreplace") if method else None,
        "query": query.decode("ascii", "backslashreplace"),
        "http_version": http_version,
        "status": status,
        "bytes": size,
        "duration_ms": round(seconds * 1000, 3),
        "user_agent": user_agent,
        "referer": referer,
    }


def host_port(client: tuple[str, int]) -> str:
    """`host:port`, an IPv6 host in brackets (RFC 3986 §3.2.2) so that the port stays apart."""
    host = client[0]
    return f"[{host}]:{client[1]}" if ":" in host else f"{host}:{client[1]}"


class _Atoms:
    """gunicorn's access log atoms of one request, each computed when the format asks for it."""

    __slots__ = (
        "client",
        "headers",
        "http_version",
        "method",
        "response_headers",
        "seconds",
        "size",
        "status",
        "target",
    )

    def __init__(
        self,
        client: tuple[str, int] | None,
        method: bytes,
        target: bytes,
        http_version: str,
        headers: Iterable[tuple[bytes, bytes]] | None,
        status: int,
        size: int,
        seconds: float,
        response_headers: Iterable[tuple[bytes, bytes]] | None,
    ) -> None:
        self.client = client
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.status = status
        self.size = size
        self.seconds = seconds
        self.response_headers = response_headers

    def header(self, name: bytes, fields: Iterable[tuple[bytes, bytes]] | None = None) -> str:
        """A request header's value (or, given `fields`, a response header's); "-" when absent.
        Response header names are compared lowercased: an application may send any case."""
        if fields is None:
            fields = self.headers
            for key, value in fields or ():
                if key == name:
                    return escape(value.decode("latin-1"))
            return "-"
        for key, value in fields:
            if key.lower() == name:
                return escape(value.decode("latin-1"))
        return "-"

    def __getitem__(self, atom: str) -> object:
        method = self.method
        if atom == "h":
            return self.client[0] if self.client else "-"
        if atom == "l" or atom == "u":
            return "-"
        if atom == "t":
            return time.strftime("[%d/%b/%Y:%H:%M:%S %z]")
        if atom == "r":
            if not method:
                return "-"
            target = self.target.decode("ascii", "backslashreplace")
            return escape(f"{method.decode('ascii', 'replace')} {target} HTTP/{self.http_version}")
        if atom == "m":
            return escape(method.decode("ascii", "replace")) if method else "-"
        if atom == "U":
            return escape(self.target.partition(b"?")[0].decode("ascii", "backslashreplace"))
        if atom == "q":
            return escape(self.target.partition(b"?")[2].decode("ascii", "backslashreplace"))
        if atom == "H":
            return f"HTTP/{self.http_version}"
        if atom == "s":
            return self.status
        if atom == "B":
            return self.size
        if atom == "b":
            return self.size or "-"
        if atom == "f":
            return self.header(b"referer")
        if atom == "a":
            return self.header(b"user-agent")
        if atom == "T":
            return int(self.seconds)
        if atom == "D":
            return int(self.seconds * 1_000_000)
        if atom == "M":
            return int(self.seconds * 1000)
        if atom == "L":
            return f"{self.seconds:.6f}"
        if atom == "p":
            return f"<{os.getpid()}>"
        if atom.startswith("{") and atom.endswith("}i"):
            return self.header(atom[1:-2].lower().encode("latin-1"))
        if atom.startswith("{") and atom.endswith("}o"):
            return self.header(atom[1:-2].lower().encode("latin-1"), self.response_headers or ())
        raise KeyError(atom)


_access = logging.getLogger("asgiserver.access")
_access_format: str | None = None
_json = False
_exclude_exact: frozenset[bytes] = frozenset()
_exclude_prefixes: tuple[bytes, ...] = ()


def configure(
    level: str = "info",
    access_log: bool = True,
    log_config: str | None = None,
    log_format: str = "text",
    access_log_exclude: Sequence[str] = (),
    access_log_format: str | None = None,
) -> None:
    global _json, _exclude_exact, _exclude_prefixes, _access_format
    _access_format = access_log_format
    _exclude_exact = frozenset(p.encode() for p in access_log_exclude if not p.endswith("*"))
    _exclude_prefixes = tuple(p[:-1].encode() for p in access_log_exclude if p.endswith("*"))
    _json = log_format == "json"
    if log_config is not None:
        if log_config.endswith(".json"):
            with open(log_config, encoding="utf-8") as file:
                logging.config.dictConfig(json.load(file))
        else:
            logging.config.fileConfig(log_config, disable_existing_loggers=False)
        return
    error = logging.getLogger("asgiserver.error")
    for logger, stream in ((error, sys.stderr), (_access, sys.stdout)):
        formatter: logging.Formatter
        if _json:
            formatter = JSONFormatter()
        else:
            color = wants_color(stream, os.environ)
            # A custom access format is the whole line, as in gunicorn (%(t)s is the time).
            own_line = logger is _access and access_log_format is not None
            formatter = TextFormatter(
                "%(message)s" if own_line else FORMAT, "%Y-%m-%d %H:%M:%S %z", color
            )
        logger.handlers.clear()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.propagate = False
    error.setLevel(LEVELS[level])
    _access.setLevel(LEVELS[level] if access_log else logging.CRITICAL + 1)


def access_enabled() -> bool:
    return _access.isEnabledFor(logging.INFO)


def log_access(
    client: tuple[str, int] | None,
    method: bytes,
    target: bytes,
    http_version: str,
    headers: Iterable[tuple[bytes, bytes]] | None,
    status: int,
    size: int,
    seconds: float,
    response_headers: Iterable[tuple[bytes, bytes]] | None = None,
) -> None:
    """One access log line: peer, request line, status, body bytes sent, duration.

    Called only when the access log is on. `method` is empty for a request rejected before its
    request line was parsed; `headers` is None when they were not parsed. `response_headers` are
    the fields of the response head as the application sent them (for `%({name}o)s`).
    """
    if (_exclude_exact or _exclude_prefixes) and status < 500:
        path = target.partition(b"?")[0]
        if path in _exclude_exact or (_exclude_prefixes and path.startswith(_exclude_prefixes)):
            return
    extra = (
        {"access": (client, method, target, http_version, headers, status, size, seconds)}
        if _json
        else None
    )
    if _access_format is not None:
        atoms = _Atoms(
            client, method, target, http_version, headers, status, size, seconds, response_headers
        )
        _access.info("%s", _access_format % atoms, extra=extra)
        return
    peer = host_port(client) if client else "-"
    if method:
        line = escape(
            f"{method.decode('ascii', 'replace')} "
            f"{target.decode('ascii', 'backslashreplace')} HTTP/{http_version}"
        )
    else:
        line = "-"  # rejected before a request line was parsed
    _access.info('%s - "%s" %d %d %.2fms', peer, line, status, size, seconds * 1000, extra=extra)
