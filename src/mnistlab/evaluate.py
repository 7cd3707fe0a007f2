"""Evaluate a saved run on its data set's test split."""
from __future__ import annotations

import torch

from .calibration import UNSURE_BELOW, before_after, softmax, unsure
from .data import Dataset, load_dataset
from .data.formats import ReadOptions
from .data.sources import SAMPLE
from .train.metrics import confusion_matrix, per_class_accuracy, to_logits, to_probs
from .train.optim import make_loss
from .train.run import Run


def load_run_dataset(run: Run, dataset: str | None = None, data_dir: str | None = None,
                     read: ReadOptions | None = None) -> Dataset:
    """The data set a run was trained on (or `dataset`/`data_dir` read with `read` when given).

    A run trained from --data PATH reads that path again with the options its record holds (format, shape,
    test file, image size, split seed), so its test set is the one it was scored on. Labels are matched to the
    run's classes by name (Dataset.as_classes): a class the run does not know is refused in one line.
    """
    if dataset is None and data_dir is None and run.data.get("source") == "data-dir":
        data_dir, read = run.data.get("path"), ReadOptions.from_dict(run.data.get("read"))
    name = dataset or run.data.get("name", "mnist")
    if data_dir is not None and dataset is None and name == SAMPLE:  # the sample takes no path; a path given is read as MNIST's kind
        name = "mnist"
    return load_dataset(name, data_dir, read).as_classes(run.classes, f"the run {run.run_dir}")


def evaluate_run(run: Run, dataset: str | None = None, data_dir: str | None = None, read: ReadOptions | None = None) -> dict:
    """Loss, accuracy, per-class accuracy, confusion matrix and calibration on the test set the run names (or
    `dataset`)."""
    ds = load_run_dataset(run, dataset, data_dir, read)
    labels = torch.as_tensor(ds.test_labels, device=run.device)
    out = run.outputs(ds.test_images)
    loss = float(make_loss(run.train.get("loss", "ce"), run.model.config.n_classes)(out, labels))
    predicted = to_probs(out, run.model.config.head).argmax(1).cpu().numpy()
    confusion = confusion_matrix(ds.test_labels, predicted, run.model.config.n_classes)
    return {"run_dir": str(run.run_dir), "dataset": ds.name, "source": ds.source, "n_test": int(len(labels)),
            "test_loss": loss, "test_accuracy": float((predicted == ds.test_labels).mean()),
            "per_class_accuracy": {c: float(a) for c, a in zip(run.classes, per_class_accuracy(confusion))},
            "confusion": confusion.tolist(), "calibration": calibration_summary(run, out, ds.test_labels)}


def calibration_summary(run: Run, outputs, labels) -> dict:
    """The run's temperature (1 where it has none), the expected calibration error without it and with it, and the
    share of answers `predict` would mark unsure."""
    logits = to_logits(outputs, run.model.config.head).cpu().numpy()
    rel = before_after(logits, labels, run.temperature)
    return {"temperature": rel["temperature"], "fitted": "temperature" in run.calibration, "bins": rel["after"]["bins"],
            "ece_before": rel["before"]["ece"], "ece_after": rel["after"]["ece"], "unsure_below": UNSURE_BELOW,
            "unsure": float(unsure(softmax(logits, run.temperature)).mean()) if len(labels) else 0.0}
