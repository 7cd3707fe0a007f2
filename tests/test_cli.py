import json
import subprocess
import sys

import pytest

from conftest import assert_user_error

TRAIN_KEYS = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "seconds"}


def test_train_json_eval_json(cli, tiny_idx_dir, tmp_path):
    out = tmp_path / "run"
    result = cli("train", "--data-dir", tiny_idx_dir, "--model", "c8k5s2 f16", "--epochs", "2", "--batch-size", "32",
                 "--lr", "3e-3", "--val", "100", "--out", out, "--json")
    assert result.code == 0, result.err
    payload = result.json()  # stdout is exactly one JSON object
    assert payload["run_dir"] == str(out)
    assert payload["data"] == {"name": "mnist", "source": "data-dir", "n_train": 500, "n_val": 100, "n_test": 200}
    assert len(payload["history"]) == 2 and set(payload["history"][0]) >= TRAIN_KEYS
    assert set(payload["final"]) == TRAIN_KEYS - {"epoch", "seconds"}
    assert all(0 <= payload["final"][k] <= 1 for k in ("train_accuracy", "val_accuracy", "test_accuracy"))
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors", "run.json"]

    ev = cli("eval", out, "--data-dir", tiny_idx_dir, "--json")
    assert ev.code == 0, ev.err
    report = ev.json()
    assert {"test_loss", "test_accuracy", "per_class_accuracy", "confusion"} <= set(report)
    confusion = report["confusion"]
    assert sum(map(sum, confusion)) == 200
    assert sum(confusion[i][i] for i in range(10)) / 200 == pytest.approx(report["test_accuracy"])
    assert report["test_accuracy"] == pytest.approx(payload["final"]["test_accuracy"], abs=0.011)


def test_train_human_output(cli, tiny_idx_dir, tmp_path):
    result = cli("train", "--data-dir", tiny_idx_dir, "--model", "f16", "--epochs", "1", "--out", tmp_path / "r")
    assert result.code == 0, result.err
    assert "flatten" in result.out and "epoch 1/1" in result.out and "test accuracy" in result.out
    assert f"mnistlab eval {tmp_path / 'r'}" in result.out


def test_data_info_json(cli, tiny_idx_dir):
    info = cli("data", "info", "--data-dir", tiny_idx_dir, "--json").json()
    assert {k: info[k] for k in ("name", "source", "path", "n_train", "n_test", "pixel_min", "pixel_max")} == {
        "name": "mnist", "source": "data-dir", "path": str(tiny_idx_dir), "n_train": 600, "n_test": 200,
        "pixel_min": 0, "pixel_max": 255}
    assert sum(info["class_counts"].values()) == 600 and len(info["class_counts"]) == 10


@pytest.mark.parametrize("args, fragments", [
    (["data", "info", "--dataset", "nope"], ["unknown dataset 'nope'"]),
    (["data", "info", "--data-dir", "/no/dir"], ["/no/dir does not exist"]),
    (["train", "--model", "c10k5s2 c20k7s2 c40k5s2"], ["layer 3 'c40k5s2'", "3x3"]),
    (["train", "--model", "f64 o784"], ["784 units", "10 classes"]),
    (["train", "--model", "f64 zz"], ["unknown layer token"]),
    (["train", "--optimizer", "adamx"], ["unknown optimizer 'adamx'"]),
    (["train", "--lr", "0"], ["learning rate must be greater than 0"]),
    (["train", "--epochs", "0"], ["--epochs 0"]),
    (["train", "--batch-size", "0"], ["--batch-size 0"]),
    (["train", "--loss", "hinge"], ["invalid choice: 'hinge'"]),
    (["train", "--activation", "swish"], ["invalid choice: 'swish'"]),
    (["train", "--head", "probit"], ["invalid choice: 'probit'"]),
    (["train", "--epochs", "two"], ["invalid float value: 'two'"]),
    (["eval", "/no/run"], ["run directory /no/run does not exist"]),
])
def test_bad_input_is_one_line_exit_2(cli, tiny_idx_dir, tmp_path, args, fragments):
    if args[0] == "train":
        args = [*args, "--data-dir", str(tiny_idx_dir), "--out", str(tmp_path / "run")]
    result = cli(*args)
    assert_user_error(result, *fragments)
    assert result.out.count("\n") <= 1  # at most the first line, what it was about to do: no result
    assert not (tmp_path / "run").exists()


def test_corrupt_idx_is_named(cli, tiny_idx_dir, tmp_path):
    for f in tiny_idx_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    damaged = tmp_path / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:30])
    assert_user_error(cli("data", "info", "--data-dir", tmp_path), str(damaged), "truncated")


def test_diverging_run_writes_nothing(cli, tiny_idx_dir, tmp_path):
    result = cli("train", "--data-dir", tiny_idx_dir, "--model", "f64 f64", "--normalize", "raw", "--optimizer", "sgd",
                 "--lr", "1e10", "--schedule", "none", "--epochs", "2", "--out", tmp_path / "run")
    assert_user_error(result, "diverged", "epoch 1", "smaller learning rate")
    assert not (tmp_path / "run").exists()


def test_eval_on_a_folder_that_is_not_a_run(cli, tmp_path):
    assert_user_error(cli("eval", tmp_path), "is not an mnistlab run")


@pytest.mark.slow  # two fresh interpreters that load torch
def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "mnistlab.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("data", "train", "eval", "predict"):
        assert command in result.stdout
    bad = subprocess.run([sys.executable, "-m", "mnistlab.cli", "train", "--model", "q"], capture_output=True, text=True,
                         env={"MNISTLAB_MIRROR": "http://127.0.0.1:9/", "PATH": ""})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_eval_uses_the_folder_the_run_was_trained_from(cli, tiny_idx_dir, tmp_path):
    out = tmp_path / "run"
    assert cli("train", "--data-dir", tiny_idx_dir, "--model", "f8", "--epochs", "1", "--out", out).code == 0
    result = cli("eval", out, "--json")
    assert result.code == 0 and result.json()["n_test"] == 200 and result.json()["source"] == "data-dir"


def test_train_refuses_a_foreign_out_folder_before_training(cli, tiny_idx_dir, tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    assert_user_error(cli("train", "--data-dir", tiny_idx_dir, "--out", tmp_path), "is not an mnistlab run")
    assert_user_error(cli("train", "--data-dir", tiny_idx_dir, "--val", "-1", "--out", tmp_path / "r"), "--val -1")


def test_main_job_falls_back_to_the_sample_offline(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    result = cli("train", "--model", "f16", "--epochs", "1", "--out", tmp_path / "run", "--json")
    assert result.code == 0, result.err
    assert result.json()["data"]["name"] == "mnist-sample" and "using mnist-sample" in result.err


def test_inspect_reads_the_folder_the_run_was_trained_from(cli, tiny_idx_dir, tmp_path):
    from mnistlab import load_run
    from mnistlab.inspect import predict_test_set

    out = tmp_path / "run"
    assert cli("train", "--data-dir", tiny_idx_dir, "--model", "f8", "--epochs", "1", "--out", out).code == 0
    predictions = predict_test_set(load_run(out))
    assert (predictions.source, len(predictions.labels)) == ("data-dir", 200)


@pytest.mark.parametrize("command", [["data", "info"], ["eval", "RUN", "--dataset", "mnist"]])
def test_commands_print_the_fallback_notice_the_library_returns(cli, command, tiny_run, tmp_path, monkeypatch):
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    monkeypatch.setenv("MNISTLAB_CACHE", str(tmp_path))  # no cached MNIST, and the test mirror refuses connections
    result = cli(*[str(tiny_run.run_dir) if c == "RUN" else c for c in command], "--json")
    assert result.code == 0 and json.loads(result.out)  # stdout stays one JSON object
    assert result.err.startswith("notice: full MNIST is not reachable") and "using mnist-sample" in result.err
    assert result.err.count("\n") == 1


def test_an_unclosed_resource_collected_during_a_command_is_no_warning_line(capsys):
    """Objects left unclosed elsewhere (an event loop of an earlier test, a notebook's file) may be collected while a
    command runs: their ResourceWarning is not the command's to print."""
    import warnings

    from mnistlab.cli import data as data_cli
    from mnistlab.cli import main

    real = data_cli.data_info

    def leaky(ds):
        warnings.warn("unclosed event loop", ResourceWarning, stacklevel=2)
        return real(ds)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data_cli, "data_info", leaky)
        assert main(["data", "info", "--dataset", "mnist-sample", "--json"]) == 0
    assert "warning" not in capsys.readouterr().err
