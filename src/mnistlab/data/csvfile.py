"""CSV data sets: one image a row, the label first and the pixels after (Colab's `mnist_train_small.csv`),
with or without a header row (Kaggle's digit-recognizer `train.csv`).

The file is parsed by NumPy's C reader (numpy.loadtxt since NumPy 1.23; docs/benchmarks.md compares it with
pyarrow's here) straight into a uint8 array, so memory holds the images, not the text, and the result is cached
under the file's SHA-256: the next command on the same file reads the cache. A file too large to hold is
refused up front with an estimate. When the parser rejects a file, a plain scan finds the first bad row and
says what is wrong with it.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import numpy as np

from ..errors import UserError, named
from ..fileio import file_digest
from ..memory import check_data_size, data_budget, size_text
from .cache import cached
from .dataset import Dataset
from .formats import TEST_FRACTION, Format, ReadOptions, register
from .stratify import stratified_holdout

SAMPLE = 1 << 20  # bytes read to find the header and the column count


def _zipped(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open_text(path: Path) -> io.TextIOWrapper:
    stream = gzip.open(path, "rb") if _zipped(path) else open(path, "rb")  # noqa: SIM115 (the wrapper closes it)
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _first_rows(path: Path) -> tuple[bool, int]:
    """(has a header, values per row) from the start of the file."""
    try:
        with _open_text(path) as f:
            head = f.read(SAMPLE)
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot be read ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    lines = [line for line in head.splitlines() if line.strip()]
    if not lines:
        raise UserError(f"{path}: the file is empty; a CSV needs one image a row, the label first")
    first = _cells(lines[0], path, 1)
    header = _number(first[0]) is None
    body = lines[1:] if header else lines
    if len(first) < 2 or not body:
        raise UserError(f"{path}: no rows of a label and pixels (first line: {lines[0][:60]!r})")
    return header, len(first)


def _shape(path: Path, n_pixels: int, options: ReadOptions) -> tuple[int, int, int]:
    if options.shape is not None:
        if math.prod(options.shape) != n_pixels:
            raise UserError(f"{path}: --shape {'x'.join(map(str, options.shape))} is {math.prod(options.shape)} pixels "
                            f"but each row holds {n_pixels}")
        return options.shape
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise UserError(f"{path}: {n_pixels} pixels a row is not a square image; give --shape CxHxW "
                        f"(channels first, e.g. 3x32x32 for 3,072)")
    return (1, side, side)


def _cells(line: str, path: Path, row_number: int) -> list[str]:
    """One line's cells by the csv module, whose field limit (128 KB) a file of one endless field passes."""
    try:
        return next(csv.reader([line]))
    except csv.Error as exc:
        raise UserError(f"{path}: row {row_number} is not CSV of numbers ({exc}); a CSV needs one image a row, the "
                        f"label first, values separated by commas") from None


def _diagnose(path: Path, header: bool, n_values: int) -> str:
    """The first row that is ragged, holds a cell that is not a number, or a label or pixel out of range."""
    with _open_text(path) as f:
        for row_number, line in enumerate(f, start=1):
            row = _cells(line, path, row_number) if line.strip() else []
            if row_number == 1 and header or not row:
                continue
            if len(row) != n_values:
                return f"row {row_number} has {len(row)} values but the first row has {n_values} (a ragged row)"
            for column, cell in enumerate(row, start=1):
                value = _number(cell)
                what = "label" if column == 1 else "pixel"
                if value is None or not math.isfinite(value):
                    return f"row {row_number}, column {column}: {cell.strip()[:20]!r} is not a number"
                if value != int(value):
                    return f"row {row_number}, column {column}: {what} {cell.strip()} is not a whole number"
                if column > 1 and not 0 <= value <= 255:
                    return f"row {row_number}, column {column}: pixel {cell.strip()} is outside 0..255"
                if column == 1 and value < 0:
                    return f"row {row_number}: label {cell.strip()} is negative; labels are class numbers 0..K-1"
    return ""


def read_table(path: Path, options: ReadOptions) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, C, H, W) or (N, H, W), int64 labels) from one CSV file, parsed once per content."""
    header, n_values = _first_rows(path)
    shape = _shape(path, n_values - 1, options)
    if not _zipped(path):  # refused before a byte more is read; a compressed file is bounded while it streams
        # every value takes at least a digit and a separator: at most size / 2 values, whatever the first rows say
        size = path.stat().st_size
        check_data_size(size / 2, path, f"{size_text(size)} of CSV ({n_values} values a row)",
                        "give a part of it (e.g. head -n 100000)")
    arrays = cached("tables", file_digest(path, "sha256")[:32],
                    lambda: dict(zip(("pixels", "labels"), _parse(path, header, n_values))),
                    lambda a: set(a) == {"pixels", "labels"} and a["pixels"].dtype == np.uint8 and a["pixels"].ndim == 2
                    and a["pixels"].shape[1] == n_values - 1 and a["labels"].shape == a["pixels"].shape[:1])
    images = arrays["pixels"].reshape(-1, *shape)
    return (images[:, 0] if shape[0] == 1 else images), arrays["labels"]


def _parse(path: Path, header: bool, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 pixels (N, n_values - 1), int64 labels) by NumPy's C reader, which fills the uint8 array as it reads
    (never the text); a compressed file, whose size says nothing, stops one row past the memory bound."""
    limit = data_budget() // n_values
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8, skiprows=int(header), ndmin=2,
                           max_rows=limit + 1 if _zipped(path) else None, encoding="latin-1")  # numbers are ASCII; a header
                           # row in any 8-bit encoding is skipped, not refused
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        problem = _diagnose(path, header, n_values)
        raise UserError(f"{path}: {problem or str(exc).splitlines()[0][:160]}") from None
    if len(table) > limit:
        raise UserError(f"{path}: more than {limit:,} rows of {n_values} values, over the {size_text(data_budget())} "
                        f"a data set may take on this machine; give a part of it (e.g. head -n 100000)")
    if not len(table):
        raise UserError(f"{path}: no rows after the header; a CSV needs one image a row, the label first")
    return table[:, 1:], table[:, 0].astype(np.int64)


def check_labels(labels: np.ndarray, where: str, n_classes: int | None = None) -> int:
    """The number of classes K the labels imply (max + 1): every label in 0..K-1, every class present in training."""
    if n_classes is None:
        n_classes = int(labels.max()) + 1
        missing = np.flatnonzero(np.bincount(labels, minlength=n_classes) == 0)
        if len(missing):
            raise UserError(f"{where}: labels span {labels.min()}..{labels.max()} but class {missing[0]} has no rows; "
                            f"labels must be class numbers 0..K-1, each present")
    elif labels.max() >= n_classes:
        row = int(np.argmax(labels >= n_classes))
        raise UserError(f"{where}: label {labels[row]} (data row {row + 1}) is outside 0..{n_classes - 1}, the training "
                        f"set's classes")
    return n_classes


def split_or_test(name: str, source_path: Path, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                  test: tuple[np.ndarray, np.ndarray] | None, options: ReadOptions, kind: str) -> Dataset:
    """A Dataset from training images and a test set of their own, or a seeded stratified 90/10 split (recorded)."""
    if test is not None:
        return Dataset(name, kind, str(source_path), images, labels, test[0], test[1], classes)
    train_idx, test_idx = stratified_holdout(labels, TEST_FRACTION, options.split_seed)
    if not len(test_idx) or not len(train_idx):
        raise UserError(f"{source_path}: {len(labels)} images are too few to hold out a test set; add images or give {named('test_data')}")
    ds = Dataset(name, kind, str(source_path), images[train_idx], labels[train_idx], images[test_idx], labels[test_idx], classes)
    ds.split = {"method": "stratified", "test_fraction": TEST_FRACTION, "seed": options.split_seed,
                "n_train": int(len(train_idx)), "n_test": int(len(test_idx))}
    return ds


def read_csv_set(path: Path, options: ReadOptions) -> Dataset:
    images, labels = read_table(path, options)
    n_classes = check_labels(labels, str(path))
    test = None
    if options.test_data:
        test_path = Path(options.test_data).expanduser()
        if not test_path.is_file():
            raise UserError(f"{named('test_data', test_path)}: no such file; give a CSV laid out as {path.name}")
        test = read_table(test_path, options)
        check_labels(test[1], str(test_path), n_classes)
        if test[0].shape[1:] != images.shape[1:]:
            raise UserError(f"{named('test_data', test_path)}: images are {test[0].shape[1:]} but {path.name}'s are {images.shape[1:]}")
    name = path.name.removesuffix(".gz").removesuffix(".csv")
    return split_or_test(name, path, images, labels, tuple(str(c) for c in range(n_classes)), test, options, "data-dir")


def _detect(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith((".csv", ".csv.gz"))


register(Format("csv", _detect, read_csv_set,
                "a CSV file (label first, then pixels; header row optional; --shape CxHxW unless square)"))
