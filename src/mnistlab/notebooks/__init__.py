"""The lecture notebooks, one per lecture (L1-L5), shipped inside the package so an installed mnistlab has them.

This folder is their only copy in the repository; `mnistlab notebooks [DIR]` (or `copy_notebooks`) puts them
where you work, leaving any notebook you already have there untouched unless asked to replace it.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..errors import UserError
from ..fileio import check_output, check_space, write_bytes

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
    folders = [t.name for t in targets if t.exists() and not t.is_file()]
    if folders:  # --replace replaces notebooks, never a folder that holds who knows what
        raise UserError(f"{dest / folders[0]}: is a folder, not a notebook; rename it or choose another folder")
    taken = [t.name for t in targets if t.exists()]
    if taken and not replace:
        raise UserError(f"{dest}: already holds {', '.join(taken)}; pass --replace to overwrite them, or choose another folder")
    check_space(dest, sum(source.stat().st_size for source in targets.values()), "notebooks")
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for target, source in targets.items():
        try:
            write_bytes(target, source.read_bytes())
        except OSError as exc:  # all or none: a retry needs no --replace for what this call wrote
            for path in written:
                if path.name not in taken:
                    path.unlink(missing_ok=True)
            raise UserError(f"{target}: cannot be written ({exc.strerror or exc}); the notebooks this call had "
                            f"written are removed, the ones already there kept") from None
        written.append(target)
    return written
