"""`asgiserver module:app [options]`: the command-line interface.

Every option can also come from an environment variable `ASGISERVER_<OPTION>` (dashes as underscores);
the command line wins.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import ssl
import sys
from collections.abc import Sequence

from asgiserver.server import __version__
from asgiserver.server._config import Config
from asgiserver.server._run import EXIT_USAGE, run_config


def _env(name: str) -> str | None:
    return os.environ.get("ASGISERVER_" + name.upper().replace("-", "_"))


def _bool_env(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected NAME:VALUE")
    return name.strip(), value.strip()


CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def _cert_reqs(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        return int(CERT_REQS[text.lower()])
    except KeyError:
        raise argparse.ArgumentTypeError("none, optional, required, or 0/1/2") from None


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = argparse.ArgumentParser(
        prog="asgiserver",
        description="Serve an ASGI application over HTTP/1.1 (and TLS).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "app", help='the application, as "module:attribute" (or a factory with --factory)'
    )
    p.add_argument("--version", action="version", version=f"asgiserver {__version__}")

    g = p.add_argument_group("application")
    g.add_argument(
        "--factory",
        action="store_true",
        default=_bool_env("factory", False),
        help="APP is a callable returning the application",
    )
    g.add_argument(
        "--app-dir",
        default=_env("app_dir") or ".",
        help="directory added to sys.path before importing APP",
    )
    g.add_argument(
        "--interface", choices=["auto", "asgi3", "asgi2"], default=_env("interface") or "auto"
    )
    g.add_argument(
        "--lifespan", choices=["auto", "on", "off"], default=_env("lifespan") or d.lifespan
    )
    g.add_argument("--timeout-lifespan-startup", type=_seconds, default=d.timeout_lifespan_startup)
    g.add_argument(
        "--timeout-lifespan-shutdown", type=_seconds, default=d.timeout_lifespan_shutdown
    )
    g.add_argument(
        "--root-path",
        default=_env("root_path") or d.root_path,
        help="ASGI root_path: where the application is mounted behind a proxy",
    )

    g = p.add_argument_group("listening")
    g.add_argument("--host", default=_env("host") or d.host)
    g.add_argument(
        "--port",
        type=int,
        default=int(_env("port") or d.port),
        help="TCP port; 0 picks a free one (printed at startup)",
    )
    g.add_argument("--uds", default=_env("uds"), help="listen on this unix domain socket instead")
    g.add_argument("--fd", type=int, default=None, help="serve on this inherited listening socket")
    g.add_argument("--backlog", type=_positive, default=d.backlog)
    g.add_argument(
        "--bind",
        "-b",
        action="append",
        default=[],
        dest="binds",
        metavar="ADDRESS",
        help="host:port, [::1]:port, unix:/path or fd://N (repeatable; overrides --host/--port)",
    )
    g.add_argument(
        "--uds-mode",
        type=lambda text: int(text, 8),
        default=None,
        help="permission bits of unix sockets, in octal (e.g. 660)",
    )
    g.add_argument(
        "--uds-owner", default=None, metavar="USER[:GROUP]", help="owner of unix sockets"
    )
    g.add_argument(
        "--reuse-port",
        action="store_true",
        help="one SO_REUSEPORT listener per worker instead of one shared listener",
    )
    g.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default=_env("loop") or d.loop)

    g = p.add_argument_group(
        "process supervision (a master forks workers when any of these is set)"
    )
    web_concurrency = os.environ.get("WEB_CONCURRENCY") or _env("workers")
    g.add_argument(
        "--workers",
        "-w",
        type=_positive,
        default=int(web_concurrency) if web_concurrency else None,
        help="number of worker processes (default: $WEB_CONCURRENCY, else one process "
        "without a master)",
    )
    g.add_argument("--preload", action="store_true", help="import the application in the master")
    g.add_argument(
        "--timeout-worker",
        "--timeout-worker-healthcheck",
        type=_seconds,
        default=d.timeout_worker,
        help="a worker whose event loop is blocked this long is dumped and replaced",
    )
    g.add_argument(
        "--max-requests",
        "--limit-max-requests",
        type=_positive,
        default=None,
        help="recycle a worker after this many requests",
    )
    g.add_argument(
        "--max-requests-jitter",
        "--limit-max-requests-jitter",
        type=int,
        default=0,
        help="add up to this many requests to --max-requests, per worker",
    )
    g.add_argument(
        "--max-worker-lifetime",
        type=_seconds,
        default=None,
        help="recycle a worker after this many seconds",
    )
    g.add_argument(
        "--max-worker-memory",
        type=_positive,
        default=None,
        help="recycle a worker whose RSS exceeds this many MiB",
    )
    g.add_argument(
        "--pid", "--pid-file", default=None, dest="pid_file", help="write the master's PID here"
    )
    g.add_argument("--reload", action="store_true", help="restart workers when source files change")
    g.add_argument("--reload-dir", action="append", default=[], dest="reload_dirs")
    g.add_argument(
        "--reload-include",
        action="append",
        default=[],
        dest="reload_includes",
        help="glob of files to watch (default *.py; repeatable)",
    )
    g.add_argument(
        "--reload-exclude",
        action="append",
        default=[],
        dest="reload_excludes",
        help="glob of files or directories to ignore (repeatable)",
    )

    g.add_argument(
        "--protocol",
        choices=["http", "uwsgi"],
        default=_env("protocol") or d.protocol,
        help="uwsgi: speak the uwsgi protocol to nginx uwsgi_pass instead of HTTP",
    )
    g.add_argument(
        "--uwsgi-allow-from",
        default=_env("uwsgi_allow_from") or ",".join(d.uwsgi_allow_from),
        help="comma-separated addresses or networks allowed to connect with --protocol uwsgi, or *",
    )

    g = p.add_argument_group("WebSocket")
    g.add_argument(
        "--ws",
        choices=["auto", "none"],
        default=_env("ws") or d.ws,
        help="none: upgrade requests reach the app as plain HTTP",
    )
    g.add_argument(
        "--ws-max-size",
        type=_positive,
        default=d.ws_max_size,
        help="largest message in bytes, across fragments (close 1009 past it)",
    )
    g.add_argument(
        "--ws-max-queue",
        type=_positive,
        default=d.ws_max_queue,
        help="received messages held for the app before reading pauses",
    )
    g.add_argument(
        "--ws-ping-interval",
        type=_seconds,
        default=d.ws_ping_interval,
        help="send a ping this often; 0 disables",
    )
    g.add_argument(
        "--ws-ping-timeout",
        type=_seconds,
        default=d.ws_ping_timeout,
        help="close a connection whose pong does not come back in time; 0 disables",
    )
    g.add_argument(
        "--ws-per-message-deflate",
        action=argparse.BooleanOptionalAction,
        default=d.ws_per_message_deflate,
        help="negotiate permessage-deflate (RFC 7692)",
    )

    g = p.add_argument_group("timeouts (seconds)")
    g.add_argument(
        "--timeout-keep-alive",
        "--keep-alive",
        type=_seconds,
        default=d.timeout_keep_alive,
        help="close idle keep-alive connections after this long",
    )
    g.add_argument(
        "--timeout-request-head",
        type=_seconds,
        default=d.timeout_request_head,
        help="a request head must arrive completely within this long (slowloris)",
    )
    g.add_argument(
        "--timeout-request-body",
        type=_seconds,
        default=d.timeout_request_body,
        help="close a request whose body stalls this long while the app waits for it",
    )
    g.add_argument(
        "--timeout-graceful-shutdown",
        "--graceful-timeout",
        type=_seconds,
        default=d.timeout_graceful_shutdown,
        help="how long in-flight requests may run after SIGTERM",
    )

    g = p.add_argument_group("limits")
    g.add_argument(
        "--limit-concurrency",
        type=_positive,
        default=None,
        help="answer 503 once this many requests are in flight",
    )
    g.add_argument(
        "--limit-request-line",
        type=_positive,
        default=d.limit_request_line,
        help="bytes in the request line (414 past it)",
    )
    g.add_argument(
        "--limit-request-headers-size",
        type=_positive,
        default=d.limit_request_headers_size,
        help="bytes in the header section (431 past it)",
    )
    g.add_argument(
        "--limit-request-fields",
        type=_positive,
        default=d.limit_request_fields,
        help="number of header fields (431 past it)",
    )
    g.add_argument(
        "--limit-request-body",
        type=_positive,
        default=None,
        help="bytes in a request body (413 past it); unlimited by default",
    )

    g = p.add_argument_group("responses and proxies")
    g.add_argument(
        "--server-header", action=argparse.BooleanOptionalAction, default=d.server_header
    )
    g.add_argument("--date-header", action=argparse.BooleanOptionalAction, default=d.date_header)
    g.add_argument(
        "--header",
        action="append",
        type=_header,
        default=[],
        dest="headers",
        metavar="NAME:VALUE",
        help="a default response header (repeatable)",
    )
    g.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=_bool_env("proxy_headers", d.proxy_headers),
        help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips",
    )
    g.add_argument(
        "--forwarded-allow-ips",
        default=_env("forwarded_allow_ips")
        or os.environ.get("FORWARDED_ALLOW_IPS")
        or ",".join(d.forwarded_allow_ips),
        help="comma-separated trusted proxy addresses or networks, or *",
    )

    g = p.add_argument_group("logging")
    g.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        default=_env("log_level") or d.log_level,
    )
    g.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=_bool_env("access_log", d.access_log),
    )
    g.add_argument(
        "--log-config",
        default=_env("log_config"),
        help="logging configuration: a dictConfig .json file or a fileConfig .ini file",
    )

    g = p.add_argument_group("TLS")
    g.add_argument("--ssl-certfile", default=_env("ssl_certfile"))
    g.add_argument("--ssl-keyfile", default=_env("ssl_keyfile"))
    g.add_argument("--ssl-keyfile-password", default=_env("ssl_keyfile_password"))
    g.add_argument("--ssl-ca-certs", default=_env("ssl_ca_certs"))
    g.add_argument(
        "--ssl-cert-reqs",
        type=_cert_reqs,
        default=int(ssl.CERT_NONE),
        help="client certificates: none, optional or required",
    )
    g.add_argument("--ssl-ciphers", default=_env("ssl_ciphers"))
    return p


def _address_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


_LISTS = ("forwarded_allow_ips", "uwsgi_allow_from")  # comma-separated on the command line
_TUPLES = ("binds", "headers", "reload_dirs", "reload_includes", "reload_excludes")


def config_from_args(args: argparse.Namespace) -> Config:
    """Every parser destination is named after its Config field."""
    values = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if hasattr(args, f.name)
    }
    for name in _LISTS:
        values[name] = _address_list(values[name])
    defaults = Config()
    for name in _TUPLES:
        values[name] = tuple(values[name]) or getattr(defaults, name)
    return Config(**values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ssl_keyfile and not args.ssl_certfile:
        parser.error("--ssl-keyfile needs --ssl-certfile")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.exit(EXIT_USAGE, f"asgiserver: error: {exc}\n")
    sys.exit(run_config(config, log_config=args.log_config))
