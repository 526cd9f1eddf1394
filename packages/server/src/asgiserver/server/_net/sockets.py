"""Listening sockets and TLS contexts, created before any connection is served."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import stat

from asgiserver.server._config import Config


def bind_tcp(host: str, port: int, backlog: int, *, reuse_port: bool = False) -> socket.socket:
    """Bind host:port; an IPv6 literal (with or without brackets) binds an AF_INET6 socket."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if family == socket.AF_INET and host not in ("", "0.0.0.0"):
        with contextlib.suppress(OSError):
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family = infos[0][0]
            host = str(infos[0][4][0])
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_unix(
    path: str, backlog: int, mode: int | None = None, owner: str | None = None
) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)  # a stale socket from an earlier run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if mode is not None:
            os.chmod(path, mode)
        if owner:
            user, _, group = owner.partition(":")
            if user and group:
                shutil.chown(path, user, group)
            elif user:
                shutil.chown(path, user)
            elif group:
                shutil.chown(path, group=group)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def from_fd(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)  # family and type are read from the descriptor
    sock.setblocking(False)
    return sock


def bind_specs(config: Config) -> list[str]:
    """Every listener as a bind string: `--bind` entries, else --fd / --uds / --host and --port."""
    if config.binds:
        return list(config.binds)
    if config.fd is not None:
        return [f"fd://{config.fd}"]
    if config.uds is not None:
        return [f"unix:{config.uds}"]
    host = f"[{config.host}]" if ":" in config.host else config.host
    return [f"{host}:{config.port}"]


def parse_tcp(spec: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` (a bare `host` gets port 8000)."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.lstrip(":") or "8000"
    else:
        host, _, port = spec.rpartition(":") if ":" in spec else (spec, "", "8000")
    try:
        return host, int(port)
    except ValueError:
        raise ValueError(f"invalid bind address {spec!r}") from None


def is_tcp(spec: str) -> bool:
    return not spec.startswith(("unix:", "fd://"))


def bind(spec: str, config: Config, *, reuse_port: bool = False) -> socket.socket:
    if spec.startswith("unix:"):
        return bind_unix(spec[5:], config.backlog, config.uds_mode, config.uds_owner)
    if spec.startswith("fd://"):
        return from_fd(int(spec[5:]))
    host, port = parse_tcp(spec)
    return bind_tcp(host, port, config.backlog, reuse_port=reuse_port)


def listeners(config: Config, *, skip_tcp: bool = False) -> list[socket.socket]:
    """Bind every listener (or take systemd's); with `skip_tcp`, TCP binds are left to the workers
    (`--reuse-port`)."""
    activated = activated_sockets()
    if activated:
        return activated
    sockets: list[socket.socket] = []
    try:
        for spec in bind_specs(config):
            if skip_tcp and is_tcp(spec):
                continue
            sockets.append(bind(spec, config))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def describe(sock: socket.socket, tls: bool) -> str:
    if sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        return f"unix:{name if isinstance(name, str) else name.decode()}"
    host, port = sock.getsockname()[:2]
    scheme = "https" if tls else "http"
    return (
        f"{scheme}://[{host}]:{port}"
        if sock.family == socket.AF_INET6
        else f"{scheme}://{host}:{port}"
    )


def ssl_context(config: Config, alpn: list[str] | None = None) -> ssl.SSLContext | None:
    if config.ssl_certfile is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.load_cert_chain(
        config.ssl_certfile, config.ssl_keyfile, config.ssl_keyfile_password or None
    )
    context.verify_mode = ssl.VerifyMode(config.ssl_cert_reqs)
    if config.ssl_ca_certs:
        context.load_verify_locations(config.ssl_ca_certs)
    if config.ssl_ciphers:
        context.set_ciphers(config.ssl_ciphers)
    context.set_alpn_protocols(alpn or ["http/1.1"])
    return context


def activated_sockets() -> list[socket.socket]:
    """Sockets passed by systemd socket activation (LISTEN_PID/LISTEN_FDS, fds from 3 on).

    The variables are removed afterwards so that child processes do not take the sockets as theirs.
    """
    try:
        pid = int(os.environ.get("LISTEN_PID", ""))
        count = int(os.environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    if pid != os.getpid() or count <= 0:
        return []
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    sockets = []
    for fd in range(3, 3 + count):
        os.set_inheritable(fd, True)
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets
