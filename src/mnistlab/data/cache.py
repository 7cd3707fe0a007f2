"""The user cache, and the decoded arrays kept there, so a CSV or image folder is parsed once, not on every command.

An entry is an uncompressed .npz (no pickles) named by a key that changes whenever the source does: a CSV's
SHA-256, a folder's listing of names, sizes and modification times. A damaged or unwritable cache only costs
the time of reading the source again.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..fileio import atomic_path

VERSION = 1  # bump when what a reader stores changes


def cache_dir() -> Path:
    """The user cache: $MNISTLAB_CACHE, else $XDG_CACHE_HOME/mnistlab, else ~/.cache/mnistlab."""
    if os.environ.get("MNISTLAB_CACHE"):
        return Path(os.environ["MNISTLAB_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnistlab"


def cached(kind: str, key: str, build: Callable[[], dict[str, np.ndarray]],
           valid: Callable[[dict[str, np.ndarray]], bool]) -> dict[str, np.ndarray]:
    """The arrays `build` returns, from the cache when an entry for `key` is there, readable, and `valid` (the
    names, dtypes and shapes the reader needs: an entry cut short or holding other arrays is built again)."""
    path = cache_dir() / kind / f"v{VERSION}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            if valid(arrays):
                return arrays
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError):
            pass
    arrays = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except OSError:
        pass
    return arrays
