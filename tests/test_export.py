"""Export: every layer of the grammar agrees with PyTorch in its own runtime; predict --onnx needs no torch."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_user_error
from mnistlab.data.transforms import Normalizer
from mnistlab.export import graph
from mnistlab.export.graph import MAX_DIFF, export_run
from mnistlab.models import build_model
from mnistlab.train.device import fast_bf16
from mnistlab.train.run import Run

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

# Every layer token, activation, head and normalization appears at least once.
CASES = [("crop2 c8k3 bn m2 d0.25 f16 bn", "relu", "logits", "standard"),
         ("c6k5s2p1 a2 f12 d0.5", "tanh", "log_softmax", "unit"),
         ("f16", "sigmoid", "softmax", "binary"),
         ("f10 f10", "gelu", "logits", "raw"),
         ("c4k3s2 m2", "elu", "softmax", "unit"),
         ("crop4 f20 bn", "leaky_relu", "log_softmax", "standard"),
         ("c5k3 a2 f8", "silu", "logits", "unit"),
         ("", "linear", "softmax", "unit")]


def run_for(spec: str, activation: str, head: str, normalize: str, sample) -> Run:
    """An untrained model with batch-norm statistics of real images (not the identity they start as)."""
    model = build_model(spec, activation, head, seed=0)
    normalizer = Normalizer.fit(normalize, sample.train_images)
    with torch.no_grad():
        model.train()
        for i in range(0, 512, 128):
            model(normalizer(sample.train_images[i:i + 128]))
    model.eval()
    return Run(model, normalizer, {}, {"name": "mnist-sample"}, [])


@pytest.mark.numeric
@pytest.mark.parametrize("fmt", graph.FORMATS)
@pytest.mark.parametrize("spec,activation,head,normalize", CASES)
def test_every_layer_type_exports_and_matches_pytorch(tmp_path, sample, fmt, spec, activation, head, normalize):
    run = run_for(spec, activation, head, normalize, sample)
    images = sample.test_images[:200]
    result = export_run(run, fmt, tmp_path / "m", images=images)
    assert result["max_abs_diff"] <= MAX_DIFF and result["argmax_agreement"] == 1.0
    predict = graph.runtime(fmt, tmp_path / "m")
    expected = run.predict(images[:7])[1]
    for batch in (1, 7):  # any batch size, raw uint8 pixels in, probabilities out
        probs = predict(images[:batch])
        assert probs.shape == (batch, 10)
        np.testing.assert_allclose(probs, expected[:batch], atol=1e-5)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_a_file_that_fails_the_parity_check_is_not_left_behind(tmp_path, sample, monkeypatch):
    run = run_for("f16", "relu", "logits", "unit", sample)
    (tmp_path / "model.onnx").write_text("earlier file")
    monkeypatch.setattr(graph, "parity", lambda *a: {"n_images": 10, "max_abs_diff": 0.3, "argmax_agreement": 0.8,
                                                     "images_per_s": 1.0})
    with pytest.raises(graph.UserError, match="disagrees with PyTorch"):
        export_run(run, "onnx", tmp_path / "model.onnx", images=sample.test_images[:10])
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
    assert (tmp_path / "model.onnx").read_text() == "earlier file"


def _digit_files(folder, sample, n=3) -> list[str]:
    paths = []
    for i in range(n):
        path = folder / f"digit{i}.png"
        Image.fromarray(255 - sample.test_images[i]).resize((90, 90)).save(path)  # dark on light, larger
        paths.append(str(path))
    return paths


@pytest.mark.numeric
def test_export_cli_and_predict_onnx_in_a_process_without_torch(cli, tiny_run, tmp_path, sample):
    result = cli("export", tiny_run.run_dir, "--format", "onnx", "--out", tmp_path / "tiny.onnx", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert set(report) >= {"path", "format", "max_abs_diff", "argmax_agreement", "images_per_s"}
    assert report["format"] == "onnx" and report["n_images"] == min(1000, len(sample.test_labels))
    assert report["max_abs_diff"] <= MAX_DIFF and report["argmax_agreement"] >= 0.999 and report["images_per_s"] > 0
    images = _digit_files(tmp_path, sample)
    code = ("import json, sys\nfrom mnistlab.cli import main\n"
            f"code = main(['predict', '--onnx', {report['path']!r}, *{images!r}, '--json'])\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nsys.exit(code)\n")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    on_run = cli("predict", tiny_run.run_dir, *images, "--json").json()["predictions"]
    with_onnx = json.loads(fresh.stdout)["predictions"]
    assert [p["file"] for p in with_onnx] == images
    assert [p["class"] for p in with_onnx] == [p["class"] for p in on_run]
    # the ONNX file computes in fp32; a run trained in bf16 predicts in bf16 where the CPU computes it natively (AMX)
    bf16 = tiny_run.train["precision"] == "bf16" and fast_bf16(torch.device("cpu"))
    np.testing.assert_allclose([p["probabilities"] for p in with_onnx], [p["probabilities"] for p in on_run],
                               atol=1e-2 if bf16 else 1e-4)


def test_torchscript_default_path_and_bad_inputs(cli, tiny_run, tmp_path, sample):
    result = cli("export", tiny_run.run_dir, "--format", "torchscript", "--json")
    assert result.code == 0, result.err
    assert result.json()["path"] == str(tiny_run.run_dir / "model.pt")
    loaded = torch.jit.load(result.json()["path"])
    assert loaded(torch.zeros(5, 28, 28)).shape == (5, 10)
    assert_user_error(cli("export", tmp_path / "nowhere", "--format", "onnx"), "does not exist")
    assert_user_error(cli("export", tiny_run.run_dir, "--format", "onnx", "--out", tmp_path), "is a folder")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    assert_user_error(cli("predict", "--onnx", tmp_path / "junk.onnx", *_digit_files(tmp_path, sample, 1)),
                      "junk.onnx", "onnxruntime cannot load it")
    assert_user_error(cli("predict", "--onnx", tmp_path / "missing.onnx", *_digit_files(tmp_path, sample, 1)), "no such file")


def test_without_the_onnx_extra_a_one_line_error_names_the_install(cli, tiny_run, tmp_path, monkeypatch, sample):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    assert_user_error(cli("export", tiny_run.run_dir, "--format", "onnx", "--out", tmp_path / "m.onnx"),
                      'pip install "mnistlab[onnx]"')
    assert not (tmp_path / "m.onnx").exists()
    assert_user_error(cli("predict", "--onnx", tmp_path / "m.onnx", *_digit_files(tmp_path, sample, 1)),
                      'pip install "mnistlab[onnx]"')


def test_torchscript_export_prints_no_torch_deprecation_lines(cli, tiny_run, tmp_path):
    # torch.jit's trace, save and load each printed a deprecation warning line, even with --json
    result = cli("export", tiny_run.run_dir, "--format", "torchscript", "--out", tmp_path / "m.pt", "--json")
    assert result.code == 0 and result.err == "", result.err
