"""Evaluation in large batches under inference mode: loss, accuracy, probabilities, confusion."""
from __future__ import annotations

import numpy as np
import torch

from ..calibration import calibration_record
from .engine import Evaluator, chunked


def to_logits(outputs: torch.Tensor, head: str) -> torch.Tensor:
    """The head's outputs as logits: what a softmax turns into its probabilities (a softmax head's, via their log)."""
    return outputs.float().clamp_min(torch.finfo(torch.float32).tiny).log() if head == "softmax" else outputs.float()


def to_probs(outputs: torch.Tensor, head: str, temperature: float = 1.0) -> torch.Tensor:
    """Class probabilities from the model's outputs (softmax subtracts the max, so no overflow), with the logits
    divided by `temperature` (calibration.py) when it is not 1."""
    if temperature != 1.0:
        return torch.softmax(to_logits(outputs, head) / temperature, dim=1)
    if head == "logits":
        return torch.softmax(outputs.float(), dim=1)
    if head == "log_softmax":
        return outputs.float().exp()
    return outputs.float()


@torch.inference_mode()
def outputs_of(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 10_000, autocast=None) -> torch.Tensor:
    """Model outputs for all of `x`, in eval mode, in large batches (none: the model's (0, classes), not a 1-D
    empty tensor that the probabilities' argmax along classes fails on)."""
    was_training = model.training
    model.eval()
    try:
        chunks = []
        for i in range(0, len(x) or 1, batch_size):
            if autocast is not None:
                with autocast():
                    chunks.append(model(x[i:i + batch_size]).float())
            else:
                chunks.append(model(x[i:i + batch_size]).float())
        return torch.cat(chunks)
    finally:
        model.train(was_training)


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, autocast=None) -> tuple[float, float]:
    """(mean loss, accuracy as a fraction) over the whole set, in eval mode: the engine's evaluator, uncaptured."""
    was_training = model.training
    model.eval()
    try:
        loss, accuracy = Evaluator(model, lambda out, labels: loss_fn(out.float(), labels) * len(labels), chunked(x, y),
                                   len(y), autocast)()
    finally:
        model.train(was_training)
    return float(loss), float(accuracy)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    return np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    totals = confusion.sum(1)
    return np.divide(np.diag(confusion), totals, out=np.zeros(len(totals)), where=totals > 0)


def calibrate(model: torch.nn.Module, x_val: torch.Tensor | None, y_val: torch.Tensor | None, autocast=None) -> dict:
    """The temperature fitted on validation images after training, as run.json records it; {} without any."""
    if x_val is None or not len(y_val):
        return {}
    logits = to_logits(outputs_of(model, x_val, autocast=autocast), model.config.head)
    return calibration_record(logits.cpu().numpy(), y_val.cpu().numpy())
