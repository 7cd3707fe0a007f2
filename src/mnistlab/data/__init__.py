"""Data sets: IDX files, the registry and its resolution order, transforms and tensors."""
from .idx import read_idx, write_idx
from .sources import NAMES, Dataset, load_dataset

__all__ = ["Dataset", "NAMES", "load_dataset", "read_idx", "write_idx"]
