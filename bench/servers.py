"""wrk against asgiserver and the servers teams run today, one worker each, interleaved rounds.

Run with `nox -s bench` (which installs everything) or directly: `python bench/servers.py [--duration 5]
[--rounds 3] [--servers asgiserver,uvicorn] [--json PATH]`. Prints requests/s per server and scenario,
and asgiserver's ratio to each other server. Servers that are not installed are reported and skipped.
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


def run_wrk(
    wrk: str, port: int, scenario: str, duration: int, connections: int, script_dir: Path
) -> float:
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
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"    warning: {errors.group(1)} non-2xx responses", file=sys.stderr)
    return float(match.group(1)) if match else 0.0


@contextlib.contextmanager
def running(
    names: list[str], command_for: Callable[[str, int], list[str] | None]
) -> Iterator[dict[str, int]]:
    """Start each server on a free loopback port; yield {name: port}; stop them by PID."""
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name in names:
            port = free_port()
            command = command_for(name, port)
            if command is None:
                print(f"{name}: not installed, skipped")
                continue
            proc = subprocess.Popen(
                command,
                cwd=HERE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            if not wait_port(port, proc):
                print(f"{name}: did not start, skipped")
                proc.kill()
                continue
            procs[name] = (proc, port)
        yield {name: port for name, (_, port) in procs.items()}
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
    parser.add_argument("--scenarios", default="plaintext,pipelined,post64k")
    parser.add_argument("--json", type=Path, default=None)
    args, _ = parser.parse_known_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    wanted = args.servers.split(",")
    scenarios = args.scenarios.split(",")
    with running(wanted, lambda name, port: commands(port).get(name)) as ports:
        results: dict[str, dict[str, list[float]]] = {s: {n: [] for n in ports} for s in scenarios}
        with tempfile.TemporaryDirectory() as tmp:
            for port in ports.values():  # warm-up, not recorded
                run_wrk(wrk, port, "plaintext", 1, args.connections, Path(tmp))
            for round_no in range(args.rounds):
                for scenario in scenarios:
                    for name, port in ports.items():
                        rps = run_wrk(
                            wrk, port, scenario, args.duration, args.connections, Path(tmp)
                        )
                        results[scenario][name].append(rps)
                        print(
                            f"round {round_no + 1} {scenario:10s} {name:11s} {rps:10.0f} req/s",
                            flush=True,
                        )
    print("\nmedian requests/s (ratio = asgiserver / other)")
    summary: dict[str, dict[str, float]] = {}
    for scenario in scenarios:
        medians = {n: statistics.median(v) for n, v in results[scenario].items() if v}
        summary[scenario] = medians
        ours = medians.get("asgiserver", 0.0)
        cells = [
            f"{n}={m:.0f}" + (f" ({ours / m:.2f}x)" if n != "asgiserver" and m else "")
            for n, m in medians.items()
        ]
        print(f"{scenario:10s} " + "  ".join(cells))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
