"""Graceful drain and `--timeout-request`, on the drivers over a fake transport (see test_drivers.py).

At shutdown an app waiting for the disconnect hears it while the client is still there: what it sends
next reaches the client and the response ends properly. A request that outlives `--timeout-request`
is a 504, or an aborted response once its head has gone; WebSockets are not limited by it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
from typing import Any

import pytest
from test_drivers import PROTOCOLS, Harness, dechunk, masked_frame, names, parse_h2, request

DISCONNECT = {"type": "http.disconnect"}
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/event-stream")],
}


def event(data: bytes, more: bool = True) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


def without_goaway(data: bytes) -> tuple[bytes, bool]:
    """The server's HTTP/2 frames without GOAWAY and PING (the h2 library, as a client, takes a
    GOAWAY as the end of everything, though RFC 9113 §6.8 lets open streams finish), and whether
    there was a GOAWAY."""
    frames, goaway = b"", False
    while data:
        size = int.from_bytes(data[:3], "big") + 9
        frame, data = data[:size], data[size:]
        if frame[3] == 0x7:
            goaway = True
        elif frame[3] != 0x6:
            frames += frame
    return frames, goaway


def h2_response(harness: Harness) -> dict[str, Any]:
    frames, goaway = without_goaway(bytes(harness.transport.out))
    assert goaway
    return parse_h2(frames)


def body_of(harness: Harness) -> bytes:
    """The response body as the client reads it; for HTTP/1.1 only a complete chunked body."""
    if harness.protocol == "h2":
        return bytes(h2_response(harness)["body"])
    out = bytes(harness.transport.out)
    body = out.partition(b"\r\n\r\n")[2]
    if harness.protocol == "http":
        assert body.endswith(b"\r\n0\r\n\r\n"), out  # RFC 9112 §7.1: the last chunk, not a cut
        return dechunk(body)
    return body


def ended_properly(harness: Harness) -> None:
    if harness.protocol == "h2":
        parsed = h2_response(harness)
        assert parsed["ended"] and parsed["reset"] is None  # END_STREAM, not RST_STREAM
        # The last stream is done, the GOAWAY complete: a lingering close (our side half-closed,
        # what the client still sends is read and dropped, so no reset can cut the end).
        assert harness.transport.eof_written
    else:
        body_of(harness)
        assert harness.transport.closed  # no keep-alive after a drain (uwsgi: always closes)


# ---- the drain ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_stream_waiting_for_the_disconnect_hears_it_and_its_last_event_arrives(
    protocol: str,
) -> None:
    heard: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        await send(START)
        await send(event(b"data: 1\n\n"))
        heard.append(await receive())
        await send(event(b"event: bye\ndata: reconnect later\n\n"))
        await send(event(b"", more=False))

    async def main() -> None:
        harness = Harness(protocol, app)
        harness.feed(request(protocol))
        await harness.settle()
        assert heard == []  # no disconnect before the drain
        harness.connection.shutdown()
        await harness.settle()
        assert heard == [DISCONNECT]
        ended_properly(harness)
        assert body_of(harness) == b"data: 1\n\nevent: bye\ndata: reconnect later\n\n"
        await harness.finish()

    asyncio.run(main())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_app_that_returns_on_the_drain_disconnect_gets_its_stream_ended(
    protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    # What SSE frameworks do: the disconnect cancels the writer and the app returns mid-stream.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(START)
        await send(event(b"data: 1\n\n"))
        await receive()

    async def main() -> None:
        harness = Harness(protocol, app)
        harness.feed(request(protocol))
        await harness.settle()
        harness.connection.shutdown()
        await harness.settle()
        ended_properly(harness)
        assert body_of(harness) == b"data: 1\n\n"
        await harness.finish()

    with caplog.at_level(logging.INFO, "asgiserver.error"):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_long_poll_that_returns_on_the_drain_disconnect_is_answered_503(protocol: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        assert await receive() == DISCONNECT

    async def main() -> None:
        harness = Harness(protocol, app)
        harness.feed(request(protocol))
        await harness.settle()
        assert not harness.transport.out or protocol == "h2"  # (HTTP/2: our SETTINGS)
        harness.connection.shutdown()
        await harness.settle()
        if protocol == "h2":
            parsed = h2_response(harness)
            status, fields, body = parsed["status"], parsed["fields"], parsed["body"]
        else:
            status, fields, body = harness.response()
        assert (status, body) == (503, b"Service Unavailable")
        if protocol == "http":
            assert (b"connection", b"close") in fields
        await harness.finish()

    asyncio.run(main())


@pytest.mark.parametrize("protocol", ["http", "h2"])
def test_a_request_that_arrives_during_the_drain_is_told_too(protocol: str) -> None:
    # A connection accepted just before the listener closed is served once (the shutdown grace).
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        assert await receive() == DISCONNECT
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    async def main() -> None:
        harness = Harness(protocol, app)
        harness.state.shutting_down = True
        harness.feed(request(protocol))
        await harness.settle()
        assert harness.response()[0] == 204
        await harness.finish()

    asyncio.run(main())


def test_an_app_reading_its_body_gets_all_of_it_before_the_drain_disconnect() -> None:
    received: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "http.disconnect":
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send(event(b"ok", more=False))

    async def main() -> None:
        harness = Harness("http", app)
        harness.feed(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nabc")
        await harness.settle()
        harness.connection.shutdown()
        await harness.settle()
        assert [m["type"] for m in received] == ["http.request"]  # still reading: no disconnect
        harness.feed(b"def")
        await harness.settle()
        assert b"".join(m.get("body", b"") for m in received) == b"abcdef"
        assert received[-1] == DISCONNECT
        status, fields, body = harness.response()
        assert (status, body) == (200, b"ok") and (b"connection", b"close") in fields
        await harness.finish()

    asyncio.run(main())


def test_an_idle_keep_alive_connection_is_closed_and_a_busy_one_answers_with_close() -> None:
    release = asyncio.Event

    async def main() -> None:
        go = release()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["path"] == "/slow":
                await go.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send(event(b"done", more=False))

        idle = Harness("http", app)
        idle.feed(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        busy = Harness("http", app)
        busy.feed(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        await idle.settle()
        assert not idle.transport.closed  # kept alive after its response
        idle.connection.shutdown()
        busy.connection.shutdown()
        assert idle.transport.closed
        assert not busy.transport.closed
        go.set()
        await busy.settle()
        status, fields, body = busy.response()
        assert (status, body) == (200, b"done") and (b"connection", b"close") in fields
        assert busy.transport.closed
        await idle.finish()
        await busy.finish()

    asyncio.run(main())


# ---- WebSockets: 1001 on a stop, 1012 when the process is replaced ---------------------------------


@pytest.mark.parametrize(("restart", "code"), [(False, 1001), (True, 1012)])
def test_websocket_close_code_on_shutdown(restart: bool, code: int) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()

    async def main() -> None:
        harness = Harness("http", app, ws_per_message_deflate=False)
        key = base64.b64encode(os.urandom(16))
        harness.feed(
            b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            b"sec-websocket-key: " + key + b"\r\nsec-websocket-version: 13\r\n\r\n"
        )
        await harness.settle()
        harness.connection.shutdown(restart)
        await harness.settle()
        close = bytes(harness.transport.out).rpartition(b"\x88")[2]
        assert struct.unpack("!H", close[1:3])[0] == code  # RFC 6455 §5.5.1
        await harness.finish()

    asyncio.run(main())


# ---- --timeout-request -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_timeout_before_the_response_is_a_504_and_one_error_line(
    protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(30)

    async def main() -> None:
        harness = Harness(protocol, app, timeout_request=0.05)
        harness.feed(request(protocol))
        await asyncio.sleep(0.2)
        await harness.settle()
        status, fields, body = harness.response()
        assert (status, body) == (504, b"Gateway Timeout")
        if protocol == "http":
            assert (b"connection", b"close") in fields
        await harness.finish()

    with caplog.at_level(logging.INFO, "asgiserver.error"):
        asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["Request timed out after 0.05s: GET /path"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_timeout_after_the_head_aborts_the_response(protocol: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send(event(b"partial"))
        await asyncio.sleep(30)

    async def main() -> None:
        harness = Harness(protocol, app, timeout_request=0.05)
        harness.feed(request(protocol))
        await asyncio.sleep(0.2)
        await harness.settle()
        out = bytes(harness.transport.out)
        assert b"partial" in out
        if protocol == "h2":  # the stream is reset, the connection lives (RFC 9113 §8.1)
            assert parse_h2(out)["reset"] == 2  # INTERNAL_ERROR
            assert not harness.transport.closed
        else:
            assert harness.transport.closed
            assert not out.endswith(b"0\r\n\r\n")  # never a clean end
        await harness.finish()

    asyncio.run(main())


def test_the_apps_own_timeout_error_is_a_500_not_a_504() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.wait_for(asyncio.sleep(30), 0.01)

    async def main() -> None:
        harness = Harness("http", app, timeout_request=10)
        harness.feed(request("http"))
        await asyncio.sleep(0.1)
        await harness.settle()
        assert harness.response()[0] == 500
        await harness.finish()

    asyncio.run(main())


def test_a_fast_request_is_not_touched_and_keeps_its_connection() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send(event(b"ok", more=False))

    async def main() -> None:
        harness = Harness("http", app, timeout_request=0.05)
        harness.feed(request("http"))
        await asyncio.sleep(0.1)
        await harness.settle()
        status, fields, body = harness.response()
        assert (status, body) == (200, b"ok") and b"connection" not in names(fields)
        assert not harness.transport.closed
        await harness.finish()

    asyncio.run(main())


def test_a_websocket_outlives_the_request_timeout() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await asyncio.sleep(0.1)
        await send({"type": "websocket.send", "text": message["text"]})

    async def main() -> None:
        harness = Harness("http", app, timeout_request=0.02, ws_per_message_deflate=False)
        key = base64.b64encode(os.urandom(16))
        harness.feed(
            b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            b"sec-websocket-key: " + key + b"\r\nsec-websocket-version: 13\r\n\r\n"
        )
        await asyncio.sleep(0.05)
        harness.feed(masked_frame(0x1, b"late"))
        await asyncio.sleep(0.2)
        await harness.settle()
        assert b"\x81\x04late\x88\x02\x03\xe8" in harness.transport.out  # sent, then 1000
        await harness.finish()

    asyncio.run(main())
