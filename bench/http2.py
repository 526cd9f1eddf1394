"""HTTP/2 load: h2load against asgiserver, hypercorn, gunicorn (-k asgi with h2) and granian, one
worker each, interleaved rounds; requests/s, failed requests and the server's CPU per request.

    python bench/http2.py [--requests 20000] [--clients 10] [--streams 10] [--rounds 3] [--tls]
        [--servers asgiserver,hypercorn,gunicorn,granian] [--json PATH]

Over h2c with prior knowledge by default; `--tls` uses a throwaway certificate and ALPN (needs
trustme). CPU per request is user+sys of the server's process group from /proc over the run,
divided by the requests h2load completed: steady where requests/s swing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from servers import group_cpu_seconds, running, tool


def commands(port: int, cert: tuple[str, str] | None) -> dict[str, list[str] | None]:
    p = str(port)
    tls_ours = ["--ssl-certfile", cert[0], "--ssl-keyfile", cert[1]] if cert else []
    tls_hyper = ["--certfile", cert[0], "--keyfile", cert[1]] if cert else []
    tls_guni = ["--certfile", cert[0], "--keyfile", cert[1]] if cert else []
    tls_granian = ["--ssl-certificate", cert[0], "--ssl-keyfile", cert[1]] if cert else []

    def cmd(name: str, *args: str) -> list[str] | None:
        path = tool(name)
        return [path, *args] if path else None

    return {
        "asgiserver": cmd(
            "asgiserver",
            "app:app",
            "--port",
            p,
            "--no-access-log",
            "--log-level",
            "warning",
            *tls_ours,
        ),
        "hypercorn": cmd(
            "hypercorn",
            "app:app",
            "-b",
            f"127.0.0.1:{p}",
            "-k",
            "uvloop",
            "--log-level",
            "warning",
            *tls_hyper,
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
            "--http-protocols",
            "h2,h1",
            "--http2-cleartext",
            "both",
            *tls_guni,
            "app:app",
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
            "--http",
            "2",
            "--no-ws",
            "--log-level",
            "warning",
            *tls_granian,
            "app:app",
        ),
    }


def run_h2load(
    h2load: str, url: str, requests: int, clients: int, streams: int
) -> dict[str, float]:
    out = subprocess.run(
        [h2load, "-n", str(requests), "-c", str(clients), "-m", str(streams), url],
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    done = re.search(
        r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out
    )
    return {
        "rps": float(rate.group(1)) if rate else 0.0,
        "succeeded": float(done.group(2)) if done else 0.0,
        "failed": float(done.group(3)) if done else float(requests),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--servers", default="asgiserver,hypercorn,gunicorn,granian")
    parser.add_argument("--json", type=Path, default=None)
    args, _ = parser.parse_known_args()
    h2load = shutil.which("h2load")
    if h2load is None:
        print("h2load is not installed (apt-get install nghttp2-client)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        cert = None
        if args.tls:
            import trustme

            ca = trustme.CA()
            issued = ca.issue_cert("127.0.0.1")
            certfile, keyfile = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            issued.cert_chain_pems[0].write_to_path(str(certfile))
            issued.private_key_pem.write_to_path(str(keyfile))
            cert = (str(certfile), str(keyfile))
        scheme = "https" if args.tls else "http"
        wanted = args.servers.split(",")
        with running(wanted, lambda name, port: commands(port, cert).get(name)) as servers:
            results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            for port, _ in servers.values():  # warm-up
                run_h2load(h2load, f"{scheme}://127.0.0.1:{port}/", 1000, 2, 10)
            for round_no in range(args.rounds):
                for name, (port, pid) in servers.items():
                    before = group_cpu_seconds(pid)
                    result = run_h2load(
                        h2load,
                        f"{scheme}://127.0.0.1:{port}/",
                        args.requests,
                        args.clients,
                        args.streams,
                    )
                    used = group_cpu_seconds(pid) - before
                    done = result["succeeded"]
                    result["cpu_us"] = used / done * 1e6 if done else float("nan")
                    results[name].append(result)
                    print(
                        f"round {round_no + 1} {name:11s} {result['rps']:9.0f} req/s "
                        f"{result['failed']:6.0f} failed {result['cpu_us']:8.1f} us CPU/request",
                        flush=True,
                    )
    print(f"\nmedians over h2{'' if args.tls else 'c'} (ratios: asgiserver ahead when above 1)")
    summary = {}
    ours = results.get("asgiserver")
    for name, rows in results.items():
        rps = statistics.median(r["rps"] for r in rows)
        cpu = statistics.median(r["cpu_us"] for r in rows)
        failed = sum(r["failed"] for r in rows)
        summary[name] = {"rps": rps, "cpu_us_per_request": cpu, "failed": failed}
        ratio = ""
        if ours and name != "asgiserver" and rps:
            our_rps = statistics.median(r["rps"] for r in ours)
            our_cpu = statistics.median(r["cpu_us"] for r in ours)
            ratio = f"  ({our_rps / rps:.2f}x req/s, {cpu / our_cpu:.2f}x CPU)"
        print(f"{name:11s} {rps:9.0f} req/s {cpu:8.1f} us CPU {failed:6.0f} failed{ratio}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
