"""Hypothesis profiles: HYPOTHESIS_PROFILE=ci|dev|fuzz (nox sets ci for tests, fuzz for fuzz).

Every test module runs twice: with the compiled unmasking and message scanning (``_speedups``, when
the install built it) and with the pure-Python references forced, so both paths pass the whole suite
on every run.
"""

import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import asgiserver.ws._frames as frames

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

# Test modules share a client codec (ws_helpers.py); importlib mode does not put this directory on
# sys.path by itself.
sys.path.insert(0, os.path.dirname(__file__))

from ws_helpers import compiled_unmask  # noqa: E402  (after the sys.path line above)

# As imported: the compiled functions if the install built them, else the references themselves.
INSTALLED_UNMASK = frames.unmask
INSTALLED_SCAN = frames.scan_messages


@pytest.fixture(autouse=True, scope="module", params=["compiled", "python"])
def unmask_impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Module-scoped (Hypothesis rejects function-scoped fixtures): the "python" run rebinds
    ``unmask`` and ``scan_messages`` to the references in every package module that imported the
    compiled ones."""
    if request.param == "compiled":
        compiled_unmask()
        yield request.param
        return
    with pytest.MonkeyPatch.context() as patch:
        for name, module in list(sys.modules.items()):
            if not name.startswith("asgiserver.ws") or name == "asgiserver.ws._speedups":
                continue  # the accelerator itself stays as it is
            if getattr(module, "unmask", None) is INSTALLED_UNMASK:
                patch.setattr(module, "unmask", frames.unmask_python)
            if getattr(module, "scan_messages", None) is INSTALLED_SCAN:
                patch.setattr(module, "scan_messages", frames.scan_messages_python)
        yield request.param
