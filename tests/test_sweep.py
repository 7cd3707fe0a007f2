"""`mnistlab sweep`: spaces, searches, the local executor, resume and failures (on mnist-sample, tiny models)."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli import main
from mnistlab.errors import UserError
from mnistlab.sweep.search import ASHA
from mnistlab.sweep.space import make_space, parse_value
from mnistlab.train import load_run

# Small and fast: 640 training images of mnist-sample (10 steps an epoch), one thread per trial.
FAST = ["--dataset", "mnist-sample", "--train-size", "640", "--device", "cpu", "--threads", "1", "--batch-size", "64"]


def sweep(args: list[str], capsys) -> dict:
    assert main(["sweep", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_choices_ranges_and_templates_parse():
    assert parse_value("optimizer", "sgd,adam, rmsprop").values == ("sgd", "adam", "rmsprop")
    assert parse_value("batch_size", "32,128").values == (32, 128)
    lr = parse_value("lr", "1e-4..1e-1:log:4")
    assert lr.log and lr.grid() == pytest.approx((1e-4, 1e-3, 1e-2, 1e-1))
    width = parse_value("batch_size", "16..64")
    assert width.integer and not width.log
    rng = np.random.default_rng(0)
    draws = [width.sample(rng) for _ in range(200)]
    assert all(isinstance(d, int) and 16 <= d <= 64 for d in draws) and {16, 64} <= set(draws) | {16, 64}
    assert parse_value("model", "c{8,16}k{3,5} m2 f64").values == ("c8k3 m2 f64", "c8k5 m2 f64", "c16k3 m2 f64",
                                                                    "c16k5 m2 f64")
    assert parse_value("model", "f{16,32}, c4k3 f16").values == ("f16", "f32", "c4k3 f16")


def test_impossible_specs_are_left_out_with_the_reason():
    space = make_space({"model": "c8k{3,30} f16", "lr": "0.01"})
    assert "model" not in space.params and space.fixed["model"] == "c8k3 f16"
    assert list(space.rejected) == ["c8k30 f16"] and "30x30" in space.rejected["c8k30 f16"]
    assert space.fixed["lr"] == 0.01


@pytest.mark.parametrize("name, value, words", [
    ("lr", "", "empty choice"),
    ("optimizer", "sgd,,adam", "empty choice"),
    ("lr", "1e-1..1e-4:log", "reversed"),
    ("lr", "0..1e-1:log", "LOW > 0"),
    ("lr", "-1..1e-1", "LOW > 0"),
    ("model", "c{}k3", "empty choice"),
    ("batch_size", "32,abc", "not an integer"),
    ("colour", "red", "unknown sweep option"),
])
def test_bad_values_name_the_option(name, value, words):
    with pytest.raises(UserError, match=words) as err:
        parse_value(name, value)
    assert "\n" not in str(err.value)
    if name != "colour":
        assert str(err.value).startswith("--" + name.replace("_", "-"))


@pytest.mark.parametrize("toml, words", [
    ("lr = [\n", "not valid TOML"),
    ("colour = 'red'\n", "unknown sweep option 'colour'"),
    ("lr = []\n", "--lr: an empty choice list"),
    ("lr = '1e-1..1e-3:log'\n", "--lr"),
    ("optimizer = 'sgd,nosuch'\n", "--optimizer 'nosuch'"),
])
def test_bad_space_file_exits_2_with_one_line(tmp_path, capsys, toml, words):
    space = tmp_path / "space.toml"
    space.write_text(toml)
    assert main(["sweep", "--space", str(space), "--dataset", "mnist-sample", "--out", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert not (tmp_path / "sw").exists()


def test_unknown_command_line_option_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--colour", "red"])
    assert exit_.value.code == 2 and "--colour" in capsys.readouterr().err


@pytest.mark.slow  # worker processes: 10-30 s each
def test_grid_sweep_writes_record_figures_and_a_usable_best_run(tmp_path, capsys):
    from mnistlab import load_run

    out = tmp_path / "sw"
    payload = sweep([*FAST, "--model", "f16,c4k3 m2 f16", "--lr", "1e-3..1e-2:log:2", "--epochs", "2", "--search", "grid",
                     "--jobs", "2", "--out", str(out)], capsys)
    assert payload["sweep_dir"] == str(out) and payload["executor"] == "local"
    trials = payload["trials"]
    assert [t["config"] for t in trials] == [{"model": m, "lr": lr} for m in ("f16", "c4k3 m2 f16") for lr in (0.001, 0.01)]
    assert all(t["status"] == "finished" and set(t["metrics"]) == {"val_accuracy", "val_loss", "train_accuracy", "seconds"}
               for t in trials)
    best = payload["best"]
    assert best["val_accuracy"] == max(t["metrics"]["val_accuracy"] for t in trials)
    run = load_run(best["run_dir"])
    assert run.final["test_accuracy"] == best["test_accuracy"] and run.model.config.spec == best["config"]["model"]
    record = json.loads((out / "sweep.json").read_text())
    assert len(record["trials"]) == 4 and all(len(t["history"]) == 2 for t in record["trials"])
    assert all("test_accuracy" not in row for t in record["trials"] for row in t["history"])  # the test set never chooses
    assert all((out / "figures" / f).stat().st_size > 0 for f in ("params.png", "curves.png"))
    assert main(["eval", best["run_dir"], "--json"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--json"]) == 0
    page = json.loads(capsys.readouterr().out)["report"]
    html = Path(page).read_text()
    assert "data:image/png;base64," in html and "t003" in html and 'src="http' not in html


@pytest.mark.slow  # worker processes: 10-30 s each
def test_random_search_is_seeded_and_ffn_trials_share_one_program(tmp_path, capsys):
    args = [*FAST, "--model", "f{8,16,24}", "--lr", "1e-3..1e-1:log", "--optimizer", "sgd", "--schedule", "none",
            "--epochs", "1", "--search", "random", "--trials", "3", "--jobs", "1"]
    a = sweep([*args, "--out", str(tmp_path / "a")], capsys)
    b = sweep([*args, "--out", str(tmp_path / "b")], capsys)
    assert [t["config"] for t in a["trials"]] == [t["config"] for t in b["trials"]]
    assert [t["metrics"]["val_accuracy"] for t in a["trials"]] == [t["metrics"]["val_accuracy"] for t in b["trials"]]
    record = json.loads((tmp_path / "a" / "sweep.json").read_text())
    assert all(t["batched"] == 3 for t in record["trials"])  # one fit_many program for the three FFNs


@pytest.mark.slow  # worker processes: 10-30 s each
def test_tpe_runs_through_optuna(tmp_path, capsys):
    pytest.importorskip("optuna")
    payload = sweep([*FAST, "--model", "f16", "--lr", "1e-3..1e-1:log", "--epochs", "1", "--search", "tpe", "--trials", "3",
                     "--jobs", "1", "--out", str(tmp_path / "t")], capsys)
    assert [t["id"] for t in payload["trials"]] == ["t000", "t001", "t002"]
    assert len({t["config"]["lr"] for t in payload["trials"]}) == 3


@pytest.mark.slow  # worker processes: 10-30 s each
def test_a_diverging_trial_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path, capsys):
    payload = sweep([*FAST, "--model", "f16", "--optimizer", "sgd", "--schedule", "none", "--loss", "mse", "--lr", "0.01,1e10",
                     "--epochs", "1", "--search", "grid", "--jobs", "1", "--out", str(tmp_path / "d")], capsys)
    by_lr = {t["config"]["lr"]: t for t in payload["trials"]}
    assert by_lr[0.01]["status"] == "finished"
    assert by_lr[1e10]["status"] == "failed" and "smaller learning rate" in by_lr[1e10]["reason"]
    assert payload["best"]["config"]["lr"] == 0.01


def test_asha_stops_the_worse_trials_at_a_rung():
    asha = ASHA("val_accuracy", eta=2, grace=1)
    assert asha.is_rung(1) and asha.is_rung(2) and asha.is_rung(4) and not asha.is_rung(3)
    assert asha.keep(1, 0.5) and asha.keep(1, 0.9) and not asha.keep(1, 0.1)
    assert asha.keep(3, 0.0)  # not a rung: always goes on
    loss = ASHA("val_loss", eta=2)
    assert loss.keep(1, 1.0) and loss.keep(1, 0.5) and not loss.keep(1, 2.0)


@pytest.mark.slow  # worker processes: 10-30 s each
def test_stop_early_marks_stopped_trials(tmp_path, capsys):
    payload = sweep([*FAST, "--model", "f16", "--lr", "3e-2,1e-2,1e-4,1e-5", "--epochs", "3", "--stop-early",
                     "--reduction-factor", "2", "--search", "grid", "--jobs", "1", "--out", str(tmp_path / "e")], capsys)
    statuses = [t["status"] for t in payload["trials"]]
    assert "stopped_early" in statuses and "finished" in statuses
    record = json.loads((tmp_path / "e" / "sweep.json").read_text())
    assert all(len(t["history"]) < 3 for t in record["trials"] if t["status"] == "stopped_early")


def test_grid_of_a_range_needs_points(tmp_path, capsys):
    assert main(["sweep", *FAST, "--lr", "1e-3..1e-1", "--search", "grid", "--out", str(tmp_path / "g")]) == 2
    assert "--lr" in capsys.readouterr().err


@pytest.mark.slow  # a worker process and four trials of about two seconds
def test_resume_after_the_driver_is_killed_skips_finished_trials(tmp_path):
    out = tmp_path / "r"
    # 100 epochs: long enough that the driver is killed between the first record and the last (at 3 epochs a
    # trial took 0.07 s, and a loaded CI machine once polled only after all four had finished)
    cmd = [sys.executable, "-m", "mnistlab.cli", "sweep", "--dataset", "mnist-sample", "--device", "cpu", "--model", "f16",
           "--lr", "1e-4,1e-3,1e-2,1e-1", "--epochs", "100", "--search", "grid", "--jobs", "1", "--threads", "1",
           "--out", str(out)]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    record = out / "sweep.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (record.exists() and json.loads(record.read_text())["trials"]):
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = {t["id"]: t for t in json.loads(record.read_text())["trials"]}
    assert before and len(before) < 4
    done = subprocess.run([*cmd, "--resume", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = {t["id"]: t for t in json.loads(record.read_text())["trials"]}
    assert sorted(after) == ["t000", "t001", "t002", "t003"]
    for tid, trial in before.items():  # the same record: neither rerun nor lost
        assert after[tid]["where"] == trial["where"] and after[tid]["metrics"] == trial["metrics"]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 2  # without --resume: refused


@pytest.mark.slow  # worker processes: 10-30 s each
def test_a_worker_that_dies_fails_only_its_own_trial(tmp_path, capsys):
    from mnistlab.sweep.runner import run_sweep

    result: dict = {}

    def go():
        result.update(run_sweep({"model": "f16", "epochs": "400,1", "batch_size": "64"}, out=tmp_path / "k",
                                search="grid", dataset="mnist-sample", jobs=1, threads=1, say=lambda line: None))

    thread = threading.Thread(target=go)
    thread.start()
    deadline = time.time() + 60
    while time.time() < deadline and not mp.active_children():
        time.sleep(0.1)
    time.sleep(3)  # inside the first trial: 400 epochs take far longer
    victim = mp.active_children()[0]
    os.kill(victim.pid, signal.SIGKILL)
    thread.join(timeout=600)
    trials = {t["config"]["epochs"]: t for t in result["trials"]}
    assert trials[400]["status"] == "failed" and "died" in trials[400]["reason"]
    assert trials[1]["status"] == "finished" and result["best"]["config"] == {"epochs": 1}
    assert [t["status"] for t in json.loads((tmp_path / "k" / "sweep.json").read_text())["trials"]] == ["failed", "finished"]


@pytest.mark.slow  # worker processes: 10-30 s each
def test_an_experiment_on_the_local_executor_gives_the_in_process_results(tmp_path, capsys):
    base = ["experiment", "run", "softmax", "--quick", "--dataset", "mnist-sample", "--device", "cpu", "--threads", "1", "--json"]
    assert main([*base, "--out", str(tmp_path / "in")]) == 0
    here = json.loads(capsys.readouterr().out)
    assert main([*base, "--executor", "local", "--jobs", "2", "--out", str(tmp_path / "pool")]) == 0
    pool = json.loads(capsys.readouterr().out)
    assert pool["executor"]["trained_on_executor"] == pool["executor"]["configurations"] == 2
    assert pool["summary"] == here["summary"] and pool["table"] == here["table"]


@pytest.mark.slow  # worker processes
def test_sweep_folds_scores_each_trial_by_its_cross_validation_mean(tmp_path, capsys):
    args = [*FAST, "--model", "f8", "--lr", "0.01,0.1", "--optimizer", "sgd", "--schedule", "none", "--epochs", "1",
            "--folds", "2", "--jobs", "1", "--out", str(tmp_path / "s")]
    result = sweep(args, capsys)
    for trial in result["trials"]:
        cv = load_run(tmp_path / "s" / "trials" / trial["id"]).extras["cv"]
        assert [f["fold"] for f in cv["folds"]] == [1, 2]
        assert trial["metrics"]["val_accuracy"] == pytest.approx(cv["mean_val_accuracy"])
    assert main(["sweep", *args[:-2], "--folds", "1", "--out", str(tmp_path / "t")]) == 2
    assert "--folds 1" in capsys.readouterr().err
