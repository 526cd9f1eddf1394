"""The README's driving loop runs as written, so it cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_driving_loop_example_runs() -> None:
    text = README.read_text()
    section = text[text.index("## Driving loop") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code[1], str(README), "exec"), namespace)
    conn = namespace["conn"]
    assert conn.close_expected()  # type: ignore[attr-defined]


def test_client_loop_example_runs() -> None:
    text = README.read_text()
    section = text[text.index("## Client loop") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    namespace: dict[str, object] = {"__name__": "readme_client_example"}
    exec(compile(code[1], str(README), "exec"), namespace)
    assert namespace["client"].close_expected()  # type: ignore[attr-defined]
