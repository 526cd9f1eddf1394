"""Sans-IO: no event loop, socket, TLS, thread, clock or logging, and no sibling.

Two checks, as each misses what the other sees: importing the package loads none of these
modules (beyond those already loaded by interpreter startup), and no source file
names one in an import, where a lazy import inside a function would escape the first.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = "asgiserver.ws"
SOURCE = Path(__file__).parents[1] / "src" / "asgiserver" / "ws"
FORBIDDEN = ("asyncio", "socket", "ssl", "selectors", "threading", "time", "logging")
SIBLINGS = (
    "asgiserver.http1",
    "asgiserver.uwsgi",
    "asgiserver.lifespan",
    "asgiserver.h2adapter",
    "asgiserver.proxyproto",
    "asgiserver.server",
)
BASELINE = "pass"


def banned(module: str) -> bool:
    return any(m == module or module.startswith(m + ".") for m in FORBIDDEN + SIBLINGS)


def loaded_after(code: str) -> set[str]:
    """The modules in sys.modules once a fresh, isolated interpreter has run `code`."""
    script = f"{code}\nimport sys\nprint(*sys.modules)"
    run = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True
    )
    return set(run.stdout.split())


def test_import_pulls_in_no_io() -> None:
    new = loaded_after(f"{BASELINE}\nimport {PACKAGE}") - loaded_after(BASELINE)
    assert PACKAGE in new  # the import did happen
    assert sorted(m for m in new if banned(m)) == []


def imports(tree: ast.AST, package: str) -> set[str]:
    """Every module named in an import: `from a import b` counts as a.b, relative imports are
    resolved from `package`, and import_module("m") and __import__("m") count too."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package.rsplit(".", node.level - 1)[0] if node.level else ""
            base = ".".join(filter(None, (anchor, node.module)))
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def test_no_source_file_imports_io() -> None:
    files = sorted(SOURCE.rglob("*.py"))
    assert files
    bad: dict[str, list[str]] = {}
    for path in files:
        package = ".".join([PACKAGE, *path.relative_to(SOURCE).parent.parts])
        found = imports(ast.parse(path.read_text(encoding="utf-8")), package)
        if names := sorted(m for m in found if banned(m)):
            bad[str(path.relative_to(SOURCE))] = names
    assert bad == {}


def test_the_scan_sees_lazy_imports() -> None:
    code = (
        "def f():\n    import asyncio.events\n    from time import monotonic\n"
        "    from .. import server\n    importlib.import_module('ssl')\n"
        "    return __import__('socket')\n"
    )
    found = imports(ast.parse(code), PACKAGE)
    assert {m for m in found if banned(m)} == {
        "asyncio.events",
        "time.monotonic",
        "asgiserver.server",
        "ssl",
        "socket",
    }
