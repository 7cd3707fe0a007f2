"""Identical trainings trained once: the first one's runs are kept on disk and handed to every later one.

The lectures' experiments retrain the same configurations: L5's baseline FFN appears in five experiments, L2's
two-conv net in two, the CNN of scrambled/shifted in both. A training is identical when its kind (`fit` or
`fit_many`), every model's configuration and initial weights, every tensor of its data, its normalizer, data
record and classes, every option (seed and device included), torch's thread count and the library versions
are; `fingerprint` hashes all of them. A later identical training loads the first one's runs (weights,
record, history) into its own models, exactly as if it had trained them.

Runs are kept in a folder: by default one of this process's own, removed at exit (so a notebook's or an
`experiment run all` job's experiments share their trainings); `shared(folder)` makes processes share one
(the `--jobs` of `experiment run all`). A training holds a lock on its key while it runs, so a second process
wanting the same one waits for it instead of training it again; if the first dies, the lock goes with it and
the second trains.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from .. import __version__
from ..data.splits import Splits
from ..models import Net
from .run import Run, load_run

try:
    import fcntl
except ImportError:  # Windows: no cross-process waiting; each process still reuses its own trainings
    fcntl = None

INFO = "info.json"  # the first caller's data record, beside its runs
_folder: Path | None = None  # where runs are kept: shared(...)'s, or this process's own
_digests: dict[int, tuple[weakref.ref, int, str]] = {}  # id(tensor) -> (tensor, its version, digest)


def tensor_digest(t: torch.Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and bytes; remembered per tensor until it is modified or freed."""
    known = _digests.get(id(t))
    if known is not None and known[0]() is t and known[1] == t._version:
        return known[2]
    digest = hashlib.sha256(f"{t.dtype} {tuple(t.shape)}".encode())
    digest.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    key = id(t)
    _digests[key] = (weakref.ref(t, lambda _: _digests.pop(key, None)), t._version, digest.hexdigest())
    return _digests[key][2]


def fingerprint(kind: str, models: list[Net], data: Splits, options: dict) -> str:
    """The hash of everything that decides what a training produces. The data's record (`data.info`: name,
    sizes, how it was prepared) is not part of it: training never reads it (see `_restore`)."""
    tensors = [data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test]
    record = {"kind": kind, "options": options, "normalizer": repr(data.normalizer), "classes": list(data.classes),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "mnistlab": __version__, "deterministic": torch.are_deterministic_algorithms_enabled(),
              "data": [None if t is None else tensor_digest(t) for t in tensors],
              "models": [{"config": m.config.to_dict(),
                          "weights": {name: tensor_digest(t) for name, t in m.state_dict().items()}} for m in models]}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=repr).encode()).hexdigest()


@contextlib.contextmanager
def shared(folder: str | Path) -> Iterator[Path]:
    """Within this block, keep and look up runs in `folder`, which other processes may share."""
    global _folder
    before, _folder = _folder, Path(folder)
    _folder.mkdir(parents=True, exist_ok=True)
    try:
        yield _folder
    finally:
        _folder = before


def _own_folder() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="mnistlab-trained-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (waiting for another process that holds it) for the block."""
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _restore(folder: Path, models: list[Net], data: Splits, device: str) -> list[Run]:
    """The kept runs, their weights loaded into the caller's own models (a training trains the models it is given)
    and their data record the caller's: what the training added to the first caller's record, over this one's."""
    first = json.loads((folder / INFO).read_text())
    runs = []
    for i, model in enumerate(models):
        run = load_run(folder / str(i), device)
        model.load_state_dict(run.model.state_dict())
        run.model, run.run_dir = model.to(run.device).eval(), None
        run.data = {**data.info, **{k: v for k, v in run.data.items() if k not in first or first[k] != v}}
        runs.append(run)
    return runs


def remembered(kind: str, models: list[Net], data: Splits, options: dict,
               train: Callable[[], list[Run]]) -> tuple[list[Run], bool]:
    """`train()`'s runs for `models`, or an identical earlier training's; and whether they were reused.

    `options` must hold everything besides models and data that `train` depends on (optimizers too).
    """
    folder = _folder or _own_folder()
    key = fingerprint(kind, models, data, options)
    done = folder / key
    with _locked(folder / f"{key}.lock"):
        if done.is_dir():
            return _restore(done, models, data, str(options.get("device", "cpu"))), True
        runs = train()
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".tmp", dir=folder))
        (staging / INFO).write_text(json.dumps(data.info))
        for i, run in enumerate(runs):
            where = run.run_dir
            run.save(staging / str(i))
            run.run_dir = where
        os.replace(staging, done)
    return runs, False
