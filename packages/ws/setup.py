"""The optional C accelerator (src/asgiserver/ws/_speedups.c); everything else is in pyproject.toml.

optional=True: when the compiler or the Python headers are missing, setuptools warns and builds the
pure-Python package, which behaves the same (_frames.unmask_python is the reference).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("asgiserver.ws._speedups", ["src/asgiserver/ws/_speedups.c"], optional=True)
    ]
)
