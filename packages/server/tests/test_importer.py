"""Loading the application: module:attribute, factories, ASGI 2 detection."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any

import pytest

from asgiserver.server._importer import AppLoadError, load_app


@pytest.fixture
def module() -> types.ModuleType:
    mod = types.ModuleType("asgiserver_test_app_module")

    async def asgi3(scope: Any, receive: Any, send: Any) -> None:
        scope["called"] = "asgi3"

    class ASGI2:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            self.scope["called"] = "asgi2"

    mod.asgi3 = asgi3  # type: ignore[attr-defined]
    mod.ASGI2 = ASGI2  # type: ignore[attr-defined]
    mod.factory = lambda: asgi3  # type: ignore[attr-defined]
    mod.nested = types.SimpleNamespace(app=asgi3)  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    yield mod
    del sys.modules[mod.__name__]


def call(app: Any) -> str:
    scope: dict[str, Any] = {}
    asyncio.run(app(scope, None, None))
    return str(scope["called"])


def test_asgi3_attribute(module: types.ModuleType) -> None:
    assert call(load_app(f"{module.__name__}:asgi3")) == "asgi3"
    assert call(load_app(f"{module.__name__}:nested.app")) == "asgi3"


def test_asgi2_class_is_wrapped(module: types.ModuleType) -> None:
    assert call(load_app(f"{module.__name__}:ASGI2")) == "asgi2"


def test_factory(module: types.ModuleType) -> None:
    assert call(load_app(f"{module.__name__}:factory", factory=True)) == "asgi3"
    assert call(load_app(f"{module.__name__}:factory()")) == "asgi3"


@pytest.mark.parametrize("spec", ["no_colon", ":app", "asgiserver_no_such_module:app"])
def test_bad_specs_are_clear_errors(spec: str) -> None:
    with pytest.raises(AppLoadError):
        load_app(spec)


def test_missing_attribute(module: types.ModuleType) -> None:
    with pytest.raises(AppLoadError, match="not found"):
        load_app(f"{module.__name__}:missing")
