"""Digits kept aside, from other writers and another scanner (scikit-learn's load_digits: 43 writers, 8x8 scans),
read through predict's preparation; skipped without scikit-learn."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnistlab.cli.robustness import table
from mnistlab.robustness import writers


def test_other_writers_are_read_through_the_preparation(tiny_run):
    datasets = pytest.importorskip("sklearn.datasets")
    digits = writers.other_writers()
    images, labels = digits
    assert images.shape == (1797, 28, 28) and images.dtype == np.uint8 and set(labels) == set(range(10))
    assert (images.reshape(len(images), -1).max(1) > 200).all()  # every scan found, none refused as blank
    rows, cols = np.nonzero(images[0] > 25)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21  # MNIST's 20x20 box
    scored = writers.score_writers(tiny_run, digits)
    assert scored["images"] == 1797 and "43 writers" in scored["source"]
    # the 8x8 scans pasted into the frame as they are, without the preparation, for comparison
    pasted = np.zeros_like(images)
    pasted[:, 10:18, 10:18] = np.round(datasets.load_digits().images * 255 / 16)
    naive = float((np.asarray(tiny_run.predict(pasted)[0]) == labels).mean())
    assert scored["accuracy"] > max(0.5, naive + 0.2), (scored["accuracy"], naive)


def test_other_writers_are_skipped_without_scikit_learn(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else find_spec(name, *a))
    assert writers.other_writers() is None


def test_the_table_shows_other_writers_beside_clean():
    result = {"clean_accuracy": 0.99, "clean_prepared": 0.98, "corruptions": {}, "families": {}, "mean_raw": 0.9,
              "mean_accuracy": 0.9, "worst": {"name": "fog", "accuracy": 0.8},
              "other_writers": {"accuracy": 0.9644, "images": 1797, "source": writers.SOURCE}}
    lines = table([result, {**result, "other_writers": {**result["other_writers"], "accuracy": 0.946}}], ["a", "b"])
    (row,) = [line for line in lines if line.startswith("other writers")]
    assert "96.44%" in row and "94.60%" in row and "kept aside" in row
    assert not any(line.startswith("other writers") for line in table([{**result, "other_writers": None}], ["a"]))


def test_fine_tuning_on_a_few_of_their_digits_reads_the_rest_better(tiny_run, tmp_path):
    """benchmarks/learn_writers.py: 10 digits per class of the kept-aside writers, fine-tuned on as `finetune`
    does, lift the accuracy on their other 1,697 digits (the sample's weak CNN reads them poorly)."""
    pytest.importorskip("sklearn.datasets")
    tiny_run.save(tmp_path / "tiny")
    script = Path(__file__).parents[1] / "benchmarks" / "learn_writers.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "tiny"), "--dataset", "mnist-sample",
                           "--out", str(tmp_path / "learn.json")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "scored on their other 1,697" in done.stdout
    (row,) = json.loads((tmp_path / "learn.json").read_text())["runs"]
    assert row["other_digits"]["after"] > row["other_digits"]["before"] + 0.05, row
