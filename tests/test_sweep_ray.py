"""The Ray executor on a real two-node Ray cluster on this machine (`ray start --head` + `ray start --address`)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.tune")
pytestmark = [pytest.mark.ray, pytest.mark.slow]  # a real two-node Ray cluster

BIN = Path(sys.executable).parent
# Recent Ray (2.60) turns on token authentication for `ray start`; a throwaway cluster on this machine goes without.
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
FAST = ["--dataset", "mnist-sample", "--train-size", "640", "--device", "cpu", "--batch-size", "64", "--search", "grid"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nodes_alive(address: str) -> int:
    code = f"import ray; ray.init(address={address!r}, logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=ENV)
    return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and a worker node, one CPU each, in their own process groups (so teardown ends exactly them)."""
    ray_bin = shutil.which("ray", path=str(BIN)) or shutil.which("ray")
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp = tmp_path_factory.mktemp("ray")
    common = ["--num-cpus=1", "--block", "--disable-usage-stats"]
    env = ENV
    head = subprocess.Popen([ray_bin, "start", "--head", f"--port={port}", "--include-dashboard=false",
                             f"--temp-dir={temp}", *common], start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [head]
    try:
        deadline = time.time() + 120
        while time.time() < deadline and nodes_alive(address) < 1:
            time.sleep(1)
        procs.append(subprocess.Popen([ray_bin, "start", f"--address={address}", *common], start_new_session=True, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while time.time() < deadline and nodes_alive(address) < 2:
            time.sleep(1)
        if nodes_alive(address) < 2:
            pytest.fail("the two-node Ray cluster did not come up within 120 s")
        yield {"address": address, "groups": [p.pid for p in procs]}
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)  # whatever of that group is still shutting down
            except ProcessLookupError:
                pass


def run_cli(args: list[str], timeout: int = 600) -> dict:
    done = subprocess.run([sys.executable, "-m", "mnistlab.cli", "sweep", *args, "--json"], capture_output=True, text=True,
                          timeout=timeout, env=ENV)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_ray_results_equal_the_local_executor(cluster, tmp_path):
    space = [*FAST, "--model", "f16,c4k3 m2 f16", "--lr", "0.003", "--epochs", "2"]
    local = run_cli([*space, "--jobs", "1", "--threads", "1", "--out", str(tmp_path / "local")])
    remote = run_cli([*space, "--executor", "ray", "--address", cluster["address"], "--cpus-per-trial", "1",
                      "--out", str(tmp_path / "ray")])
    assert remote["executor"] == "ray"
    assert [t["config"] for t in remote["trials"]] == [t["config"] for t in local["trials"]]
    for a, b in zip(local["trials"], remote["trials"]):
        assert b["status"] == "finished"
        assert (b["metrics"]["val_accuracy"], b["metrics"]["val_loss"]) == (a["metrics"]["val_accuracy"], a["metrics"]["val_loss"])
    assert remote["best"]["id"] == local["best"]["id"] and remote["best"]["test_accuracy"] == local["best"]["test_accuracy"]
    record = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert record["executor"]["nodes"] == 2


def trial_processes(groups: list[int]) -> list[int]:
    """Ray worker processes running a trial (titled ray::ImplicitFunc.train) under this cluster's raylets."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if "ImplicitFunc" in title and {os.getpgid(int(entry.name)), os.getpgid(parent)} & set(groups):
                pids.append(int(entry.name))
        except (OSError, ProcessLookupError, ValueError, IndexError):
            continue
    return pids


def test_a_killed_ray_worker_is_retried_or_recorded_and_the_sweep_completes(cluster, tmp_path):
    out = tmp_path / "kill"
    cmd = [sys.executable, "-m", "mnistlab.cli", "sweep", *FAST, "--train-size", "3000", "--model", "f32", "--epochs", "400,1",
           "--batch-size", "32",
           "--executor", "ray", "--address", cluster["address"], "--out", str(out), "--json"]
    driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    killed, deadline = [], time.time() + 180
    while not killed and time.time() < deadline and driver.poll() is None:
        pids = trial_processes(cluster["groups"])
        if pids:
            time.sleep(1)  # inside the 400-epoch trial (tens of seconds)
            for pid in trial_processes(cluster["groups"])[:1]:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.2)
    stdout, stderr = driver.communicate(timeout=600)
    assert killed, "no trial process was seen to kill"
    assert driver.returncode == 0, stderr[-2000:]
    payload = json.loads(stdout)
    record = json.loads((out / "sweep.json").read_text())
    assert sorted(t["id"] for t in record["trials"]) == ["t000", "t001"]
    assert all(t["status"] in ("finished", "failed") for t in record["trials"])
    assert all(t["reason"] for t in record["trials"] if t["status"] == "failed")
    assert payload["best"] is not None


def test_an_experiment_on_the_ray_cluster_gives_the_in_process_results(cluster, tmp_path):
    base = [sys.executable, "-m", "mnistlab.cli", "experiment", "run", "softmax", "--quick", "--dataset", "mnist-sample",
            "--device", "cpu", "--threads", "1", "--json"]
    runs = [subprocess.run([*base, *extra, "--out", str(tmp_path / name)], capture_output=True, text=True, env=ENV, timeout=600)
            for name, extra in (("in", []), ("ray", ["--executor", "ray", "--address", cluster["address"]]))]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    here, remote = (json.loads(r.stdout) for r in runs)
    assert remote["executor"]["executor"] == "ray" and remote["executor"]["trained_on_executor"] == 2
    assert remote["summary"] == here["summary"]
