"""Load the application named on the command line: `module:attr`, `module:attr.sub`, or a factory."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Awaitable, Callable
from typing import cast

from asgiserver.server._asgi.types import ASGIApp, Receive, Scope, Send


class AppLoadError(Exception):
    """The application could not be imported or is not an ASGI application."""


def import_from_string(spec: str) -> object:
    module_name, sep, attrs = spec.partition(":")
    if not sep or not module_name or not attrs:
        raise AppLoadError(f'application must be given as "module:attribute", not {spec!r}')
    call = attrs.endswith("()")
    if call:
        attrs = attrs[:-2]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but an import inside it failed: show the real traceback
        raise AppLoadError(f"could not import module {module_name!r}") from None
    obj: object = module
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AppLoadError(f"attribute {attrs!r} not found in module {module_name!r}") from None
    if call:
        obj = cast(Callable[[], object], obj)()
    return obj


def load_app(
    app: str | object,
    *,
    factory: bool = False,
    app_dir: str | None = None,
    interface: str = "auto",
) -> ASGIApp:
    """Import and adapt the app; ASGI 2 (double-callable) apps are wrapped as ASGI 3."""
    if app_dir is not None:
        sys.path.insert(0, app_dir)
    obj = import_from_string(app) if isinstance(app, str) else app
    if factory:
        if not callable(obj):
            raise AppLoadError("--factory was given but the application is not callable")
        obj = obj()
    if not callable(obj):
        raise AppLoadError(f"the application {app!r} is not callable")
    if interface == "asgi2" or (interface == "auto" and _is_asgi2(obj)):
        return _ASGI2Adapter(
            cast(Callable[[Scope], Callable[[Receive, Send], Awaitable[None]]], obj)
        )
    return cast(ASGIApp, obj)


def _is_asgi2(app: object) -> bool:
    """An ASGI 2 app is a callable taking one argument (the scope) that returns the coroutine function."""
    if inspect.isclass(app):
        return True  # class-based ASGI 2 apps: instantiated with the scope
    target = app if inspect.isroutine(app) else getattr(app, "__call__", None)  # noqa: B004
    if target is None:
        return False
    if inspect.iscoroutinefunction(target):
        return False
    try:
        params = [
            p
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) == 1


class _ASGI2Adapter:
    __slots__ = ("app",)

    def __init__(self, app: Callable[[Scope], Callable[[Receive, Send], Awaitable[None]]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        instance = self.app(scope)
        await instance(receive, send)
