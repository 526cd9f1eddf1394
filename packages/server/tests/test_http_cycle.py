"""The one ASGI HTTP cycle (ASGI HTTP spec 2.4), driven through a recording stream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgiserver.server._asgi.http import HTTPCycle
from asgiserver.server._asgi.response import ResponseDefaults
from asgiserver.server._asgi.types import ASGIProtocolError, ClientDisconnected

BARE = ResponseDefaults(server_header=False, date_header=False, extra=[])


class Stream:
    """A recording HTTPStream."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.write_paused = False
        self.finished = 0

    def send_head(self, status: int, headers: list[Any], body: bytes, end: bool) -> None:
        self.calls.append(("start", status, list(headers), body, end))

    def send_body(self, body: bytes, end: bool) -> None:
        self.calls.append(("body", body, end))

    def send_trailers(self, headers: list[Any]) -> None:
        self.calls.append(("trailers", headers))

    def send_informational(self, status: int, headers: list[Any]) -> None:
        self.calls.append(("info", status, headers))

    def reset(self) -> None:
        self.calls.append(("reset",))

    def want_body(self) -> None:
        self.calls.append(("want_body",))

    def consumed(self, size: int) -> None:
        self.calls.append(("consumed", size))

    def cycle_finished(self, cycle: HTTPCycle) -> None:
        self.finished += 1

    async def drain(self) -> None:
        self.calls.append(("drain",))


def run(
    app: Any,
    *,
    body: list[bytes] | None = None,
    disconnect_after: float | None = None,
    method: str = "GET",
    defaults: ResponseDefaults = BARE,
) -> Stream:
    stream = Stream()

    async def main() -> None:
        scope = {"type": "http", "method": method}
        cycle = HTTPCycle(scope, stream, defaults, body_complete=body is None)
        if body is not None:
            for chunk in body:
                cycle.feed_body(chunk)
            cycle.end_body()
        if disconnect_after is not None:
            asyncio.get_running_loop().call_later(disconnect_after, cycle.disconnect)
        await asyncio.wait_for(cycle.run(app), 5)

    asyncio.run(main())
    return stream


def start(status: int = 200, headers: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers or [], **extra}


def test_single_body_is_written_with_the_head() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(headers=[(b"x", b"1")]))
        await send({"type": "http.response.body", "body": b"hi"})

    stream = run(app)
    assert stream.calls == [("start", 200, [(b"x", b"1"), (b"content-length", b"2")], b"hi", True)]
    assert stream.finished == 1


def test_streamed_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start())
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    assert run(app).calls == [("start", 200, [], b"a", False), ("body", b"b", True)]


def test_request_body_then_disconnect_only_once_the_client_goes() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(await receive())
        seen.append(await receive())  # waits until the disconnect
        await send(start())

    stream = run(app, body=[b"ab", b"cd"], disconnect_after=0.05)
    assert seen == [
        {"type": "http.request", "body": b"abcd", "more_body": False},
        {"type": "http.disconnect"},
    ]
    assert not any(call[0] == "start" for call in stream.calls)


def test_send_after_disconnect_raises_an_oserror() -> None:
    outcome: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start())
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        assert (await receive())["type"] == "http.request"
        assert (await receive())["type"] == "http.disconnect"
        try:
            await send({"type": "http.response.body", "body": b"b"})
        except OSError as exc:
            outcome.append(exc)

    run(app, disconnect_after=0.05)
    assert isinstance(outcome[0], ClientDisconnected)


def test_exception_before_the_response_is_a_500() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    calls = run(app).calls
    assert calls[0][:2] == ("start", 500) and calls[0][4] is True


def test_exception_after_the_response_started_aborts() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start())
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        raise RuntimeError("boom")

    assert run(app).calls[-1] == ("reset",)


def test_returning_without_a_response_is_a_500() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return

    assert run(app).calls[0][:2] == ("start", 500)


def test_start_without_body_is_completed_empty() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(204))

    assert run(app).calls == [("start", 204, [], b"", True)]


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.response.body", "body": b"x"}],  # body before start
        [start(), start()],  # start twice
        [start(status="200")],  # status not an int
        [start(status=99)],
        [start(), {"type": "http.response.body", "body": "text"}],  # body not bytes
        [{"type": "http.nonsense"}],
        [{"no": "type"}],
        [
            start(),
            {"type": "http.response.body", "body": b""},
            {"type": "http.response.body", "body": b""},
        ],
    ],
)
def test_invalid_messages_raise_in_the_app(messages: list[dict[str, Any]]) -> None:
    errors: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            for message in messages:
                await send(message)
        except ASGIProtocolError as exc:
            errors.append(exc)
            raise

    run(app)
    assert len(errors) == 1


def test_trailers_follow_the_final_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(trailers=True))
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    assert run(app).calls == [
        ("start", 200, [], b"data", False),
        ("trailers", [(b"x-sum", b"1")]),
    ]


def test_early_hint_is_a_103_before_the_response() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await send(start())
        await send({"type": "http.response.body"})

    calls = run(app).calls
    assert calls[0] == ("info", 103, [(b"link", b"</a.css>; rel=preload")])


def test_slow_client_makes_send_wait() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start())
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    stream = Stream()
    stream.write_paused = True

    async def main() -> None:
        await HTTPCycle({}, stream, BARE, body_complete=True).run(app)

    asyncio.run(main())
    assert ("drain",) in stream.calls


# ---- response finishing (response.py), the same for every protocol ---------------------------------


def one_response(status: int, headers: list[Any], body: bytes = b"", **kw: Any) -> tuple[Any, ...]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(status, headers))
        await send({"type": "http.response.body", "body": body})

    calls = run(app, **kw).calls
    assert len(calls) == 1
    return calls[0]


DEFAULTS = ResponseDefaults(server_header=True, date_header=True, extra=[(b"x-extra", b"1")])


def test_default_fields_are_added_and_the_apps_own_win() -> None:
    call = one_response(200, [(b"server", b"mine")], b"ok", defaults=DEFAULTS)
    names = [name for name, _ in call[2]]
    assert names == [b"server", b"date", b"x-extra", b"content-length"]
    assert call[2][0] == (b"server", b"mine")


def test_204_never_carries_content_length() -> None:
    # RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204.
    call = one_response(204, [(b"content-length", b"0")], defaults=DEFAULTS)
    assert all(name != b"content-length" for name, _ in call[2])
    assert call[3] == b""


def test_304_keeps_the_apps_content_length_and_adds_none() -> None:
    assert one_response(304, [(b"content-length", b"12")])[2] == [(b"content-length", b"12")]
    assert one_response(304, [])[2] == []


def test_head_gets_no_body_and_content_length_only_from_a_real_body() -> None:
    assert one_response(200, [], method="HEAD") == ("start", 200, [], b"", True)
    call = one_response(200, [], b"hello", method="HEAD")
    assert call == ("start", 200, [(b"content-length", b"5")], b"", True)


def test_transfer_encoding_from_the_app_is_dropped() -> None:
    assert one_response(200, [(b"transfer-encoding", b"chunked")], b"x")[2] == [
        (b"content-length", b"1")
    ]


def test_the_500_adds_no_connection_specific_field() -> None:
    # RFC 9113 §8.2.2: connection-specific fields are forbidden on HTTP/2; HTTP/1 adds its own.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    call = run(app, defaults=DEFAULTS).calls[0]
    assert call[1] == 500
    assert all(name != b"connection" for name, _ in call[2])


@pytest.mark.parametrize(
    "headers",
    [[("x", b"1")], [(b"x", "1")], [(b"x",)], [b"x"], 5],
    ids=["str-name", "str-value", "short-pair", "not-a-pair", "not-a-list"],
)
def test_bad_header_types_fail_the_start_message_itself(headers: Any) -> None:
    # The head waits for the body, but the send() that carried the bad field is the one that raises.
    failed_at: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send(start(200, headers))
        except ASGIProtocolError:
            failed_at.append("start")
            raise
        await send({"type": "http.response.body", "body": b""})

    run(app)
    assert failed_at == ["start"]


def test_reading_a_streamed_body_reports_consumed_bytes() -> None:
    stream = Stream()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["body"] == b"abc"
        assert (await receive()) == {"type": "http.request", "body": b"de", "more_body": False}
        await send(start())
        await send({"type": "http.response.body"})

    async def main() -> None:
        cycle = HTTPCycle({"type": "http"}, stream, BARE, body_complete=False)
        cycle.feed_body(b"abc")
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, cycle.feed_body, b"de")
        loop.call_later(0.02, cycle.end_body)
        await asyncio.wait_for(cycle.run(app), 5)

    asyncio.run(main())
    assert ("consumed", 3) in stream.calls
