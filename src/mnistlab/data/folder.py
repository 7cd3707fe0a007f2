"""Image folders, torchvision's ImageFolder convention: PATH/train/<class>/* and PATH/test/<class>/*, or
PATH/<class>/* held out stratified. Class names are the folder names, sorted.

All-gray images give one channel, anything else three. Every image must have one size unless --image-size
resizes them. Decoding tens of thousands of small files is the slow part, so the decoded arrays are cached
(keyed by every file's name, size and modification time) and a progress line runs meanwhile on a terminal.
"""
from __future__ import annotations

import hashlib
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import UserError, named
from ..memory import check_data_size
from ..progress import Progress
from ..threads import allowed_cores
from .cache import cached
from .csvfile import split_or_test
from .dataset import Dataset
from .formats import Format, ReadOptions, register
from .rgb import EXTENSIONS, decode, header_size, is_gray


def _classes(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def _images(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS and not p.name.startswith(".") and p.is_file())
    if not files:
        raise UserError(f"{folder}: an empty class folder (no {', '.join(EXTENSIONS)} files); add images or remove it")
    return files


def _layout(path: Path) -> dict[str, list[Path]]:
    """{'train': class folders, 'test': class folders} or {'all': class folders}."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        parts = {"train": _classes(path / "train"), "test": _classes(path / "test")}
        names, test_names = [p.name for p in parts["train"]], [p.name for p in parts["test"]]
        strays = sorted(set(test_names) - set(names))
        if strays:
            raise UserError(f"{path / 'test' / strays[0]}: a test class with no training folder of that name in {path / 'train'}")
        if not names:
            raise UserError(f"{path / 'train'}: no class folders")
        return parts
    return {"all": _classes(path)}


def _decode_all(files: list[Path], size: tuple[int, int] | None, progress) -> list[np.ndarray]:
    """Decode every file (two threads: PIL releases the GIL while it inflates), with a progress line."""
    def one(p: Path) -> np.ndarray:
        with open(p, "rb") as f:
            return decode(f, str(p), size)

    out = []
    with ThreadPoolExecutor(max_workers=min(4, len(allowed_cores()))) as pool:
        for i, image in enumerate(pool.map(one, files, chunksize=256), start=1):
            out.append(image)
            if progress and (i % 2000 == 0 or i == len(files)):
                progress.show(f"reading images {i:,}/{len(files):,}", i / len(files))
    return out


def _check_before_decoding(files: list[Path], size: tuple[int, int] | None, root: Path) -> None:
    """From the headers alone: one size for every image (unless --image-size), and the whole set within the
    memory budget as decoded (RGB, 3 bytes a pixel, held once as a list and once stacked). A folder of small PNGs
    of 7000x7000 blank pixels was refused only after 7 GB, on the file that ran out of memory."""
    resize = named("image_size", "HxW", python="(H, W)")
    if size is not None:
        pixels = len(files) * size[0] * size[1]
    else:
        shapes: dict[tuple[int, int], Path] = {}
        for file in files:
            shape = header_size(file)
            if shape is not None:  # unreadable: decode() says why
                shapes.setdefault(shape, file)
        if len(shapes) > 1:
            (a, fa), (b, fb) = list(shapes.items())[:2]
            raise UserError(f"{root}: images of different sizes ({fa.relative_to(root)} is {a[0]}x{a[1]}, "
                            f"{fb.relative_to(root)} is {b[0]}x{b[1]}); give {resize} to resize them all")
        pixels = len(files) * max((h * w for h, w in shapes), default=0)
    check_data_size(6 * pixels, root, f"its {len(files):,} images", f"give {resize} to shrink them, or fewer images")


def _key(path: Path, files: list[Path], size) -> str:
    h = hashlib.sha256(f"{path.resolve()} {size}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def class_names(path: Path) -> list[str]:
    """The folder's class names (its class folders, of train/ where there is one), from the listing alone."""
    parts = _layout(path)
    names = [p.name for p in parts.get("train", parts.get("all"))]
    if not names:
        raise UserError(f"{path}: no class folders; lay images out as {path}/<class>/* or {path}/train/<class>/*")
    return names


def _read_arrays(path: Path, options: ReadOptions) -> dict[str, np.ndarray]:
    parts, names = _layout(path), class_names(path)
    listing = {part: [(names.index(c.name), f) for c in classes for f in _images(c)] for part, classes in parts.items()}
    files = [f for part in listing.values() for _, f in part]
    return cached("folders", _key(path, files, options.image_size), lambda: _decode_folder(path, names, listing, options),
                  lambda arrays: _entry_fits(arrays, names, {part: len(entries) for part, entries in listing.items()}))


def _entry_fits(arrays: dict[str, np.ndarray], names: list[str], counts: dict[str, int]) -> bool:
    """Whether a cached entry holds this listing's arrays: its class names, and per part N uint8 images and labels."""
    expected = {"classes"} | {f"{part}_{kind}" for part in counts for kind in ("images", "labels")}
    if set(arrays) != expected or [str(c) for c in arrays["classes"]] != names:
        return False
    shapes = {arrays[f"{part}_images"].shape[1:] for part in counts}
    return len(shapes) == 1 and all(arrays[f"{part}_images"].dtype == np.uint8 and len(arrays[f"{part}_images"]) == n
                                    and arrays[f"{part}_labels"].shape == (n,) for part, n in counts.items())


def _decode_folder(path: Path, names: list[str], listing: dict, options: ReadOptions) -> dict[str, np.ndarray]:
    files = [f for part in listing.values() for _, f in part]

    _check_before_decoding(files, options.image_size, path)
    progress = Progress(True, sys.stderr)  # one updating line on a terminal, a few plain lines in a log
    progress.begin(f"{path.name}: {len(files):,} images")
    try:
        decoded = _decode_all(files, options.image_size, progress)
    finally:
        progress.close()
    images = np.stack(decoded)  # one size: checked from the headers
    gray = all(is_gray(image) for image in decoded)
    images = images[..., 0] if gray else images.transpose(0, 3, 1, 2)
    arrays, start = {"classes": np.array(names)}, 0
    for part, entries in listing.items():
        arrays[f"{part}_images"] = images[start: start + len(entries)]
        arrays[f"{part}_labels"] = np.array([label for label, _ in entries], np.int64)
        start += len(entries)
    return arrays


def read_folder_whole(path: Path, image_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Every image of a folder, train/ and test/ together and no test set held out (a few digits a class, as
    fine-tuning reads them, are too few to split): uint8 images, labels, class names."""
    arrays = _read_arrays(path, ReadOptions(image_size=image_size))
    parts = [p for p in ("all", "train", "test") if f"{p}_images" in arrays]
    return (np.concatenate([arrays[f"{p}_images"] for p in parts]), np.concatenate([arrays[f"{p}_labels"] for p in parts]),
            tuple(str(c) for c in arrays["classes"]))


def read_folder_set(path: Path, options: ReadOptions) -> Dataset:
    arrays = _read_arrays(path, options)
    classes = tuple(str(c) for c in arrays["classes"])
    if "all_images" in arrays:
        return split_or_test(path.name, path, arrays["all_images"], arrays["all_labels"], classes, None, options, "data-dir")
    return split_or_test(path.name, path, arrays["train_images"], arrays["train_labels"], classes,
                         (arrays["test_images"], arrays["test_labels"]), options, "data-dir")


def _detect(path: Path) -> bool:
    """A folder of folders (train/ and test/, or one per class)."""
    return path.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())


register(Format("image-folder", _detect, read_folder_set,
                "an image folder (PATH/train/<class>/* and PATH/test/<class>/*, or PATH/<class>/*)"))
