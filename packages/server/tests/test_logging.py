"""Log lines: text and JSON formats, structured access fields, exclusions, escaping."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from asgiserver.server import _logging
from asgiserver.server._logging import configure, escape, log_access


@pytest.fixture
def streams() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    yield io.StringIO(), io.StringIO()
    configure()  # back to the defaults


def configure_into(streams: tuple[io.StringIO, io.StringIO], **options: Any) -> None:
    """`configure()`, then point its two handlers at the test's streams."""
    configure(**options)
    out, err = streams
    (error_handler,) = logging.getLogger("asgiserver.error").handlers
    (access_handler,) = logging.getLogger("asgiserver.access").handlers
    assert isinstance(error_handler, logging.StreamHandler)
    assert isinstance(access_handler, logging.StreamHandler)
    error_handler.setStream(err)
    access_handler.setStream(out)


HEADERS = [(b"host", b"x"), (b"user-agent", b"curl/8\x1b[31m"), (b"referer", b"http://r/")]


def test_escape() -> None:
    assert escape("plain /path ok") == "plain /path ok"
    assert escape("a\nb\r\tc\x1b[2J\x7f\x9b") == "a\\nb\\r\\tc\\x1b[2J\\x7f\\x9b"


def test_text_access_line_escapes_the_request(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, _ = streams
    configure_into(streams)
    log_access(("1.2.3.4", 5), b"GET", b"/a\nFAKE 200\x1b[0m?q=1", "1.1", HEADERS, 200, 5, 0.0015)
    line = out.getvalue()
    assert line.count("\n") == 1
    assert '1.2.3.4:5 - "GET /a\\nFAKE 200\\x1b[0m?q=1 HTTP/1.1" 200 5 1.50ms' in line


def test_text_error_lines_escape_the_message_not_the_traceback(
    streams: tuple[io.StringIO, io.StringIO],
) -> None:
    _, err = streams
    configure_into(streams)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("asgiserver.error").exception("bad path %s", "/x\ny")
    text = err.getvalue()
    assert "bad path /x\\ny\nTraceback (most recent call last):\n" in text


def test_json_lines(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, err = streams
    configure_into(streams, log_format="json")
    log_access(("::1", 7), b"POST", b"/p/a\nth?a=1&b", "2", HEADERS, 201, 12, 0.0123456)
    try:
        raise ValueError("inner")
    except ValueError:
        logging.getLogger("asgiserver.error").exception("failed\nhere")
    (access_line,) = out.getvalue().splitlines()
    (error_line,) = err.getvalue().splitlines()
    access, error = json.loads(access_line), json.loads(error_line)
    assert access["time"].endswith("Z") and len(access["time"]) == len("2026-01-01T00:00:00.000Z")
    assert access["level"] == "INFO" and access["logger"] == "asgiserver.access"
    assert access["pid"] > 0
    assert {k: access[k] for k in list(access)[5:]} == {
        "client": "[::1]:7",  # RFC 3986 §3.2.2: the port stays apart from an IPv6 host
        "method": "POST",
        "path": "/p/a\nth",  # json.dumps escaped it in the line
        "query": "a=1&b",
        "http_version": "2",
        "status": 201,
        "bytes": 12,
        "duration_ms": 12.346,
        "user_agent": "curl/8\x1b[31m",
        "referer": "http://r/",
    }
    assert "\\u001b" in access_line and "\x1b" not in access_line
    assert error["level"] == "ERROR" and error["message"] == "failed\nhere"
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert error["traceback"].rstrip().endswith("ValueError: inner")


def test_json_line_for_a_request_rejected_before_its_request_line(
    streams: tuple[io.StringIO, io.StringIO],
) -> None:
    out, _ = streams
    configure_into(streams, log_format="json")
    log_access(None, b"", b"", "1.1", None, 400, 11, 0.0)
    entry = json.loads(out.getvalue())
    assert entry["message"] == '- - "-" 400 11 0.00ms'
    assert (entry["client"], entry["method"], entry["path"], entry["status"]) == (
        None,
        None,
        None,
        400,
    )


def test_exclusions(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, _ = streams
    configure_into(streams, access_log_exclude=("/healthz", "/probe/*"))
    for target, status in [
        (b"/healthz", 200),  # excluded
        (b"/healthz?full=1", 204),  # excluded: the query does not count
        (b"/probe/live", 200),  # excluded by prefix
        (b"/healthz/more", 200),  # not an exact match
        (b"/probe/ready", 503),  # errors are still logged
        (b"/other", 200),
    ]:
        log_access(None, b"GET", target, "1.1", None, status, 0, 0.0)
    assert [line.split('"')[1].split()[1] for line in out.getvalue().splitlines()] == [
        "/healthz/more",
        "/probe/ready",
        "/other",
    ]


def test_access_log_off_costs_nothing(streams: tuple[io.StringIO, io.StringIO]) -> None:
    configure_into(streams, access_log=False)
    assert not _logging.access_enabled()


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_levels_are_coloured_only_on_a_terminal_without_no_color() -> None:
    assert _logging.wants_color(TTY(), {})
    assert not _logging.wants_color(TTY(), {"NO_COLOR": "1"})
    assert not _logging.wants_color(io.StringIO(), {})
    record = logging.LogRecord("asgiserver.error", logging.ERROR, "", 0, "x\ny", None, None)
    plain = _logging.TextFormatter(_logging.FORMAT, "%H", color=False).format(record)
    colored = _logging.TextFormatter(_logging.FORMAT, "%H", color=True).format(record)
    assert "[ERROR] x\\ny" in plain and "\x1b" not in plain
    assert "[\x1b[31mERROR\x1b[0m] x\\ny" in colored
    assert record.levelname == "ERROR"


def test_access_log_format_with_gunicorn_atoms(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, _ = streams
    fmt = '%(h)s %(l)s %(u)s "%(r)s" %(m)s %(U)s %(q)s %(H)s %(s)s %(b)s %(B)s "%(f)s" "%(a)s" '
    fmt += "%(T)s %(D)s %(M)s %(L)s %({Host}i)s %({x-missing}i)s"
    configure_into(streams, access_log_format=fmt, access_log_exclude=("/skip",))
    log_access(("10.0.0.1", 9), b"GET", b"/a\nb?x=1", "1.1", HEADERS, 200, 0, 0.0123)
    log_access(("10.0.0.1", 9), b"GET", b"/skip", "1.1", HEADERS, 200, 0, 0.0123)
    assert out.getvalue() == (
        '10.0.0.1 - - "GET /a\\nb?x=1 HTTP/1.1" GET /a\\nb x=1 HTTP/1.1 200 - 0 "http://r/" '
        '"curl/8\\x1b[31m" 0 12300 12 0.012300 x -\n'
    )


def test_access_log_response_header_atoms(streams: tuple[io.StringIO, io.StringIO]) -> None:
    """%({name}o)s: a field of the response head as the application sent it, any case."""
    out, _ = streams
    configure_into(streams, access_log_format="%(h)s %({X-Request-Id}o)s %({etag}o)s %({x-none}o)s")
    response = [(b"Content-Type", b"text/plain"), (b"x-request-id", b"r-1"), (b"ETag", b'"v1"')]
    log_access(("2001:db8::1", 9), b"GET", b"/", "1.1", HEADERS, 200, 0, 0.01, response)
    log_access(None, b"", b"", "1.1", None, 400, 0, 0.0)  # rejected before any response head
    assert out.getvalue() == '2001:db8::1 r-1 "v1" -\n- - - -\n'


def test_text_access_line_brackets_an_ipv6_peer(streams: tuple[io.StringIO, io.StringIO]) -> None:
    out, _ = streams
    configure_into(streams)
    log_access(("2001:db8::1", 4711), b"GET", b"/", "1.1", HEADERS, 200, 5, 0.001)
    assert ' [2001:db8::1]:4711 - "GET / HTTP/1.1" 200 5 1.00ms\n' in out.getvalue()
