"""Reliability, third round (issue 23): each case a user or an attacker can cause ends in one line and exit 2,
a correct result or a documented warning; never a traceback, a hang or a leftover."""
from __future__ import annotations

import builtins
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_user_error
from mnistlab.data.idx import write_idx

QUICK = ("--model", "f8", "--max-steps", "2")


def entries(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def unreadable(monkeypatch, path: Path) -> None:
    """Make `path` unreadable: by its permissions where this user has no DAC override, else by a patched
    open/stat that fails as the kernel would (root reads everything)."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    real_open, real_stat = builtins.open, os.stat
    target, folder = str(path.resolve()), path.is_dir()

    def denied(p) -> bool:
        return isinstance(p, (str, os.PathLike)) and os.path.abspath(os.fspath(p)).startswith(target)

    def fake_open(file, *args, **kwargs):
        if denied(file):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    def fake_stat(p, *args, **kwargs):
        if folder and denied(p) and os.path.abspath(os.fspath(p)) != target:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(p))
        return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "stat", fake_stat)


def test_optimizer_options_may_not_repeat_an_option_of_its_own(cli, tiny_idx_dir, tmp_path):
    result = cli("train", "--data-dir", tiny_idx_dir, *QUICK, "--optimizer-options", '{"lr": 0.1}', "--out", tmp_path / "r")
    assert_user_error(result, "--optimizer-options 'lr'", "--lr")
    result = cli("train", "--data-dir", tiny_idx_dir, *QUICK, "--schedule-options", '{"total_steps": 3}', "--out", tmp_path / "r")
    assert_user_error(result, "--schedule-options 'total_steps'")
    assert entries(tmp_path) == []


def test_tensorboard_naming_a_file_is_refused_before_training(cli, tiny_idx_dir, tmp_path):
    (tmp_path / "log").write_text("mine")
    result = cli("train", "--data-dir", tiny_idx_dir, *QUICK, "--tensorboard", tmp_path / "log", "--out", tmp_path / "r")
    assert_user_error(result, "--tensorboard", "is not a directory")
    assert entries(tmp_path) == ["log"] and (tmp_path / "log").read_text() == "mine"


def test_a_refusal_creates_no_folders_and_no_locks(cli, tmp_path):
    result = cli("train", "--dataset", "foo", "--out", tmp_path / "a" / "b" / "run")
    assert_user_error(result, "unknown dataset 'foo'")
    assert entries(tmp_path) == []


def test_a_successful_train_keeps_the_folders_it_made(cli, tiny_idx_dir, tmp_path):
    result = cli("train", "--data-dir", tiny_idx_dir, *QUICK, "--out", tmp_path / "a" / "b" / "run")
    assert result.code == 0, result.err
    assert entries(tmp_path) == ["a", "a/b", "a/b/run", "a/b/run/model.safetensors", "a/b/run/run.json"]


@pytest.mark.parametrize("option, value", [("--jobs", "-5"), ("--jobs", "0"), ("--trials", "-1"), ("--threads", "0"),
                                           ("--folds", "-1")])
def test_negative_counts_are_refused(cli, tiny_idx_dir, tmp_path, option, value):
    result = cli("sweep", "--data-dir", tiny_idx_dir, "--lr", "0.1,0.2", option, value, "--out", tmp_path / "s")
    assert_user_error(result, f"{option}", value)
    result = cli("experiment", "run", "softmax", "--quick", option, value, "--out", tmp_path / "e") \
        if option in ("--jobs", "--threads") else result
    assert_user_error(result, option)
    assert entries(tmp_path) == []


def test_a_negative_fold_count_is_refused(cli, tiny_idx_dir, tmp_path):
    result = cli("train", "--data-dir", tiny_idx_dir, *QUICK, "--folds", "-3", "--out", tmp_path / "cv")
    assert_user_error(result, "--folds -3", "at least 2 folds")
    assert entries(tmp_path) == []


@pytest.fixture(scope="module")
def one_pixel_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one-pixel")
    rng = np.random.default_rng(0)
    for stem, n in (("train", 120), ("t10k", 40)):
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 1, 1)).astype(np.uint8))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return folder


def test_data_explore_on_one_pixel_images_is_one_line(cli, one_pixel_dir, tmp_path):
    result = cli("data", "explore", "--data-dir", one_pixel_dir, "--out", tmp_path / "x")
    assert_user_error(result, "at least 2 pixels")
    assert entries(tmp_path) == []


def test_predict_and_eval_of_a_run_of_another_image_size(cli, one_pixel_dir, tiny_idx_dir, tmp_path):
    run = tmp_path / "r"
    assert cli("train", "--data-dir", one_pixel_dir, *QUICK, "--out", run).code == 0
    from PIL import Image

    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    Image.fromarray(digit).save(tmp_path / "d.png")
    predicted = cli("predict", run, tmp_path / "d.png", "--json")  # an image is brought to the run's own size
    assert predicted.code == 0 and len(predicted.json()["predictions"]) == 1, predicted.err
    assert_user_error(cli("eval", run, "--data-dir", tiny_idx_dir), "1x1x1", "1x28x28")
    assert_user_error(cli("inspect", run, "--data-dir", tiny_idx_dir, "--what", "probs", "--out", tmp_path / "f", "--json"),
                      "1x1x1")  # --json: no progress lines in the log however long the loading takes
    assert cli("eval", run, "--data-dir", one_pixel_dir).code == 0  # its own data still works


def test_an_unreadable_idx_file_is_one_line(cli, tiny_idx_dir, tmp_path, monkeypatch, sample):
    from conftest import write_tiny_set

    paths = write_tiny_set(tmp_path, sample, 100, 50)
    unreadable(monkeypatch, paths["train-images-idx3-ubyte"])
    try:
        assert_user_error(cli("data", "info", "--data-dir", tmp_path), "train-images", "permission denied")
    finally:
        paths["train-images-idx3-ubyte"].chmod(0o644)


def test_an_unreadable_data_folder_is_one_line(cli, tmp_path, monkeypatch, sample):
    from conftest import write_tiny_set

    folder = tmp_path / "data"
    folder.mkdir()
    write_tiny_set(folder, sample, 100, 50)
    unreadable(monkeypatch, folder)
    try:
        assert_user_error(cli("data", "info", "--data-dir", folder), "permission denied")
    finally:
        folder.chmod(0o755)


def test_an_unreadable_image_is_one_line(cli, tiny_run, tmp_path, monkeypatch):
    from PIL import Image

    image = tmp_path / "d.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    unreadable(monkeypatch, image)
    try:
        assert_user_error(cli("predict", tiny_run.run_dir, image), "d.png", "permission denied")
    finally:
        image.chmod(0o644)


@pytest.fixture(scope="module")
def diverged_run(tmp_path_factory, tiny_idx_dir):
    import contextlib
    import io

    from mnistlab.cli import main

    out = tmp_path_factory.mktemp("diverged") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "--data-dir", str(tiny_idx_dir), "--model", "f32", "--lr", "1e6", "--schedule", "none",
                     "--epochs", "2", "--out", str(out), "--json"])
    assert code == 0, stderr.getvalue()
    return out, json.loads(stdout.getvalue()), stderr.getvalue()


def test_a_run_that_diverges_without_nan_is_saved_and_marked(diverged_run, cli, tiny_idx_dir):
    out, payload, err = diverged_run
    assert payload["diverged"] is True
    assert json.loads((out / "run.json").read_text())["diverged"] is True
    assert "mnistlab: warning:" in err and "training diverged" in err
    ev = cli("eval", out, "--data-dir", tiny_idx_dir, "--json")
    assert ev.code == 0 and ev.json()["diverged"] is True and "training diverged" in ev.err


def test_a_run_that_learns_is_not_marked(tiny_run, cli):
    assert tiny_run.diverged is None
    assert json.loads((tiny_run.run_dir / "run.json").read_text())["diverged"] is False


def test_divergence_rules():
    from mnistlab.train.divergence import chance_loss, divergence

    assert chance_loss("ce", "logits", 10) == pytest.approx(np.log(10), rel=1e-5)
    row = lambda loss, acc: {"train_loss": loss, "train_accuracy": acc}  # noqa: E731
    ce = {"loss": "ce"}
    assert divergence([row(2.3, 0.1)], ce, "logits", 10) is None  # a smoke run near the guessing loss
    rose = divergence([row(0.3, 0.9), row(4.0, 0.5)], ce, "logits", 10)
    assert rose.reason.startswith("its training loss rose") and rose.finite
    assert "near chance" in divergence([row(5e9, 0.09)], ce, "logits", 10).reason
    assert divergence([row(5e9, 0.6)], ce, "logits", 10) is None  # huge but learning: the first rule needs two epochs
    for lost in (None, float("nan"), float("inf")):  # fit_many records a model's lost loss as None
        assert divergence([row(0.3, 0.9), row(lost, 0.1)], ce, "logits", 10).finite is False


def test_changed_weights_are_refused_unless_no_verify(cli, tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, run)
    from safetensors.torch import load_file, save_file

    weights = load_file(run / "model.safetensors")
    save_file({k: v.to(dtype=__import__("torch").int8).float() for k, v in weights.items()}, run / "model.safetensors")
    for command in (("eval", run), ("predict", run, tmp_path / "missing.png"), ("inspect", run, "--what", "curves"),
                    ("export", run, "--format", "torchscript")):
        assert_user_error(cli(*command), "the weights were changed after the run was saved", "--no-verify")
    result = cli("eval", run, "--no-verify", "--json")
    assert result.code == 0, result.err


def test_a_huge_grid_is_refused_by_its_size_before_any_work(cli, tiny_idx_dir, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('lr = "1e-4..1e-1:log:1000"\nweight_decay = "1e-6..1e-2:log:1000"\nlabel_smoothing = "0..0.2:lin:1000"\n')
    result = cli("sweep", "--space", space, "--data-dir", tiny_idx_dir, "--out", tmp_path / "s")
    assert_user_error(result, "1,000,000,000 configurations", "1000 x 1000 x 1000", "100,000")
    assert_user_error(cli("sweep", "--data-dir", tiny_idx_dir, "--lr", "1e-3..1e-1", "--trials", str(10**9),
                          "--out", tmp_path / "s"), "--trials 1,000,000,000")
    assert_user_error(cli("sweep", "--data-dir", tiny_idx_dir, "--lr", "1e-3..1e-1:log:1000000000", "--out", tmp_path / "s"),
                      "grid points")
    assert_user_error(cli("sweep", "--data-dir", tiny_idx_dir, "--model", "f{1,2,3,4,5,6,7,8,9,10} " * 4, "--out", tmp_path / "s"),
                      "10,000 specs")
    assert entries(tmp_path) == ["space.toml"]


def test_the_first_trials_of_a_huge_grid_come_lazily_in_flat_memory():
    import tracemalloc

    from mnistlab.sweep.search import Search
    from mnistlab.sweep.space import make_space

    space = make_space({"lr": "1e-4..1e-1:log:1000", "weight_decay": "1e-6..1e-2:log:1000", "label_smoothing": "0..0.2:lin:1000"})
    tracemalloc.start()
    plan = Search(space, "grid", 5, 0, "val_accuracy")
    batch = plan.next(2, {})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert plan.total == 5 and [i for i, _ in batch] == ["t000", "t001", "t002", "t003", "t004"]
    assert batch[0][1] == {"lr": 1e-4, "weight_decay": 1e-6, "label_smoothing": 0.0}
    assert peak < 5_000_000
    random = Search(space, "random", 3, 7, "val_accuracy")
    assert random.next(3, {}) == random.next(3, {}) and len(random.next(3, {"t001": {}})) == 2  # the same list, resumable


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A folder on a 1 MB file system: a real tmpfs where this machine lets us mount one, else a folder whose
    free space `shutil.disk_usage` reports as 1 MB (the writes themselves then fail by monkeypatch, per test)."""
    import shutil
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True).returncode == 0
    if not mounted:
        real = shutil.disk_usage
        monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1 << 20)
                            if str(os.path.abspath(p)).startswith(str(disk)) else real(p))
    yield disk, mounted
    if mounted:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_train_on_a_full_disk_is_refused_before_training(cli, tiny_idx_dir, small_disk):
    disk, _ = small_disk
    result = cli("train", "--data-dir", tiny_idx_dir, "--model", "f1000", "--max-steps", "2", "--out", disk / "a" / "run")
    assert_user_error(result, "MB free on its device", "MB needed")
    assert "epoch" not in result.out and "flatten" not in result.out and entries(disk) == []


def test_a_disk_that_fills_during_the_save_says_nothing_was_saved(cli, tiny_idx_dir, small_disk, monkeypatch):
    disk, mounted = small_disk
    monkeypatch.setattr("mnistlab.train.job.check_space", lambda *a: None)  # the disk fills while it trains
    monkeypatch.setattr("mnistlab.train.run.check_space", lambda *a: None)
    if not mounted:
        from safetensors import SafetensorError

        def full(*args, **kwargs):
            raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")
        monkeypatch.setattr("mnistlab.train.run.save_file", full)
    result = cli("train", "--data-dir", tiny_idx_dir, "--model", "f1000", "--max-steps", "2", "--out", disk / "run", "--json")
    assert_user_error(result, "nothing was saved", "the trained model is lost", "train again")
    assert entries(disk) == []  # no partial run, no temporary, no lock


def test_figures_on_a_full_disk_are_refused_before_drawing(cli, tiny_run, small_disk):
    disk, _ = small_disk
    assert_user_error(cli("inspect", tiny_run.run_dir, "--out", disk / "figs"), "MB free on its device")
    assert_user_error(cli("report", tiny_run.run_dir, "--out", disk / "r.html"), "MB free on its device")
    assert entries(disk) == []


def test_a_write_that_fails_partway_leaves_no_figures(cli, tiny_run, tmp_path, monkeypatch):
    import mnistlab.cli.inspect as commands

    def fill_up(path, obj):  # the figure is written, then its numbers find the disk full
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(commands, "write_json", fill_up)
    result = cli("inspect", tiny_run.run_dir, "--what", "curves", "--out", tmp_path / "figs", "--json")  # no progress lines
    assert_user_error(result, "no space left on the device", "nothing half-written was kept")
    assert entries(tmp_path) == []


def test_bench_out_is_checked_before_the_work(cli, tmp_path):
    (tmp_path / "results").mkdir()
    assert_user_error(cli("bench", "--out", tmp_path / "results", "--recipes", "mnistlab-fast"), "is a folder")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


def test_a_ray_address_nothing_answers_on_is_one_line_at_once(cli, tiny_idx_dir, tmp_path):
    import time

    address = f"127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    result = cli("sweep", "--data-dir", tiny_idx_dir, "--lr", "0.1,0.2", "--executor", "ray", "--address", address,
                 "--connect-timeout", "5", "--out", tmp_path / "s")
    assert_user_error(result, f"--address {address}", "no Ray cluster answered", "ray start --head")
    result = cli("experiment", "run", "softmax", "--quick", "--executor", "ray", "--address", address, "--out", tmp_path / "e")
    assert_user_error(result, f"--address {address}")
    assert time.monotonic() - start < 10 and entries(tmp_path) == []


def test_the_connect_timeout_bounds_an_address_that_never_answers(monkeypatch):
    import socket
    import time

    from mnistlab.errors import UserError
    from mnistlab.sweep.ray_tune import check_reachable

    def silent(address, timeout):  # a host that drops packets: the connect waits out its timeout
        time.sleep(min(timeout, 0.2))
        raise TimeoutError("timed out")
    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(UserError, match=r"within 0.2 s \(timed out\)"):
        check_reachable("10.255.255.1:6379", 0.2)


@pytest.mark.parametrize("ctrl_c", ["handled", "ignored"])  # ignored: started as `cmd &` in a script, or nohup
def test_an_address_that_answers_but_is_no_cluster_gives_up_after_the_timeout(monkeypatch, ctrl_c):
    import signal
    import socket
    import time
    from types import SimpleNamespace

    from mnistlab.errors import UserError
    from mnistlab.sweep import ray_tune

    calls = []

    def init(**kwargs):  # Ray retrying a port that is no GCS, returning to Python between tries (for 10 s here)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.02)
    fake = SimpleNamespace(init=init, shutdown=lambda: calls.append("shutdown"))
    monkeypatch.setattr(ray_tune, "_ray", lambda: (fake, None))
    with socket.socket() as listener:  # something answers: the TCP check passes
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        before = signal.signal(signal.SIGINT, signal.SIG_IGN if ctrl_c == "ignored" else signal.default_int_handler)
        try:
            with pytest.raises(UserError, match=f"--address {address}: something answers there, but no Ray cluster "
                                                r"connected within 0.5 s"):
                ray_tune.RayExecutor({}, None, "cpu", ray_tune.RayOptions(address=address, connect_timeout=0.5))
            after = signal.getsignal(signal.SIGINT)
        finally:
            signal.signal(signal.SIGINT, before)
    assert time.monotonic() - start < 5 and calls == ["shutdown"]
    assert after == (signal.SIG_IGN if ctrl_c == "ignored" else signal.default_int_handler)  # as the user had it
