"""Read and write the IDX format of MNIST-style data sets (gzip-compressed or raw).

Layout: two zero bytes, a type code, the number of dimensions, one big-endian
uint32 per dimension, then the payload in C order, big-endian.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import write_bytes

_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_DTYPES = {np.dtype(v).newbyteorder("="): k for k, v in _CODES.items()}


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise UserError(f"{path}: corrupt or truncated gzip data ({exc}); delete it and download it again") from None


def decode_idx(data: bytes, where: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes; every structural problem names `where`."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise UserError(f"{where}: not an IDX file (bad magic number {data[:4].hex() or 'empty'}); "
                        f"point --data-dir at the original IDX files")
    code, ndim = data[2], data[3]
    if code not in _CODES or not 1 <= ndim <= 4:
        raise UserError(f"{where}: not an IDX file (type code 0x{code:02x}, {ndim} dimensions); point --data-dir at the original IDX files")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"{where}: truncated IDX header; the file is damaged, download it again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_CODES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header
    if payload != expected:
        raise UserError(f"{where}: IDX header promises {'x'.join(map(str, dims))} items ({expected} bytes) "
                        f"but the payload has {payload} bytes; the file is truncated or damaged, download it again")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip detected by content, not by name)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return decode_idx(_raw_bytes(path), str(path))


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
