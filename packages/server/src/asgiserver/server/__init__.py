"""asgiserver: a strict, fast, pure-Python ASGI server.

`asgiserver module:app` on the command line, or `asgiserver.server.run(app, port=8000)` from Python.
"""

__version__ = "0.1.0"

from asgiserver.server._asgi.types import ClientDisconnected
from asgiserver.server._config import Config
from asgiserver.server._run import run

__all__ = ["Config", "ClientDisconnected", "GunicornWorker", "__version__", "run"]


def __getattr__(name: str) -> object:
    # gunicorn is optional: the worker class is imported only when asked for.
    if name == "GunicornWorker":
        from asgiserver.server._process.gunicorn import GunicornWorker

        return GunicornWorker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
