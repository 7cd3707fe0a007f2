"""CIFAR-10's binary version, read in place: the .tar.gz is streamed member by member (nothing is extracted,
nothing is unpickled), or the extracted cifar-10-batches-bin/ folder is read as it is.

Each batch is a run of 3,073-byte records: one label byte, then 1,024 red, 1,024 green and 1,024 blue bytes
of a 32x32 image, row by row. `batches.meta.txt` names the classes, one a line. Any data set written in this
layout (e.g. coloured digits) reads the same way.
"""
from __future__ import annotations

import io
import re
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import UserError
from ..fileio import atomic_path
from ..memory import check_data_size
from .dataset import Dataset
from .formats import Format, register

SIDE, CHANNELS = 32, 3
RECORD = 1 + CHANNELS * SIDE * SIDE  # 3,073 bytes
META = "batches.meta.txt"
FOLDER, ARCHIVE = "cifar-10-batches-bin", "cifar-10-binary.tar.gz"
TRAIN = re.compile(r"data_batch_\d+\.bin")
TEST = "test_batch.bin"
MAX_MEMBER = 1 << 30  # bytes in one batch; CIFAR-10's are 30 MB


def _wanted(name: str) -> bool:
    return bool(TRAIN.fullmatch(name)) or name in (TEST, META)


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith((".tar.gz", ".tgz", ".tar"))


def _batch_folder(path: Path) -> Path | None:
    for folder in (path, path / FOLDER):
        if folder.is_dir() and ((folder / TEST).is_file() or any(folder.glob("data_batch_*.bin"))):
            return folder
    return None


def find_cifar(folder: Path) -> Path | None:
    """The archive or batch folder of a CIFAR-10 set in `folder` (the archive, its extracted folder, or either inside)."""
    if _is_archive(folder):
        return folder
    if (folder / ARCHIVE).is_file():
        return folder / ARCHIVE
    return _batch_folder(folder)


def _detect(path: Path) -> bool:
    return _is_archive(path) or (path.is_dir() and find_cifar(path) is not None)


def _archive_members(path: Path) -> dict[str, bytes]:
    """The batches and class names from a tar, streamed; a member whose name leaves the archive's folder is refused
    (it is never extracted either way), as is a batch larger than any CIFAR batch."""
    found: dict[str, bytes] = {}
    held = 0
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                pure = PurePosixPath(member.name)
                if pure.is_absolute() or ".." in pure.parts or ((member.issym() or member.islnk()) and _wanted(pure.name)):
                    raise UserError(f"{path}: member {member.name!r} escapes the archive's folder (absolute, '..' or a "
                                    f"link); this is not a CIFAR-10 archive, and nothing was extracted")
                if not member.isfile() or not _wanted(pure.name):
                    continue
                if member.size > MAX_MEMBER:
                    raise UserError(f"{path}: member {member.name} holds {member.size:,} bytes, more than a CIFAR batch")
                held += member.size  # checked before it is read: a small archive may hold gigabytes of zeros
                check_data_size(2 * held, path, "its batches (read, then joined)", "this is not CIFAR-10's size; give a smaller set")
                found[pure.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise UserError(f"{path}: not a readable tar archive ({exc.__class__.__name__}: {str(exc)[:80]}); "
                        f"download it again") from None
    return found


def _folder_members(folder: Path) -> dict[str, bytes]:
    found = {}
    files = [file for file in sorted(folder.iterdir()) if file.is_file() and _wanted(file.name)]
    check_data_size(2 * sum(file.stat().st_size for file in files), folder, "its batches (read, then joined)",
                    "this is not CIFAR-10's size; give a smaller set")
    for file in files:
        try:
            found[file.name] = file.read_bytes()
        except OSError as exc:
            raise UserError(f"{file}: cannot be read ({exc.strerror})") from None
    return found


def _records(data: bytes, where: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    if len(data) == 0 or len(data) % RECORD:
        raise UserError(f"{where}: {len(data):,} bytes is not a whole number of {RECORD:,}-byte CIFAR records "
                        f"(1 label byte + 3x32x32 pixels); the batch is truncated or not a CIFAR batch")
    table = np.frombuffer(data, np.uint8).reshape(-1, RECORD)
    labels = table[:, 0].astype(np.int64)
    if labels.max() >= n_classes:
        row = int(np.argmax(labels >= n_classes))
        raise UserError(f"{where}: record {row} has label {labels[row]}, outside 0..{n_classes - 1} for the "
                        f"{n_classes} classes of {META}")
    return table[:, 1:].reshape(-1, CHANNELS, SIDE, SIDE), labels


def read_cifar(path: Path, name: str | None = None, source: str = "data-dir") -> Dataset:
    """A CIFAR-10-layout archive or batch folder → Dataset of uint8 (N, 3, 32, 32) images."""
    where = path if _is_archive(path) else _batch_folder(path) or path
    members = _archive_members(path) if _is_archive(path) else _folder_members(where)
    trains = sorted((k for k in members if TRAIN.fullmatch(k)), key=lambda k: int(k[11:-4]))
    missing = [k for k, ok in ((META, META in members), ("data_batch_*.bin", trains), (TEST, TEST in members)) if not ok]
    if missing:
        raise UserError(f"{where}: not a CIFAR-10 binary set: {', '.join(missing)} missing "
                        f"(give {ARCHIVE} or its extracted {FOLDER}/)")
    classes = tuple(line.strip() for line in members[META].decode("utf-8", "replace").splitlines() if line.strip())
    parts = [_records(members[k], f"{where}: {k}", len(classes)) for k in trains]
    test_images, test_labels = _records(members[TEST], f"{where}: {TEST}", len(classes))
    stem = re.sub(r"\.(tar\.gz|tgz|tar)$", "", where.name, flags=re.I)
    return Dataset(name or ("cifar10" if where.name in (ARCHIVE, FOLDER) else stem), source, str(path),
                   np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   test_images, test_labels, classes)


def write_cifar(path: str | Path, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                classes: tuple[str, ...], batches: int = 5) -> Path:
    """Write (images (N, 3, 32, 32) uint8, labels) as a CIFAR-10 binary .tar.gz: for tests, docs and benchmarks."""
    def batch(images: np.ndarray, labels: np.ndarray) -> bytes:
        return np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1).tobytes()

    files = {f"data_batch_{i + 1}.bin": batch(x, y) for i, (x, y) in
             enumerate(zip(np.array_split(train[0], batches), np.array_split(train[1], batches)))}
    files[TEST], files[META] = batch(*test), ("\n".join(classes) + "\n\n").encode()

    with atomic_path(path) as tmp, tarfile.open(tmp, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return Path(path)


register(Format("cifar10", _detect, lambda path, options: read_cifar(find_cifar(path) or path),
                f"a CIFAR-10 binary archive ({ARCHIVE}) or its extracted {FOLDER}/",
                complete=_detect, expected=f"{ARCHIVE} or its extracted {FOLDER}/"))
