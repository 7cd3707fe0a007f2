"""The web app refuses what could stall or fool it: EPS and other formats off the allow-list, foreign Host
headers on every loopback address, impossible ports, slow or half-sent requests."""
from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient  # noqa: E402  (serve_support skips the module without fastapi)

from conftest import assert_user_error
from mnistlab import load_run
from mnistlab.serve.app import create_app
from mnistlab.serve.server import LOOPBACK, listen, make_server
from serve_support import trained_run_dir

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n"


@pytest.fixture(scope="module")
def app():
    return create_app(load_run(trained_run_dir("ffn")), allowed_hosts=list(LOOPBACK))


def test_an_eps_drawing_is_refused_without_running_ghostscript(app):
    url = "data:image/png;base64," + base64.b64encode(EPS).decode()
    response = TestClient(app, base_url="http://127.0.0.1").post("/api/predict", json={"image": url})
    assert response.status_code == 400 and "not an image mnistlab reads" in response.json()["error"]


@pytest.mark.parametrize("host, status", [("127.0.0.1:8000", 200), ("[::1]:8000", 200), ("localhost", 200),
                                          ("evil.example", 400), ("evil.example:8000", 400), ("[::2]:8000", 400)])
def test_the_host_check_covers_ipv6_loopback_and_answers_json(app, host, status):
    response = TestClient(app, base_url="http://127.0.0.1").get("/api/run", headers={"host": host})
    assert response.status_code == status
    if status == 400:
        assert "invalid Host header" in response.json()["error"]


def test_port_out_of_range_is_refused(cli):
    assert_user_error(cli("serve", trained_run_dir("ffn"), "--port", "99999"), "--port", "out of range")


def _server(app, host: str, idle: float):
    sock = listen(host, 0)
    server = make_server(app, idle=idle)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    return server, thread, sock


def _ipv6() -> bool:
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        return False
    return True


def _exchange(address, data: bytes, wait: float) -> bytes:
    with socket.create_connection(address, timeout=30) as client:
        client.sendall(data)
        time.sleep(wait)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize("host", ["127.0.0.1", pytest.param("::1", marks=pytest.mark.skipif(not _ipv6(), reason="no IPv6"))])
def test_half_sent_and_idle_connections_are_closed_and_hosts_checked(app, host):
    server, thread, sock = _server(app, host, idle=1)
    address = sock.getsockname()[:2]
    try:
        assert _exchange(address, b"GET /api/run HTTP/1.1\r\nHost: 127", 2) == b""  # half-sent headers: closed
        foreign = _exchange(address, b"GET /api/run HTTP/1.1\r\nHost: evil.example\r\n\r\n", 0)
        assert foreign.startswith(b"HTTP/1.1 400") and b"invalid Host header" in foreign
        slow_body = b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"
        import mnistlab.serve.app as served

        served.BODY_SECONDS, before = 1, served.BODY_SECONDS
        try:
            assert _exchange(address, slow_body, 0).startswith(b"HTTP/1.1 408")
        finally:
            served.BODY_SECONDS = before
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
