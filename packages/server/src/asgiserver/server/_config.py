"""Server configuration: one frozen dataclass shared by the CLI, `run()` and the workers.

Each field that a user can set from outside Python carries an `Option` in its metadata: its help
text, command-line spellings, `--help` group, value parser and environment variable live with the
field, and the command line is generated from them (`_cli.py`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, Literal, final, get_args

InterfaceName = Literal["auto", "asgi3", "asgi2"]
LoopName = Literal["auto", "asyncio", "uvloop"]
LifespanName = Literal["auto", "on", "off"]
ProtocolName = Literal["http", "uwsgi"]
WebSocketName = Literal["auto", "none"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
LogFormat = Literal["text", "json"]

# How an option's value is written outside Python:
#   "value"     one value: `--port 80`
#   "flag"      a boolean that the command line can only turn on: `--reload`
#   "switch"    a boolean with both spellings: `--access-log` / `--no-access-log`
#   "repeat"    a tuple, one item per occurrence: `--bind a --bind b`
#   "list"      a tuple, comma separated in one value: `--forwarded-allow-ips a,b`
#   "argument"  positional on the command line (APP); no environment variable
# Outside the command line (environment, and later a config file) a list is always comma
# separated and a boolean is true/false, 1/0, yes/no or on/off.
OptionKind = Literal["value", "flag", "switch", "repeat", "list", "argument"]

ENV_PREFIX: Final = "ASGISERVER_"

_BOOLEANS: Final = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


@final
@dataclass(frozen=True, slots=True)
class Option:
    """How one `Config` field is set from the command line and the environment.

    `name` is the long option without its dashes; it is also the environment variable
    `ASGISERVER_<NAME>` (upper case, dashes as underscores) and is meant as the key in a config
    file (dashes or underscores). Precedence: command line > environment > (file) > default.
    """

    group: str
    help: str
    kind: OptionKind = "value"
    name: str = ""  # default: the field's name with dashes
    aliases: tuple[str, ...] = ()  # more command-line spellings, e.g. uvicorn's or gunicorn's
    parse: Callable[[str], Any] = str  # one value (or one item of a list) from its text
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    env_fallbacks: tuple[str, ...] = ()  # foreign variables read after ASGISERVER_<NAME>
    cli_default: Any = None  # when not None: the default outside Python, if not the field's
    field: str = ""  # the Config field (or other destination); filled in by `options()`

    @property
    def flags(self) -> tuple[str, ...]:
        """Every command-line spelling, the long option first."""
        if self.kind == "argument":
            return (self.field,)
        return (f"--{self.name}", *self.aliases)

    @property
    def env(self) -> tuple[str, ...]:
        """The environment variables that set this option, the first that is set wins."""
        if self.kind == "argument":
            return ()
        return (ENV_PREFIX + self.name.upper().replace("-", "_"), *self.env_fallbacks)

    def parse_one(self, text: str) -> Any:
        """One value, or one item of a list; raises ValueError with a message for the user."""
        value = self.parse(text)
        if self.choices and value not in self.choices:
            choices = ", ".join(map(repr, self.choices))
            raise ValueError(f"invalid choice: {text!r} (choose from {choices})")
        return value

    def from_text(self, text: str) -> Any:
        """The value from its text outside the command line (an environment variable)."""
        kind = self.kind
        if kind == "flag" or kind == "switch":
            try:
                return _BOOLEANS[text.strip().lower()]
            except KeyError:
                raise ValueError(f"expected true or false, not {text!r}") from None
        if kind == "repeat" or kind == "list":
            return tuple(self.parse_one(item.strip()) for item in text.split(",") if item.strip())
        return self.parse_one(text)


# ---- value parsers: each raises ValueError with a message fit for the command line -----------


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not an integer: {text!r}") from None


def positive(text: str) -> int:
    value = integer(text)
    if value <= 0:
        raise ValueError(f"must be > 0, not {value}")
    return value


def window(text: str) -> int:
    """An HTTP/2 flow-control window: 1 to 2^31-1 bytes (RFC 9113 §6.9.1)."""
    value = positive(text)
    if value > 2**31 - 1:
        raise ValueError(f"must be at most 2147483647 (RFC 9113 §6.9.1), not {value}")
    return value


def connection_window(text: str) -> int:
    """The HTTP/2 connection receive window: at least the initial 65,535 bytes (RFC 9113 §6.9.2)."""
    value = window(text)
    if value < 65535:
        raise ValueError(f"must be at least 65535 (RFC 9113 §6.9.2), not {value}")
    return value


def octal(text: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise ValueError(f"not an octal number: {text!r}") from None


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise ValueError(f"must be >= 0, not {text}")
    return value


def metrics_address(text: str) -> str:
    """`host:port`, `[v6]:port` or `unix:/path`: where `--metrics` listens."""
    if text.startswith("unix:"):
        if len(text) == 5:
            raise ValueError("unix: needs a path, as in unix:/run/asgiserver-metrics.sock")
        return text
    host, colon, port = text.rpartition(":")
    if host.startswith("["):
        if not host.endswith("]") or len(host) == 2:
            raise ValueError(f"expected host:port, [v6]:port or unix:/path, not {text!r}")
    elif ":" in host:
        raise ValueError(f"an IPv6 address goes in brackets, as in [::1]:9100, not {text!r}")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port, [v6]:port or unix:/path, not {text!r}")
    return text


def header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"expected NAME:VALUE, not {text!r}")
    return name.strip(), value.strip()


def cpu_limit(cgroup_root: str | None = None, affinity: int | None = None) -> int:
    """The CPUs this process may use: its cgroup's CPU quota (v2 `cpu.max`, else v1
    `cpu.cfs_quota_us` / `cpu.cfs_period_us`), rounded up, never more than the affinity mask.

    The quota is the smallest found from this process's own cgroup up to the root of the
    hierarchy (a parent's quota limits its children). `cgroup_root` (also from the variable
    `ASGISERVER_CGROUP_ROOT`, for tests and unusual mounts) is where the hierarchy is mounted.
    """
    if affinity is None:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        affinity = affinity or os.cpu_count() or 1
    root = Path(cgroup_root or os.environ.get("ASGISERVER_CGROUP_ROOT") or "/sys/fs/cgroup")
    quota = _cgroup_quota(root, _own_cgroups())
    return max(1, min(affinity, quota)) if quota is not None else affinity


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per hierarchy ("" for v2) from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return paths
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _candidates(base: Path, path: str) -> list[Path]:
    """The cgroup directory of `path` under `base` and each of its ancestors up to `base`."""
    parts = [part for part in path.split("/") if part]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _cgroup_quota(root: Path, own: dict[str, str]) -> int | None:
    quotas: list[int] = []
    for directory in _candidates(root, own.get("", "/")):  # cgroup v2
        try:
            text_limit, text_period = (directory / "cpu.max").read_text().split()[:2]
            if text_limit == "max":
                continue
            limit, period = int(text_limit), int(text_period)
        except (OSError, ValueError):
            continue
        if limit > 0 and period > 0:
            quotas.append(-(-limit // period))
    if quotas:
        return min(quotas)
    for name in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):  # cgroup v1
        for directory in _candidates(root / name, own.get("cpu", "/")):
            try:
                limit = int((directory / "cpu.cfs_quota_us").read_text())
                period = int((directory / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                continue
            if limit > 0 and period > 0:
                quotas.append(-(-limit // period))
        if quotas:
            return min(quotas)
    return None


def workers_count(text: str) -> int:
    """A positive number of workers, or `auto`: the CPUs this process may use (`cpu_limit`)."""
    if text.strip().lower() == "auto":
        return cpu_limit()
    try:
        return positive(text)
    except ValueError:
        raise ValueError(f"expected a number > 0 or auto, not {text!r}") from None


def trusted_peer(text: str) -> str:
    """An entry of --forwarded-allow-ips: an address, a network, `unix` or `*`."""
    text = text.strip()
    if text not in ("*", "unix"):
        try:
            if "/" in text:
                ipaddress.ip_network(text, strict=False)
            else:
                ipaddress.ip_address(text)
        except ValueError:
            raise ValueError(f"expected an address, a network, unix or *, not {text!r}") from None
    return text


def access_path(text: str) -> str:
    if not text.startswith("/") and text != "*":
        raise ValueError(f"expected a path starting with /, not {text!r}")
    return text


# gunicorn's access log atoms that `--access-log-format` knows, besides `{name}i` request headers and
# `{name}o` response headers.
ACCESS_ATOMS: Final = frozenset("hlutrmUqHsBbfaTDMLp")
_ATOM_KEY: Final = re.compile(r"%\(([^)]*)\)")
_HEADER_ATOM: Final = re.compile(r"\{[^{}]+\}[io]")


class _Probe(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


def access_log_format(text: str) -> str:
    """A gunicorn-style access log format: `%(h)s %(r)s %({user-agent}i)s`..."""
    for key in _ATOM_KEY.findall(text):
        if key not in ACCESS_ATOMS and not _HEADER_ATOM.fullmatch(key):
            raise ValueError(f"unknown atom %({key})s")
    try:
        text % _Probe()
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"bad format {text!r}: {exc}") from None
    return text


CERT_REQS: Final = {
    "none": int(ssl.CERT_NONE),
    "optional": int(ssl.CERT_OPTIONAL),
    "required": int(ssl.CERT_REQUIRED),
}


def cert_reqs(text: str) -> int:
    if text in ("0", "1", "2"):
        return int(text)
    try:
        return CERT_REQS[text.lower()]
    except KeyError:
        raise ValueError(f"expected none, optional, required or 0/1/2, not {text!r}") from None


# ---- `--help` groups, in the order shown ------------------------------------------------------

APPLICATION: Final = "application"
LISTENING: Final = "listening"
SUPERVISION: Final = "process supervision (a master forks workers when any of these is set)"
PROTOCOL: Final = "protocol"
WEBSOCKET: Final = "WebSocket"
HTTP2: Final = "HTTP/2"
TIMEOUTS: Final = "timeouts (seconds)"
LIMITS: Final = "limits"
RESPONSES: Final = "responses and proxies"
LOGGING: Final = "logging"
TLS: Final = "TLS"
GROUPS: Final = (
    APPLICATION,
    LISTENING,
    SUPERVISION,
    PROTOCOL,
    WEBSOCKET,
    HTTP2,
    TIMEOUTS,
    LIMITS,
    RESPONSES,
    LOGGING,
    TLS,
)


def cli(group: str, help: str, **facts: Any) -> dict[str, Option]:
    """Field metadata: how the field is set from the command line and the environment."""
    return {"option": Option(group, help, **facts)}


@dataclass(frozen=True, slots=True)
class Config:
    """Every option of the server. Names follow uvicorn's where a user would expect them."""

    app: str | object = field(
        default="",
        metadata=cli(
            APPLICATION,
            'the application, as "module:attribute" (or a factory with --factory)',
            kind="argument",
            metavar="APP",
        ),
    )
    factory: bool = field(
        default=False,
        metadata=cli(APPLICATION, "APP is a callable returning the application", kind="flag"),
    )
    app_dir: str | None = field(
        default=None,
        metadata=cli(
            APPLICATION, "directory added to sys.path before importing APP", cli_default="."
        ),
    )
    interface: InterfaceName = field(
        default="auto",
        metadata=cli(
            APPLICATION,
            "auto tells an ASGI 2 (double-callable) application from an ASGI 3 one",
            choices=get_args(InterfaceName),
        ),
    )

    # Listening.
    host: str = field(
        default="127.0.0.1",
        metadata=cli(LISTENING, "address to bind; an IPv6 literal like ::1 works"),
    )
    port: int = field(
        default=8000,
        metadata=cli(LISTENING, "TCP port; 0 picks a free one (printed at startup)", parse=integer),
    )
    uds: str | None = field(
        default=None, metadata=cli(LISTENING, "listen on this unix domain socket instead")
    )
    fd: int | None = field(
        default=None,
        metadata=cli(LISTENING, "serve on this inherited listening socket", parse=integer),
    )
    backlog: int = field(default=2048, metadata=cli(LISTENING, "listen backlog", parse=positive))
    binds: tuple[str, ...] = field(
        default=(),
        metadata=cli(
            LISTENING,
            "host:port, [::1]:port, unix:/path or fd://N (repeatable; overrides --host/--port)",
            kind="repeat",
            name="bind",
            aliases=("-b",),
            metavar="ADDRESS",
        ),
    )
    uds_mode: int | None = field(
        default=None,
        metadata=cli(
            LISTENING, "permission bits of unix sockets, in octal (e.g. 660)", parse=octal
        ),
    )
    uds_owner: str | None = field(
        default=None, metadata=cli(LISTENING, "owner of unix sockets", metavar="USER[:GROUP]")
    )
    reuse_port: bool = field(
        default=False,
        metadata=cli(
            LISTENING,
            "one SO_REUSEPORT listener per worker instead of one shared listener",
            kind="flag",
        ),
    )

    # Process supervision (a master process forks workers when `workers` is set).
    workers: int | None = field(
        default=None,
        metadata=cli(
            SUPERVISION,
            "number of worker processes, or auto: the CPUs this process may use (cgroup CPU "
            "quota, affinity mask) (default: $WEB_CONCURRENCY, else one process without a master)",
            aliases=("-w",),
            parse=workers_count,
            env_fallbacks=("WEB_CONCURRENCY",),
        ),
    )
    preload: bool = field(
        default=False,
        metadata=cli(SUPERVISION, "import the application in the master", kind="flag"),
    )
    threads: int | None = field(
        default=None,
        metadata=cli(
            SUPERVISION,
            "threads per worker for the app's blocking code: asyncio's default executor "
            "(asyncio.to_thread, run_in_executor, asgiref) and AnyIO's thread limiter (Starlette "
            "and FastAPI sync endpoints) (default: their own, min(32, CPUs + 4) and 40)",
            aliases=("--blocking-threads",),
            parse=positive,
        ),
    )
    timeout_worker: float = field(
        default=30.0,
        metadata=cli(
            SUPERVISION,
            "a worker whose event loop is blocked this long is dumped and replaced",
            aliases=("--timeout-worker-healthcheck",),
            parse=seconds,
        ),
    )
    max_requests: int | None = field(
        default=None,
        metadata=cli(
            SUPERVISION,
            "recycle a worker after this many requests",
            aliases=("--limit-max-requests",),
            parse=positive,
        ),
    )
    max_requests_jitter: int = field(
        default=0,
        metadata=cli(
            SUPERVISION,
            "add up to this many requests to --max-requests, per worker",
            aliases=("--limit-max-requests-jitter",),
            parse=integer,
        ),
    )
    max_worker_lifetime: float | None = field(
        default=None,
        metadata=cli(SUPERVISION, "recycle a worker after this many seconds", parse=seconds),
    )
    max_worker_memory: int | None = field(
        default=None,
        metadata=cli(
            SUPERVISION, "recycle a worker whose RSS exceeds this many MiB", parse=positive
        ),
    )
    metrics: str | None = field(
        default=None,
        metadata=cli(
            SUPERVISION,
            "serve GET /metrics (Prometheus text), /livez and /readyz on this address "
            "(host:port or unix:/path), from the master: without --workers, one worker is "
            "supervised",
            parse=metrics_address,
            metavar="ADDRESS",
        ),
    )
    pid_file: str | None = field(
        default=None,
        metadata=cli(
            SUPERVISION, "write the master's PID here", name="pid", aliases=("--pid-file",)
        ),
    )
    reload: bool = field(
        default=False,
        metadata=cli(SUPERVISION, "restart workers when source files change", kind="flag"),
    )
    reload_dirs: tuple[str, ...] = field(
        default=(),
        metadata=cli(
            SUPERVISION,
            "directory to watch (default: --app-dir; repeatable)",
            kind="repeat",
            name="reload-dir",
        ),
    )
    reload_includes: tuple[str, ...] = field(
        default=("*.py",),
        metadata=cli(
            SUPERVISION, "glob of files to watch (repeatable)", kind="repeat", name="reload-include"
        ),
    )
    reload_excludes: tuple[str, ...] = field(
        default=(".*", "*.pyc", "__pycache__"),
        metadata=cli(
            SUPERVISION,
            "glob of files or directories to ignore (repeatable)",
            kind="repeat",
            name="reload-exclude",
        ),
    )

    # Event loop and lifespan.
    loop: LoopName = field(
        default="auto",
        metadata=cli(
            LISTENING, "event loop; auto: uvloop when installed", choices=get_args(LoopName)
        ),
    )
    lifespan: LifespanName = field(
        default="auto",
        metadata=cli(
            APPLICATION,
            "lifespan protocol; auto: an application that fails the lifespan scope is served "
            "without it; on: that is an error",
            choices=get_args(LifespanName),
        ),
    )
    timeout_lifespan_startup: float = field(
        default=60.0,
        metadata=cli(APPLICATION, "seconds the lifespan startup may take", parse=seconds),
    )
    timeout_lifespan_shutdown: float = field(
        default=30.0,
        metadata=cli(APPLICATION, "seconds the lifespan shutdown may take", parse=seconds),
    )

    # ASGI scope.
    root_path: str = field(
        default="",
        metadata=cli(
            APPLICATION, "ASGI root_path: where the application is mounted behind a proxy"
        ),
    )
    proxy_headers: bool = field(
        default=True,
        metadata=cli(
            RESPONSES,
            "take client, scheme, host and prefix from the proxy headers of --forwarded-allow-ips",
            kind="switch",
        ),
    )
    proxy_headers_style: Literal["x-forwarded", "forwarded"] = field(
        default="x-forwarded",
        metadata=cli(
            RESPONSES,
            "the header family the proxy in front sets: X-Forwarded-For/-Proto/-Host/-Port/-Prefix, "
            "or RFC 7239 Forwarded; the other is never trusted",
            choices=("x-forwarded", "forwarded"),
        ),
    )
    forwarded_allow_ips: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata=cli(
            RESPONSES,
            "comma-separated trusted proxy addresses or networks, unix (unix-socket peers), or *",
            kind="list",
            parse=trusted_peer,
            env_fallbacks=("FORWARDED_ALLOW_IPS",),
        ),
    )

    proxy_protocol: bool = field(
        default=False,
        metadata=cli(
            RESPONSES,
            "every connection must start with a PROXY protocol header (v1 or v2, HAProxy "
            "send-proxy / send-proxy-v2) whose addresses replace the socket's; only peers in "
            "--forwarded-allow-ips may connect, and a connection without a valid header is "
            "closed",
            kind="switch",
        ),
    )

    # Protocol: HTTP/1.1 (with WebSocket upgrades), or uwsgi behind nginx `uwsgi_pass`.
    protocol: ProtocolName = field(
        default="http",
        metadata=cli(
            PROTOCOL,
            "uwsgi: speak the uwsgi protocol to nginx uwsgi_pass instead of HTTP",
            choices=get_args(ProtocolName),
        ),
    )
    uwsgi_allow_from: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata=cli(
            PROTOCOL,
            "comma-separated addresses or networks allowed to connect with --protocol uwsgi, or *",
            kind="list",
            parse=trusted_peer,
        ),
    )

    # WebSocket.
    ws: WebSocketName = field(
        default="auto",
        metadata=cli(
            WEBSOCKET,
            "none: upgrade requests reach the app as plain HTTP",
            choices=get_args(WebSocketName),
        ),
    )
    ws_max_size: int = field(
        default=16 * 1024 * 1024,
        metadata=cli(
            WEBSOCKET,
            "largest message in bytes, across fragments (close 1009 past it)",
            parse=positive,
        ),
    )
    ws_max_queue: int = field(
        default=32,
        metadata=cli(
            WEBSOCKET, "received messages held for the app before reading pauses", parse=positive
        ),
    )
    ws_ping_interval: float | None = field(
        default=20.0, metadata=cli(WEBSOCKET, "send a ping this often; 0 disables", parse=seconds)
    )
    ws_ping_timeout: float | None = field(
        default=20.0,
        metadata=cli(
            WEBSOCKET,
            "close a connection whose pong does not come back in time; 0 disables",
            parse=seconds,
        ),
    )
    ws_per_message_deflate: bool = field(
        default=True,
        metadata=cli(WEBSOCKET, "negotiate permessage-deflate (RFC 7692)", kind="switch"),
    )

    # HTTP/2 (RFC 9113): ALPN h2 over TLS, or prior-knowledge h2c on the HTTP/1.1 port.
    http2: bool = field(
        default=True,
        metadata=cli(
            HTTP2,
            "serve HTTP/2: ALPN h2 over TLS, and cleartext clients that open with the HTTP/2 "
            "connection preface (prior knowledge); --no-http2 serves HTTP/1.1 only",
            kind="switch",
        ),
    )
    h2c_upgrade: bool = field(
        default=False,
        metadata=cli(
            HTTP2,
            "also switch to HTTP/2 on `Upgrade: h2c` (off: a proxy that passes Upgrade through "
            "would let clients past its per-request rules, h2c smuggling)",
            kind="switch",
        ),
    )
    h2_max_concurrent_streams: int = field(
        default=100,
        metadata=cli(
            HTTP2,
            "streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); "
            "more are refused with REFUSED_STREAM",
            parse=positive,
        ),
    )
    h2_initial_window_size: int = field(
        default=256 * 1024,
        metadata=cli(
            HTTP2,
            "request-body bytes a stream may send before the app reads them "
            "(SETTINGS_INITIAL_WINDOW_SIZE)",
            parse=window,
        ),
    )
    h2_connection_window: int = field(
        default=1024 * 1024,
        metadata=cli(
            HTTP2,
            "request-body bytes all streams of a connection may have in flight",
            parse=connection_window,
        ),
    )
    h2_max_requests: int = field(
        default=1000,
        metadata=cli(
            HTTP2,
            "requests on one connection before a graceful GOAWAY asks for a new one",
            parse=positive,
        ),
    )
    h2_reset_budget: int = field(
        default=100,
        metadata=cli(
            HTTP2,
            "stream resets a connection may cause beyond the requests it completes before it is "
            "closed with ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487)",
            parse=positive,
        ),
    )
    h2_max_control_frames: int = field(
        default=1000,
        metadata=cli(
            HTTP2,
            "PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty DATA and other frames that do no useful "
            "work a connection may send (useful work earns credit back) before it is closed with "
            "ENHANCE_YOUR_CALM (CVE-2019-9512/9515/9518)",
            parse=positive,
        ),
    )
    h2_max_continuation_frames: int = field(
        default=8,
        metadata=cli(
            HTTP2, "CONTINUATION frames in one header block (CONTINUATION floods)", parse=positive
        ),
    )
    h2_max_header_block_bytes: int = field(
        default=64 * 1024,
        metadata=cli(
            HTTP2,
            "encoded bytes of one header block, checked before any HPACK decoding (HPACK bombs)",
            parse=positive,
        ),
    )
    h2_max_new_streams_per_read: int = field(
        default=200,
        metadata=cli(
            HTTP2,
            "streams one read may open; the rest are refused with REFUSED_STREAM",
            parse=positive,
        ),
    )

    # Timeouts (seconds).
    timeout_keep_alive: float = field(
        default=75.0,  # nginx's keepalive_timeout: past the 60 s idle timeout of most balancers
        metadata=cli(
            TIMEOUTS,
            "close idle keep-alive connections after this long; keep it above a load balancer's "
            "idle timeout (AWS ALB, ingress-nginx: 60 s) so the balancer closes idle connections "
            "first and never reuses one the server is closing (502s)",
            aliases=("--keep-alive",),
            parse=seconds,
        ),
    )
    timeout_request_head: float = field(
        default=10.0,
        metadata=cli(
            TIMEOUTS,
            "a request head must arrive completely within this long (slowloris)",
            parse=seconds,
        ),
    )
    timeout_request_body: float = field(
        default=30.0,
        metadata=cli(
            TIMEOUTS,
            "close a request whose body stalls this long while the app waits for it",
            parse=seconds,
        ),
    )
    timeout_request: float | None = field(
        default=None,
        metadata=cli(
            TIMEOUTS,
            "cancel an HTTP request whose app has not finished after this long: 504, or an "
            "aborted response if it had started (WebSockets are not limited); 0 or unset: off",
            parse=seconds,
        ),
    )
    timeout_send: float = field(
        default=60.0,  # nginx's send_timeout
        metadata=cli(
            TIMEOUTS,
            "drop a client that takes none of the response bytes waiting for it for this long "
            "(the connection closes; on HTTP/2, a stream whose flow-control window stays shut is "
            "reset with CANCEL); 0: off",
            parse=seconds,
        ),
    )
    timeout_graceful_shutdown: float = field(
        default=30.0,
        metadata=cli(
            TIMEOUTS,
            "how long in-flight requests may run after SIGTERM",
            aliases=("--graceful-timeout",),
            parse=seconds,
        ),
    )

    shutdown_delay: float = field(
        default=0.0,
        metadata=cli(
            TIMEOUTS,
            "on SIGTERM, keep serving this long with /readyz answering 503 (so load balancers "
            "stop sending) before the graceful stop",
            parse=seconds,
        ),
    )

    # Limits.
    limit_concurrency: int | None = field(
        default=None,
        metadata=cli(LIMITS, "answer 503 once this many requests are in flight", parse=positive),
    )
    limit_connections: int | None = field(
        default=None,
        metadata=cli(
            LIMITS,
            "a worker holding this many connections stops accepting until one closes: new ones "
            "wait in the listen backlog or go to a worker with room, none is refused",
            parse=positive,
        ),
    )
    limit_request_line: int = field(
        default=8 * 1024,
        metadata=cli(LIMITS, "bytes in the request line (414 past it)", parse=positive),
    )
    limit_request_headers_size: int = field(
        default=64 * 1024,
        metadata=cli(LIMITS, "bytes in the header section (431 past it)", parse=positive),
    )
    limit_request_fields: int = field(
        default=100, metadata=cli(LIMITS, "number of header fields (431 past it)", parse=positive)
    )
    limit_request_body: int | None = field(
        default=None,
        metadata=cli(
            LIMITS, "bytes in a request body (413 past it); unlimited by default", parse=positive
        ),
    )

    # Response defaults.
    server_header: bool = field(
        default=True,
        metadata=cli(RESPONSES, "send server: asgiserver unless the app sets one", kind="switch"),
    )
    date_header: bool = field(
        default=True,
        metadata=cli(RESPONSES, "send a date header, refreshed every second", kind="switch"),
    )
    headers: tuple[tuple[str, str], ...] = field(
        default=(),
        metadata=cli(
            RESPONSES,
            "a default response header (repeatable)",
            kind="repeat",
            name="header",
            parse=header,
            metavar="NAME:VALUE",
        ),
    )

    # Logging.
    log_level: LogLevel = field(
        default="info",
        metadata=cli(LOGGING, "least severe message logged", choices=get_args(LogLevel)),
    )
    access_log: bool = field(
        default=True,
        metadata=cli(LOGGING, "one line per response on stdout (asgiserver.access)", kind="switch"),
    )
    access_log_format: str | None = field(
        default=None,
        metadata=cli(
            LOGGING,
            "text access lines with gunicorn's atoms, e.g. '%(h)s %(l)s %(u)s %(t)s \"%(r)s\" "
            '%(s)s %(b)s "%(f)s" "%(a)s" %(D)s\', %({name}i)s for a request header and '
            "%({name}o)s for a response header "
            "(default: the built-in format)",
            parse=access_log_format,
            metavar="FORMAT",
        ),
    )
    log_format: LogFormat = field(
        default="text",
        metadata=cli(
            LOGGING,
            "json: one JSON object per line on stdout and stderr, for log pipelines",
            choices=get_args(LogFormat),
        ),
    )
    access_log_exclude: tuple[str, ...] = field(
        default=(),
        metadata=cli(
            LOGGING,
            "leave successful requests for this path out of the access log: an exact path, or a "
            "prefix ending in * (repeatable; responses >= 500 are still logged)",
            kind="repeat",
            parse=access_path,
            metavar="PATH",
        ),
    )

    # TLS.
    ssl_certfile: str | None = field(
        default=None, metadata=cli(TLS, "certificate chain (PEM): serve HTTPS")
    )
    ssl_keyfile: str | None = field(
        default=None, metadata=cli(TLS, "private key (PEM), unless in --ssl-certfile")
    )
    ssl_keyfile_password: str | None = field(
        default=None, metadata=cli(TLS, "password of --ssl-keyfile")
    )
    ssl_ca_certs: str | None = field(
        default=None,
        metadata=cli(TLS, "CA certificates (PEM) that client certificates must chain to"),
    )
    ssl_cert_reqs: int = field(
        default=int(ssl.CERT_NONE),
        metadata=cli(
            TLS, "client certificates: none (0), optional (1) or required (2)", parse=cert_reqs
        ),
    )
    ssl_ciphers: str | None = field(
        default=None, metadata=cli(TLS, "OpenSSL cipher string (default: OpenSSL's)")
    )

    # Extra, for tests and embedding: called with the bound sockets once the server listens.
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def supervised(self) -> bool:
        """Whether a master process supervises workers (otherwise one process serves)."""
        return (
            self.workers is not None
            or self.reload
            or self.max_requests is not None
            or self.max_worker_lifetime is not None
            or self.max_worker_memory is not None
            or self.metrics is not None
        )


def options() -> tuple[Option, ...]:
    """The `Option` of every Config field that has one, in field order, `field` and `name` set."""
    return tuple(
        replace(opt, field=f.name, name=opt.name or f.name.replace("_", "-"))
        for f in fields(Config)
        if (opt := f.metadata.get("option")) is not None
    )
