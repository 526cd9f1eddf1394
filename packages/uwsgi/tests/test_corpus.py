"""Real packets: captured from nginx 1.22.1 (`include uwsgi_params; uwsgi_pass ...;`), driven by
curl. The expected values are written out by hand from the wire bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from uwsgi_wire import drive, failure, normalize, split

from asgiserver.uwsgi import ConnectionClosed, Data, EndOfMessage, Event, Request

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.bin"))

CURL = b"curl/7.88.1"
SERVER = ("example.test", 18731)


def read(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def request(name: str) -> tuple[Request, list[Event]]:
    _conn, events = drive([read(name)])
    first = events[0]
    assert type(first) is Request, events
    assert first.client is not None
    assert first.client[0] == "127.0.0.1"
    assert first.client[1] > 1024
    return first, events[1:]


def summary(r: Request) -> tuple[object, ...]:
    return (r.method, r.raw_path, r.path, r.query_string, r.root_path, r.http_version, r.scheme)


def test_get_with_query() -> None:
    r, rest = request("nginx-get-query.bin")
    assert summary(r) == (
        b"GET",
        b"/hello/w%C3%B6rld",
        "/hello/wörld",
        b"x=1&y=%20",
        "",
        "1.1",
        "http",
    )
    assert r.headers == [(b"host", b"127.0.0.1"), (b"user-agent", b"test"), (b"accept", b"*/*")]
    assert r.server == SERVER
    assert r.vars[b"DOCUMENT_ROOT"] == b"/tmp/uwsgi-capture/html"
    assert rest == [EndOfMessage(), ConnectionClosed()]


def test_post_json() -> None:
    r, rest = request("nginx-post-json.bin")
    assert summary(r) == (b"POST", b"/upload", "/upload", b"", "", "1.1", "http")
    assert r.headers == [
        (b"content-type", b"application/json"),
        (b"content-length", b"8"),
        (b"host", b"127.0.0.1"),
        (b"user-agent", CURL),
        (b"accept", b"*/*"),
    ]
    assert rest == [Data(b'{"a": 1}'), EndOfMessage(), ConnectionClosed()]


def test_chunked_upload_arrives_with_content_length() -> None:
    r, rest = request("nginx-put-chunked.bin")
    assert r.vars[b"HTTP_TRANSFER_ENCODING"] == b"chunked"
    assert r.headers == [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", b"10"),
        (b"host", b"127.0.0.1"),
        (b"user-agent", CURL),
        (b"accept", b"*/*"),
    ]
    assert rest == [Data(b"abcdefghij"), EndOfMessage(), ConnectionClosed()]


def test_head() -> None:
    r, _rest = request("nginx-head.bin")
    assert summary(r) == (b"HEAD", b"/head", "/head", b"", "", "1.1", "http")


def test_mounted_with_https_on_and_repeated_headers() -> None:
    # location /mounted/ { include uwsgi_params; uwsgi_param SCRIPT_NAME /mounted;
    #                      uwsgi_param HTTPS on; }  -- REQUEST_SCHEME is still "http".
    r, _rest = request("nginx-mounted-dup-headers.bin")
    assert r.vars[b"REQUEST_SCHEME"] == b"http"
    assert summary(r) == (
        b"GET",
        b"/mounted/app/x;p=1",
        "/mounted/app/x;p=1",
        b"q",
        "/mounted",
        "1.1",
        "https",
    )
    assert r.headers == [
        (b"host", b"other.example"),  # nginx sends $host, not the client's Host (port dropped)
        (b"user-agent", CURL),
        (b"accept", b"*/*"),
        (b"x-dup", b"1"),
        (b"x-dup", b"2"),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
    ]


def test_absolute_form_target_arrives_in_origin_form() -> None:
    r, _rest = request("nginx-absolute-form.bin")
    assert summary(r) == (b"GET", b"/abs/path", "/abs/path", b"z=9", "", "1.1", "http")
    assert r.headers == [(b"host", b"absolute.example"), (b"connection", b"close")]


def test_invalid_utf8_path_is_400() -> None:
    _conn, events = drive([read("nginx-invalid-utf8-path.bin")])
    error = failure(events).error
    assert error.status_hint == 400
    assert "not valid UTF-8" in str(error)
    assert len(events) == 1


def test_post_with_empty_body() -> None:
    r, rest = request("nginx-post-empty.bin")
    assert r.headers[0] == (b"content-length", b"0")
    assert rest == [EndOfMessage(), ConnectionClosed()]


def test_http2_front_end() -> None:
    r, rest = request("nginx-http2-post.bin")
    assert summary(r) == (b"POST", b"/h2", "/h2", b"a", "", "2", "http")
    assert r.server == ("example.test", 18733)
    assert rest == [Data(b"xyz"), EndOfMessage(), ConnectionClosed()]


def test_overridden_params() -> None:
    # include uwsgi_params; uwsgi_param PATH_INFO /overridden; uwsgi_param HTTPS on;
    # uwsgi_param UWSGI_SCHEME https;  -- nginx sends both PATH_INFO values, in order.
    r, _rest = request("nginx-override-params.bin")
    assert summary(r) == (b"GET", b"/override/p", "/overridden", b"", "", "1.1", "https")
    assert r.headers[-1] == (b"x-big", b"a" * 3000)
    assert len(read("nginx-override-params.bin")) > 3000


@pytest.mark.parametrize("name", FILES)
def test_one_byte_at_a_time(name: str) -> None:
    wire = read(name)
    whole = normalize(drive([wire])[1])
    assert normalize(drive([wire[i : i + 1] for i in range(len(wire))])[1]) == whole


@given(name=st.sampled_from(FILES), data=st.data())
def test_any_split(name: str, data: st.DataObject) -> None:
    wire = read(name)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    assert normalize(drive(split(wire, cuts))[1]) == normalize(drive([wire])[1])
