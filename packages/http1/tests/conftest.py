"""Hypothesis profiles: HYPOTHESIS_PROFILE=ci|dev|fuzz (nox sets ci for tests, fuzz for fuzz).

Every test module runs twice: with the compiled head parser and field encoder (``_speedups``, when
the install built it) and with the pure-Python code forced, so both paths pass the whole suite on
every run.
"""

import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import asgiserver.http1._connection as connection

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True, print_blob=True)
settings.register_profile(
    "fuzz",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Shared test helpers live in tests/_helpers.py; --import-mode=importlib does not put this
# directory on sys.path, so do it here.
sys.path.insert(0, os.path.dirname(__file__))

from _helpers import compiled_parse_head  # noqa: E402  (after the sys.path line above)


@pytest.fixture(autouse=True, scope="module", params=["compiled", "python"])
def head_parser(request: pytest.FixtureRequest) -> Iterator[str]:
    """Module-scoped (Hypothesis rejects function-scoped fixtures): the "python" run sets
    ``_connection.parse_head`` and ``fast_encode_fields`` to None, which is how the package runs
    without the accelerator."""
    if request.param == "compiled":
        compiled_parse_head()
        yield request.param
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connection, "parse_head", None)
        patch.setattr(connection, "fast_encode_fields", None)
        yield request.param
