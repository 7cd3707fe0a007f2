"""Data sets: IDX files, the registry and its resolution order, transforms and tensors."""
# Each module registers its format in data.formats.FORMATS when imported: detectors are asked in this order.
# isort: off
from . import idx, cifar, csvfile, folder  # noqa: F401
# isort: on
from .dataset import Dataset
from .idx import read_idx, write_idx
from .sources import NAMES, load_dataset

__all__ = ["Dataset", "NAMES", "load_dataset", "read_idx", "write_idx"]
