"""Training: the loop, its configuration, optimizers and schedules by name, metrics, run directories.

The names load on first use (`mnistlab.lazy`), so the command line reads `train.names` without loading torch.
"""
from ..lazy import lazy_names

_PUBLIC = {"TrainConfig": ".config", "resolve_device": ".device", "fit": ".loop", "train_recipe": ".loop",
           "Run": ".run", "load_run": ".run", "save_run": ".run"}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
