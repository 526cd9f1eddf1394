"""File bodies (`http.response.pathsend`, `http.response.zerocopysend`) through the real drivers on
the fake transport of test_drivers.py. It has no socket, so every protocol takes the read path here;
the sendfile path is proved on real sockets in tests/e2e/test_file_sending.py."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import h2.connection
import h2.events
import h2.settings
import pytest


def _driver_harness() -> Any:
    """test_drivers.py, by path: this package's tests run with --import-mode=importlib."""
    name = "asgiserver_server_test_drivers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("test_drivers.py")
        )
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]


_drivers = _driver_harness()
PROTOCOLS: list[str] = _drivers.PROTOCOLS
App = Any
Harness = Any
h2_client = _drivers.h2_client
names = _drivers.names
serve = _drivers.serve
driver_request = _drivers.request

DATA = bytes(range(256)) * 1000  # 256 000 bytes: several 64 KiB reads


def wide_client(method: bytes = b"GET") -> h2.connection.H2Connection:
    """An HTTP/2 client with windows open wide enough for a whole file (RFC 9113 §6.9)."""
    client = h2_client()
    client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    client.increment_flow_control_window(2**31 - 1 - 65535)
    fields = [(b":method", method), (b":path", b"/"), (b":scheme", b"http"), (b":authority", b"x")]
    client.send_headers(1, fields, end_stream=True)
    return client


def request(protocol: str, method: bytes = b"GET") -> bytes:
    if protocol != "h2":
        return driver_request(protocol, method)
    return wide_client(method).data_to_send()


def response(harness: Harness) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    if harness.protocol != "h2":
        return harness.response()
    parsed = h2_stream(harness)
    return parsed["status"], parsed["fields"], parsed["body"]


def h2_stream(harness: Harness) -> dict[str, Any]:
    """What the wide client makes of stream 1."""
    parsed: dict[str, Any] = {"status": 0, "fields": [], "body": b"", "reset": None, "ended": False}
    for event in wide_client().receive_data(bytes(harness.transport.out)):
        if getattr(event, "stream_id", 1) != 1:
            continue
        if isinstance(event, h2.events.ResponseReceived):
            parsed["status"] = int(dict(event.headers)[b":status"])
            parsed["fields"] = [(n, v) for n, v in event.headers if not n.startswith(b":")]
        elif isinstance(event, h2.events.DataReceived):
            parsed["body"] += event.data
        elif isinstance(event, h2.events.StreamEnded):
            parsed["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            parsed["reset"] = int(event.error_code)
    return parsed


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.bin"
    path.write_bytes(DATA)
    return path


def pathsend(path: Path | str, headers: list[Any] | None = None) -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["extensions"]["http.response.pathsend"] == {}
        await send({"type": "http.response.start", "status": 200, "headers": headers or []})
        await send({"type": "http.response.pathsend", "path": str(path)})

    return app


def zerocopy(path: Path, opened: list[Any], **fields: Any) -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert "http.response.zerocopysend" in scope["extensions"]
        file = path.open("rb")
        opened.append(file)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.zerocopysend", "file": file, **fields})
        if fields.get("more_body"):
            await send({"type": "http.response.body", "body": b"-tail"})

    return app


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pathsend_sends_the_file_with_its_length(protocol: str, payload: Path) -> None:
    harness = serve(protocol, pathsend(payload), request(protocol))
    status, fields, body = response(harness)
    assert (status, body) == (200, DATA)
    assert (b"content-length", b"%d" % len(DATA)) in fields


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_apps_own_content_length_is_kept(protocol: str, payload: Path) -> None:
    length = (b"content-length", b"%d" % len(DATA))
    harness = serve(protocol, pathsend(payload, [length]), request(protocol))
    status, fields, body = response(harness)
    assert (status, body) == (200, DATA)
    assert names(fields).count(b"content-length") == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_head_sends_the_length_and_no_body(protocol: str, payload: Path) -> None:
    harness = serve(protocol, pathsend(payload), request(protocol, b"HEAD"))
    status, fields, body = response(harness)
    assert (status, body) == (200, b"")
    assert (b"content-length", b"%d" % len(DATA)) in fields


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_missing_file_is_a_500(protocol: str, tmp_path: Path) -> None:
    harness = serve(protocol, pathsend(tmp_path / "missing"), request(protocol))
    status, _, body = response(harness)
    assert (status, body) == (500, b"Internal Server Error")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_directory_or_a_fifo_is_a_500(protocol: str, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (tmp_path, fifo):  # opening the FIFO must not wait for a writer
        status, _, _ = response(serve(protocol, pathsend(path), request(protocol)))
        assert status == 500


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_zerocopysend_window_and_the_apps_file_stays_open(protocol: str, payload: Path) -> None:
    opened: list[Any] = []
    app = zerocopy(payload, opened, offset=1000, count=70000)
    status, fields, body = response(serve(protocol, app, request(protocol)))
    assert (status, body) == (200, DATA[1000:71000])
    assert (b"content-length", b"70000") in fields
    assert not opened[0].closed  # the app closes its file (ASGI zero-copy send extension)
    opened[0].close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_zerocopysend_from_the_files_position_then_more_body(protocol: str, payload: Path) -> None:
    opened: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        with payload.open("rb") as file:
            file.seek(250_000)
            opened.append(file)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.zerocopysend", "file": file, "more_body": True})
            await send({"type": "http.response.body", "body": b"-tail"})

    status, fields, body = response(serve(protocol, app, request(protocol)))
    assert (status, body) == (200, DATA[250_000:] + b"-tail")
    assert b"content-length" not in names(fields)  # the length was not known from one message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_file_shorter_than_its_length_aborts_the_response(protocol: str, payload: Path) -> None:
    opened: list[Any] = []
    app = zerocopy(payload, opened, offset=0, count=len(DATA) + 10)  # promises 10 bytes too many
    harness = serve(protocol, app, request(protocol))
    opened[0].close()
    if protocol == "h2":  # RFC 9113 §8.1: the stream is reset, never ended as if complete
        parsed = h2_stream(harness)
        assert parsed["reset"] == 2 and not parsed["ended"]  # INTERNAL_ERROR
        return
    assert harness.transport.closed  # the close ends it short (RFC 9112 §8)
    _, fields, _ = response(harness)
    assert (b"content-length", b"%d" % (len(DATA) + 10)) in fields
    out = bytes(harness.transport.out)
    assert len(out.partition(b"\r\n\r\n")[2]) == len(DATA)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_file_messages_out_of_order_fail_the_request(protocol: str, payload: Path) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.pathsend", "path": str(payload)})

    status, _, _ = response(serve(protocol, app, request(protocol)))
    assert status == 500


def test_extensions_in_the_scope(payload: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["extensions"])
        await pathsend(payload)(scope, receive, send)

    for protocol in PROTOCOLS:
        serve(protocol, app, request(protocol))
    assert all(
        {"http.response.pathsend", "http.response.zerocopysend"} <= set(e) and "tls" not in e
        for e in seen
    )
    assert len(seen) == 3


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_missing_file_after_the_head_aborts_the_response(protocol: str, tmp_path: Path) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await send({"type": "http.response.pathsend", "path": str(tmp_path / "missing")})

    harness = serve(protocol, app, request(protocol))
    if protocol == "h2":
        parsed = h2_stream(harness)
        assert (parsed["status"], parsed["reset"], parsed["ended"]) == (200, 2, False)
        return
    assert harness.transport.closed
    assert response(harness)[0] == 200  # then the close, never an end of the body


def test_the_server_closes_the_files_it_opens(payload: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for protocol in PROTOCOLS:
        for method in (b"GET", b"HEAD"):
            serve(protocol, pathsend(payload), request(protocol, method))
    assert len(os.listdir("/proc/self/fd")) == before
