"""The server's layering, read from its source: no import cycles among its modules (imports under
TYPE_CHECKING and inside functions count too), each layer imports only the layers below it, and only
the drivers import a protocol package."""

from __future__ import annotations

import ast
from pathlib import Path

import asgiserver.server

ROOT = Path(asgiserver.server.__file__).parent
PROTOCOL_PACKAGES = {"http1", "ws", "uwsgi", "lifespan", "h2adapter", "proxyproto"}

# What each layer may import, besides itself. Shared modules (config, logging, app loading) sit at
# the bottom next to `_asgi`; `_net` knows drivers only through `_drivers.base`.
ALLOWED = {
    "_asgi": {"_asgi"},
    "_config": set(),
    "_config_file": {"_config"},
    "_logging": set(),
    "_importer": {"_asgi"},
    "_drivers": {"_asgi", "_config", "_logging", "_drivers"},
    "_net": {"_drivers.base", "_config", "_net"},
    "_process": {
        "_asgi",
        "_drivers",
        "_net",
        "_config",
        "_config_file",
        "_logging",
        "_importer",
        "_process",
    },
    "_run": {"_process", "_net", "_asgi", "_config", "_logging", "_importer"},
    "_cli": {"_run", "_config", "_config_file", "_logging", "_importer", "__init__"},
    "__init__": {"_asgi", "_run", "_config", "_process"},
    "__main__": {"_cli"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every `asgiserver.*` module this file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "asgiserver.server":
                for alias in node.names:
                    is_module = (ROOT / f"{alias.name}.py").exists() or (ROOT / alias.name).is_dir()
                    found.add(f"asgiserver.server.{alias.name if is_module else '__init__'}")
            elif node.module == "asgiserver":
                found.update(f"asgiserver.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("asgiserver.")}


def server_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        targets = set()
        for name in imports_of(path):
            if name.startswith("asgiserver.server."):
                target = name.removeprefix("asgiserver.server.")
                # `from asgiserver.server._asgi import types` names a module inside a package
                if (ROOT / target.replace(".", "/")).is_dir():
                    target += ".__init__"
                targets.add(target)
            elif name.startswith("asgiserver.") and name != "asgiserver.server":
                targets.add(name)
        graph[module_name(path)] = targets
    return graph


def layer(module: str) -> str:
    return module.split(".")[0]


def test_there_are_modules_to_check() -> None:
    graph = server_graph()
    assert {"_asgi.http", "_drivers.h1", "_net.connection", "_process.worker"} <= set(graph)


def test_no_import_cycles() -> None:
    graph = {m: {t for t in ts if t in server_graph()} for m, ts in server_graph().items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for module, targets in server_graph().items():
        allowed = ALLOWED[layer(module)]
        for target in targets:
            if target.startswith("asgiserver."):
                continue  # protocol packages: the next test
            if layer(target) in allowed or target in allowed:
                continue
            wrong.append(f"{module} -> {target}")
    assert not wrong, "layering broken:\n" + "\n".join(sorted(wrong))


def test_only_drivers_import_protocol_packages() -> None:
    wrong = []
    for module, targets in server_graph().items():
        for target in targets:
            package = target.split(".")[1] if target.startswith("asgiserver.") else ""
            if package in PROTOCOL_PACKAGES and layer(module) != "_drivers":
                wrong.append(f"{module} -> {target}")
    assert not wrong, "protocol package imported outside _drivers:\n" + "\n".join(wrong)


def test_the_connection_knows_drivers_only_through_their_base() -> None:
    for module, targets in server_graph().items():
        if layer(module) == "_net":
            drivers = {t for t in targets if t.startswith("_drivers")}
            assert drivers <= {"_drivers.base"}, (module, drivers)
