"""Stratified k-fold cross-validation: the folds, batched against separate fits, the command line."""
import json

import numpy as np
import pytest

from mnistlab import cross_validate, load_dataset, load_run, make_splits
from mnistlab.cli import main
from mnistlab.train.cv import stratified_folds

FP32 = dict(device="cpu", precision="fp32", channels_last=False)


@pytest.fixture(scope="module")
def tiny():
    return make_splits(load_dataset("mnist-sample"), train_size=300)


@pytest.mark.parametrize("k", [2, 3, 5, 7])
def test_folds_are_stratified_disjoint_and_cover_the_training_set(k):
    labels = np.random.default_rng(k).choice(10, size=1003, p=np.linspace(1, 3, 10) / 20)
    folds = stratified_folds(labels, k, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(labels)))  # disjoint and covering
    counts = np.array([np.bincount(labels[f], minlength=10) for f in folds])
    assert (counts.max(0) - counts.min(0)).max() <= 1  # each class spread to within one image
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(folds, stratified_folds(labels, k, seed=1)))  # seeded


@pytest.mark.numeric
def test_batched_cross_validation_equals_separate_fits(tiny):
    # the default recipe's options (Adam betas, one-cycle, label smoothing) on a small CNN, in fp32
    options = dict(FP32, epochs=1, batch_size=32, seed=2)
    together = cross_validate("crop2 c4k5s2 m2 f16", tiny, 3, **options)
    alone = cross_validate("crop2 c4k5s2 m2 f16", tiny, 3, batched=False, **options)
    assert together.batched == [[1, 2, 3]] and alone.batched == []
    assert together.val_accuracies == pytest.approx(alone.val_accuracies, abs=1e-9)
    for a, b in zip(together.runs, alone.runs):
        assert a.history[-1]["val_loss"] == pytest.approx(b.history[-1]["val_loss"], rel=1e-4)
        assert a.history[-1]["train_loss"] == pytest.approx(b.history[-1]["train_loss"], rel=1e-4)
        assert a.final["test_accuracy"] is None and b.final["test_accuracy"] is None  # the test set is left alone
        # each fold's temperature is fitted on its own validation fold, stacked or not
        assert a.calibration["n_val"] == b.calibration["n_val"] == a.data["n_val"] > 0
        assert a.temperature == pytest.approx(b.temperature, rel=1e-3)
    assert together.to_dict()["mean_val_accuracy"] == pytest.approx(np.mean(alone.val_accuracies))


def test_models_that_cannot_stack_train_fold_by_fold(tiny):
    cv = cross_validate("f8 d0.2", tiny, 2, epochs=1, batch_size=64, **FP32)
    assert cv.batched == [] and "dropout" in cv.note and len(cv.runs) == 2


def test_train_folds_saves_the_runs_and_cv_json(tmp_path, capsys):
    out = tmp_path / "cv"
    args = ["train", "--dataset", "mnist-sample", "--model", "f16", "--epochs", "1", "--train-size", "400",
            "--device", "cpu", "--folds", "3", "--out", str(out)]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [f["fold"] for f in result["folds"]] == [1, 2, 3]
    assert result["mean_val_accuracy"] == pytest.approx(np.mean([f["val_accuracy"] for f in result["folds"]]))
    assert result["std_val_accuracy"] == pytest.approx(np.std([f["val_accuracy"] for f in result["folds"]]))
    assert json.loads((out / "cv.json").read_text())["folds"] == result["folds"]
    run = load_run(result["folds"][0]["run_dir"])
    assert run.data["cv"]["fold"] == 1 and run.data["n_train"] + run.data["n_val"] == 400
    assert main([*args, "--out", str(tmp_path / "cv2")]) == 0
    text = capsys.readouterr().out
    assert "fold 3/3: val accuracy" in text and "mean val accuracy" in text and "±" in text


@pytest.mark.parametrize("folds", ["1", "-3", "0"])
def test_fewer_than_two_folds_are_refused_in_one_line(folds, tmp_path, capsys):
    assert main(["train", "--dataset", "mnist-sample", "--folds", folds, "--out", str(tmp_path / "x")]) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and f"--folds {folds}" in err and not (tmp_path / "x").exists()
    assert out == ""  # refused before the first line, which would announce "about 0x the work"


def test_a_fold_count_that_would_run_for_days_is_refused_before_the_data_load(tmp_path, capsys, monkeypatch):
    # `--folds 30000` on full MNIST was still running at 600 s with 4 GB resident
    import mnistlab.cli.train as train_cli

    monkeypatch.setattr(train_cli, "load_data", lambda args: pytest.fail("the data was loaded first"))
    assert main(["train", "--dataset", "mnist", "--folds", "30000", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--folds 30000: 30000 folds train 30000 models, 29999 times the work of one training; use at most 100" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "x").exists()
