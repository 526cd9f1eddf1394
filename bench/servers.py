"""wrk against asgiserver and the servers teams run today, one worker each, interleaved rounds.

Run with `nox -s bench` (which installs everything) or directly: `python bench/servers.py [--duration 5]
[--rounds 3] [--servers asgiserver,uvicorn] [--json PATH]`. Prints requests/s and the server's own CPU
time per request (user+sys of its process group from /proc over the run, divided by the requests wrk
completed) per server and scenario, and asgiserver's ratios. Requests/s swing by a third between rounds
on a shared machine; CPU per request is steady: decide on it. Servers that are not installed are
reported and skipped.

`--baseline DIR` adds "asgiserver@base": the same command run from another checkout's packages (for
example a `git worktree` of the previous commit), to measure a change before and after in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name: str) -> str | None:
    local = BIN / name
    return str(local) if local.exists() else shutil.which(name)


def commands(port: int) -> dict[str, list[str] | None]:
    def cmd(name: str, *args: str) -> list[str] | None:
        path = tool(name)
        return [path, *args] if path else None

    p = str(port)
    return {
        "asgiserver": cmd(
            "asgiserver", "app:app", "--port", p, "--no-access-log", "--log-level", "warning"
        ),
        "uvicorn": cmd(
            "uvicorn",
            "app:app",
            "--port",
            p,
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
        ),
        "hypercorn": cmd(
            "hypercorn", "app:app", "-b", f"127.0.0.1:{p}", "-k", "uvloop", "--log-level", "warning"
        ),
        "granian": cmd(
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            p,
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--no-ws",
            "--log-level",
            "warning",
            "app:app",
        ),
        "gunicorn": cmd(
            "gunicorn",
            "-k",
            "asgi",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{p}",
            "--log-level",
            "warning",
            "app:app",
        ),
    }


LUA = {
    "plaintext": "",
    "pipelined": (
        "init = function(args)\n  local r = {}\n  for i = 1, 16 do r[i] = wrk.format(nil, '/') end\n"
        "  req = table.concat(r)\nend\nrequest = function() return req end\n"
    ),
    # A browser's navigation: 13 header fields, about 600 bytes (wrk adds Host).
    "browser": (
        "wrk.path = '/plaintext?utm_source=newsletter&ref=42'\n"
        "wrk.headers['User-Agent'] = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
        "Firefox/128.0'\n"
        "wrk.headers['Accept'] = 'text/html,application/xhtml+xml,application/xml;q=0.9,"
        "image/avif,image/webp,*/*;q=0.8'\n"
        "wrk.headers['Accept-Language'] = 'en-US,en;q=0.5'\n"
        "wrk.headers['Accept-Encoding'] = 'gzip, deflate, br, zstd'\n"
        "wrk.headers['Connection'] = 'keep-alive'\n"
        "wrk.headers['Cookie'] = 'session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; "
        "consent=granted'\n"
        "wrk.headers['Upgrade-Insecure-Requests'] = '1'\n"
        "wrk.headers['Sec-Fetch-Dest'] = 'document'\n"
        "wrk.headers['Sec-Fetch-Mode'] = 'navigate'\n"
        "wrk.headers['Sec-Fetch-Site'] = 'same-origin'\n"
        "wrk.headers['Sec-Fetch-User'] = '?1'\n"
        "wrk.headers['Referer'] = 'https://example.com/articles/2026/12/asgi-servers'\n"
    ),
    "post64k": (
        "wrk.method = 'POST'\nwrk.body = string.rep('a', 65536)\n"
        "wrk.headers['Content-Type'] = 'application/octet-stream'\n"
    ),
}


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def group_cpu_seconds(pgid: int) -> float:
    """user+sys CPU seconds of every live process in a process group (the server and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5, pgrp (after pid and comm)
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15, utime and stime
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(
    wrk: str, port: int, scenario: str, duration: int, connections: int, script_dir: Path
) -> tuple[float, int]:
    args = [wrk, "-t1", f"-c{connections}", f"-d{duration}s"]
    if LUA[scenario]:
        script = script_dir / f"{scenario}.lua"
        script.write_text(LUA[scenario])
        args += ["-s", str(script)]
    out = subprocess.run(
        [*args, f"http://127.0.0.1:{port}/" + ("echo" if scenario == "post64k" else "")],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"    warning: {errors.group(1)} non-2xx responses", file=sys.stderr)
    return (float(match.group(1)) if match else 0.0), (int(count.group(1)) if count else 0)


@contextlib.contextmanager
def running(
    names: list[str], command_for: Callable[[str, int], list[str] | None]
) -> Iterator[dict[str, tuple[int, int]]]:
    """Start each server on a free loopback port; yield {name: (port, pid)}; stop them by PID."""
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name in names:
            port = free_port()
            command = command_for(name, port)
            if command is None:
                print(f"{name}: not installed, skipped")
                continue
            env = None
            if name == "asgiserver@base":
                env = {**os.environ, "PYTHONPATH": os.environ["BENCH_BASELINE_PATH"]}
            proc = subprocess.Popen(
                command,
                cwd=HERE,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            if not wait_port(port, proc):
                print(f"{name}: did not start, skipped")
                proc.kill()
                continue
            procs[name] = (proc, port)
        yield {name: (port, procs[name][0].pid) for name, (_, port) in procs.items()}
    finally:
        for proc, _ in procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "5")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--servers", default="asgiserver,uvicorn,hypercorn,granian,gunicorn")
    parser.add_argument("--scenarios", default="plaintext,browser,pipelined,post64k")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare")
    args, _ = parser.parse_known_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    wanted = args.servers.split(",")
    if args.baseline is not None:
        os.environ["BENCH_BASELINE_PATH"] = os.pathsep.join(
            str(p) for p in sorted((args.baseline / "packages").glob("*/src"))
        )
        wanted.insert(1, "asgiserver@base")
    scenarios = args.scenarios.split(",")

    def command_for(name: str, port: int) -> list[str] | None:
        if name == "asgiserver@base":
            quiet = ["--no-access-log", "--log-level", "warning"]
            return [sys.executable, "-m", "asgiserver", "app:app", "--port", str(port), *quiet]
        return commands(port).get(name)

    with running(wanted, command_for) as servers:
        rps: dict[str, dict[str, list[float]]] = {s: {n: [] for n in servers} for s in scenarios}
        cpu: dict[str, dict[str, list[float]]] = {s: {n: [] for n in servers} for s in scenarios}
        with tempfile.TemporaryDirectory() as tmp:
            for port, _ in servers.values():  # warm-up, not recorded
                run_wrk(wrk, port, "plaintext", 1, args.connections, Path(tmp))
            for round_no in range(args.rounds):
                for scenario in scenarios:
                    for name, (port, pid) in servers.items():
                        before = group_cpu_seconds(pid)
                        rate, count = run_wrk(
                            wrk, port, scenario, args.duration, args.connections, Path(tmp)
                        )
                        used = group_cpu_seconds(pid) - before
                        per_request = used / count * 1e6 if count else float("nan")
                        rps[scenario][name].append(rate)
                        cpu[scenario][name].append(per_request)
                        print(
                            f"round {round_no + 1} {scenario:10s} {name:16s} {rate:10.0f} req/s"
                            f" {per_request:8.1f} us CPU/request",
                            flush=True,
                        )
    print(
        "\nmedians: requests/s and server CPU per request (ratio = the other / asgiserver on CPU,"
    )
    print("asgiserver / the other on requests/s: above 1 means asgiserver is ahead)")
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for scenario in scenarios:
        rates = {n: statistics.median(v) for n, v in rps[scenario].items() if v}
        costs = {n: statistics.median(v) for n, v in cpu[scenario].items() if v}
        summary[scenario] = {"requests_per_second": rates, "cpu_us_per_request": costs}
        ours_rate, ours_cost = rates.get("asgiserver", 0.0), costs.get("asgiserver", 0.0)
        for name in rates:
            ratio = ""
            if name != "asgiserver" and rates[name] and ours_cost:
                ratio = (
                    f"  ({ours_rate / rates[name]:.2f}x req/s, {costs[name] / ours_cost:.2f}x CPU)"
                )
            print(
                f"{scenario:10s} {name:16s} {rates[name]:10.0f} req/s {costs[name]:8.1f} us{ratio}"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
