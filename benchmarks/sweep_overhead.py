"""Ray executor overhead per trial against the local executor: the same sweep, the same machine, one run.

Starts a two-node Ray cluster on this machine (a head and a worker, one CPU each, as the tests do), runs one
grid sweep with `--executor local --jobs 2 --threads 1` and the same with `--executor ray --cpus-per-trial 1`,
and reports wall time per trial for both. Usage: python benchmarks/sweep_overhead.py [--trials 8] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
RAY = str(Path(sys.executable).parent / "ray")


def sweep(args: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mnistlab.cli", "sweep", *args, "--json"], capture_output=True, text=True,
                          env=ENV, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--out")
    opts = parser.parse_args()
    lrs = ",".join(f"{0.001 * (i + 1):g}" for i in range(opts.trials))
    space = ["--dataset", "mnist-sample", "--train-size", "1280", "--model", "f32", "--lr", lrs, "--epochs", "2", "--search", "grid"]
    tmp = Path(tempfile.mkdtemp(prefix="sweep-overhead-"))
    port = 6400 + os.getpid() % 1000
    common = ["--num-cpus=1", "--block", "--disable-usage-stats"]
    procs = [subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={tmp / 'ray'}",
                               *common], start_new_session=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(20)
        procs.append(subprocess.Popen([RAY, "start", f"--address=127.0.0.1:{port}", *common], start_new_session=True, env=ENV,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(15)
        local_s, local = sweep([*space, "--jobs", "2", "--threads", "1", "--out", str(tmp / "sweep-local")])
        ray_s, remote = sweep([*space, "--executor", "ray", "--address", f"127.0.0.1:{port}", "--out", str(tmp / "sweep-ray")])
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    n = opts.trials
    in_trial = lambda r: sum(t["metrics"]["seconds"] for t in r["trials"]) / n  # noqa: E731
    result = {"trials": n, "local_wall_s": round(local_s, 2), "ray_wall_s": round(ray_s, 2),
              "local_per_trial_s": round(local_s / n, 3), "ray_per_trial_s": round(ray_s / n, 3),
              "overhead_per_trial_s": round((ray_s - local_s) / n, 3),
              "local_in_trial_s": round(in_trial(local), 3), "ray_in_trial_s": round(in_trial(remote), 3),
              "same_val_accuracy": [t["metrics"]["val_accuracy"] for t in local["trials"]]
              == [t["metrics"]["val_accuracy"] for t in remote["trials"]], "ray_nodes": 2,
              "load_average": os.getloadavg()}
    print(json.dumps(result, indent=2))
    if opts.out:
        Path(opts.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
