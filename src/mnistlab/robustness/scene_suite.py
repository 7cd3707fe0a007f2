"""The paper suite: digits and numbers on generated paper scenes, read through `predict`'s own path.

A generator is a function (seed, count, scene) → [(image, label)], where the image is a file's bytes, a file's
path or an array, and the label the digit or number it shows ("7", "2025"). Generators register themselves by
name with `paper_generator`, each in a module of this package whose name starts with "paper" (paper_heldout.py)
that `generators()` imports, so a second one plugs in without changes to this file. Each declares its role: "held-out" (never tuned on: the
figures to report) or "tuned-on" (the suite a preparation rule was fitted to; its figures are no evidence).
"""
from __future__ import annotations

import importlib
import io
import pkgutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..calibration import unsure
from ..data import images
from ..data.rgb import images_for
from ..errors import UserError
from ..registry import add

ROLES = ("held-out", "tuned-on")
PAPER_COUNT = 100  # pictures a scene by default: a binomial 95% interval of about 4 points near 95%
SUFFIXES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"BM": ".bmp", b"GIF8": ".gif"}  # a file's first bytes


@dataclass(frozen=True)
class PaperGenerator:
    name: str
    role: str  # one of ROLES
    scenes: tuple[str, ...]
    run: Callable[[int, int, str], list[tuple[object, str]]]  # (seed, count, scene) -> [(image, label)]
    about: str = ""


PAPER_GENERATORS: dict[str, PaperGenerator] = {}  # the registry, filled by the robustness/paper*.py modules


def paper_generator(name: str, role: str, scenes: tuple[str, ...], about: str = ""):
    """Register a scene generator under `name`, with its role and the scenes it draws."""
    if role not in ROLES:
        raise ValueError(f"paper generator {name}: role must be one of {ROLES}, not {role!r}")

    def register(fn: Callable[[int, int, str], list[tuple[object, str]]]):
        add(PAPER_GENERATORS, name, PaperGenerator(name, role, tuple(scenes), fn, about), "paper generator")
        return fn
    return register


def generators() -> dict[str, PaperGenerator]:
    """Every registered generator, after importing each robustness/paper*.py module."""
    here = Path(__file__).parent
    for module in pkgutil.iter_modules([str(here)]):
        if module.name.startswith("paper"):
            importlib.import_module(f"{__package__}.{module.name}")
    return PAPER_GENERATORS


def check_generators(names: list[str]) -> list[PaperGenerator]:
    """The generators named, or a UserError that lists the known ones."""
    known = generators()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown paper generator(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [known[n] for n in names]


def write_files(items: list[tuple[object, str]], folder: Path) -> list[Path]:
    """Each generated image as a file `predict` can read: bytes saved under the suffix their magic number gives,
    arrays saved as PNG, paths kept as they are."""
    # PIL: saving an array needs it; images.py depends on it already
    from PIL import Image

    paths = []
    for i, (image, _) in enumerate(items):
        if isinstance(image, bytes):
            suffix = next((s for magic, s in SUFFIXES.items() if image.startswith(magic)), ".img")
            path = folder / f"{i:05d}{suffix}"
            path.write_bytes(image)
        elif isinstance(image, np.ndarray):
            path = folder / f"{i:05d}.png"
            a = image.astype(np.float64)
            Image.fromarray(np.clip(np.round(a * 255 if a.max() <= 1 else a), 0, 255).astype(np.uint8)).save(path)
        else:
            path = Path(image)
        paths.append(path)
    return paths


def read_as_predict(paths: list[Path], shape, classes, judge: Callable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What `predict` feeds the model for each file (uint8 (N, 28, 28)), read one file at a time so a file it
    refuses costs only itself, and a mask of the files it read. `judge`: the run's `confidence`, which picks
    among a 28x28 file's readings as predict's does (none: the preparation's own; a picture of a page
    has one reading)."""
    out, read = np.zeros((len(paths), *shape[1:]), np.uint8), np.zeros(len(paths), bool)
    for i, path in enumerate(paths):
        try:
            out[i] = images_for([path], shape, classes, judge)[0].reshape(shape[1:])
            read[i] = True
        except UserError:
            pass
    return out, read


def numbers_as_predict(paths: list[Path], judge: Callable | None = None) -> list[list[np.ndarray] | None]:
    """The digits `predict --number` finds in each file (data.images.digits_in_files), left to right, in MNIST
    form, cut where `judge` (a run's `confidence`) reads them most surely; None where it refuses the file."""
    found = []
    for path in paths:
        try:
            found.append([digit.image for digit in images.digits_in_files([path], judge)[0]])
        except UserError:
            found.append(None)
    return found


def read_numbers(run, found: list[list[np.ndarray] | None]) -> tuple[list[str], np.ndarray]:
    """`run`'s reading of each file's digits (`numbers_as_predict`) as a string ("" where refused), and how many
    digits it found in each."""
    digits = [d for ds in found if ds for d in ds]
    answers = iter(run.predict(np.stack(digits))[0] if digits else [])
    read = ["".join(run.classes[next(answers)] for _ in ds) if ds else "" for ds in found]
    return read, np.array([len(ds) if ds else 0 for ds in found])


def digit_scores(run, prepared: np.ndarray, read: np.ndarray, labels: list[str]) -> dict:
    """{n, accuracy, sure_wrong, refused}: sure_wrong is the share answered wrong without the unsure mark (the
    answer that misleads); a file predict refuses is wrong, but not sure."""
    predicted, probs = run.predict(prepared)
    right = (np.asarray(run.classes)[predicted] == np.asarray(labels)) & read
    return {"n": len(labels), "accuracy": float(right.mean()), "sure_wrong": float((~right & read & ~unsure(probs)).mean()),
            "refused": int((~read).sum())}


def score_scene(runs: list, items: list[tuple[object, str]], folder: Path) -> list[dict]:
    """Per run: `digit_scores` on single digits (read as plain `predict` reads a file), or {n, exact,
    digits_found_gt1, refused} on numbers (read as `predict --number` reads one)."""
    labels = [label for _, label in items]
    paths = write_files(items, folder)
    if all(len(t) == 1 for t in labels):
        prepared, read = read_as_predict(paths, tuple(runs[0].model.config.input_shape), runs[0].classes)
        return [digit_scores(run, prepared, read, labels) for run in runs]
    results = []
    for run in runs:
        found = numbers_as_predict(paths, run.confidence)
        answers, counts = read_numbers(run, found)
        results.append({"n": len(labels), "exact": float(np.mean([a == t for a, t in zip(answers, labels)])),
                        "digits_found_gt1": float(np.mean(counts > 1)), "refused": sum(f is None for f in found)})
    return results


def score_paper(runs: list, generator: PaperGenerator, seed: int = 0, count: int = PAPER_COUNT,
                scenes: list[str] | None = None, on_step: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """Every run's scores on each scene of `generator` ({scenes: {scene: score}, generator, role, seed, count}),
    each picture written to a file in a temporary folder and read through predict's path."""
    scenes = list(scenes or generator.scenes)
    results = [{"generator": generator.name, "role": generator.role, "seed": seed, "count": count, "scenes": {}}
               for _ in runs]
    for k, scene in enumerate(scenes):
        if on_step is not None:
            on_step(k, len(scenes), f"{generator.name} {scene}")
        with tempfile.TemporaryDirectory(prefix="mnistlab-paper-") as folder:
            for result, scored in zip(results, score_scene(runs, generator.run(seed, count, scene), Path(folder))):
                result["scenes"][scene] = scored
    return results


def scene_cell(score: dict) -> str:
    """A table cell: accuracy for digits, exact reads / found more than one digit for numbers."""
    if "accuracy" in score:
        return f"{100 * score['accuracy']:.1f}% ({100 * score['sure_wrong']:.0f}%)"
    return f"{100 * score['exact']:.1f}% / {100 * score['digits_found_gt1']:.0f}%"


def viewed(image) -> np.ndarray:
    """A generated image as a viewer shows it, RGB uint8: a file turned by its EXIF orientation, an array as is."""
    # PIL: decoding the examples for the figure
    from PIL import Image, ImageOps

    if isinstance(image, np.ndarray):
        a = image.astype(np.float64)
        gray = np.clip(np.round(a * 255 if a.max() <= 1 else a), 0, 255).astype(np.uint8)
        return np.stack([gray] * 3, axis=-1) if gray.ndim == 2 else gray
    with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


def examples(generator: PaperGenerator, seed: int = 0, per_scene: int = 4) -> dict[str, list[tuple[np.ndarray, str]]]:
    """The first pictures of every scene, as a viewer shows them, with their labels (for the scenes figure)."""
    return {scene: [(viewed(image), label) for image, label in generator.run(seed, per_scene, scene)]
            for scene in generator.scenes}


def paper_table(results: list[dict], names: list[str]) -> list[str]:
    """The text table for one generator: a row per scene, a column per run."""
    width = max(14, *(len(n) for n in names))
    first = results[0]
    lines = [f"paper scenes of generator {first['generator']} ({first['role']}), {first['count']} pictures a scene, "
             f"seed {first['seed']}: accuracy through predict (wrong and not marked unsure); numbers: read exactly / "
             f"more than one digit found",
             f"{'scene':<16} " + " ".join(f"{n[-width:]:>{width}}" for n in names)]
    for scene in first["scenes"]:
        lines.append(f"{scene:<16} " + " ".join(f"{scene_cell(r['scenes'][scene]):>{width}}" for r in results))
    return lines
