"""`mnistlab serve` as a user runs it: prints the URL, answers there, stops on Ctrl+C; bad input exits 2."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import assert_user_error
from mnistlab.serve.server import listen
from serve_support import trained_run_dir

SRC = str(Path(__file__).resolve().parents[1] / "src")


def mnistlab(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "mnistlab.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_serve_prints_the_url_answers_there_and_stops_on_ctrl_c():
    proc = mnistlab("serve", str(trained_run_dir("cnn")), "--port", "0")
    try:
        first, serving = proc.stdout.readline(), proc.stdout.readline()  # what it is about to do, then where
        assert first.startswith("loading ") and serving.startswith("serving "), first + serving
        assert " at http://127.0.0.1:" in serving, serving
        url = serving.split(" at ")[1].strip()
        with urllib.request.urlopen(url + "api/run", timeout=30) as r:
            assert json.loads(r.read())["model"]["spec"] == "c8k5 m2 c16k3 m2 f64"
        with urllib.request.urlopen(url, timeout=30) as r:
            assert b"<canvas id=\"pad\"" in r.read()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_bad_run_dir_and_busy_port_are_one_line_errors(cli, tmp_path):
    assert_user_error(cli("serve", tmp_path / "missing"), "does not exist")
    busy = listen("127.0.0.1", 0)
    try:
        assert_user_error(cli("serve", trained_run_dir("cnn"), "--port", busy.getsockname()[1]),
                          "cannot listen on 127.0.0.1", "--port")
    finally:
        busy.close()
