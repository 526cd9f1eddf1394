"""The single entry point for tests, lint, type checks, fuzzing and benchmarks.

`nox` runs the default sessions (tests, lint, typecheck). Each protocol package is tested and type-checked
in its own virtualenv with only its declared dependencies, which catches undeclared imports. Tests and
type checks run on every supported CPython the machine has; in CI (`CI=true`) a missing one fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
OLDEST = PYTHONS[0]
IN_CI = os.environ.get("CI", "").lower() == "true"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.error_on_missing_interpreters = IN_CI  # elsewhere a missing Python is skipped
nox.options.download_python = "never"  # test the interpreters the machine has, never fetch one


def expose_pyenv_pythons() -> None:
    """Put each supported X.Y that pyenv installed on PATH (its newest patch release).

    pyenv's shims run only the versions `pyenv global` names, so `python3.12` fails on a machine
    that has 3.12 under pyenv but a global 3.11. Done here, not by hand, so that `nox` alone
    finds every interpreter on a fresh machine, and pyenv's own setting is left alone.
    """
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    for python in PYTHONS:
        releases = [
            (int(match[1]), path / "bin")
            for path in versions.glob(f"{python}.*")
            if (match := re.fullmatch(re.escape(python) + r"\.(\d+)", path.name))
            and (path / "bin" / f"python{python}").exists()
        ]
        if releases:
            found.append(str(max(releases)[1]))
    if found:
        os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


expose_pyenv_pythons()

ROOT = Path(__file__).parent
PROTOCOLS = ["http1", "ws", "uwsgi", "h2adapter", "lifespan", "proxyproto"]
PACKAGES = [*PROTOCOLS, "server"]
ALL_PACKAGE_PATHS = [f"packages/{p}" for p in PACKAGES]
PYPROJECT = nox.project.load_toml("pyproject.toml")


def group(name: str, pkg: str | None = None) -> list[str]:
    """A dependency group of the root pyproject, or of one package's own pyproject."""
    pyproject = (
        PYPROJECT if pkg is None else nox.project.load_toml(f"packages/{pkg}/pyproject.toml")
    )
    return nox.project.dependency_groups(pyproject, name)


def install_package(session: nox.Session, pkg: str, *extra: str) -> None:
    """Install one package from its path: the server brings its siblings from paths, never PyPI."""
    paths = ALL_PACKAGE_PATHS if pkg == "server" else [f"packages/{pkg}"]
    session.install(*paths, *extra)


@nox.session(python=PYTHONS)
@nox.parametrize("target", [*PACKAGES, "e2e"])
def tests(session: nox.Session, target: str) -> None:
    """Unit and property tests of one package alone, or (e2e) the cross-package tests in tests/."""
    env = {"HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    extra: list[str] = []
    if target == "e2e":
        session.install(*ALL_PACKAGE_PATHS, *group("e2e"))
        path = "tests"
        # Each end-to-end test mostly waits on the servers it starts (every one on a port of its
        # own), so three at a time keep two cores busy: about 1.5 minutes a Python, not 3.5.
        extra = ["-n", os.environ.get("E2E_WORKERS", "3")]
    else:
        install_package(session, target, *group("test", target))
        path = f"packages/{target}"
    session.run("python", "-bb", "-m", "pytest", path, *extra, *session.posargs, env=env)


@nox.session(python=OLDEST)
def lint(session: nox.Session) -> None:
    session.install(*group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS)
@nox.parametrize("pkg", PACKAGES)
def typecheck(session: nox.Session, pkg: str) -> None:
    """mypy --strict on one package, with only its declared dependencies installed."""
    install_package(session, pkg, *group("typecheck"))
    session.chdir(f"packages/{pkg}/src")
    session.run("mypy", "--strict", "--no-incremental", "-p", f"asgiserver.{pkg}")


@nox.session(default=False)
@nox.parametrize("pkg", PROTOCOLS)
def fuzz(session: nox.Session, pkg: str) -> None:
    """Long hypothesis runs: every property test with the fuzz profile (tens of thousands of examples)."""
    install_package(session, pkg, *group("test", pkg))
    session.run(
        "python",
        "-m",
        "pytest",
        f"packages/{pkg}",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": "fuzz"},
    )


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Micro-benchmarks of the protocol packages, then asgiserver beside the other servers: the
    protocol overhead on a fake transport, wrk over HTTP/1.1, h2load over HTTP/2, WebSocket echo and
    memory per idle connection. Each script takes its own options after `--` (see its docstring)."""
    session.install(*ALL_PACKAGE_PATHS, *group("bench"))
    for script in sorted(ROOT.glob("packages/*/bench/run.py")):
        session.run("python", str(script), *session.posargs)
    for script in ("protocol.py", "servers.py", "http2.py", "ws.py"):
        session.run("python", f"bench/{script}", *session.posargs)
    for kind in ("http1", "h2", "ws"):
        session.run("python", "bench/idle_memory.py", "--kind", kind, *session.posargs)


@nox.session(python=OLDEST, default=False)
def autobahn(session: nox.Session) -> None:
    """Autobahn|Testsuite's fuzzing client against the real server: every case OK or INFORMATIONAL.

    Builds wstest's Python 2.7 virtualenv (pinned in tests/autobahn) under ~/.cache if missing.
    All 517 cases by default; `nox -s autobahn -- --quick` skips the 72 largest deflate cases (CI).
    """
    session.install(*ALL_PACKAGE_PATHS)
    session.run("python", "tests/autobahn/run.py", *session.posargs)
