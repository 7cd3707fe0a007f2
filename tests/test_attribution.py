"""Attribution maps and the embedding: the properties that make them worth reading."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mnistlab import fit, make_splits
from mnistlab.inspect import embedding as embedding_module
from mnistlab.inspect import predict_test_set
from mnistlab.inspect.attribution import attribution_maps, integrated_gradients, occlusion
from mnistlab.inspect.embedding import embedding, penultimate_features
from mnistlab.models import build_model


@pytest.fixture(scope="module")
def ffn_run(sample):
    """An FFN with a softmax head, smooth activation, cropped input and binary pixels: the other end of the grammar."""
    model = build_model("crop2 f32", "tanh", "softmax")
    return fit(model, make_splits(sample, "binary"), loss="nll", epochs=2, batch_size=64, lr=3e-3, seed=0)


@pytest.mark.slow  # 128-step paths over many digits
@pytest.mark.parametrize("which", ["tiny_run", "ffn_run"])
def test_integrated_gradients_add_up_to_the_score_difference(request, sample, which):
    run = request.getfixturevalue(which)
    images = sample.test_images[:12]
    x = run.prepare(images)
    baseline = run.prepare(np.zeros((1, 28, 28), np.uint8))
    targets = run.predict(images)[0]
    ig = integrated_gradients(run.model, x, targets, baseline)
    difference = ig["score"] - ig["baseline_score"]
    assert np.all(np.abs(difference) > 0.5)  # a real test: the digit moves the score
    np.testing.assert_array_less(np.abs(ig["maps"].sum((1, 2)) - difference), 0.01 * np.abs(difference))
    np.testing.assert_allclose(ig["gap"], ig["maps"].sum((1, 2)) - difference, atol=1e-4)


def test_occluding_the_digit_costs_its_class_more_than_occluding_background(tiny_run, sample):
    images, labels = sample.test_images[:40], sample.test_labels[:40]
    x = tiny_run.prepare(images)
    maps = occlusion(tiny_run.model, x, labels, tiny_run.prepare(np.zeros((1, 28, 28), np.uint8)))
    ink = images > 128
    far = np.ones_like(ink)
    for k, image in enumerate(ink):  # background: more than 4 pixels from any ink, beyond the reach of a 4x4 patch on ink
        rows, cols = np.nonzero(image)
        far[k, max(0, rows.min() - 4): rows.max() + 5, max(0, cols.min() - 4): cols.max() + 5] = False
    on_digit = np.array([m[i].mean() for m, i in zip(maps, ink)])
    off_digit = np.array([m[f].mean() for m, f in zip(maps, far)])
    assert (on_digit > off_digit).mean() >= 0.9 and on_digit.mean() > 0.01
    assert np.abs(off_digit).max() < 1e-6  # black patches on black background change nothing


def test_cropped_pixels_get_no_attribution(ffn_run, sample):
    maps = attribution_maps(ffn_run, sample.test_images[:3], [0, 1, 2])
    border = np.ones((28, 28), bool)
    border[2:-2, 2:-2] = False
    for key in ("saliency", "integrated_gradients", "occlusion"):
        assert maps[key].shape == (3, 28, 28) and np.abs(maps[key][:, 2:-2, 2:-2]).max() > 0, key
        if key != "occlusion":  # an occluding patch spans cropped and kept pixels alike
            assert np.all(maps[key][:, border] == 0), key
    assert np.all(maps["saliency"] >= 0)


def test_inspect_attribution_writes_samples_and_mistakes(cli, tiny_run, tmp_path):
    result = cli("inspect", tiny_run.run_dir, "--what", "attribution", "--sample", "3", "5", "--n", "2", "--out", tmp_path, "--json")
    assert result.code == 0, result.err
    nums = json.loads((tmp_path / "attribution.json").read_text())
    samples, mistakes = nums["groups"]["samples"], nums["groups"]["mistakes"]
    assert samples["indices"] == [3, 5] and len(mistakes["indices"]) == 2
    assert all(label != guess for label, guess in zip(mistakes["labels"], mistakes["predicted"]))
    for group in (samples, mistakes):
        for key in ("saliency", "integrated_gradients", "occlusion"):
            assert np.asarray(group[key]).shape == (2, 28, 28)


@pytest.mark.slow  # t-SNE of the test set
def test_embedding_separates_the_classes_and_marks_mistakes(tiny_run, sample, monkeypatch):
    pred = predict_test_set(tiny_run)
    features = penultimate_features(tiny_run.model, tiny_run.prepare(pred.images))
    assert features.shape == (len(pred.labels), 32)
    nums = embedding(tiny_run, pred, tsne_points=300)
    pca = nums["projections"]["pca"]
    assert pca["points"].shape == (len(pred.labels), 2) and 0 < pca["explained_variance"][1] <= pca["explained_variance"][0]
    tsne = nums["projections"]["tsne"]
    assert tsne["points"].shape == (300, 2) and set(tsne["thumbnails"]) <= set(tsne["indices"])
    # Neighbours in the t-SNE map share a class far more often than chance (10%).
    points, labels = tsne["points"], pred.labels[tsne["indices"]]
    distance = np.linalg.norm(points[:, None] - points[None], axis=2) + np.eye(len(points)) * 1e9
    assert (labels[distance.argmin(1)] == labels).mean() > 0.7
    assert nums["n_errors"] == int((pred.predicted != pred.labels).sum())
    assert len(pca["thumbnails"]) == 3 * len(pred.classes)
    monkeypatch.setattr(embedding_module.importlib.util, "find_spec", lambda name: None)
    without = embedding(tiny_run, pred)
    assert list(without["projections"]) == ["pca"] and "scikit-learn" in without["note"]


def test_the_web_app_explains_the_predicted_class_and_the_runner_up(tiny_run, sample):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from mnistlab.serve.app import create_app

    client = TestClient(create_app(tiny_run))
    digit = sample.test_images[7]
    plain = client.post("/api/predict", json={"pixels": digit.tolist()}).json()
    assert plain["attribution"] == []  # off unless asked: it costs a few hundred gradients
    body = client.post("/api/predict", json={"pixels": digit.tolist(), "attribution": True}).json()
    runner_up = int(np.argsort(body["probabilities"])[-2])
    assert [a["class"] for a in body["attribution"]] == [body["class"], runner_up]
    for a in body["attribution"]:
        assert np.asarray(a["map"]).shape == (28, 28) and a["label"] == tiny_run.classes[a["class"]]
        assert a["probability"] == pytest.approx(body["probabilities"][a["class"]], abs=1e-6)
    assert body["attribution"][0]["map"] != body["attribution"][1]["map"]
