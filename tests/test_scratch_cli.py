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
    assert {"test_accuracy", "train_accuracy", "seconds", "history"} <= set(result)
    assert result["dataset"]["name"] == "mnist-sample" and len(result["history"]) == 1
    assert result["test_accuracy"] > 0.7


@pytest.mark.slow  # every NumPy-engine figure, about 10 s
def test_demo_writes_the_figures(tmp_path, capsys):
    result = run_json(capsys, "scratch", "demo", "--out", str(tmp_path), "--dataset", "mnist-sample")
    assert set(result["files"]) == {"patches_stride7", "patches_stride2", "filter_responses", "feature_maps", "pooling"}
    for path in result["files"].values():
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["responses"]["edge"]["diagonal"] == 21


def test_bad_options_exit_2(capsys):
    assert main(["scratch", "train", "--dataset", "mnist-sample", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
