"""The README's driving loop really runs and prints what the README says it prints."""

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).parent.parent / "README.md"


def block(name: str, lang: str) -> str:
    text = README.read_text()
    match = re.search(
        rf"<!-- {name}:begin -->\n```{lang}\n(.*?)\n```\n<!-- {name}:end -->", text, re.DOTALL
    )
    assert match, f"README lacks the {name} block"
    return match.group(1)


def test_readme_example_runs_and_prints_the_documented_output() -> None:
    code = block("example", "python")
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip("\n") == block("output", "text")


def test_readme_lists_the_public_api() -> None:
    from asgiserver import lifespan

    text = README.read_text()
    for name in lifespan.__all__:
        assert name in text, name
