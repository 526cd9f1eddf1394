"""The runner's verdict on a report: OK and INFORMATIONAL pass; anything else fails, and says why."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

spec = importlib.util.spec_from_file_location("autobahn_run", Path(__file__).with_name("run.py"))
assert spec is not None and spec.loader is not None
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)


def report(tmp_path: Path, cases: dict[str, tuple[str, str]]) -> Path:
    index = {}
    for case, (behaviour, close) in cases.items():
        name = f"asgiserver_case_{case.replace('.', '_')}.json"
        index[case] = {"behavior": behaviour, "behaviorClose": close, "reportfile": name}
        detail = {
            "description": "Send <b>something</b>",
            "expectation": "Echo first, then fail.",
            "result": "Actual events match at least one expected.",
            "expected": {"OK": [["message", "Hello", False]], "NON-STRICT": []},
            "received": [],
            "expectedClose": {"closeCode": [1002]},
            "remoteCloseCode": 1002,
        }
        (tmp_path / name).write_text(json.dumps(detail))
    (tmp_path / "index.json").write_text(json.dumps({"asgiserver": index}))
    return tmp_path


def test_ok_and_informational_pass(tmp_path: Path) -> None:
    lines, passed = run.summarize(
        report(tmp_path, {"1.1.1": ("OK", "OK"), "7.13.1": ("INFORMATIONAL", "INFORMATIONAL")})
    )
    assert passed
    assert lines[:3] == [
        "2 cases",
        "behaviour:         1 OK, 1 INFORMATIONAL",
        "closing behaviour: 1 OK, 1 INFORMATIONAL",
    ]
    assert "note 7.13.1: INFORMATIONAL (closing: INFORMATIONAL)" in lines


def test_non_strict_fails_with_what_was_expected(tmp_path: Path) -> None:
    cases = {"3.2": ("NON-STRICT", "OK"), "10.1.1": ("OK", "OK"), "2.1": ("OK", "FAILED")}
    lines, passed = run.summarize(report(tmp_path, cases))
    assert not passed
    assert [line for line in lines if line.startswith("FAIL")] == [
        "FAIL 2.1: OK (closing: FAILED)",
        "FAIL 3.2: NON-STRICT (closing: OK)",
    ]
    assert '    events for OK: [["message", "Hello", false]]' in lines
    assert "    case: Send something" in lines


def test_a_missing_index_fails(tmp_path: Path) -> None:
    assert run.summarize(tmp_path) == (
        [f"no {tmp_path / 'index.json'}: wstest did not finish"],
        False,
    )


def test_the_quick_subset_leaves_out_72_deflate_cases() -> None:
    assert len(set(run.LARGEST_DEFLATE)) == 72
    assert {"12.1.13", "12.5.18", "13.7.18"} <= set(run.LARGEST_DEFLATE)
    assert "12.1.12" not in run.LARGEST_DEFLATE
