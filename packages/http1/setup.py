"""The optional C accelerator (src/asgiserver/http1/_speedups.c); everything else is in
pyproject.toml.

optional=True: when the compiler or the Python headers are missing, setuptools warns and builds the
pure-Python package, which behaves the same (the Python parser is the reference).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("asgiserver.http1._speedups", ["src/asgiserver/http1/_speedups.c"], optional=True)
    ]
)
