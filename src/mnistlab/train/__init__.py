"""Training: the loop, its configuration, optimizers and schedules by name, metrics, run directories."""
from .config import TrainConfig
from .device import resolve_device
from .loop import fit, train_recipe
from .run import Run, load_run, save_run

__all__ = ["Run", "TrainConfig", "fit", "load_run", "resolve_device", "save_run", "train_recipe"]
