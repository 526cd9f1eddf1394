"""The package is sans-IO: importing it pulls in no event loop, socket, TLS, thread or clock."""

import subprocess
import sys

FORBIDDEN = ("asyncio", "socket", "ssl", "selectors", "threading", "logging")


def test_import_pulls_in_no_io() -> None:
    code = (
        "import sys, asgiserver.http1 as m; "
        f"print(','.join(n for n in {FORBIDDEN!r} if n in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"imported {out.stdout.strip()}"
