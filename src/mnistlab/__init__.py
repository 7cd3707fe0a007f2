"""mnistlab: build, train, inspect and experiment with MNIST classifiers on PyTorch."""
__version__ = "0.1.0"

from .data import Dataset, load_dataset  # noqa: E402

__all__ = ["Dataset", "load_dataset", "__version__"]
