"""The lectures' data setups and per-run training settings, built from `settings` for one experiment run."""
from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..data.splits import Splits, make_splits
from .context import Context
from .settings import (
    L5_CNN_EPOCHS,
    L5_CNN_QUICK_EPOCHS,
    L5_QUICK_EPOCHS,
    L5_QUICK_SAMPLE,
    L5_SAMPLE,
    L5_SAMPLE_SEED,
    L5_TRAIN,
    L5_TRAIN_FRACTION,
    QUICK_TEST_IMAGES,
)


def l5_sample(ds: Dataset, size: int = L5_SAMPLE) -> Dataset:
    """L5's MNIST sample: `size` images drawn with a fixed seed from `ds`'s training set, split 90/10.

    From mnist-sample (offline) the pool is all of its images, so the sample is at most 5,000.
    """
    pool_x, pool_y = ds.train_images, ds.train_labels
    if ds.source == "package":  # mnist-sample: use every image it has
        pool_x, pool_y = np.concatenate([ds.train_images, ds.test_images]), np.concatenate([ds.train_labels, ds.test_labels])
    size = min(size, len(pool_y))
    pick = np.random.default_rng(L5_SAMPLE_SEED).permutation(len(pool_y))[:size]
    n_train = round(L5_TRAIN_FRACTION * size)
    return Dataset(ds.name, ds.source, ds.path, pool_x[pick[:n_train]], pool_y[pick[:n_train]],
                   pool_x[pick[n_train:]], pool_y[pick[n_train:]], ds.classes)


def l5_dataset(ctx: Context) -> Dataset:
    """L5's MNIST sample for an experiment: 20,000 images (5,000 with --quick), see `l5_sample`."""
    ds = ctx.load()
    sample = l5_sample(ds, ctx.pick(L5_SAMPLE, L5_QUICK_SAMPLE))
    pool = len(ds.train_labels) + (len(ds.test_labels) if ds.source == "package" else 0)
    n_train, n_test = len(sample.train_labels), len(sample.test_labels)
    ctx.notes["data"] = {"dataset": ds.name, "source": ds.source, "pool": pool, "sample": n_train + n_test,
                         "sample_seed": L5_SAMPLE_SEED, "n_train": n_train, "n_test": n_test}
    return sample


def l5_splits(ds: Dataset, train_norm: str = "unit", test_norm: str | None = None) -> Splits:
    """L5's splits: all of the sample's train and test; `test_norm` other than train's mismatches them on purpose."""
    return make_splits(ds, train_norm, test_normalize=test_norm)


def l5_train(ctx: Context) -> dict:
    """L5's training settings (fewer epochs with --quick)."""
    return {**L5_TRAIN, "epochs": ctx.pick(L5_TRAIN["epochs"], L5_QUICK_EPOCHS)}


def l5_cnn_train(ctx: Context) -> dict:
    """L5's training settings for the CNN of scrambled/shifted: fewer epochs (see settings.L5_CNN)."""
    return {**L5_TRAIN, "epochs": ctx.pick(L5_CNN_EPOCHS, L5_CNN_QUICK_EPOCHS)}


def full_mnist_splits(ctx: Context, val: int, quick_train: int) -> Splits:
    """The L1/L2 setup: full MNIST train (minus `val`) and test; --quick keeps `quick_train` training images."""
    ds = ctx.load()
    if ds.source == "package":  # offline: mnist-sample, with a proportional validation split
        val = val and len(ds.train_labels) // 6
    train_size = min(quick_train, len(ds.train_labels) - val) if ctx.quick else None
    splits = make_splits(ds, "unit", val, train_size)
    if ctx.quick:  # a quick run evaluates on fewer test (and validation) images
        splits.x_test, splits.y_test = splits.x_test[:QUICK_TEST_IMAGES], splits.y_test[:QUICK_TEST_IMAGES]
        if splits.x_val is not None:
            splits.x_val, splits.y_val = splits.x_val[:QUICK_TEST_IMAGES], splits.y_val[:QUICK_TEST_IMAGES]
    ctx.notes["data"] = {**splits.info, "n_test": int(len(splits.y_test))}
    return splits
