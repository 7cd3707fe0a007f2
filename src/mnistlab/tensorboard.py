"""`mnistlab train --tensorboard DIR`: the run as standard TensorBoard event files, written while it trains.

Per epoch: loss and accuracy of every split evaluated and the epoch's seconds, a histogram of every
parameter tensor, and the figure of a fixed set of test digits with their class probabilities. Once:
the model graph and the initial histograms before training; after it, the `--eval-every` test
evaluations at their optimizer steps. `tensorboard --logdir DIR` shows them.
Needs the tensorboard package: pip install "mnistlab[tensorboard]".
"""
from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image

from .errors import UserError
from .models import Net

SPLITS = ("train", "val", "test")
SAMPLES = 10  # test digits in the per-epoch prediction figure


def summary_writer() -> type:
    """torch's SummaryWriter, or the one-line refusal naming the extra (checked by train before the data loads)."""
    try:
        # tensorboard: the optional tensorboard extra
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError('--tensorboard needs the tensorboard package; install it with: pip install "mnistlab[tensorboard]"') from None
    return SummaryWriter


class TensorBoardLog:
    """fit's `on_epoch` callback that writes event files into `log_dir`; `close(run)` adds what only the run knows."""

    def __init__(self, log_dir: str | os.PathLike, model: Net, x_test: torch.Tensor, test_images: np.ndarray,
                 test_labels: np.ndarray, classes: tuple[str, ...]):
        self.writer = summary_writer()(log_dir=str(log_dir))
        self.samples = np.linspace(0, len(test_labels) - 1, min(SAMPLES, len(test_labels))).astype(int)
        self.x, self.images, self.labels, self.classes = x_test[self.samples], test_images[self.samples], test_labels[self.samples], classes
        was_training = model.training
        model.eval()
        self.writer.add_graph(model, self.x[:1].to(next(model.parameters()).device))  # before fit moves it, if it does
        model.train(was_training)
        self.histograms(model, 0)

    def histograms(self, model: Net, epoch: int) -> None:
        for name, param in model.named_parameters():
            self.writer.add_histogram(f"parameters/{name}", param.detach().float().cpu(), epoch)

    def predictions(self, model: Net, epoch: int) -> None:
        # matplotlib loads when a figure is drawn, not when the parser is built
        from .plots import png_bytes
        from .plots.predictions import probs as probs_figure
        from .train.metrics import outputs_of, to_probs

        probs = to_probs(outputs_of(model, self.x), model.config.head).cpu().numpy()
        figure = probs_figure({"indices": self.samples, "images": self.images, "labels": self.labels,
                               "predicted": probs.argmax(1), "probs": probs, "classes": self.classes})
        image = np.asarray(Image.open(io.BytesIO(png_bytes(figure, dpi=72))).convert("RGB"))
        self.writer.add_image("test predictions", image, epoch, dataformats="HWC")

    def __call__(self, row: dict, model: Net) -> None:
        epoch = row["epoch"]
        for split in SPLITS:
            for metric in ("loss", "accuracy"):
                if row.get(f"{split}_{metric}") is not None:
                    self.writer.add_scalar(f"{metric}/{split}", row[f"{split}_{metric}"], epoch)
        self.writer.add_scalar("seconds/epoch", row["seconds"], epoch)
        self.histograms(model, epoch)
        self.predictions(model, epoch)
        self.writer.flush()

    def close(self, run=None) -> None:
        for evaluation in (run.extras.get("evals", []) if run is not None else []):
            for metric in ("loss", "accuracy"):
                self.writer.add_scalar(f"evaluation/test_{metric}", evaluation[f"test_{metric}"], evaluation["step"])
        self.writer.close()


def tensorboard_log(log_dir: str | os.PathLike | None, model: Net, splits, ds) -> TensorBoardLog | None:
    """The log for `mnistlab train --tensorboard DIR` from the run's splits and data set; None without a DIR."""
    if not log_dir:
        return None
    return TensorBoardLog(log_dir, model, splits.x_test, ds.test_images, ds.test_labels, ds.classes)
