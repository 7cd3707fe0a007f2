"""The registry of data formats `--data PATH` reads: IDX folders, CSV files, image folders, CIFAR-10 archives.

Each format registers itself where it is defined (`register(Format(...))` at the bottom of its module), and
data/__init__.py imports every such module, in the order their detectors are asked; this module only holds the
registry, the options every reader takes, and the dispatch by what PATH looks like.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import UserError, named
from ..registry import add
from .dataset import Dataset
from .images import MAX_PIXELS, MAX_SIDE

TEST_FRACTION = 0.1  # the held-out share when a file or folder brings no test set of its own (L5: 90/10)


@dataclass(frozen=True)
class ReadOptions:
    """What a reader needs beyond PATH; recorded in run.json so `eval`, `inspect` and `serve` read the same data.

    shape: (C, H, W) for CSV rows whose pixel count is not square; test_data: a second file or folder for the
    test set; image_size: (H, W) every image of a folder is resized to; split_seed: the seeded stratified
    90/10 split used when there is no test set of its own.
    """

    shape: tuple[int, int, int] | None = None
    test_data: str | None = None
    image_size: tuple[int, int] | None = None
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.image_size is not None and (max(self.image_size) > MAX_SIDE or self.image_size[0] * self.image_size[1] > MAX_PIXELS):
            h, w = self.image_size
            raise UserError(f"{named('image_size', f'{h}x{w}', python=(h, w))}: at most {MAX_SIDE} a side and {MAX_PIXELS:,} "
                            f"pixels, as for one image "
                            f"read; a model input is usually at most a few hundred a side (e.g. 64x64)")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict | None) -> ReadOptions:
        d = d or {}
        tup = lambda v: None if v is None else tuple(int(x) for x in v)  # noqa: E731
        return cls(tup(d.get("shape")), d.get("test_data"), tup(d.get("image_size")), int(d.get("split_seed", 0)))


@dataclass(frozen=True)
class Format:
    """A readable layout: `detect(path)` claims a path, `read(path, options)` turns it into a Dataset.

    A format that registered sets are downloaded in (data/sources.py's `SetInfo.format`) also says when a folder
    holds all of a set's files (`complete`: else the set is fetched), what those files are (`expected`, with
    {name} for the set's name) for the message when they are missing, and whether they hold class numbers only
    (`labels_only`: the set's registered class names then name them).
    """

    name: str
    detect: Callable[[Path], bool]
    read: Callable[[Path, ReadOptions], Dataset]
    example: str  # one line for --help and the docs
    complete: Callable[[Path], bool] | None = None
    expected: str = ""
    labels_only: bool = False


FORMATS: dict[str, Format] = {}  # in the order data/__init__.py imports their modules: the first that claims PATH reads it


def register(fmt: Format) -> Format:
    return add(FORMATS, fmt.name, fmt, "data format")


def detect(path: str | os.PathLike) -> Format:
    """The format of PATH, or a one-line refusal that lists what would have been read."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"data path {path} does not exist; give {what_reads()}")
    for fmt in FORMATS.values():
        if fmt.detect(path):
            return fmt
    raise UserError(f"{path}: holds no data set mnistlab reads; give {what_reads()}")


def what_reads() -> str:
    return "; or ".join(f.example for f in FORMATS.values())


def read_path(path: str | os.PathLike, options: ReadOptions | None = None) -> Dataset:
    """Read the data set at PATH in whatever registered format it is; its record says how to read it again."""
    # absolute in the record: a run trained on `--data digits.csv` is read again from any folder, and never from
    # a same-named file there
    path = Path(os.path.abspath(Path(path).expanduser()))
    options = options or ReadOptions()
    if options.test_data:
        options = replace(options, test_data=os.path.abspath(Path(options.test_data).expanduser()))
    fmt = detect(path)
    ds = fmt.read(path, options)
    ds.read = {"format": fmt.name, **options.to_dict()}
    return ds


def parse_shape(text: str, parts: int) -> tuple[int, ...]:
    """'3x32x32' → (3, 32, 32): whole positive numbers, `parts` of them."""
    try:
        values = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        values = ()
    if len(values) != parts or min(values) < 1:
        raise UserError(f"{text!r} is not a size of {parts} positive whole numbers such as "
                        f"{'3x32x32' if parts == 3 else '32x32'}")
    return values
