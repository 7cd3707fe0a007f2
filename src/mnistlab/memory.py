"""What this machine can hold: its memory, and from it the budget of decoded pixels one data set may take.

Readers check a data set's decoded size against the budget before they decode a pixel (from file sizes, image
headers, archive member sizes), so a small file that expands to gigabytes is refused in one line, at once.
"""
from __future__ import annotations

import os

from .errors import UserError

# Decoded uint8 pixels per data set, as a share of RAM: training adds a float32 copy (4x) and a batch's work on top.
DATA_SHARE = 6
DATA_BYTES_UNKNOWN = 1 << 30  # where the system does not say how much memory it has; full MNIST is 47 MB


def machine_memory() -> int:
    """Bytes of RAM on this machine (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def data_budget() -> int:
    """Bytes of decoded uint8 pixels one data set may take here: a sixth of RAM (3.9 GB of 23 GB; EMNIST's largest
    split is 0.6 GB, CIFAR-10 0.18 GB)."""
    have = machine_memory()
    return have // DATA_SHARE if have else DATA_BYTES_UNKNOWN


def size_text(n_bytes: float) -> str:
    """1234567 → '1 MB', 4.2e9 → '4.2 GB'."""
    return f"{n_bytes / 1e9:,.1f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:,.0f} MB"


def check_data_size(n_bytes: float, where: str, what: str, fix: str) -> None:
    """Refuse, before decoding, a data set whose `what` would decode to more than `data_budget()` bytes."""
    budget = data_budget()
    if n_bytes > budget:
        raise UserError(f"{where}: {what} would take up to {size_text(n_bytes)} decoded, more than the "
                        f"{size_text(budget)} a data set may take on this machine (a sixth of its memory: training "
                        f"adds a float32 copy); {fix}")
