"""What the serve tests share: small trained runs (trained once per session) and a live server."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve tests need the serve extra (pip install 'mnistlab[serve]')")

import mnistlab  # noqa: E402
from conftest import full_mnist_dir  # noqa: E402
from mnistlab.serve.server import listen, make_server, url_of  # noqa: E402

SPECS = {"cnn": "c8k5 m2 c16k3 m2 f64", "ffn": "f64"}


@functools.cache
def trained_run_dir(kind: str) -> Path:
    """A run trained here: on 8,000 full-MNIST images where they are present, else on mnist-sample."""
    full = full_mnist_dir()
    ds = mnistlab.load_dataset("mnist", full) if full else mnistlab.load_dataset("mnist-sample")
    splits = mnistlab.make_splits(ds, "standard", train_size=8_000 if full else None)
    run = mnistlab.fit(SPECS[kind], splits, epochs=2 if full else 4, lr=1e-2, schedule="onecycle", batch_size=128,
                       seed=0, device="cpu")
    out = Path(tempfile.mkdtemp(prefix=f"mnistlab-serve-{kind}-"))
    atexit.register(shutil.rmtree, out, True)
    run.save(out)
    return out


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in a thread; yields the base URL."""
    sock = listen("127.0.0.1", 0)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert server.started, "uvicorn did not start"
        yield url_of(sock).rstrip("/")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
