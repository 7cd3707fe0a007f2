"""mnistlab: build, train, inspect and experiment with MNIST classifiers on PyTorch.

The public names load lazily, so `import mnistlab.scratch` (NumPy only) does not pay for torch.
Library functions print nothing: notices are returned and logged on the `mnistlab` loggers (silent
unless you configure logging); the command line prints them.
"""
import logging

from .lazy import lazy_names

__version__ = "0.1.0"

_PUBLIC = {
    "Dataset": "mnistlab.data.dataset", "load_dataset": "mnistlab.data.sources",
    "Splits": "mnistlab.data.splits", "make_splits": "mnistlab.data.splits",
    "build_model": "mnistlab.models", "parse_spec": "mnistlab.models", "summary_text": "mnistlab.models",
    "Run": "mnistlab.train", "fit": "mnistlab.train", "load_run": "mnistlab.train", "train_recipe": "mnistlab.train",
    "TrainConfig": "mnistlab.train", "cross_validate": "mnistlab.train.cv",
    "evaluate_run": "mnistlab.evaluate", "data_info": "mnistlab.data.info", "load_for_model": "mnistlab.data.images",
}
__all__ = [*_PUBLIC, "__version__"]
logging.getLogger(__name__).addHandler(logging.NullHandler())

__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
