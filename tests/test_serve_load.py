"""A real uvicorn on loopback: raw-socket abuse, then a few hundred requests from several threads."""
from __future__ import annotations

import http.client
import json
import select
import socket
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mnistlab import load_run
from mnistlab.serve.app import create_app
from serve_support import live_server, trained_run_dir
from test_serve_api import data_url, drawing

pytestmark = pytest.mark.slow  # a load test over real sockets


@pytest.fixture(scope="module")
def url():
    with live_server(create_app(load_run(trained_run_dir("cnn")))) as base:
        yield base


def post(base: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def raw(base: str, head: bytes, pieces: list[bytes] = (), hang_up: bool = False) -> bytes:
    """Send `head`, then `pieces` one by one until the server answers; return what it answered."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head)
        if hang_up:
            return b""
        try:
            for piece in pieces:
                if select.select([s], [], [], 0.01)[0]:
                    break  # answered early (a refusal): stop sending, as a browser would
                s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_abuse_over_a_real_socket_then_a_good_answer(url):
    one = json.dumps({"image": data_url(drawing("1"))}).encode()
    # A chunked body (no Content-Length) that grows past the limit: refused while streaming.
    piece = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    reply = raw(url, b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n", [piece] * 40 + [b"0\r\n\r\n"])
    assert reply.startswith(b"HTTP/1.1 413") and b'"error"' in reply
    # A Content-Length far over the limit: refused before the body is read.
    reply = raw(url, b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 50000000\r\n\r\n{", [b"x" * 65536] * 40)
    assert reply.startswith(b"HTTP/1.1 413")
    # A client that promises a body and hangs up; garbage instead of HTTP.
    raw(url, b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n{\"image\":", hang_up=True)
    assert raw(url, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64).startswith(b"HTTP/1.1 400")
    assert post(url, b"{not json")[0] == 422
    status, body = post(url, one)
    assert status == 200 and body["class"] == 1


def test_a_few_hundred_requests_from_several_threads(url):
    payloads = {d: json.dumps({"image": data_url(drawing(d, size=(280, 280), ink=255, paper=0))}).encode() for d in "10"}
    expected = {d: post(url, p)[1] for d, p in payloads.items()}
    assert [expected[d]["class"] for d in "10"] == [1, 0]

    def one(i: int) -> tuple[float, bool]:
        digit = "10"[i % 2]
        start = time.perf_counter()
        status, body = post(url, payloads[digit])
        seconds = time.perf_counter() - start
        ok = status == 200 and body["class"] == expected[digit]["class"] and body["probabilities"] == expected[digit]["probabilities"] \
            and body["feature_maps"] == expected[digit]["feature_maps"]
        return seconds, ok

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(40)))  # warm up: threads, allocator, caches
        before = rss_mb()
        start = time.perf_counter()
        results = list(pool.map(one, range(400)))
        wall = time.perf_counter() - start
    after = rss_mb()
    assert all(ok for _, ok in results), f"{sum(not ok for _, ok in results)} of {len(results)} responses were wrong"
    latencies = sorted(1000 * s for s, _ in results)
    q = statistics.quantiles(latencies, n=100)
    print(f"\nserve load: {len(results)} requests from 8 threads in {wall:.2f} s = {len(results) / wall:.0f} requests/s; "
          f"latency p50 {q[49]:.1f} ms, p90 {q[89]:.1f} ms, p99 {q[98]:.1f} ms, max {latencies[-1]:.1f} ms; "
          f"RSS {before:.0f} -> {after:.0f} MB")
    assert after - before < 50, f"memory grew by {after - before:.0f} MB over {len(results)} requests"
