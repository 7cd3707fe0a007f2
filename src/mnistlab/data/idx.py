"""Read and write the IDX format of MNIST-style data sets (gzip-compressed or raw), and read a folder of the
four IDX files as a data set: the `idx-folder` format, registered here like every other format.

Layout: two zero bytes, a type code, the number of dimensions, one big-endian
uint32 per dimension, then the payload in C order, big-endian.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import UserError, named
from ..fileio import write_bytes
from .dataset import DIGITS, Dataset
from .formats import Format, ReadOptions, register

_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_DTYPES = {np.dtype(v).newbyteorder("="): k for k, v in _CODES.items()}
IDX_FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}
FILE_NAMES = ", ".join(stem + "[.gz]" for stem in IDX_FILES.values())  # as messages name them


MAX_PAYLOAD = 8 << 30  # bytes an IDX header may promise; full MNIST's largest file holds 47 MB


def _header(head: bytes, where: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """The type, dimensions and header length that the first bytes of an IDX file declare, checked."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise UserError(f"{where}: not an IDX file (bad magic number {head[:4].hex() or 'empty'}); "
                        f"point {named('data_dir')} at the original IDX files")
    code, ndim = head[2], head[3]
    if code not in _CODES or not 1 <= ndim <= 4:
        raise UserError(f"{where}: not an IDX file (type code 0x{code:02x}, {ndim} dimensions); "
                        f"point {named('data_dir')} at the original IDX files")
    size = 4 + 4 * ndim
    if len(head) < size:
        raise UserError(f"{where}: truncated IDX header; the file is damaged, download it again")
    dims = struct.unpack(f">{ndim}I", head[4:size])
    dtype = np.dtype(_CODES[code])
    if 0 in dims:
        raise UserError(f"{where}: the IDX header declares {'x'.join(map(str, dims))} items, an empty array; "
                        f"the file is damaged, download it again")
    if math.prod(dims) * dtype.itemsize > MAX_PAYLOAD:
        raise UserError(f"{where}: the IDX header declares {'x'.join(map(str, dims))} items "
                        f"({math.prod(dims) * dtype.itemsize:,} bytes), more than {MAX_PAYLOAD >> 30} GiB; the file is damaged")
    return dtype, dims, size


def _array(payload: bytes, dtype: np.dtype, dims: tuple[int, ...], header: int, where: str, total: int) -> np.ndarray:
    expected = math.prod(dims) * dtype.itemsize
    if len(payload) != expected:
        raise UserError(f"{where}: IDX header promises {'x'.join(map(str, dims))} items ({expected} bytes) "
                        f"but the payload has {total - header} bytes; the file is truncated or damaged, download it again")
    array = np.frombuffer(payload, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def decode_idx(data: bytes, where: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes; every structural problem names `where`."""
    dtype, dims, header = _header(data[:20], where)
    return _array(data[header:], dtype, dims, header, where, len(data))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip detected by content, not by name), checking the header against the file before
    reading the payload: gzip is streamed and never expands past the size the header declares (plus one byte)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    with open(path, "rb") as raw:
        zipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if zipped else raw
        try:
            head = stream.read(4)
            head += stream.read(4 * head[3]) if len(head) == 4 else b""
            dtype, dims, header = _header(head, str(path))
            expected = math.prod(dims) * dtype.itemsize
            if not zipped and path.stat().st_size != header + expected:
                raise UserError(f"{path}: IDX header promises {'x'.join(map(str, dims))} items ({expected} bytes) "
                                f"but the payload has {path.stat().st_size - header} bytes; the file is truncated or damaged, "
                                f"download it again")
            payload = stream.read(expected + 1)
        except (EOFError, OSError, zlib.error) as exc:
            raise UserError(f"{path}: corrupt or truncated gzip data ({exc}); delete it and download it again") from None
    return _array(payload, dtype, dims, header, str(path), header + len(payload))


def encode_idx(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    code = _DTYPES.get(array.dtype.newbyteorder("="))
    if code is None or not 1 <= array.ndim <= 4:
        raise ValueError(f"cannot store {array.dtype} with {array.ndim} dimensions as IDX")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    return header + array.astype(_CODES[code], copy=False).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` as IDX, gzip-compressed when the name ends in .gz; atomically."""
    data = encode_idx(array)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes(path, data)


def find_files(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in `folder` (gzip or raw names), or None if any is missing."""
    found = {}
    for role, stem in IDX_FILES.items():
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            return None
    return found


def _read_folder(files: dict[str, Path], folder: Path) -> Dataset:
    """The four files as a data set named after its folder, labels checked against the ten classes IDX sets have."""
    arrays = {role: read_idx(path) for role, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}-images"], arrays[f"{split}-labels"]
        if images.ndim != 3 or labels.ndim != 1:
            raise UserError(f"{files[f'{split}-images']}: expected images (N, H, W) and labels (N,), "
                            f"got {images.shape} and {labels.shape}; check the files in {folder}")
        if len(images) != len(labels):
            raise UserError(f"{folder}: {split} images and labels disagree ({len(images)} images, {len(labels)} labels); "
                            f"replace {files[f'{split}-labels'].name} or {files[f'{split}-images'].name}")
        if images.dtype != np.uint8 or len(images) == 0:
            raise UserError(f"{files[f'{split}-images']}: expected at least one uint8 image, got {len(images)} of "
                            f"{images.dtype}; point {named('data_dir')} at the original IDX files")
        if labels.dtype.kind not in "iu":
            raise UserError(f"{files[f'{split}-labels']}: labels must be whole class numbers (uint8), got {labels.dtype}; "
                            f"point {named('data_dir')} at the original IDX files")
        if labels.min() < 0 or labels.max() >= len(DIGITS):
            raise UserError(f"{files[f'{split}-labels']}: labels span {int(labels.min())}..{int(labels.max())}, "
                            f"outside 0..{len(DIGITS) - 1} for {len(DIGITS)} classes; is this the right file?")
    if arrays["train-images"].shape[1:] != arrays["test-images"].shape[1:]:
        raise UserError(f"{folder}: train images are {'x'.join(map(str, arrays['train-images'].shape[1:]))} but test images "
                        f"are {'x'.join(map(str, arrays['test-images'].shape[1:]))}; the files come from different sets")
    return Dataset(folder.name, "data-dir", str(folder),
                   arrays["train-images"], arrays["train-labels"].astype(np.int64),
                   arrays["test-images"], arrays["test-labels"].astype(np.int64))


def _is_idx_folder(path: Path) -> bool:
    """An IDX folder: a folder holding at least one of the four IDX file names (an incomplete one is refused by name)."""
    return path.is_dir() and any((path / f"{stem}{ext}").is_file() for stem in IDX_FILES.values() for ext in (".gz", ""))


def _read_idx_path(path: Path, options: ReadOptions) -> Dataset:
    files = find_files(path)
    if not files:
        raise UserError(f"data directory {path} does not hold the four IDX files ({FILE_NAMES})")
    return _read_folder(files, path)


register(Format("idx-folder", _is_idx_folder, _read_idx_path,
                "an IDX folder (train-images-idx3-ubyte[.gz] and the other three files)",
                complete=lambda folder: find_files(folder) is not None, expected=f"the four {{name}} IDX files ({FILE_NAMES})",
                labels_only=True))
