"""mnistlab: build, train, inspect and experiment with MNIST classifiers on PyTorch."""
__version__ = "0.1.0"

from .data import Dataset, load_dataset  # noqa: E402
from .data.splits import Splits, make_splits  # noqa: E402
from .models import build_model, parse_spec, summary_text  # noqa: E402
from .train import Run, fit, load_run  # noqa: E402

__all__ = ["Dataset", "Run", "Splits", "build_model", "fit", "load_dataset", "load_run", "make_splits",
           "parse_spec", "summary_text", "__version__"]
