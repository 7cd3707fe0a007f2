"""Temperature scaling, the expected calibration error and the unsure mark (calibration.py), and a run that carries
its temperature from training through run.json to its probabilities."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mnistlab import fit, load_dataset, make_splits
from mnistlab.calibration import UNSURE_BELOW, expected_calibration_error, fit_temperature, nll, reliability, softmax, unsure
from mnistlab.data.images import load_for_model
from mnistlab.errors import UserError
from mnistlab.evaluate import evaluate_run
from mnistlab.export.graph import PixelsToProbabilities, metadata
from mnistlab.plots import robustness as figures
from mnistlab.robustness.calibration import answers_on_drawings, calibration_numbers, unsure_rates
from mnistlab.robustness.nondigits import KINDS, SIDE, nondigits
from mnistlab.train import load_run
from mnistlab.train.metrics import to_probs
from mnistlab.train.recipes import Choices, get_recipe, held_aside, prepare


def drawn(temperature: float, n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits, and labels drawn from softmax(logits / temperature): the temperature that explains them is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, (n, 10))
    p = softmax(logits, temperature)
    labels = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return logits, labels


@pytest.mark.parametrize("truth", [0.5, 1.0, 2.5])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with(truth):
    logits, labels = drawn(truth)
    # 20,000 draws pin T to about 1-2% (its standard error); 5% leaves room for any seed
    assert fit_temperature(logits, labels) == pytest.approx(truth, rel=0.05)


def test_the_fitted_temperature_is_the_minimum_of_the_nll():
    logits, labels = drawn(0.7, 3000, seed=1)
    t = fit_temperature(logits, labels)
    assert nll(logits, labels, t) <= min(nll(logits, labels, t * 1.01), nll(logits, labels, t / 1.01))
    assert (softmax(logits, t).argmax(1) == logits.argmax(1)).all()  # the answers never change


def test_the_ece_is_the_gap_between_confidence_and_accuracy():
    probs = np.tile([0.9, 0.1], (10, 1))  # 90% sure every time, right 6 times in 10
    labels = np.array([0] * 6 + [1] * 4)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3)
    logits, labels = drawn(1.0)
    assert expected_calibration_error(softmax(logits), labels) < 0.02  # probabilities the labels follow: calibrated
    assert expected_calibration_error(softmax(logits, 0.3), labels) > 0.1  # the same answers, overconfident
    rel = reliability(softmax(logits), labels)
    assert sum(rel["count"]) == len(labels) and len(rel["accuracy"]) == rel["bins"]


def test_unsure_marks_answers_below_the_threshold():
    probs = np.array([[UNSURE_BELOW - 0.01, 1 - UNSURE_BELOW + 0.01], [UNSURE_BELOW + 0.01, 1 - UNSURE_BELOW - 0.01]])
    assert unsure(probs).tolist() == [True, False]


@pytest.mark.parametrize("head", ["logits", "log_softmax", "softmax"])
def test_every_head_gives_the_tempered_softmax_of_its_logits(head):
    logits = torch.randn(50, 10, generator=torch.Generator().manual_seed(0)) * 5
    outputs = {"logits": logits, "log_softmax": torch.log_softmax(logits, 1), "softmax": torch.softmax(logits, 1)}[head]
    assert torch.allclose(to_probs(outputs, head), torch.softmax(logits, 1), atol=1e-6)
    # float32 softmax of logits up to ~20: probabilities agree to a few ulps of 1
    assert np.allclose(to_probs(outputs, head, 0.5).numpy(), softmax(logits.numpy(), 0.5), atol=1e-5)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A small CNN trained on the sample with 500 images held aside, and saved."""
    sample = load_dataset("mnist-sample")
    run = fit("c8k5s2 f32", make_splits(sample, val=500), epochs=2, batch_size=64, lr=3e-3, seed=0)
    run.save(tmp_path_factory.mktemp("runs") / "calibrated")
    return run, sample


def test_training_with_a_validation_split_fits_a_temperature(calibrated):
    run, sample = calibrated
    cal = run.calibration
    assert cal["n_val"] == 500 and cal["temperature"] != 1.0
    assert cal["val_nll_after"] <= cal["val_nll_before"]
    logits = run.outputs(sample.test_images).numpy()
    classes, probs = run.predict(sample.test_images)
    assert np.allclose(probs, softmax(logits, cal["temperature"]), atol=1e-5)
    assert (classes == logits.argmax(1)).all()


def test_the_temperature_travels_in_run_json_and_an_older_run_reads_as_t_1(calibrated, tmp_path):
    run, sample = calibrated
    loaded = load_run(run.run_dir)
    assert loaded.temperature == run.temperature
    assert np.allclose(loaded.predict(sample.test_images[:50])[1], run.predict(sample.test_images[:50])[1], atol=1e-6)
    older = tmp_path / "older"
    older.mkdir()
    meta = json.loads((run.run_dir / "run.json").read_text())
    del meta["calibration"]
    (older / "run.json").write_text(json.dumps(meta))
    (older / "model.safetensors").write_bytes((run.run_dir / "model.safetensors").read_bytes())
    plain = load_run(older)
    assert plain.temperature == 1.0
    assert np.allclose(plain.predict(sample.test_images[:50])[1],
                       torch.softmax(run.outputs(sample.test_images[:50]), 1).numpy(), atol=1e-6)
    meta["calibration"] = {"temperature": -1}
    (older / "run.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="calibration.temperature"):
        load_run(older)


def test_eval_reports_the_calibration_error_before_and_after(calibrated):
    run, _ = calibrated
    cal = evaluate_run(run, "mnist-sample")["calibration"]
    assert cal["fitted"] and cal["temperature"] == run.temperature
    assert cal["ece_after"] < cal["ece_before"]
    assert 0 <= cal["unsure"] <= 1 and cal["unsure_below"] == UNSURE_BELOW


def test_default_and_robust_hold_aside_a_twelfth_for_the_temperature(sample):
    for name in ("default", "robust"):
        assert held_aside(get_recipe(name), 60_000) == 5000
    assert held_aside(get_recipe("default"), 600) == 0  # too few to fit a steady temperature: none held back
    splits, _ = prepare("default", sample, device="cpu")
    assert splits.info["n_val"] == round(len(sample.train_labels) / 12)
    splits, _ = prepare("default", sample, Choices(val=0), device="cpu")
    assert splits.info["n_val"] == 0 and splits.x_val is None


def test_things_that_are_not_digits_come_back_unsure_far_more_often_than_digits(sample):
    """The default recipe's network on the sample, calibrated on the twelfth it held aside: measured at 6-8% of
    the sample's test digits unsure and 81-89% of drawn letters, doodles and faces (two seeds); the bounds leave
    room for any CPU, and fail if the mark stops telling the two apart."""
    splits, model = prepare("default", sample, seed=0, device="cpu")
    run = fit(model, splits, epochs=2, batch_size=64, lr=3e-3, seed=0, device="cpu")
    rates = unsure_rates(run, sample.test_images, sample.test_labels, n_nondigits=300, seed=1)
    digits, others = rates["digits"]["unsure"], rates["nondigits"]["unsure"]
    assert others >= 0.6 and others >= 4 * digits, (digits, others)
    assert all(rate >= 0.5 for rate in rates["nondigits"]["by_kind"].values()), rates["nondigits"]["by_kind"]
    assert rates["digits"]["unsure_wrong"] > 3 * rates["digits"]["unsure_right"]  # the mark falls on the errors


def test_the_drawings_are_of_every_kind_and_repeatable():
    images, kinds = nondigits(30, seed=3)
    assert images.shape == (30, SIDE, SIDE) and images.dtype == np.uint8 and set(kinds) == set(KINDS)
    assert (images == nondigits(30, seed=3)[0]).all() and not (images == nondigits(30, seed=4)[0]).all()
    assert all(img.min() < 128 < img.max() for img in images)  # dark ink on light paper, every one drawn


def test_an_exported_model_gives_the_calibrated_probabilities(calibrated):
    run, sample = calibrated
    pixels = torch.as_tensor(sample.test_images[:50], dtype=torch.float32)
    exported = PixelsToProbabilities(run)(pixels).detach().numpy()
    with torch.no_grad():  # the export is fp32: compare with the fp32 logits, whatever precision predict uses here
        logits = run.model(run.prepare(sample.test_images[:50])).float().numpy()
    assert np.allclose(exported, softmax(logits, run.temperature), atol=1e-5)
    assert metadata(run)["temperature"] == repr(run.temperature)


@pytest.fixture(scope="module")
def drawings(calibrated, tmp_path_factory) -> tuple[list, np.ndarray]:
    """PNG files of six test digits (dark on light, 3x) and six drawn non-digits, and which ones `run` is unsure of."""
    run, sample = calibrated
    folder = tmp_path_factory.mktemp("drawings")
    paths = []
    for i, image in enumerate(sample.test_images[:6]):
        Image.fromarray(255 - image).resize((84, 84)).save(path := folder / f"digit{i}.png")
        paths.append(path)
    for i, image in enumerate(nondigits(6, seed=5)[0]):
        Image.fromarray(image).save(path := folder / f"other{i}.png")
        paths.append(path)
    expected = unsure(run.predict(load_for_model(paths))[1])
    assert expected.any() and not expected.all(), expected  # both kinds of answer are shown
    return paths, expected


def test_predict_marks_unsure_answers_in_its_text_and_json(cli, calibrated, drawings):
    run, _ = calibrated
    paths, expected = drawings
    payload = json.loads(cli("predict", run.run_dir, *paths, "--json").out)
    assert [p["unsure"] for p in payload["predictions"]] == expected.tolist()
    first, *lines = cli("predict", run.run_dir, *paths).out.splitlines()
    assert first.startswith(f"classifying {len(paths)} image(s)")  # what it is about to do, then a line an image
    assert [f"unsure (below {UNSURE_BELOW:.0%})" in line for line in lines] == expected.tolist()


def test_serve_marks_the_same_answers_unsure(calibrated, drawings):
    pytest.importorskip("fastapi", reason="serve needs the serve extra")
    from fastapi.testclient import TestClient  # only with the serve extra

    from mnistlab.serve.app import create_app  # only with the serve extra

    run, _ = calibrated
    paths, expected = drawings
    client = TestClient(create_app(run))
    for path, doubt in zip(paths, expected):
        url = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
        body = client.post("/api/predict", json={"image": url}).json()
        assert body["unsure"] == bool(doubt) and (max(body["probabilities"]) < UNSURE_BELOW) == bool(doubt)


def test_train_fits_the_temperature_and_eval_reports_the_ece(cli, tmp_path):
    result = cli("train", "--dataset", "mnist-sample", "--max-steps", "20", "--device", "cpu", "--out", tmp_path / "r", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["data"]["n_val"] == 333 and payload["calibration"]["n_val"] == 333  # the default recipe's twelfth
    evaluated = cli("eval", tmp_path / "r")
    assert evaluated.code == 0 and "expected calibration error" in evaluated.out
    cal = json.loads(cli("eval", tmp_path / "r", "--json").out)["calibration"]
    assert cal["fitted"] and cal["temperature"] == pytest.approx(payload["calibration"]["temperature"])
    assert {"ece_before", "ece_after", "unsure"} <= set(cal)
    plain = json.loads(cli("train", "--dataset", "mnist-sample", "--max-steps", "20", "--device", "cpu", "--val", "0",
                           "--out", tmp_path / "p", "--json").out)
    assert plain["calibration"] == {} and not json.loads(cli("eval", tmp_path / "p", "--json").out)["calibration"]["fitted"]


def test_the_calibration_figures_draw(calibrated):
    run, sample = calibrated
    numbers = calibration_numbers(run, sample.test_images[:300], sample.test_labels[:300], n_nondigits=30)
    assert sum(numbers["after"]["count"]) == 300 and numbers["unsure"]["nondigits"]["n"] == 30
    assert len(figures.calibration([numbers, numbers], ["a", "b"]).axes) == 4
    shown = answers_on_drawings(run, 10)
    assert len(shown["answers"]) == 10 and len(figures.drawings(shown, "t").axes) >= 10
