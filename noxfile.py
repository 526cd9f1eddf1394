"""The single entry point for tests, lint, type checks, fuzzing and benchmarks.

`nox` runs the default sessions (tests, lint, typecheck). Each protocol package is tested and type-checked
in its own virtualenv with only its declared dependencies, which catches undeclared imports.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PROTOCOLS = ["http1", "ws", "uwsgi", "h2adapter", "lifespan"]
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


@nox.session
@nox.parametrize("target", [*PACKAGES, "e2e"])
def tests(session: nox.Session, target: str) -> None:
    """Unit and property tests of one package alone, or (e2e) the cross-package tests in tests/."""
    env = {"HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    if target == "e2e":
        session.install(*ALL_PACKAGE_PATHS, *group("e2e"))
        path = "tests"
    else:
        install_package(session, target, *group("test", target))
        path = f"packages/{target}"
    session.run("python", "-bb", "-m", "pytest", path, *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
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
    """Micro-benchmarks of the protocol packages and wrk runs of asgiserver beside the other servers."""
    session.install(*ALL_PACKAGE_PATHS, *group("bench"))
    for script in sorted(ROOT.glob("packages/*/bench/run.py")):
        session.run("python", str(script), *session.posargs)
    session.run("python", "bench/servers.py", *session.posargs)
