"""The numbers behind every figure: what users (and the figures) rely on."""
from __future__ import annotations

import numpy as np
import pytest

from mnistlab import build_model, fit, make_splits
from mnistlab.errors import UserError
from mnistlab.inspect import (
    WeightRecorder,
    confusion,
    feature_maps,
    learning_curves,
    mistakes,
    numbers,
    parameter_values,
    predict_test_set,
    weight_histograms,
)
from mnistlab.inspect.explore import class_means, digit_correlations, digit_vector, random_digits


@pytest.fixture(scope="module")
def ffn_run(sample):
    """A small FFN with L5's head, trained for real with per-epoch weight histograms."""
    splits = make_splits(sample, "unit", val=500, train_size=1500)
    model = build_model("f32 f16", head="log_softmax", seed=0)
    recorder = WeightRecorder(model)
    run = fit(model, splits, epochs=2, batch_size=64, optimizer="sgd", lr=0.05, seed=0, on_epoch=recorder)
    run.extras["weight_histograms"] = recorder.record
    return run


@pytest.fixture(scope="module")
def cnn_predictions(tiny_run):
    return predict_test_set(tiny_run)


def test_probabilities_are_distributions_and_match_the_recorded_accuracy(tiny_run, cnn_predictions, sample):
    assert cnn_predictions.probs.shape == (len(sample.test_labels), 10)
    np.testing.assert_allclose(cnn_predictions.probs.sum(1), 1.0, atol=1e-5)
    assert (cnn_predictions.probs >= 0).all()
    assert cnn_predictions.accuracy == pytest.approx(tiny_run.final["test_accuracy"], abs=1e-6)
    probs = numbers(tiny_run, "probs", sample=[4, 0, 9], predictions=cnn_predictions)
    assert probs["indices"].tolist() == [4, 0, 9]
    np.testing.assert_allclose(probs["probs"].sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(probs["images"][1], sample.test_images[0])
    assert len(numbers(tiny_run, "probs", n=7, predictions=cnn_predictions)["indices"]) == 7


def test_ffn_log_softmax_probabilities_sum_to_one(ffn_run):
    pred = predict_test_set(ffn_run)
    np.testing.assert_allclose(pred.probs.sum(1), 1.0, atol=1e-5)
    assert pred.accuracy == pytest.approx(ffn_run.final["test_accuracy"], abs=1e-6)


def test_confusion_totals_and_diagonal(cnn_predictions):
    c = confusion(cnn_predictions)
    assert c["matrix"].sum() == c["n_test"] == len(cnn_predictions.labels)
    assert np.trace(c["matrix"]) / c["n_test"] == pytest.approx(c["accuracy"])
    np.testing.assert_array_equal(c["matrix"].sum(1), np.bincount(cnn_predictions.labels, minlength=10))
    np.testing.assert_allclose(c["per_class_accuracy"], np.diag(c["matrix"]) / c["matrix"].sum(1))


def test_mistakes_are_wrong_and_most_confident_first(cnn_predictions):
    m = mistakes(cnn_predictions, n=12)
    assert m["n_errors"] == int((cnn_predictions.predicted != cnn_predictions.labels).sum())
    assert len(m["indices"]) == min(12, m["n_errors"])
    assert (m["predicted"] != m["labels"]).all()
    assert (m["top_classes"][:, 0] == m["predicted"]).all()
    assert (np.diff(m["top_probs"][:, 0]) <= 0).all()  # sorted by confidence, descending
    assert (np.diff(m["top_probs"], axis=1) <= 0).all()  # top-3 in order


def test_feature_map_shapes_match_the_model_summary(tiny_run, cnn_predictions):
    nums = numbers(tiny_run, "featuremaps", sample=[3], predictions=cnn_predictions)
    assert nums["index"] == 3 and nums["label"] == cnn_predictions.labels[3]
    shapes = {row["name"]: row["output_shape"] for row in tiny_run.model.rows}
    kinds = [layer["kind"] for layer in nums["layers"]]
    assert kinds == ["conv", "fc"]  # c8k5s2 f32
    for layer in nums["layers"]:
        assert list(layer["output"].shape) == shapes[layer["name"]]
    conv = nums["layers"][0]
    assert conv["weight"].shape == (8, 1, 5, 5) and (conv["output"] >= 0).all()  # after the ReLU
    np.testing.assert_allclose(nums["probs"], cnn_predictions.probs[3], atol=1e-5)


def test_ffn_feature_maps_are_hidden_activations(ffn_run, sample):
    nums = feature_maps(ffn_run, sample.test_images[0])
    assert [(layer["name"], layer["output"].shape) for layer in nums["layers"]] == [("fc1", (32,)), ("fc2", (16,))]


def test_weight_histogram_counts_equal_the_number_of_weights(ffn_run):
    n_params = sum(row["params"] for row in ffn_run.model.rows)
    record = ffn_run.extras["weight_histograms"]
    assert record["epochs"] == [0, 1, 2] and record["n_parameters"] == n_params
    assert len(record["edges"]) == 101 and record["edges"][0] == -0.8 and record["edges"][-1] == 0.8
    for counts, below, above in zip(record["counts"], record["below"], record["above"]):
        assert sum(counts) + below + above == n_params
    nums = weight_histograms(ffn_run.model, record)
    assert nums["n_parameters"] == n_params == len(parameter_values(ffn_run.model))
    for h in (nums["initial"], nums["trained"]):
        assert h["counts"].sum() + h["below"] + h["above"] == n_params
    assert nums["epochs"]["counts"].shape == (3, 100)
    assert not np.array_equal(nums["initial"]["counts"], nums["trained"]["counts"])  # training moved the weights


def test_weights_without_a_record_show_the_trained_model_only(tiny_run):
    nums = numbers(tiny_run, "weights")
    assert nums["initial"] is None and nums["epochs"] is None
    assert nums["trained"]["counts"].sum() + nums["trained"]["below"] + nums["trained"]["above"] == nums["n_parameters"]


def test_curves_follow_the_history(ffn_run, tiny_run):
    c = learning_curves(ffn_run.history)
    assert c["epochs"].tolist() == [1, 2]
    assert set(c["loss"]) == set(c["accuracy"]) == {"train", "val", "test"}
    assert c["accuracy"]["test"][-1] == ffn_run.final["test_accuracy"]
    assert set(learning_curves(tiny_run.history)["loss"]) == {"train", "test"}  # no validation split


def test_filters_and_summary(ffn_run, tiny_run):
    assert numbers(ffn_run, "filters")["weights"].shape == (32, 28, 28)
    assert numbers(tiny_run, "filters")["weights"].shape == (8, 5, 5)
    s = numbers(tiny_run, "summary")
    assert s["total_params"] == sum(p.numel() for p in tiny_run.model.parameters())


def test_bad_sample_and_figure_names_are_user_errors(tiny_run, cnn_predictions):
    with pytest.raises(UserError, match="out of range"):
        numbers(tiny_run, "probs", sample=[10**6], predictions=cnn_predictions)
    with pytest.raises(UserError, match="unknown figure"):
        numbers(tiny_run, "nope")


def test_data_exploration_numbers(sample):
    grid = random_digits(sample, 12, seed=1)
    assert len(set(grid["indices"].tolist())) == 12
    np.testing.assert_array_equal(grid["labels"], sample.train_labels[grid["indices"]])
    vec = digit_vector(sample, 5)
    assert vec["vector"].shape == (784,) and vec["label"] == sample.train_labels[5]
    means = class_means(sample)
    assert means["counts"].sum() == len(sample.train_labels)
    np.testing.assert_allclose(means["means"][3], sample.train_images[sample.train_labels == 3].mean(0))
    corr = digit_correlations(sample, 7, limit=150)
    n = corr["n_images"]
    assert n == 150 and corr["matrix"].shape == (n, n)
    np.testing.assert_allclose(np.diag(corr["matrix"]), 1.0)
    assert corr["counts"].sum() == n * (n - 1) // 2
    assert 0.2 < corr["pairs_mean"] < 0.6  # L5: the 7s correlate at about 0.4
    with pytest.raises(UserError, match="--digit 11"):
        digit_correlations(sample, 11)
