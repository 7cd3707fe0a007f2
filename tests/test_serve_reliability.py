"""The web server answers every bad request with a JSON status, never a reset: a body sent a byte at a time
(408), a malformed Content-Length (400), headers over the limit (431), a body over the limit (413)."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the serve tests need the serve extra (pip install 'mnistlab[serve]')")

from mnistlab import load_run  # noqa: E402
from mnistlab.serve.app import MAX_BODY, create_app  # noqa: E402
from mnistlab.serve.server import listen, make_server  # noqa: E402
from serve_support import trained_run_dir  # noqa: E402


@pytest.fixture(scope="module")
def address():
    app = create_app(load_run(trained_run_dir("ffn")), allowed_hosts=["localhost"])
    sock = listen("127.0.0.1", 0)
    server = make_server(app, idle=3)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    yield sock.getsockname()[:2]
    server.should_exit = True
    thread.join(10)
    sock.close()


def answer(address, head: bytes, body: bytes = b"", pace: float = 0.0) -> tuple[int, dict, float]:
    """Send `head` then `body` (a byte every `pace` seconds if given); the status and JSON of the answer, and when
    it came. A reset or a non-JSON answer fails the test."""
    start = time.monotonic()
    with socket.create_connection(address, timeout=30) as client:
        client.sendall(head)
        try:
            if pace:
                for i in range(len(body)):
                    client.sendall(body[i:i + 1])
                    client.settimeout(pace)
                    try:
                        if client.recv(65536, socket.MSG_PEEK):  # answered: stop sending
                            break
                    except TimeoutError:
                        pass
                client.settimeout(30)
            else:
                client.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading after it answered: the answer must still be there to read
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head_out, _, payload = raw.partition(b"\r\n\r\n")
    assert head_out.startswith(b"HTTP/1.1 "), raw[:200]
    headers = dict(line.split(b": ", 1) for line in head_out.split(b"\r\n")[1:])
    assert headers[b"content-type"].startswith(b"application/json"), head_out
    return int(head_out.split()[1]), json.loads(payload), time.monotonic() - start


def post(length: str | int, extra: bytes = b"") -> bytes:
    return (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n%s"
            b"Content-Length: %s\r\n\r\n" % (extra, str(length).encode()))


def test_a_body_sent_a_byte_at_a_time_gets_a_408_on_time(address, monkeypatch):
    import mnistlab.serve.app as served

    monkeypatch.setattr(served, "BODY_SECONDS", 1)
    status, payload, seconds = answer(address, post(32), b'{"image": "data:image/png;base6"}', pace=0.2)
    assert status == 408 and "not received within 1 s" in payload["error"]
    assert seconds < 4


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_malformed_content_length_gets_json(address, length):
    status, payload, _ = answer(address, post(length), b"{}")
    assert status == 400 and "Content-Length" in payload["error"]


def test_oversized_headers_get_a_431(address):
    status, payload, _ = answer(address, post(2, b"X-Pad: " + b"a" * 200_000 + b"\r\n"), b"{}")
    assert status == 431 and "headers" in payload["error"]


def test_an_oversized_body_gets_a_413_not_a_reset(address):
    body = b"x" * (2 * MAX_BODY)
    status, payload, _ = answer(address, post(len(body)), body)
    assert status == 413 and "send a smaller image" in payload["error"]
