"""The README's driving-loop example runs, so it cannot rot."""

from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    example = next(b for b in blocks if "def serve" in b)
    namespace: dict[str, object] = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert "conn" in namespace


def test_readme_limits_table_matches_defaults() -> None:
    from asgiserver import h2adapter as h2a

    text = README.read_text()
    for name in h2a.Limits.__dataclass_fields__:
        assert f"| `{name}` |" in text, name
