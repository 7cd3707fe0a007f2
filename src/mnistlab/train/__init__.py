"""Training: the loop, optimizers and schedules by name, metrics, run directories."""
from .checkpoint import load_run, save_run
from .loop import Run, TrainConfig, fit, resolve_device

__all__ = ["Run", "TrainConfig", "fit", "load_run", "resolve_device", "save_run"]
