"""Logging through the standard `logging` module: `asgiserver.error` to stderr, `asgiserver.access`
to stdout. A `--log-config` file (dictConfig JSON, or an ini file) replaces these defaults."""

from __future__ import annotations

import json
import logging
import logging.config
import sys

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


def configure(level: str = "info", access_log: bool = True, log_config: str | None = None) -> None:
    if log_config is not None:
        if log_config.endswith(".json"):
            with open(log_config, encoding="utf-8") as file:
                logging.config.dictConfig(json.load(file))
        else:
            logging.config.fileConfig(log_config, disable_existing_loggers=False)
        return
    formatter = logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S %z")
    error = logging.getLogger("asgiserver.error")
    access = logging.getLogger("asgiserver.access")
    for logger, stream in ((error, sys.stderr), (access, sys.stdout)):
        logger.handlers.clear()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.propagate = False
    error.setLevel(LEVELS[level])
    access.setLevel(LEVELS[level] if access_log else logging.CRITICAL + 1)


def access_enabled() -> bool:
    return logging.getLogger("asgiserver.access").isEnabledFor(logging.INFO)


_access = logging.getLogger("asgiserver.access")


def log_access(
    client: tuple[str, int] | None, request_line: str, status: int, size: int, seconds: float
) -> None:
    """One access log line: peer, request line, status, body bytes sent, duration."""
    peer = f"{client[0]}:{client[1]}" if client else "-"
    _access.info('%s - "%s" %d %d %.2fms', peer, request_line, status, size, seconds * 1000)
