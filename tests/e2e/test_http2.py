"""HTTP/2 end to end: real clients (curl, nghttp, h2load, httpx) and a raw frame client built on the
`h2` library, against the real `asgiserver` command. RFC 9113 unless a section says otherwise."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from asgiserver import ws

from conftest import ServerProcess, require_tool


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Any]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return certfile, keyfile, cafile


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("curl"), "--silent", "--show-error", "--max-time", "20", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


class RawClient:
    """An HTTP/2 client on the `h2` library over a plain socket (prior knowledge)."""

    def __init__(self, server: ServerProcess, *, validate: bool = True) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=10)
        config = h2.config.H2Configuration(
            client_side=True,
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config)
        self.conn.initiate_connection()
        self.flush()
        self.events: list[Any] = []

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(
        self, path: str, method: str = "GET", headers: list[tuple[str, str]] | None = None, end=True
    ) -> int:
        sid = self.conn.get_next_available_stream_id()
        base = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "t")]
        self.conn.send_headers(sid, base + (headers or []), end_stream=end)
        self.flush()
        return sid

    def pump(self, until: Any, timeout: float = 10) -> None:
        """Read and answer frames until `until()` holds; a close or the deadline first fails."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise TimeoutError("no answer in time")
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            for event in self.conn.receive_data(data):
                self.events.append(event)
                if isinstance(event, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
            self.flush()

    def response(self, sid: int) -> tuple[int, dict[str, str], bytes]:
        self.pump(lambda: self.ended(sid))
        status, headers, body = 0, {}, b""
        for event in self.events:
            if getattr(event, "stream_id", None) != sid:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                fields = {k.decode(): v.decode() for k, v in event.headers}
                status = int(fields.pop(":status"))
                headers = fields
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
        return status, headers, body

    def ended(self, sid: int) -> bool:
        return any(
            isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == sid
            for e in self.events
        )

    def reset_code(self, sid: int) -> int | None:
        for e in self.events:
            if isinstance(e, h2.events.StreamReset) and e.stream_id == sid:
                return int(e.error_code)
        return None

    def close(self) -> None:
        self.sock.close()


# ---- negotiation ---------------------------------------------------------------------------------


def test_prior_knowledge_h2c_with_curl(server: ServerProcess) -> None:
    # RFC 9113 §3.3: the client starts with the connection preface, on the HTTP/1.1 port.
    out = curl("--http2-prior-knowledge", "-w", "\n%{http_version}", server.url + "/scope")
    body, _, version = out.stdout.rpartition("\n")
    assert version == "2", out.stderr
    scope = json.loads(body)
    assert scope["http_version"] == "2"
    assert scope["headers"][0][0] == "host"  # :authority first, as host (RFC 9113 §8.3.1)
    # The same port still speaks HTTP/1.1.
    assert curl("--http1.1", server.url + "/").stdout == "hello"


def test_tls_alpn_negotiates_h2(start_server, tls_files) -> None:
    certfile, keyfile, cafile = tls_files
    server = start_server(
        "testapp:app", "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)
    )
    out = curl("--http2", "--cacert", str(cafile), "-w", "\n%{http_version}", server.url + "/")
    assert out.stdout == "hello\n2", out.stderr
    out = curl("--http1.1", "--cacert", str(cafile), "-w", "\n%{http_version}", server.url + "/")
    assert out.stdout == "hello\n1.1", out.stderr
    context = ssl.create_default_context(cafile=str(cafile))
    with httpx.Client(base_url=server.url, verify=context, http2=True, timeout=10) as client:
        response = client.get("/scope")
        assert response.http_version == "HTTP/2"
        assert response.json()["scheme"] == "https"
        body = b"z" * 300_000
        assert client.post("/echo", content=body).content == body


def test_h2c_upgrade_only_when_asked_for(start_server) -> None:
    # RFC 7540 §3.2: curl --http2 on an http:// URL sends Upgrade: h2c with HTTP2-Settings.
    server = start_server("testapp:app", "--h2c-upgrade")
    out = curl("--http2", "-w", "\n%{http_version}", server.url + "/scope")
    body, _, version = out.stdout.rpartition("\n")
    assert version == "2", out.stderr
    scope = json.loads(body)
    assert scope["http_version"] == "2"
    names = [name for name, _ in scope["headers"]]
    assert "upgrade" not in names and "http2-settings" not in names and "connection" not in names
    # A request with a body is served over HTTP/1.1 (its body would come before the switch).
    out = curl("--http2", "-w", "\n%{http_version}", "--data-binary", "abc", server.url + "/echo")
    assert out.stdout == "abc\n1.1", out.stderr
    assert server.stop() == 0
    # Off by default (h2c smuggling through proxies that pass Upgrade): HTTP/1.1 answers.
    plain = start_server("testapp:app")
    out = curl("--http2", "-w", "\n%{http_version}", plain.url + "/")
    assert out.stdout == "hello\n1.1", out.stderr


def test_no_http2_option_turns_it_off(start_server) -> None:
    server = start_server("testapp:app", "--no-http2")
    out = curl("--http2-prior-knowledge", server.url + "/")
    assert out.returncode != 0 or out.stdout != "hello"


# ---- requests and responses ----------------------------------------------------------------------


def test_bodies_both_ways_trailers_and_early_hints(server: ServerProcess) -> None:
    client = RawClient(server)
    body = b"q" * 1_000_000  # larger than both receive windows: credit comes back as the app reads
    sid = client.request("/echo", "POST", [("content-length", str(len(body)))], end=False)
    view = memoryview(body)
    while view:
        window = min(
            client.conn.local_flow_control_window(sid), client.conn.max_outbound_frame_size
        )
        if window <= 0:
            client.pump(lambda: client.conn.local_flow_control_window(sid) > 0)
            continue
        client.conn.send_data(sid, bytes(view[:window]))
        view = view[window:]
        client.flush()
    client.conn.end_stream(sid)
    client.flush()
    status, _, echoed = client.response(sid)
    assert (status, echoed) == (200, body)

    sid = client.request("/trailers", headers=[("te", "trailers")])
    client.pump(lambda: client.ended(sid))
    trailers = [e for e in client.events if isinstance(e, h2.events.TrailersReceived)]
    assert trailers and (b"x-checksum", b"abc") in trailers[0].headers

    sid = client.request("/early-hints")
    client.pump(lambda: client.ended(sid))
    informational = [
        e for e in client.events if isinstance(e, h2.events.InformationalResponseReceived)
    ]
    assert informational and (b":status", b"103") in informational[0].headers
    client.close()


def test_head_and_204_carry_no_body(server: ServerProcess) -> None:
    client = RawClient(server)
    sid = client.request("/", "HEAD")
    status, headers, body = client.response(sid)
    assert (status, body) == (200, b"")
    sid = client.request("/status?code=204")
    status, headers, body = client.response(sid)
    assert status == 204 and body == b"" and "content-length" not in headers
    client.close()


def test_malformed_request_fails_its_stream_only(server: ServerProcess) -> None:
    # RFC 9113 §8.1.1: a malformed request is a stream error; the connection and other streams live.
    client = RawClient(server, validate=False)
    good = client.request("/")
    bad = client.request("/", headers=[("x-bad", "a\x00b")])
    upper = client.request("/", headers=[("X-Upper", "1")])
    after = client.request("/")
    assert client.response(good)[::2] == (200, b"hello")
    for sid in (bad, upper):
        status, _, body = client.response(sid)
        # RFC 9113 §8.1.1: a stream error of type PROTOCOL_ERROR, after a 400 saying why.
        assert (status, body, client.reset_code(sid)) == (400, b"Bad Request", 1)
    assert client.response(after)[::2] == (200, b"hello")
    client.close()


def test_reset_stream_disconnects_its_cycle(server: ServerProcess) -> None:
    client = RawClient(server)
    sid = client.request("/wait-disconnect")
    time.sleep(0.2)
    client.conn.reset_stream(sid, 0x8)  # CANCEL
    client.flush()
    other = client.request("/")
    assert client.response(other)[::2] == (200, b"hello")
    client.close()


def test_fastapi_and_starlette_over_http2(start_server) -> None:
    server = start_server("fastapi_app:app")
    with httpx.Client(base_url=server.url, http1=False, http2=True, timeout=10) as client:
        response = client.get("/items/5", params={"q": "x"})
        assert response.http_version == "HTTP/2"
        assert response.json() == {"item_id": 5, "q": "x"}
        assert client.post("/items", json={"name": "a", "price": 10}).json()["price_with_tax"] == 12
        assert client.post("/items", json={"name": "a"}).status_code == 422
        assert client.get("/stream").text == "0\n1\n2\n3\n4\n"
    raw = RawClient(server)
    sid = raw.request("/raw-trailers/", headers=[("te", "trailers")])
    assert raw.response(sid)[::2] == (200, b"abc")
    trailers = [e for e in raw.events if isinstance(e, h2.events.TrailersReceived)]
    assert trailers and (b"x-digest", b"abc") in trailers[0].headers
    raw.close()
    assert server.stop() == 0

    mounted = start_server("starlette_mounted:app", "--root-path", "/api")
    with httpx.Client(base_url=mounted.url, http1=False, http2=True, timeout=10) as client:
        data = client.get("/items/3").json()
        assert data["url_for"] == mounted.url + "/api/items/3"
        assert data["path"] == "/api/items/3"


# ---- real tools ----------------------------------------------------------------------------------


def test_nghttp_many_streams(server: ServerProcess) -> None:
    out = subprocess.run(
        [require_tool("nghttp"), "-n", "-s", "-m", "20", server.url + "/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("200") >= 20


def test_h2load_has_no_failures(server: ServerProcess) -> None:
    out = subprocess.run(
        [require_tool("h2load"), "-n", "2000", "-c", "4", "-m", "10", server.url + "/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "2000 succeeded, 0 failed, 0 errored" in out.stdout, out.stdout


# ---- WebSocket over HTTP/2 (RFC 8441) ------------------------------------------------------------


def test_websocket_over_http2(start_server) -> None:
    server = start_server("wsapp:raw_app")
    client = RawClient(server)
    client.pump(lambda: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in client.events))
    settings = client.conn.remote_settings
    assert settings.enable_connect_protocol == 1  # RFC 8441 §3
    sid = client.conn.get_next_available_stream_id()
    client.conn.send_headers(
        sid,
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/echo"),
            (":authority", "t"),
            ("sec-websocket-version", "13"),
        ],
    )
    client.flush()
    client.pump(
        lambda: any(
            isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid for e in client.events
        )
    )
    response = next(e for e in client.events if isinstance(e, h2.events.ResponseReceived))
    assert (b":status", b"200") in response.headers  # RFC 8441 §5: 200, not 101
    peer = ws.ClientConnection()
    peer.send(ws.TextMessage("over h2"))
    client.conn.send_data(sid, b"".join(peer.data_to_send()))
    client.flush()
    received: list[Any] = []

    def got_message() -> bool:
        for event in client.events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id == sid:
                peer.receive_data(event.data)
        client.events = [e for e in client.events if not isinstance(e, h2.events.DataReceived)]
        received.extend(peer.events_received())
        return any(isinstance(e, ws.TextMessage) for e in received)

    client.pump(got_message)
    assert any(isinstance(e, ws.TextMessage) and "over h2" in e.text for e in received)
    client.close()


GET = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "t")]


# ---- abuse ---------------------------------------------------------------------------------------


def test_rapid_reset_does_not_hurt_another_client(server: ServerProcess) -> None:
    # CVE-2023-44487: HEADERS then RST_STREAM, over and over. The attacker's connection ends with a
    # GOAWAY; a well-behaved client keeps getting answers within a second meanwhile.
    stop = threading.Event()
    latencies: list[float] = []

    def good_client() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while not stop.is_set():
                start = time.monotonic()
                assert client.get("/").text == "hello"
                latencies.append(time.monotonic() - start)
                time.sleep(0.05)

    thread = threading.Thread(target=good_client)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(latencies) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        for _ in range(5):  # five attacking connections, one after the other
            attacker = RawClient(server)
            goaway = False
            try:
                for _ in range(200):
                    for _ in range(50):
                        sid = attacker.conn.get_next_available_stream_id()
                        attacker.conn.send_headers(sid, GET)
                        attacker.conn.reset_stream(sid, 0x8)
                    attacker.flush()
            except (OSError, h2.exceptions.ProtocolError):
                pass
            attacker.sock.settimeout(5)
            try:
                while data := attacker.sock.recv(65536):
                    for event in attacker.conn.receive_data(data):
                        goaway |= isinstance(event, h2.events.ConnectionTerminated)
            except (OSError, h2.exceptions.ProtocolError):
                pass
            attacker.close()
            assert goaway
        count = len(latencies)
        deadline = time.monotonic() + 10
        while len(latencies) < count + 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    assert len(latencies) >= 6
    assert latencies and max(latencies) < 1.0


def frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


def goaway_code(data: bytes) -> int | None:
    """The error code of the first GOAWAY frame in a server's bytes (RFC 9113 §6.8)."""
    pos = 0
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        if data[pos + 3] == 0x7:
            return int.from_bytes(data[pos + 13 : pos + 17], "big")
        pos += 9 + length
    return None


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


@pytest.mark.parametrize("attack", ["continuation", "ping", "settings", "empty-data"])
def test_floods_end_the_attacker_and_spare_other_clients(
    server: ServerProcess, attack: str
) -> None:
    # RFC 9113 §10.5: each flood ends its connection with a GOAWAY (ENHANCE_YOUR_CALM or
    # PROTOCOL_ERROR), costs the worker a bounded amount of CPU, and a well-behaved client
    # on another connection keeps getting answers within a second meanwhile.
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
    if attack == "continuation":
        # HEADERS without END_HEADERS (:method GET, :path /, :scheme http), then CONTINUATIONs.
        burst = frame(1, 0, 1, b"\x82\x84\x86") + frame(9, 0, 1, b"\x40\x01a\x01b") * 20000
    elif attack == "ping":
        burst = frame(6, 0, 0, b"12345678") * 20000
    elif attack == "settings":
        burst = frame(4, 0, 0, b"") * 20000
    else:  # empty DATA frames on an open stream (CVE-2019-9518)
        burst = frame(1, 4, 1, b"\x83\x84\x86\x41\x01t") + frame(0, 0, 1, b"") * 20000
    latencies: list[float] = []
    stop = threading.Event()

    def good_client() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while not stop.is_set():
                start = time.monotonic()
                assert client.get("/").text == "hello"
                latencies.append(time.monotonic() - start)
                time.sleep(0.02)

    thread = threading.Thread(target=good_client)
    thread.start()
    cpu_before = process_cpu_seconds(server.pid)
    try:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            with contextlib.suppress(OSError):  # the server may close before reading it all
                sock.sendall(preface + burst)
            received = b""
            with contextlib.suppress(OSError):
                while data := sock.recv(65536):
                    received += data
        assert goaway_code(received) in (0x1, 0xB)  # PROTOCOL_ERROR or ENHANCE_YOUR_CALM
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(10)
    assert latencies and max(latencies) < 1.0
    assert process_cpu_seconds(server.pid) - cpu_before < 5.0


# ---- shutdown ------------------------------------------------------------------------------------


def test_graceful_shutdown_lets_open_streams_finish(start_server) -> None:
    # RFC 9113 §6.8: a GOAWAY, and the stream already open still gets its whole response.
    server = start_server("testapp:app")
    client = subprocess.Popen(
        [require_tool("curl"), "-s", "--http2-prior-knowledge", server.url + "/slow?delay=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.4)
    server.signal(signal.SIGTERM)
    out, _ = client.communicate(timeout=20)
    assert out == "slow done"
    assert server.wait() == 0


def test_h2_options_reach_the_wire(start_server) -> None:
    # What the options set is what the client is told (SETTINGS, RFC 9113 §6.5.2) and what holds.
    server = start_server(
        "testapp:app",
        "--h2-max-concurrent-streams",
        "7",
        "--h2-initial-window-size",
        "70000",
        "--h2-max-continuation-frames",
        "2",
    )
    client = RawClient(server)
    client.pump(lambda: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in client.events))
    assert client.conn.remote_settings.max_concurrent_streams == 7
    assert client.conn.remote_settings.initial_window_size == 70000
    client.close()
    # Three CONTINUATION frames in one block, over the limit of two: the connection ends.
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
    block = frame(1, 0, 1, b"\x82\x84\x86") + frame(9, 0, 1, b"\x40\x01a\x01b") * 2
    block += frame(9, 4, 1, b"\x41\x01t")
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(preface + block)
        received = b""
        with contextlib.suppress(OSError):
            while data := sock.recv(65536):
                received += data
    assert goaway_code(received) in (0x1, 0xB)


def test_client_that_reads_nothing_does_not_make_the_server_hold_the_answers(
    server: ServerProcess,
) -> None:
    """A client that opens every flow-control window, keeps asking for 1 MiB answers and reads
    nothing must not have the server produce and hold them all: once the connection's output is
    backed up, the server stops reading its frames (new streams wait) until it reads. Then every
    stream completes."""
    import h2.settings

    count, size = 60, 2**20
    baseline = server.rss_kib()
    client = RawClient(server)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    client.conn.increment_flow_control_window(2**31 - 1 - 65535)
    client.flush()
    sids = []
    for _ in range(count // 5):
        for _ in range(5):
            sids.append(client.request(f"/blob?size={size}"))
        time.sleep(0.05)
    time.sleep(1.0)
    grown = server.rss_kib() - baseline
    try:
        for sid in sids:
            status, _, body = client.response(sid)
            assert (status, len(body)) == (200, size)
    finally:
        client.close()
    assert grown < 30 * 1024, f"server RSS grew by {grown} KiB while the client read nothing"


def test_streams_whose_window_never_opens_are_reset_after_the_send_timeout(start_server) -> None:
    """A client that asks for answers and never opens a stream window (SETTINGS_INITIAL_WINDOW_SIZE
    0, RFC 9113 §6.9.2) would have the server hold them all for as long as it likes. After
    --timeout-send without progress each such stream is reset with CANCEL and its bytes let go;
    the connection goes on serving."""
    import h2.settings

    server = start_server("testapp:app", "--timeout-send", "1")
    baseline = server.rss_kib()
    client = RawClient(server)
    try:
        client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.flush()
        sids = [client.request(f"/blob?size={2**20}") for _ in range(20)]
        time.sleep(0.5)
        held = server.rss_kib() - baseline
        client.pump(lambda: all(client.reset_code(sid) is not None for sid in sids), timeout=10)
        assert {client.reset_code(sid) for sid in sids} == {0x8}  # CANCEL
        time.sleep(0.3)
        assert server.rss_kib() - baseline < held - 10 * 1024, "the held answers were not freed"
        client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535})
        client.flush()
        status, _, body = client.response(client.request("/"))
        assert (status, body) == (200, b"hello")
    finally:
        client.close()
    assert "took none of its response for 1s: reset" in server.stderr


def test_stalled_request_bodies_time_out_per_stream(start_server) -> None:
    """--timeout-request-body on HTTP/2, as on HTTP/1.1: a stream whose app waits for a body that
    stops coming gets a 408 (or, once its response has started, RST_STREAM CANCEL); a stream whose
    body keeps coming and the connection itself are not touched."""
    server = start_server("testapp:app", "--timeout-request-body", "1")
    client = RawClient(server)
    try:
        body = [("content-length", "10")]
        stalled = client.request("/echo", "POST", body, end=False)
        started = client.request("/echo-stream", "POST", body, end=False)
        steady = client.request("/echo", "POST", [("content-length", "5")], end=False)
        client.conn.send_data(stalled, b"abc")
        client.conn.send_data(started, b"abc")
        client.flush()
        start = time.monotonic()
        for i in range(5):  # one byte every 0.4 s: slow, but never 1 s without one
            time.sleep(0.4)
            client.conn.send_data(steady, b"x", end_stream=i == 4)
            client.flush()
        assert client.response(stalled)[::2] == (408, b"Request Timeout")
        client.pump(lambda: client.ended(started))
        assert client.reset_code(started) == 0x8  # CANCEL: its 200 had gone out
        assert client.response(steady)[::2] == (200, b"xxxxx")
        assert time.monotonic() - start < 5
        assert client.response(client.request("/"))[::2] == (200, b"hello")
    finally:
        client.close()


def test_an_app_that_reads_its_body_slowly_is_not_a_stalled_body(start_server) -> None:
    """--timeout-request-body counts only while the app waits for the body. An app that works for
    2 s between two reads keeps the client waiting on the stream's window (256 KiB): that is no
    stall of the client's, and the request completes."""
    server = start_server("testapp:app", "--timeout-request-body", "1")
    client = RawClient(server)
    try:
        body = b"x" * (600 * 1024)
        sid = client.request(
            "/slow-read?delay=2", "POST", [("content-length", str(len(body)))], end=False
        )
        sent = 0
        while sent < len(body):
            room = min(client.conn.local_flow_control_window(sid), len(body) - sent)
            room = min(room, client.conn.max_outbound_frame_size)
            if room <= 0:
                client.pump(lambda: client.conn.local_flow_control_window(sid) > 0)
                continue
            client.conn.send_data(
                sid, body[sent : sent + room], end_stream=sent + room == len(body)
            )
            client.flush()
            sent += room
        assert client.response(sid)[::2] == (200, b"%d" % len(body))
    finally:
        client.close()
