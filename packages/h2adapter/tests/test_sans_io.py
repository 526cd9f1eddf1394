"""The package is sans-IO: importing it pulls in no event loop, socket, TLS, thread or clock."""

import subprocess
import sys

# h2 itself imports logging, so only I/O modules are checked here.
FORBIDDEN = ("asyncio", "socket", "ssl", "selectors", "threading")


def test_import_pulls_in_no_io() -> None:
    code = (
        "import sys, asgiserver.h2adapter as m; "
        f"print(','.join(n for n in {FORBIDDEN!r} if n in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"imported {out.stdout.strip()}"
