"""CGI vars (RFC 3875 section 4.1) -> ASGI HTTP scope fields carried by ``Request``."""

from __future__ import annotations

import pytest
from uwsgi_wire import drive, failure, nginx_vars, packet

from asgiserver.uwsgi import RemoteProtocolError, Request

Pairs = list[tuple[bytes, bytes]]


def parse(pairs: Pairs, body: bytes = b"") -> Request:
    _conn, events = drive([packet(pairs, body)])
    request = events[0]
    assert type(request) is Request, events
    return request


def reject(pairs: Pairs) -> RemoteProtocolError:
    _conn, events = drive([packet(pairs)])
    assert not any(type(e) is Request for e in events)
    error = failure(events).error
    assert error.status_hint == 400
    return error


def replace(pairs: Pairs, key: bytes, value: bytes | None) -> Pairs:
    """Set (or with None, drop) a var in place."""
    out = [(k, v) for k, v in pairs if k != key]
    if value is not None:
        at = next((i for i, (k, _) in enumerate(pairs) if k == key), len(out))
        out.insert(at, (key, value))
    return out


GET = nginx_vars()


class TestMethod:
    """RFC 3875 section 4.1.12 (REQUEST_METHOD); RFC 9110 section 9.1: method = token."""

    def test_method_is_passed_as_bytes(self) -> None:
        assert parse(replace(GET, b"REQUEST_METHOD", b"PROPFIND")).method == b"PROPFIND"

    def test_method_is_case_sensitive(self) -> None:
        assert parse(replace(GET, b"REQUEST_METHOD", b"get")).method == b"get"

    def test_missing_method(self) -> None:
        assert "missing REQUEST_METHOD" in str(reject(replace(GET, b"REQUEST_METHOD", None)))

    @pytest.mark.parametrize("method", [b"", b"GE T", b"GET\r\n", b"G(ET", b"\xc3\xa9", b"GET/"])
    def test_method_must_be_a_token(self, method: bytes) -> None:
        assert "not a token" in str(reject(replace(GET, b"REQUEST_METHOD", method)))


class TestTarget:
    """RFC 3875 sections 4.1.5 (PATH_INFO), 4.1.7 (QUERY_STRING); nginx's REQUEST_URI is the
    request-target as sent (RFC 9112 section 3.2), PATH_INFO its decoded, normalized path."""

    def test_nginx_values(self) -> None:
        request = parse(nginx_vars(uri=b"/caf%C3%A9/a%2Fb?x=1&y=%20"))
        assert request.raw_path == b"/caf%C3%A9/a%2Fb"
        assert request.path == "/café/a/b"
        assert request.query_string == b"x=1&y=%20"

    def test_path_info_wins_over_request_uri_for_path(self) -> None:
        pairs = replace(nginx_vars(uri=b"/a/../b"), b"PATH_INFO", b"/b")
        request = parse(pairs)
        assert (request.raw_path, request.path) == (b"/a/../b", "/b")

    def test_query_string_wins_over_request_uri(self) -> None:
        # nginx's $query_string ($args) may have been rewritten.
        pairs = replace(nginx_vars(uri=b"/?a=1"), b"QUERY_STRING", b"b=2")
        assert parse(pairs).query_string == b"b=2"

    def test_empty_query_string_var_still_wins(self) -> None:
        pairs = replace(nginx_vars(uri=b"/?a=1"), b"QUERY_STRING", b"")
        assert parse(pairs).query_string == b""

    def test_query_from_request_uri_without_query_string(self) -> None:
        pairs = replace(nginx_vars(uri=b"/p?a=1?b"), b"QUERY_STRING", None)
        request = parse(pairs)
        assert (request.raw_path, request.query_string) == (b"/p", b"a=1?b")

    def test_no_query_at_all(self) -> None:
        pairs = replace(nginx_vars(uri=b"/p"), b"QUERY_STRING", None)
        assert parse(pairs).query_string == b""

    def test_path_decoded_from_request_uri_without_path_info(self) -> None:
        # RFC 3986 section 2.1; an invalid escape is kept as is.
        pairs = replace(nginx_vars(uri=b"/caf%C3%A9%2F%zz"), b"PATH_INFO", None)
        request = parse(pairs)
        assert (request.raw_path, request.path) == (b"/caf%C3%A9%2F%zz", "/café/%zz")

    def test_empty_path_info_counts_as_absent(self) -> None:
        pairs = replace(nginx_vars(uri=b"/x%20y"), b"PATH_INFO", b"")
        assert parse(pairs).path == "/x y"

    def test_raw_path_from_path_info_without_request_uri(self) -> None:
        # RFC 3986 section 3.3: re-encode what a path can't carry unencoded, "%" included.
        pairs = replace(GET, b"REQUEST_URI", None)
        pairs = replace(pairs, b"PATH_INFO", "/a b/%/é/;=@:~".encode())
        request = parse(pairs)
        assert request.raw_path == b"/a%20b/%25/%C3%A9/;=@:~"
        assert request.path == "/a b/%/é/;=@:~"

    def test_plain_path_info_is_its_own_raw_path(self) -> None:
        pairs = replace(replace(GET, b"REQUEST_URI", None), b"PATH_INFO", b"/a-b_c.d")
        assert parse(pairs).raw_path == b"/a-b_c.d"

    def test_neither_request_uri_nor_path_info(self) -> None:
        pairs = replace(replace(GET, b"REQUEST_URI", None), b"PATH_INFO", None)
        assert "no request target" in str(reject(pairs))

    @pytest.mark.parametrize("key", [b"PATH_INFO", b"REQUEST_URI"])
    def test_path_must_be_utf8(self, key: bytes) -> None:
        # Policy: a path that is not UTF-8 is a 400, not a str with lone surrogates that
        # would fail later in the app (encoding a log line, building a URL).
        pairs = nginx_vars(uri=b"/bad%FF")
        if key == b"REQUEST_URI":
            pairs = replace(pairs, b"PATH_INFO", None)
        else:
            assert (b"PATH_INFO", b"/bad\xff") in pairs
        assert "not valid UTF-8" in str(reject(pairs))

    def test_decoded_control_bytes_are_kept_in_path(self) -> None:
        # nginx decodes %0A into PATH_INFO; it is a character of the path, not a line break.
        assert parse(nginx_vars(uri=b"/a%0Ab")).path == "/a\nb"


class TestRootPath:
    """RFC 3875 section 4.1.13: SCRIPT_NAME is the mount point (ASGI root_path)."""

    def test_absent(self) -> None:
        assert parse(GET).root_path == ""

    def test_script_name(self) -> None:
        request = parse(nginx_vars(uri=b"/app/x", extra=[(b"SCRIPT_NAME", "/äpp".encode())]))
        # nginx's PATH_INFO is the whole path: it already includes root_path, as ASGI wants.
        assert (request.root_path, request.path) == ("/äpp", "/app/x")

    def test_script_name_must_be_utf8(self) -> None:
        assert "SCRIPT_NAME" in str(reject(nginx_vars(extra=[(b"SCRIPT_NAME", b"/\xff")])))


class TestHttpVersion:
    """RFC 3875 section 4.1.16: SERVER_PROTOCOL; ASGI http_version."""

    @pytest.mark.parametrize(
        ("protocol", "version"),
        [
            (b"HTTP/1.0", "1.0"),
            (b"HTTP/1.1", "1.1"),
            (b"HTTP/2.0", "2"),  # nginx's $server_protocol for HTTP/2
            (b"HTTP/2", "2"),
            (b"HTTP/3.0", "3"),  # nginx's $server_protocol for HTTP/3
            (b"HTTP/0.9", "1.1"),
            (b"", "1.1"),
            (b"garbage", "1.1"),
        ],
    )
    def test_mapping(self, protocol: bytes, version: str) -> None:
        assert parse(replace(GET, b"SERVER_PROTOCOL", protocol)).http_version == version

    def test_default(self) -> None:
        assert parse(replace(GET, b"SERVER_PROTOCOL", None)).http_version == "1.1"


class TestScheme:
    """UWSGI_SCHEME decides alone when set (as in uWSGI); otherwise https if HTTPS is on/1
    (RFC 3875 section 4.1 leaves it to the server; uWSGI and nginx use it) or REQUEST_SCHEME
    (nginx's $scheme) is https."""

    @pytest.mark.parametrize(
        ("uwsgi_scheme", "request_scheme", "https", "expected"),
        [
            (None, None, None, "http"),
            (None, b"http", None, "http"),
            (None, b"https", None, "https"),
            (None, b"HTTPS", None, "https"),
            (None, None, b"on", "https"),
            (None, None, b"ON", "https"),
            (None, None, b"1", "https"),
            (None, None, b"off", "http"),
            (None, None, b"", "http"),
            (None, None, b"yes", "http"),
            # TLS offload idiom: `uwsgi_param HTTPS on;` with nginx itself on plain http.
            (None, b"http", b"on", "https"),
            (b"https", b"http", None, "https"),
            (b"http", b"https", b"on", "http"),  # an explicit UWSGI_SCHEME overrides both
            (b"HTTPS", None, None, "https"),
            (b"", b"https", None, "https"),  # empty counts as absent
            (b"ws", None, b"on", "http"),
        ],
    )
    def test_scheme(
        self,
        uwsgi_scheme: bytes | None,
        request_scheme: bytes | None,
        https: bytes | None,
        expected: str,
    ) -> None:
        pairs = replace(GET, b"REQUEST_SCHEME", request_scheme)
        pairs = replace(pairs, b"HTTPS", https)
        pairs = replace(pairs, b"UWSGI_SCHEME", uwsgi_scheme)
        assert parse(pairs).scheme == expected


class TestHeaders:
    """RFC 3875 section 4.1.18: each request header as HTTP_<NAME>, upper case, "-" as "_"."""

    def test_names_are_lowercase_with_dashes(self) -> None:
        pairs = nginx_vars(headers=[(b"HTTP_ACCEPT_LANGUAGE", b"en"), (b"HTTP_X_A_B", b"1")])
        assert parse(pairs).headers == [(b"accept-language", b"en"), (b"x-a-b", b"1")]

    def test_values_are_passed_unchanged(self) -> None:
        value = b' \t a\x7f\x01\xff"b, c;q=1 '
        assert parse(nginx_vars(headers=[(b"HTTP_X", value)])).headers == [(b"x", value)]

    def test_repeated_headers_stay_repeated_in_order(self) -> None:
        # nginx sends each header line as its own var (tests/corpus).
        headers = [(b"HTTP_COOKIE", b"a=1"), (b"HTTP_X", b"0"), (b"HTTP_COOKIE", b"b=2")]
        request = parse(nginx_vars(headers=headers))
        assert request.headers == [(b"cookie", b"a=1"), (b"x", b"0"), (b"cookie", b"b=2")]
        assert request.vars[b"HTTP_COOKIE"] == b"b=2"

    def test_repeated_host_last_wins_in_place(self) -> None:
        # RFC 9112 section 3.2: one Host. A repeat comes from a config overriding HTTP_HOST.
        headers = [(b"HTTP_HOST", b"a"), (b"HTTP_X", b"1"), (b"HTTP_HOST", b"b")]
        assert parse(nginx_vars(headers=headers)).headers == [(b"host", b"b"), (b"x", b"1")]

    def test_content_type_and_length_come_from_the_cgi_vars_once(self) -> None:
        pairs = nginx_vars(b"POST", body=b"abc", content_type=b"text/plain")
        assert (b"HTTP_CONTENT_TYPE", b"text/plain") in pairs
        assert (b"HTTP_CONTENT_LENGTH", b"3") in pairs
        headers = parse(pairs, b"abc").headers
        assert headers == [
            (b"content-type", b"text/plain"),
            (b"content-length", b"3"),
            (b"host", b"example.test"),
        ]

    def test_content_length_header_never_contradicts_the_body(self) -> None:
        # Only CONTENT_LENGTH frames the body, so HTTP_CONTENT_LENGTH alone is dropped.
        pairs = nginx_vars(headers=[(b"HTTP_CONTENT_LENGTH", b"10")])
        request = parse(pairs)
        assert request.headers == []
        assert request.vars[b"HTTP_CONTENT_LENGTH"] == b"10"

    def test_http_content_type_is_used_without_content_type(self) -> None:
        pairs = nginx_vars(headers=[(b"HTTP_CONTENT_TYPE", b"a/b")])
        assert parse(pairs).headers == [(b"content-type", b"a/b")]

    def test_transfer_encoding_is_dropped(self) -> None:
        # nginx de-chunks the body and sets CONTENT_LENGTH (tests/corpus/nginx-put-chunked.bin);
        # te + cl together would describe bytes the app never sees (RFC 9112 section 6.1).
        pairs = nginx_vars(b"PUT", body=b"abc", headers=[(b"HTTP_TRANSFER_ENCODING", b"chunked")])
        request = parse(pairs, b"abc")
        assert request.headers == [(b"content-length", b"3")]
        assert request.vars[b"HTTP_TRANSFER_ENCODING"] == b"chunked"

    @pytest.mark.parametrize(
        "key", [b"HTTP_", b"HTTP_X Y", b"HTTP_X:Y", b"HTTP_\xc3\xa9", b"HTTP_A\nHTTP_B"]
    )
    def test_header_name_must_be_a_token(self, key: bytes) -> None:
        # RFC 9110 section 5.1: field-name = token.
        error = reject(nginx_vars(headers=[(b"HTTP_OK", b"1"), (key, b"v")]))
        assert "valid header field" in str(error)

    @pytest.mark.parametrize("value", [b"a\r\nb", b"a\nb", b"a\rb", b"a\x00b"])
    def test_header_value_without_cr_lf_nul(self, value: bytes) -> None:
        # RFC 9110 section 5.5: they would split or truncate a header line downstream.
        error = reject(nginx_vars(headers=[(b"HTTP_OK", b"1"), (b"HTTP_X", value)]))
        assert "CR, LF or NUL" in str(error)

    def test_content_type_value_without_cr_lf_nul(self) -> None:
        error = reject(replace(GET, b"CONTENT_TYPE", b"a\r\nb"))
        assert "CONTENT_TYPE" in str(error)

    def test_non_http_vars_are_not_headers(self) -> None:
        pairs = nginx_vars(headers=[], extra=[(b"HTTPS", b"on"), (b"XHTTP_Y", b"1")])
        assert parse(pairs).headers == []

    def test_vars_holds_everything(self) -> None:
        pairs = nginx_vars(extra=[(b"UWSGI_X", b"\x00\xff")])
        assert parse(pairs).vars == dict(pairs)


class TestAddresses:
    """RFC 3875 sections 4.1.8 (REMOTE_ADDR), 4.1.14 (SERVER_NAME), 4.1.15 (SERVER_PORT);
    ASGI client and server."""

    def test_nginx_values(self) -> None:
        request = parse(GET)
        assert request.client == ("192.0.2.7", 50123)
        assert request.server == ("example.test", 80)

    def test_ipv6(self) -> None:
        pairs = replace(GET, b"REMOTE_ADDR", b"2001:db8::1")
        assert parse(pairs).client == ("2001:db8::1", 50123)

    def test_no_remote_addr(self) -> None:
        assert parse(replace(GET, b"REMOTE_ADDR", None)).client is None
        assert parse(replace(GET, b"REMOTE_ADDR", b"")).client is None

    @pytest.mark.parametrize("port", [None, b"", b"x", b"-1", b"65536", b"123456"])
    def test_remote_port_missing_or_invalid_is_0(self, port: bytes | None) -> None:
        # nginx on a unix socket: REMOTE_ADDR "unix:", REMOTE_PORT "".
        pairs = replace(replace(GET, b"REMOTE_ADDR", b"unix:"), b"REMOTE_PORT", port)
        assert parse(pairs).client == ("unix:", 0)

    def test_server_addr_when_no_server_name(self) -> None:
        pairs = replace(GET, b"SERVER_NAME", b"")
        pairs.append((b"SERVER_ADDR", b"192.0.2.1"))
        assert parse(pairs).server == ("192.0.2.1", 80)

    def test_server_port_missing_or_invalid_is_none(self) -> None:
        assert parse(replace(GET, b"SERVER_PORT", None)).server == ("example.test", None)
        assert parse(replace(GET, b"SERVER_PORT", b"http")).server == ("example.test", None)

    def test_no_server(self) -> None:
        assert parse(replace(GET, b"SERVER_NAME", None)).server is None
