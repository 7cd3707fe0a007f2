import json
from pathlib import Path

import pytest

from mnistlab.cli import main


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_gradcheck_reports_every_check_below_1e_6(capsys):
    result = run_json(capsys, "scratch", "gradcheck")
    assert result["max_relative_error"] < 1e-6
    assert result["max_relative_error"] == max(c["relative_error"] for c in result["checks"])
    names = {c["name"] for c in result["checks"]}
    assert {"cnn conv_w", "cnn out_b", "max_pool backward", "autograd mlp w1"} <= names
    example = result["autograd_example"]
    assert round(example["f"], 3) == 11.652 and example["df_dx1"] == 5.5 and round(example["df_dx2"], 3) == 1.716


def test_gradcheck_prints_the_trace(capsys):
    assert main(["scratch", "gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "Forward (primal) trace" in out and "v5 = v4 - v3" in out and "dv5/dx1 = 5.5" in out


def test_train_on_the_sample(capsys):
    result = run_json(capsys, "scratch", "train", "--dataset", "mnist-sample", "--epochs", "1")
    assert {"test_accuracy", "train_seconds", "seconds_per_epoch", "time_split", "history", "blas", "plan"} <= set(result)
    assert result["dataset"]["name"] == "mnist-sample" and len(result["history"]) == 1
    assert result["plan"]["spec"] == "crop2 c24k5s2 c32k3 m2 f256" and result["plan"]["label_smoothing"] == 0.1
    assert result["test_accuracy"] > 0.85
    assert result["blas"]["threads"] >= 1 and "kernel" in result["blas"]


def test_train_takes_a_spec_of_the_shared_grammar_and_refuses_what_it_lacks(capsys):
    result = run_json(capsys, "scratch", "train", "--dataset", "mnist-sample", "--epochs", "0.25", "--model",
                      "c8k5s2 a2 f32", "--activation", "tanh", "--threads", "1")
    assert result["plan"]["spec"] == "c8k5s2 a2 f32" and result["plan"]["activation"] == "tanh"
    assert result["blas"]["threads"] == 1
    assert main(["scratch", "train", "--dataset", "mnist-sample", "--model", "c8k3 bn"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'bn' is not implemented in the NumPy engine" in err


def test_compare_prints_the_side_by_side_table(capsys):
    assert main(["scratch", "compare", "--dataset", "mnist-sample", "--epochs", "0.25", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "NumPy (scratch)" in out and "PyTorch eager fp32" in out and "loss difference per step over 4 steps" in out
    assert "NumPy / PyTorch seconds per epoch" in out


@pytest.mark.slow  # every NumPy-engine figure, about 10 s
def test_demo_writes_the_figures(tmp_path, capsys):
    result = run_json(capsys, "scratch", "demo", "--out", str(tmp_path), "--dataset", "mnist-sample")
    assert set(result["files"]) == {"patches_stride7", "patches_stride2", "filter_responses", "feature_maps", "pooling",
                                     "graph"}
    for path in result["files"].values():
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["responses"]["edge"]["diagonal"] == 21


def test_bad_options_exit_2(capsys):
    assert main(["scratch", "train", "--dataset", "mnist-sample", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
