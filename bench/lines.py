"""Python lines run per request, by file (Python 3.12+: `sys.monitoring`), on bench/protocol.py.

    python bench/lines.py [--request plaintext|browser|post64k|pipelined] [--file NAME]

Runs asgiserver's protocol on the fake transport for 1000 and then 2000 requests and prints the
difference per request: the lines per file, and with `--file` (a part of a path, such as
`_connection.py`) each line of the matching files run at least half a time per request. A line
count is not a cost (a line may call C), but where the lines go is where a change can save some;
callgrind (see DEVELOPING.md) measures the cost.
"""

from __future__ import annotations

import argparse
import collections
import linecache
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent
TOOL = 3  # sys.monitoring tool id for this script (ids 0-5 are free for tools)


def count(request: str, requests: int) -> collections.Counter[tuple[str, int]]:
    counts: collections.Counter[tuple[str, int]] = collections.Counter()
    monitoring = sys.monitoring  # type: ignore[attr-defined]

    def on_line(code: object, line: int) -> None:
        counts[(code.co_filename, line)] += 1  # type: ignore[attr-defined]

    monitoring.use_tool_id(TOOL, "lines")
    monitoring.register_callback(TOOL, monitoring.events.LINE, on_line)
    argv = sys.argv
    sys.argv = [
        str(HERE / "protocol.py"),
        "--servers",
        "asgiserver",
        "--repeats",
        "1",
        "--requests",
        str(requests),
        "--request",
        request,
    ]
    monitoring.set_events(TOOL, monitoring.events.LINE)
    try:
        runpy.run_path(str(HERE / "protocol.py"), run_name="__main__")
    except SystemExit:
        pass
    finally:
        monitoring.set_events(TOOL, 0)
        monitoring.register_callback(TOOL, monitoring.events.LINE, None)
        monitoring.free_tool_id(TOOL)
        sys.argv = argv
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--request", default="plaintext")
    parser.add_argument("--file", default=None, help="show the lines of files matching this")
    args = parser.parse_args()
    if sys.version_info < (3, 12):
        parser.error("needs Python 3.12 or later (sys.monitoring)")
    low = count(args.request, 1000)
    high = count(args.request, 2000)
    per_request = {key: (n - low.get(key, 0)) / 1000 for key, n in high.items()}
    by_file: collections.defaultdict[str, float] = collections.defaultdict(float)
    for (filename, _), n in per_request.items():
        if n > 0:
            by_file[Path(filename).name] += n
    print(f"lines per request: {sum(by_file.values()):.1f}")
    for name, n in sorted(by_file.items(), key=lambda item: -item[1])[:25]:
        if n >= 0.05:
            print(f"{n:8.1f}  {name}")
    if args.file:
        for (filename, line), n in sorted(per_request.items()):
            if args.file in filename and n >= 0.5:
                text = linecache.getline(filename, line).rstrip()
                print(f"{n:5.2f} {Path(filename).name}:{line} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
