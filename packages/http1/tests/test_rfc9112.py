"""Receive-side rules, one test per rule, grouped by RFC section (RFC 9112 unless noted)."""

from __future__ import annotations

import pytest
from _helpers import assert_rejected, drive, failure, one_byte_at_a_time, parse, request

from asgiserver.http1 import (
    BodyTooLarge,
    ConnectionClosed,
    Data,
    EndOfMessage,
    HeadersTooLarge,
    IncompleteMessage,
    Limits,
    RemoteProtocolError,
    Request,
    RequestLineTooLong,
    State,
    UnsupportedMethod,
    UnsupportedTransferCoding,
    UnsupportedVersion,
)

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


class TestSection2_2MessageParsing:
    """RFC 9112 §2.2: CRLF line endings; bare CR/LF rejected; leading empty lines ignored."""

    def test_bare_lf_ends_request_line(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400)

    def test_bare_lf_ends_field_line(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400)

    def test_bare_lf_everywhere(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\nHost: a\n\n", 400)

    def test_bare_lf_empty_line(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400)

    def test_bare_cr_in_request_line(self) -> None:
        assert_rejected(b"GET /\rx HTTP/1.1\r\nHost: a\r\n\r\n", 400)

    def test_bare_cr_in_field_value(self) -> None:
        # CVE-2023-30589 (llhttp): a lone CR taken as a line break smuggles a header.
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\r\nX: \rTransfer-Encoding: chunked\r\n\r\n", 400
        )

    def test_bare_lf_rejected_before_head_is_complete(self) -> None:
        """No waiting for a CRLFCRLF that a bare-LF client will never send."""
        _, events = drive([b"GET / HTTP/1.1\nHost: a\n"])
        assert failure(events).error.status_hint == 400

    def test_leading_empty_lines_are_ignored(self) -> None:
        events = parse(b"\r\n\r\n" + GET)
        assert [type(e) for e in events] == [Request, EndOfMessage]

    def test_leading_empty_lines_split_anywhere(self) -> None:
        _, events = drive(one_byte_at_a_time(b"\r\n\r\n" + GET))
        assert [type(e) for e in events] == [Request, EndOfMessage]

    def test_leading_bare_lf_is_rejected(self) -> None:
        assert_rejected(b"\n" + GET, 400)

    def test_empty_lines_then_eof_is_a_clean_close(self) -> None:
        conn, events = drive([b"\r\n\r\n"], eof=True)
        assert events == [ConnectionClosed()]
        assert conn.close_expected()

    def test_whitespace_before_first_field_line(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400)

    def test_tls_client_hello_rejected_at_first_byte(self) -> None:
        _, events = drive([b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"])
        assert failure(events).error.status_hint == 400


class TestSection2_3Version:
    """RFC 9112 §2.3 (HTTP-version) and RFC 9110 §15.6.6 (505)."""

    @pytest.mark.parametrize("version", [b"1.1", b"1.0"])
    def test_supported(self, version: bytes) -> None:
        (req, _) = parse(b"GET / HTTP/%s\r\nHost: a\r\n\r\n" % version)
        assert type(req) is Request and req.http_version == version

    def test_higher_minor_is_served_as_1_1(self) -> None:
        (req, _) = parse(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n")
        assert type(req) is Request and req.http_version == b"1.1"

    @pytest.mark.parametrize("version", [b"2.0", b"3.0", b"0.9"])
    def test_other_major_is_505(self, version: bytes) -> None:
        failed = assert_rejected(b"GET / HTTP/%s\r\nHost: a\r\n\r\n" % version, 505)
        assert type(failed.error) is UnsupportedVersion

    @pytest.mark.parametrize(
        "line",
        [b"GET / HTTP/1", b"GET / HTTP/11.1", b"GET / http/1.1", b"GET / HTTP/1.1 ", b"GET /"],
    )
    def test_garbage_version_is_400(self, line: bytes) -> None:
        assert_rejected(line + b"\r\nHost: a\r\n\r\n", 400)

    def test_http2_preface_is_505(self) -> None:
        assert_rejected(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)


class TestSection3RequestLine:
    """RFC 9112 §3: method SP request-target SP HTTP-version, single spaces."""

    def test_parsed(self) -> None:
        (req, end) = parse(b"GET /a/b?c=d HTTP/1.1\r\nHost: a\r\n\r\n")
        assert req == Request(b"GET", b"/a/b?c=d", [(b"host", b"a")], b"1.1")
        assert end == EndOfMessage()

    @pytest.mark.parametrize(
        "line",
        [b"GET  / HTTP/1.1", b"GET /  HTTP/1.1", b"GET\t/ HTTP/1.1", b" GET / HTTP/1.1"],
    )
    def test_extra_whitespace(self, line: bytes) -> None:
        assert_rejected(line + b"\r\nHost: a\r\n\r\n", 400)

    @pytest.mark.parametrize("method", [b"GE T", b"G(T", b"G\x00T", b"G\xc3\xa9T", b"GET:"])
    def test_method_must_be_a_token(self, method: bytes) -> None:
        """RFC 9110 §5.6.2 / §9.1."""
        assert_rejected(method + b" / HTTP/1.1\r\nHost: a\r\n\r\n", 400)

    def test_lowercase_method_is_a_token_and_kept_as_sent(self) -> None:
        """RFC 9110 §9.1: methods are case-sensitive; ``get`` is legal and is not GET."""
        (req, _) = parse(b"get / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert type(req) is Request and req.method == b"get"

    def test_extension_method(self) -> None:
        (req, _) = parse(b"PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert type(req) is Request and req.method == b"PROPFIND"

    def test_request_line_too_long_is_414(self) -> None:
        limits = Limits(max_request_line_bytes=64)
        line = b"GET /" + b"a" * 60 + b" HTTP/1.1\r\n"
        events = parse(line + b"Host: a\r\n\r\n", limits=limits)
        assert type(failure(events).error) is RequestLineTooLong
        assert failure(events).error.status_hint == 414

    def test_request_line_at_the_limit_is_accepted(self) -> None:
        line = b"GET /" + b"a" * 50 + b" HTTP/1.1"
        limits = Limits(max_request_line_bytes=len(line))
        assert type(parse(line + b"\r\nHost: a\r\n\r\n", limits=limits)[0]) is Request
        limits = Limits(max_request_line_bytes=len(line) - 1)
        assert failure(parse(line + b"\r\nHost: a\r\n\r\n", limits=limits)).error.status_hint == 414

    def test_huge_line_without_crlf_fails_at_the_limit(self) -> None:
        """Limits are enforced before buffering: 1 MB fed in 1 KiB reads stops near 8 KiB."""
        conn, fed = drive([])[0], 0
        for _ in range(1024):
            conn.receive_data(b"a" * 1024)
            fed += 1024
            if conn.events_received():
                break
        assert fed <= 8 * 1024 + 1024
        assert conn.pending_bytes == 0
        assert conn.their_state is State.ERROR

    def test_target_must_be_visible_ascii(self) -> None:
        assert_rejected(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400)


class TestSection3_2RequestTarget:
    """RFC 9112 §3.2 (forms of request-target, Host) and RFC 9110 §9.3.6 (CONNECT)."""

    def test_origin_form(self) -> None:
        assert type(parse(b"GET /x?y HTTP/1.1\r\nHost: a\r\n\r\n")[0]) is Request

    def test_absolute_form(self) -> None:
        """§3.2.2."""
        (req, _) = parse(b"GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n")
        assert type(req) is Request and req.target == b"http://a.example/x"

    @pytest.mark.parametrize(
        "target", [b"/a#b", b"/#", b"/x?y#z", b"http://a.example/x#frag", b"/a%23b#"]
    )
    def test_fragment_is_rejected(self, target: bytes) -> None:
        """No form of request-target has a fragment: a path carrying "#..." would be routed as
        if it were part of the path (clients strip it, RFC 3986 §3.5)."""
        failed = assert_rejected(b"GET " + target + b" HTTP/1.1\r\nHost: a.example\r\n\r\n", 400)
        assert "fragment" in str(failed.error)

    def test_percent_encoded_hash_is_a_path_character(self) -> None:
        (req, _) = parse(b"GET /a%23b HTTP/1.1\r\nHost: a\r\n\r\n")
        assert type(req) is Request and req.target == b"/a%23b"

    def test_asterisk_form_with_options(self) -> None:
        """§3.2.4."""
        (req, _) = parse(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        assert type(req) is Request and req.target == b"*"

    def test_asterisk_form_without_options(self) -> None:
        assert_rejected(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400)

    def test_authority_form_without_connect(self) -> None:
        """§3.2.3: authority-form is only for CONNECT."""
        assert_rejected(b"GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400)

    def test_connect_is_not_implemented(self) -> None:
        """RFC 9110 §9.3.6: CONNECT asks for a tunnel; this server is no proxy (501)."""
        failed = assert_rejected(
            b"CONNECT victim.com:443 HTTP/1.1\r\nHost: victim.com:443\r\n\r\n", 501
        )
        assert type(failed.error) is UnsupportedMethod

    def test_http11_without_host(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nX: y\r\n\r\n", 400)

    def test_http11_without_any_field(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\n\r\n", 400)

    def test_http10_without_host_is_fine(self) -> None:
        assert type(parse(b"GET / HTTP/1.0\r\n\r\n")[0]) is Request

    @pytest.mark.parametrize("version", [b"1.1", b"1.0"])
    def test_two_host_fields(self, version: bytes) -> None:
        assert_rejected(b"GET / HTTP/%s\r\nHost: a\r\nHost: b\r\n\r\n" % version, 400)

    @pytest.mark.parametrize("host", [b"a b", b"a/b", b"a@b", b"[::1", b"a:b:c", b'"a"'])
    def test_invalid_host(self, host: bytes) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", 400)

    @pytest.mark.parametrize(
        "host", [b"example.com", b"example.com:8080", b"[::1]:80", b"127.0.0.1", b"xn--b-ja.c", b""]
    )
    def test_valid_host(self, host: bytes) -> None:
        (req, _) = parse(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        assert type(req) is Request and req.headers == [(b"host", host)]


class TestSection5FieldSyntax:
    """RFC 9112 §5 and RFC 9110 §5: field-name ":" OWS field-value OWS."""

    def test_names_lowercased_values_stripped_order_and_duplicates_kept(self) -> None:
        head = (
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nAccept:text/html\r\n"
            b"x-dup:  2 \t\r\nEmpty:\r\nSpaces:   \r\n\r\n"
        )
        (req, _) = parse(head)
        assert type(req) is Request
        assert req.headers == [
            (b"host", b"a"),
            (b"x-dup", b"1"),
            (b"accept", b"text/html"),
            (b"x-dup", b"2"),
            (b"empty", b""),
            (b"spaces", b""),
        ]

    def test_inner_whitespace_and_obs_text_kept(self) -> None:
        (req, _) = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: a \t b\xff\r\n\r\n")
        assert type(req) is Request and req.headers[1] == (b"x", b"a \t b\xff")

    def test_headers_are_bytes_and_a_list_of_tuples(self) -> None:
        (req, _) = parse(GET)
        assert type(req) is Request and type(req.headers) is list
        assert all(type(n) is bytes and type(v) is bytes for n, v in req.headers)

    def test_field_line_without_colon(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400)

    def test_empty_field_name(self) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400)

    def test_header_section_too_large_is_431(self) -> None:
        limits = Limits(max_header_bytes=100)
        big = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 200 + b"\r\n\r\n"
        failed = failure(parse(big, limits=limits))
        assert type(failed.error) is HeadersTooLarge and failed.error.status_hint == 431

    def test_header_section_at_the_limit(self) -> None:
        fields = b"Host: a\r\nX: " + b"v" * 50 + b"\r\n"
        limits = Limits(max_header_bytes=len(fields))
        assert type(parse(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", limits=limits)[0]) is Request
        limits = Limits(max_header_bytes=len(fields) - 1)
        events = parse(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", limits=limits)
        assert failure(events).error.status_hint == 431

    def test_too_many_fields_is_431(self) -> None:
        fields = b"".join(b"X-%d: v\r\n" % i for i in range(10))
        limits = Limits(max_header_count=10)
        assert type(parse(b"GET / HTTP/1.0\r\n" + fields + b"\r\n", limits=limits)[0]) is Request
        limits = Limits(max_header_count=9)
        events = parse(b"GET / HTTP/1.0\r\n" + fields + b"\r\n", limits=limits)
        assert failure(events).error.status_hint == 431


class TestSection5_1FieldName:
    """RFC 9112 §5.1: no whitespace between field name and colon (400)."""

    @pytest.mark.parametrize("line", [b"X-A : a", b"X-A\t: a", b"Host : a"])
    def test_whitespace_before_colon(self, line: bytes) -> None:
        failed = assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\n" + line + b"\r\n\r\n", 400)
        assert "colon" in str(failed.error)


class TestSection5_2ObsFold:
    """RFC 9112 §5.2: obs-fold is rejected (400) rather than unfolded."""

    @pytest.mark.parametrize("fold", [b" folded", b"\tfolded"])
    def test_obs_fold(self, fold: bytes) -> None:
        failed = assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n" + fold + b"\r\n\r\n", 400)
        assert "obs-fold" in str(failed.error)


class TestRFC9110Section5_5FieldValues:
    """RFC 9110 §5.5: no NUL, CR, LF or other CTL (except HTAB) in a field value."""

    @pytest.mark.parametrize("ctl", [b"\x00", b"\x01", b"\x0b", b"\x0c", b"\x1f", b"\x7f"])
    def test_ctl_in_value(self, ctl: bytes) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\nX: a" + ctl + b"b\r\n\r\n", 400)

    @pytest.mark.parametrize("ctl", [b"\x0b", b"\x0c"])
    def test_ctl_at_value_edge_is_not_stripped(self, ctl: bytes) -> None:
        """Daphne CVE-2026-44546: \\x0b/\\x0c must be rejected, not treated as whitespace."""
        assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\nX: " + ctl + b"a\r\n\r\n", 400)

    def test_htab_in_value_is_fine(self) -> None:
        (req, _) = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n")
        assert type(req) is Request and req.headers[1] == (b"x", b"a\tb")


class TestRFC9110Section5_6_2Tokens:
    """RFC 9110 §5.6.2: field names are tokens."""

    @pytest.mark.parametrize(
        "name", [b"X(A)", b"X@A", b"X,A", b'X"A', b"X/A", b"X[A]", b"X\xc3\xa9", b"X\x7fA"]
    )
    def test_non_token_field_name(self, name: bytes) -> None:
        assert_rejected(b"GET / HTTP/1.1\r\nHost: a\r\n" + name + b": v\r\n\r\n", 400)

    def test_underscore_is_a_token_char_and_kept(self) -> None:
        """``_`` is legal (``X_Forwarded_For`` stays distinct from ``x-forwarded-for``)."""
        (req, _) = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 1\r\n\r\n")
        assert type(req) is Request and req.headers[1] == (b"x_forwarded_for", b"1")


class TestSection6_1TransferEncoding:
    """RFC 9112 §6.1: only a single final ``chunked``; never together with Content-Length."""

    def test_chunked(self) -> None:
        events = parse(
            request(
                b"POST",
                headers=[(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")],
                body=b"3\r\nabc\r\n0\r\n\r\n",
            )
        )
        assert events[1:] == [Data(b"abc"), EndOfMessage()]

    def test_coding_names_are_case_insensitive(self) -> None:
        events = parse(
            request(
                b"POST",
                headers=[(b"Host", b"a"), (b"transfer-encoding", b"Chunked")],
                body=b"0\r\n\r\n",
            )
        )
        assert events[1:] == [EndOfMessage()]

    def test_content_length_and_transfer_encoding_is_rejected_and_closes(self) -> None:
        data = (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        assert_rejected(data, 400)
        conn, _ = drive([data])
        conn.send(__import__("asgiserver.http1").http1.Response(400))
        conn.send(EndOfMessage())
        assert conn.close_expected()
        assert b"connection: close" in b"".join(conn.data_to_send())

    @pytest.mark.parametrize(
        ("coding", "status"),
        [
            (b"chunked, identity", 400),  # chunked not final (§6.3)
            (b"identity", 400),
            (b"xchunked", 400),
            (b"chunked, chunked", 400),  # §7: chunked at most once
            (b"gzip, chunked", 501),  # final chunked after an unsupported coding
            (b"identity, chunked", 501),
            (b"", 400),
            (b",", 400),
            (b"chunked;foo=bar", 400),
        ],
    )
    def test_codings(self, coding: bytes, status: int) -> None:
        failed = assert_rejected(
            request(b"POST", headers=[(b"Host", b"a"), (b"Transfer-Encoding", coding)]), status
        )
        if status == 501:
            assert type(failed.error) is UnsupportedTransferCoding

    def test_malformed_coding_before_chunked(self) -> None:
        head = request(
            b"POST", headers=[(b"Host", b"a"), (b"Transfer-Encoding", b"g@zip, chunked")]
        )
        assert "malformed" in str(assert_rejected(head, 400).error)

    def test_two_transfer_encoding_lines(self) -> None:
        """CVE-2024-1135: repeated Transfer-Encoding fields are combined, then judged."""
        head = request(
            b"POST",
            headers=[
                (b"Host", b"a"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Transfer-Encoding", b"chunked"),
            ],
        )
        assert_rejected(head, 400)
        head = request(
            b"POST",
            headers=[
                (b"Host", b"a"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Transfer-Encoding", b"gzip"),
            ],
        )
        assert_rejected(head, 400)

    def test_transfer_encoding_in_http10(self) -> None:
        head = request(b"POST", headers=[(b"Transfer-Encoding", b"chunked")], version=b"1.0")
        assert_rejected(head + b"0\r\n\r\n", 400)


class TestSection6_3BodyLength:
    """RFC 9112 §6.3 and RFC 9110 §8.6: Content-Length."""

    def test_content_length_body(self) -> None:
        events = parse(
            request(b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"5")], body=b"hello")
        )
        assert events[1:] == [Data(b"hello"), EndOfMessage()]

    def test_no_framing_means_no_body(self) -> None:
        """§6.3 item 7: a request without CL or TE has no body; what follows is a new request."""
        conn, events = drive([b"POST / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n"])
        assert [type(e) for e in events] == [Request, EndOfMessage]
        assert conn.pending_bytes == len(b"GET / HTTP/1.1\r\n")

    def test_zero_content_length(self) -> None:
        events = parse(request(b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"0")]))
        assert [type(e) for e in events] == [Request, EndOfMessage]

    def test_identical_list_is_one_value(self) -> None:
        """RFC 9110 §8.6: a list of identical values may be taken as that value."""
        head = request(
            b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"3, 3")], body=b"abc"
        )
        assert parse(head)[1:] == [Data(b"abc"), EndOfMessage()]
        head = request(
            b"POST",
            headers=[(b"Host", b"a"), (b"Content-Length", b"3"), (b"Content-Length", b"3")],
            body=b"abc",
        )
        assert parse(head)[1:] == [Data(b"abc"), EndOfMessage()]

    @pytest.mark.parametrize(
        "value",
        [
            b"-1",
            b"+5",
            b"5 5",
            b"0x5",
            b"5a",
            b"",
            b" ",
            b"5, 6",
            b"5,",
            b"1" * 20,
            b"99999999999999999999",
            b"5.0",
            b"\xd9\xa5",
        ],
    )
    def test_malformed_content_length(self, value: bytes) -> None:
        assert_rejected(
            request(b"POST", headers=[(b"Host", b"a"), (b"Content-Length", value)]), 400
        )

    def test_content_length_beyond_63_bits(self) -> None:
        head = request(b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"9" * 19)])
        assert "range" in str(assert_rejected(head, 400).error)

    def test_differing_content_length_fields(self) -> None:
        head = request(
            b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"3"), (b"Content-Length", b"4")]
        )
        assert_rejected(head, 400)

    def test_content_length_over_limit_is_413_before_the_body(self) -> None:
        limits = Limits(max_body_bytes=10)
        head = request(b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"11")])
        failed = failure(parse(head, limits=limits))
        assert type(failed.error) is BodyTooLarge and failed.error.status_hint == 413
        ok = request(b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"10")], body=b"x" * 10)
        assert parse(ok, limits=limits)[-1] == EndOfMessage()

    def test_eof_inside_body_is_incomplete(self) -> None:
        head = request(b"POST", headers=[(b"Host", b"a"), (b"Content-Length", b"10")], body=b"abc")
        failed = failure(parse(head, eof=True))
        assert type(failed.error) is IncompleteMessage and failed.error.status_hint == 400


def chunked(body: bytes) -> bytes:
    return request(
        b"POST", headers=[(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")], body=body
    )


class TestSection7_1Chunked:
    """RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF."""

    def test_chunks_and_hex_sizes(self) -> None:
        events = parse(chunked(b"a\r\n0123456789\r\nA\r\nabcdefghij\r\n00\r\n\r\n"))
        assert events[1:] == [Data(b"0123456789"), Data(b"abcdefghij"), EndOfMessage()]

    def test_leading_zeros_within_bound(self) -> None:
        events = parse(chunked(b"0000000000000003\r\nabc\r\n0\r\n\r\n"))
        assert events[1:] == [Data(b"abc"), EndOfMessage()]

    @pytest.mark.parametrize(
        "size", [b"00000000000000003", b"-1", b"+3", b"0x3", b"3 ", b" 3", b"g", b"", b"3\t"]
    )
    def test_malformed_chunk_size(self, size: bytes) -> None:
        assert_rejected(chunked(size + b"\r\nabc\r\n0\r\n\r\n"), 400, in_body=True)

    @pytest.mark.parametrize("after", [b"XY", b"\n", b"\rX", b"\r\r\n", b" \r\n"])
    def test_chunk_data_not_followed_by_crlf(self, after: bytes) -> None:
        """CVE-2025-43859 (h11): exactly CRLF must follow chunk-data."""
        failed = assert_rejected(chunked(b"3\r\nabc" + after + b"0\r\n\r\n"), 400, in_body=True)
        assert "CRLF" in str(failed.error)

    def test_bare_lf_after_chunk_size(self) -> None:
        assert_rejected(chunked(b"3\nabc\r\n0\r\n\r\n"), 400, in_body=True)

    def test_bare_lf_after_last_chunk(self) -> None:
        assert_rejected(chunked(b"3\r\nabc\r\n0\n\r\n"), 400, in_body=True)

    def test_chunked_total_over_limit_is_413_at_the_size_line(self) -> None:
        limits = Limits(max_body_bytes=5)
        events = parse(chunked(b"3\r\nabc\r\n3\r\n"), limits=limits)
        assert events[1] == Data(b"abc")
        assert type(failure(events).error) is BodyTooLarge

    def test_eof_between_chunks(self) -> None:
        assert type(failure(parse(chunked(b"3\r\nabc\r\n"), eof=True)).error) is IncompleteMessage

    def test_body_data_arrives_before_the_chunk_ends(self) -> None:
        _, events = drive([chunked(b"a\r\n01234"), b"56789\r\n0\r\n\r\n"])
        assert events[1:] == [Data(b"01234"), Data(b"56789"), EndOfMessage()]


class TestSection7_1_1ChunkExtensions:
    """RFC 9112 §7.1.1: extensions are parsed strictly and ignored."""

    @pytest.mark.parametrize(
        "ext", [b";a", b";a=b", b';a="b c"', b' ; a = "q\\"x" ;b', b";a=b;c=d", b"\t;a"]
    )
    def test_valid_extensions_ignored(self, ext: bytes) -> None:
        assert parse(chunked(b"3" + ext + b"\r\nabc\r\n0" + ext + b"\r\n\r\n"))[1:] == [
            Data(b"abc"),
            EndOfMessage(),
        ]

    @pytest.mark.parametrize(
        "ext", [b";a\nb", b";a\rb", b";", b";a=", b';a="b', b";a b", b';a="\x00"', b";a=b c", b"z"]
    )
    def test_invalid_extensions(self, ext: bytes) -> None:
        assert_rejected(chunked(b"3" + ext + b"\r\nabc\r\n0\r\n\r\n"), 400, in_body=True)

    def test_endless_chunk_line_fails_at_its_window(self) -> None:
        limits = Limits(max_chunk_extension_bytes=100)
        conn, events = drive([chunked(b"1;a=" + b"b" * 200)], limits=limits)
        assert failure(events).error.status_hint == 400 and conn.pending_bytes == 0

    def test_extension_budget_is_per_request(self) -> None:
        limits = Limits(max_chunk_extension_bytes=10)
        ok = chunked(b"1;abcdefghi\r\na\r\n0\r\n\r\n")  # 10 bytes of extension
        assert parse(ok, limits=limits)[-1] == EndOfMessage()
        over = chunked(b"1;abcde\r\na\r\n1;abcde\r\na\r\n0\r\n\r\n")  # 6 + 6
        assert failure(parse(over, limits=limits)).error.status_hint == 400
        for chunks in ([over], one_byte_at_a_time(over)):
            assert failure(drive(chunks, limits=limits)[1]).error.status_hint == 400


class TestSection7_1_2Trailers:
    """RFC 9112 §7.1.2: trailer fields after the last chunk, returned in EndOfMessage."""

    def test_trailers(self) -> None:
        events = parse(chunked(b"3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nX-B:  2 \r\n\r\n"))
        assert events[-1] == EndOfMessage([(b"x-checksum", b"1234"), (b"x-b", b"2")])

    @pytest.mark.parametrize(
        "trailer", [b"X: a\n", b"X : a\r\n", b"X: a\r\n b\r\n", b"X: a\x00\r\n", b"X(: a\r\n"]
    )
    def test_invalid_trailers(self, trailer: bytes) -> None:
        assert_rejected(chunked(b"0\r\n" + trailer + b"\r\n"), 400, in_body=True)

    def test_trailer_section_too_large(self) -> None:
        limits = Limits(max_header_bytes=64)
        data = chunked(b"0\r\nX: " + b"v" * 100 + b"\r\n\r\n")
        assert failure(parse(data, limits=limits)).error.status_hint == 431


class TestSection9_3Persistence:
    """RFC 9112 §9.3: HTTP/1.1 persists by default, HTTP/1.0 only with keep-alive."""

    def test_http11_default_keep_alive(self) -> None:
        conn, _ = drive([GET])
        assert conn.keep_alive

    def test_http11_connection_close(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"])
        assert not conn.keep_alive

    def test_connection_tokens_are_case_insensitive_lists(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n"])
        assert not conn.keep_alive

    def test_http10_default_close(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\n\r\n"])
        assert not conn.keep_alive

    def test_http10_keep_alive(self) -> None:
        conn, _ = drive([b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"])
        assert conn.keep_alive


class TestSection11Security:
    """RFC 9112 §11.2: request smuggling; the corpus is in test_smuggling.py.  Here: the parser
    stops at the first error and never reads on."""

    def test_nothing_after_a_failure_is_parsed(self) -> None:
        conn, events = drive([b"GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n", GET, GET])
        assert len(events) == 1 and type(events[0]).__name__ == "ConnectionFailed"
        assert conn.pending_bytes == 0

    def test_failure_is_a_remote_protocol_error(self) -> None:
        error = failure(parse(b"\x00")).error
        assert isinstance(error, RemoteProtocolError)
