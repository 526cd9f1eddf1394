"""Autobahn|Testsuite's fuzzing client against the real `asgiserver` command, every case strictly OK.

    python tests/autobahn/run.py [--quick] [--cases 1.* 9.1.*] [--report DIR] [--cache DIR]

Builds the Python 2.7 virtualenv of `wstest` from `requirements-py27.txt` if the cache lacks it
(CPython 2.7 from $AUTOBAHN_PYTHON27, pyenv's versions or PATH), starts `asgiserver echo:app` on a
free loopback port, runs `wstest -m fuzzingclient` on every case (`--quick`: all but the 72 largest
permessage-deflate cases, 12.*.13-18 and 13.*.13-18, which take most of a full run), stops the
server by PID and prints a summary of `index.json`: the count of each behaviour and, for each case
that is not OK, what Autobahn expected and what it got. Exits 1 unless every case (its behaviour
and its closing behaviour) is OK or INFORMATIONAL. Only the standard library: run it with the
Python that has asgiserver installed (`nox -s autobahn` does).

wstest speaks HTTP/1.1 only: WebSocket over HTTP/2 (RFC 8441) cannot be run through it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements-py27.txt"
SPEC = HERE / "fuzzingclient.json"
AGENT = "asgiserver"
PASSING = {"OK", "INFORMATIONAL"}
# The 72 largest permessage-deflate cases: 12.1-12.5 and 13.1-13.7, sub-cases 13 to 18.
LARGEST_DEFLATE = [
    f"{major}.{minor}.{case}"
    for major, minors in ((12, 5), (13, 7))
    for minor in range(1, minors + 1)
    for case in range(13, 19)
]
LISTEN_RE = re.compile(r"Listening on http://127\.0\.0\.1:(\d+)")
SERVER_ARGS = [
    "echo:app",
    "--app-dir",
    str(HERE),
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--ws-ping-interval",  # our own pings would be unexpected frames to the fuzzing client
    "0",
    "--no-access-log",
]


def log(message: str) -> None:
    print(f"[autobahn] {message}", flush=True)


# ---- the Python 2.7 virtualenv ----------------------------------------------------------------------


def find_python27() -> str:
    explicit = os.environ.get("AUTOBAHN_PYTHON27")
    if explicit:
        return explicit
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = sorted(
        (tuple(int(p) for p in path.name.split(".")), path / "bin" / "python2.7")
        for path in root.glob("2.7.*")
        if re.fullmatch(r"2\.7\.\d+", path.name) and (path / "bin" / "python2.7").exists()
    )
    if found:
        return str(found[-1][1])
    on_path = shutil.which("python2.7")
    if on_path:
        return on_path
    sys.exit("[autobahn] no CPython 2.7: install it with pyenv or set AUTOBAHN_PYTHON27")


def build_step(what: str, command: list[str], env: dict[str, str] | None = None) -> str:
    """Run one step of the virtualenv build; on failure, say which step and exit."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(
            f"[autobahn] building wstest failed while {what} (exit {result.returncode}):\n"
            f"$ {' '.join(command)}\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def ensure_wstest(cache: Path) -> Path:
    """The cached virtualenv's wstest, built first if missing or made from other requirements."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    venv = cache / f"py27-{digest}"
    wstest = venv / "bin" / "wstest"
    stamp = venv / ".complete"
    if stamp.exists() and wstest.exists():
        return wstest
    python27 = find_python27()
    log(f"building the wstest virtualenv in {venv} with {python27} (about a minute)")
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    bootstrap = cache / "virtualenv-py27"  # virtualenv itself, outside any site-packages
    pip = ["install", "--quiet", "--disable-pip-version-check"]
    if not (bootstrap / "virtualenv").exists():
        build_step(
            "installing virtualenv for Python 2.7",
            [python27, "-m", "pip", *pip, "--target", str(bootstrap), "virtualenv<20.22"],
        )
    build_step(
        "creating the virtualenv",
        [python27, "-m", "virtualenv", "--quiet", str(venv)],
        env={**os.environ, "PYTHONPATH": str(bootstrap)},
    )
    build_step(
        f"installing {REQUIREMENTS.name}",
        [str(venv / "bin" / "python"), "-m", "pip", *pip, "-r", str(REQUIREMENTS)],
    )
    version = build_step("checking wstest", [str(wstest), "-a"]).strip().replace("\n", " / ")
    stamp.write_text(version + "\n")
    log(f"built in {time.monotonic() - started:.0f} s: {version}")
    return wstest


# ---- the server -------------------------------------------------------------------------------------


def asgiserver_command() -> list[str]:
    script = Path(sys.executable).parent / "asgiserver"
    if script.exists():
        return [str(script)]
    found = shutil.which("asgiserver")
    if found:
        return [found]
    sys.exit("[autobahn] the asgiserver command is not installed beside this Python")


def start_server(log_path: Path, timeout: float = 30) -> tuple[subprocess.Popen[bytes], int]:
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [*asgiserver_command(), *SERVER_ARGS],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = LISTEN_RE.search(log_path.read_text(errors="replace"))
        if match:
            return proc, int(match[1])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_server(proc)
    sys.exit(f"[autobahn] the server did not start:\n{log_path.read_text(errors='replace')}")


def stop_server(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


# ---- the report -------------------------------------------------------------------------------------


def summarize(outdir: Path) -> tuple[list[str], bool]:
    """Lines describing `outdir/index.json`, and whether every case passed."""
    index_path = outdir / "index.json"
    if not index_path.exists():
        return [f"no {index_path}: wstest did not finish"], False
    results: dict[str, dict[str, object]] = json.loads(index_path.read_text())[AGENT]

    def key(case: str) -> tuple[int, ...]:
        return tuple(int(p) for p in case.split("."))

    cases = sorted(results, key=key)
    behaviours = Counter(str(results[c]["behavior"]) for c in cases)
    closing = Counter(str(results[c]["behaviorClose"]) for c in cases)
    lines = [
        f"{len(cases)} cases",
        "behaviour:         " + ", ".join(f"{n} {b}" for b, n in behaviours.most_common()),
        "closing behaviour: " + ", ".join(f"{n} {b}" for b, n in closing.most_common()),
    ]
    passed = bool(cases)
    for case in cases:
        result = results[case]
        behaviour, close = str(result["behavior"]), str(result["behaviorClose"])
        if behaviour == "OK" and close == "OK":
            continue
        failed = behaviour not in PASSING or close not in PASSING
        passed = passed and not failed
        detail: dict[str, Any] = {}
        report = outdir / str(result.get("reportfile", ""))
        if report.is_file():
            detail = json.loads(report.read_text())
        lines.append(f"{'FAIL' if failed else 'note'} {case}: {behaviour} (closing: {close})")
        for label, field in (
            ("case", "description"),
            ("expected", "expectation"),
            ("result", "result"),
            ("closing", "resultClose"),
        ):
            text = " ".join(re.sub(r"<[^>]+>", " ", str(detail.get(field, ""))).split())
            if text:
                lines.append(f"    {label}: {text[:400]}")
        if detail:
            expected = detail.get("expected") or {}
            ok_events = expected.get("OK") if isinstance(expected, dict) else None
            received = json.dumps(detail.get("received"), ensure_ascii=False)
            lines.append(f"    events for OK: {json.dumps(ok_events, ensure_ascii=False)[:300]}")
            lines.append(f"    events received: {received[:300]}")
            close_codes = (detail.get("expectedClose") or {}).get("closeCode")
            lines.append(
                f"    close code expected: {close_codes}, received: {detail.get('remoteCloseCode')}"
            )
    return lines, passed


# ---- main -------------------------------------------------------------------------------------------


def main() -> int:
    cache_root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="skip the 72 largest deflate cases")
    parser.add_argument("--cases", nargs="+", default=["*"], help="case patterns (default: *)")
    parser.add_argument("--cache", type=Path, default=cache_root / "asgiserver-autobahn")
    parser.add_argument("--report", type=Path, help="report directory (default: CACHE/report)")
    parser.add_argument("--timeout", type=float, default=2400, help="seconds wstest may run")
    args = parser.parse_args()

    args.cache.mkdir(parents=True, exist_ok=True)
    wstest = ensure_wstest(args.cache)
    report = (args.report or args.cache / "report").resolve()
    shutil.rmtree(report, ignore_errors=True)
    report.mkdir(parents=True)
    outdir = report / "servers"

    proc, port = start_server(report / "server.log")
    log(f"asgiserver {proc.pid} listening on 127.0.0.1:{port}")
    try:
        spec = json.loads(SPEC.read_text())
        spec["outdir"] = str(outdir)
        spec["servers"][0]["url"] = spec["servers"][0]["url"].replace("{port}", str(port))
        spec["cases"] = args.cases
        if args.quick:
            spec["exclude-cases"] = [*spec["exclude-cases"], *LARGEST_DEFLATE]
        spec_path = report / "fuzzingclient.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        started = time.monotonic()
        with (report / "wstest.log").open("wb") as out:
            try:
                # cwd: wstest writes a few files of its own beside the report.
                code = subprocess.run(
                    [str(wstest), "-m", "fuzzingclient", "-s", str(spec_path)],
                    cwd=report,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=args.timeout,
                ).returncode
            except subprocess.TimeoutExpired:
                code = None
        elapsed = time.monotonic() - started
        alive = proc.poll() is None
    finally:
        server_code = stop_server(proc)

    lines, passed = summarize(outdir)
    log(f"wstest ran {elapsed:.0f} s ({'timed out' if code is None else f'exit {code}'})")
    for line in lines:
        log(line)
    if code != 0:
        passed = False
        log(f"wstest failed: see {report / 'wstest.log'}")
    if not alive:
        passed = False
        log(f"the server died during the run (exit {server_code}): see {report / 'server.log'}")
    errors = [
        line
        for line in (report / "server.log").read_text(errors="replace").splitlines()
        if "Traceback" in line or "Exception in ASGI application" in line
    ]
    if errors:
        passed = False
        log(f"{len(errors)} tracebacks in {report / 'server.log'}")
    log(f"report: {outdir / 'index.html'}")
    log("PASSED: every case OK or INFORMATIONAL" if passed else "FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
