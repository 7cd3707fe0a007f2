"""The lecture notebooks, one per lecture (L1-L5), shipped inside the package so an installed mnistlab has them.

This folder is their only copy in the repository; `mnistlab notebooks [DIR]` (or `copy_notebooks`) puts them
where you work, leaving any notebook you already have there untouched unless asked to replace it.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..errors import UserError
from ..fileio import check_output, write_bytes

NOTEBOOKS = {
    "L1": "L1-cnn-training.ipynb",
    "L2": "L2-linear-to-conv.ipynb",
    "L3": "L3-convolution-from-scratch.ipynb",
    "L4": "L4-tensors-autograd.ipynb",
    "L5": "L5-ffn-on-mnist.ipynb",
}


def notebook_paths() -> dict[str, Path]:
    """Lecture -> the shipped notebook file."""
    here = files(__package__)
    return {lecture: Path(str(here / name)) for lecture, name in NOTEBOOKS.items()}


def copy_notebooks(dest: str | Path = ".", replace: bool = False) -> list[Path]:
    """Copy every lecture notebook into `dest` (created if missing); returns the paths written.

    A notebook of the same name already in `dest` may hold your edits: it is refused, before anything is
    copied, unless `replace` is true.
    """
    dest = check_output(dest)
    targets = {dest / path.name: path for path in notebook_paths().values()}
    taken = [t.name for t in targets if t.exists()]
    if taken and not replace:
        raise UserError(f"{dest}: already holds {', '.join(taken)}; pass --replace to overwrite them, or choose another folder")
    dest.mkdir(parents=True, exist_ok=True)
    for target, source in targets.items():
        write_bytes(target, source.read_bytes())
    return list(targets)
