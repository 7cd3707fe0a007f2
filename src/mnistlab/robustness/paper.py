"""Paper scenes, the suite tuned on: MNIST test digits written on generated paper and photographed.

Each scene puts one test digit (or a number of 2-4 of them) on paper: plain, ruled, squared or in a printed
form box, in black or blue ballpoint or pencil, scanned or photographed (uneven light, mild perspective,
JPEG), with a pen that skips, dots or draws a hairline. Every image is encoded as a file (PNG, or JPEG for
photos) and read back the way `predict` reads a file, then prepared as `predict` prepares it. This is the
suite the preparation was tuned on, registered as the "tuning" generator of the paper suite (scene_suite.py);
the held-out generator is different code with different parameters, never tuned on.
"""
from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from ..data import load_dataset
from ..data.images import open_image
from .scene_suite import paper_generator

INKS = {"black": (0.08, 0.08, 0.1), "blue": (0.1, 0.16, 0.55), "pencil": (0.38, 0.38, 0.4)}
RULE_COLOURS = [(0.55, 0.7, 0.95), (0.7, 0.7, 0.72), (0.95, 0.55, 0.55)]  # light blue, gray, red


@dataclass(frozen=True)
class Scene:
    name: str
    about: str
    make: Callable[[list[np.ndarray], np.random.Generator], np.ndarray]  # digits (28x28 uint8) -> file bytes
    digits: tuple[int, int] = (1, 1)  # how many digits a scene holds, at least and at most


SCENES: dict[str, Scene] = {}  # the registry, filled below in the order the table shows


def scene(name: str, about: str, digits: tuple[int, int] = (1, 1)):
    def register(fn):
        SCENES[name] = Scene(name, about, fn, digits)
        return fn
    return register


def sheet(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """White paper (h, w, 3) with a slight tint and grain."""
    tint = 1.0 - rng.uniform(0.0, 0.04, 3)
    return np.clip(tint + rng.normal(0, 0.012, (h, w, 1)), 0, 1) * np.ones((1, 1, 3))


def pen_strokes(digit: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """A digit's ink (alpha in [0, 1]) drawn `height` pixels tall: MNIST's 20-pixel box scaled up."""
    rows, cols = np.nonzero(digit > 25)
    box = digit[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    scale = height / box.shape[0]
    size = (max(2, round(box.shape[1] * scale)), max(2, round(box.shape[0] * scale)))
    ink = np.asarray(Image.fromarray(box).resize(size, Image.BICUBIC), dtype=np.float64) / 255
    return np.clip(ink * rng.uniform(1.0, 1.4), 0, 1)


def put(page: np.ndarray, alpha: np.ndarray, top: int, left: int, colour) -> None:
    """Ink of `colour` through `alpha` onto `page` at (top, left), in place (clipped at the page's edges)."""
    h, w = alpha.shape
    h, w = min(h, page.shape[0] - top), min(w, page.shape[1] - left)
    region = page[top: top + h, left: left + w]
    a = alpha[:h, :w, None]
    region[:] = region * (1 - a) + a * np.asarray(colour)


def lines(page: np.ndarray, spacing: float, colour, width: float, axis: int, rng: np.random.Generator,
          slope: float = 0.0) -> None:
    """Printed straight lines every `spacing` pixels along `axis` (0: horizontal rules), in place."""
    h, w = page.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    t = (ys + slope * xs) if axis == 0 else (xs + slope * ys)
    phase = rng.uniform(0, spacing)
    d = np.abs((t - phase + spacing / 2) % spacing - spacing / 2)
    put(page, np.clip(width / 2 + 0.5 - d, 0, 1) * rng.uniform(0.7, 1.0), 0, 0, colour)


def encode(page: np.ndarray, jpeg: int | None = None) -> bytes:
    """The page as a PNG, or a JPEG at quality `jpeg`, as a user's file would be."""
    buf = io.BytesIO()
    img = Image.fromarray(np.round(np.clip(page, 0, 1) * 255).astype(np.uint8))
    img.save(buf, format="JPEG" if jpeg else "PNG", **({"quality": jpeg} if jpeg else {}))
    return buf.getvalue()


def written(digits: list[np.ndarray], rng: np.random.Generator, height: int, page: np.ndarray | None = None,
            ink: str | None = None, at: tuple[int, int] | None = None, gap=(4, 14), alter=None) -> np.ndarray:
    """`digits` written left to right `height` pixels tall on `page` (plain paper by default), `gap` pixels
    apart (a range; negative: touching), starting at `at` (default: centred); `alter` changes each digit's ink."""
    strokes = [pen_strokes(d, height, rng) for d in digits]
    strokes = [alter(s, rng) if alter else s for s in strokes]
    gaps = [int(rng.integers(*gap)) for _ in strokes[1:]]
    width = sum(s.shape[1] for s in strokes) + sum(gaps)
    if page is None:
        page = sheet(height * 2, max(height * 2, width + height), rng)
    top, left = at or ((page.shape[0] - height) // 2, (page.shape[1] - width) // 2)
    colour = INKS[ink or rng.choice(list(INKS))]
    for s, g in zip(strokes, [0, *gaps]):
        left += g
        put(page, s, top + int(rng.integers(-2, 3)), max(0, left), colour)
        left += s.shape[1]
    return page


@scene("plain", "a scan of white paper, black or blue ballpoint or pencil, the digit 40-90 pixels tall")
def _plain(digits, rng):
    return encode(written(digits, rng, int(rng.integers(40, 90))))


@scene("photo", "a phone photo: uneven light, a shadow, mild perspective, noise, JPEG at quality 55-85")
def _photo(digits, rng):
    return photographed(written(digits, rng, int(rng.integers(50, 110))), rng)


def photographed(page: np.ndarray, rng: np.random.Generator) -> bytes:
    """The page photographed: light falling off, the phone's shadow along a side, mild perspective, JPEG."""
    h, w = page.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w)
    light = 1 - rng.uniform(0.1, 0.35) * ((ys - rng.uniform(0, 1)) ** 2 + (xs - rng.uniform(0, 1)) ** 2)
    light -= rng.uniform(0, 0.25) * (xs > rng.uniform(0.6, 0.9))  # the phone's shadow along a side
    page = np.clip(page * light[..., None] + rng.normal(0, 0.02, page.shape), 0, 1)
    return encode(perspective(page, rng), jpeg=int(rng.integers(55, 86)))


def perspective(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The page seen slightly from the side: a mild projective warp, the corners moved by up to 6%."""
    h, w = page.shape[:2]
    img = Image.fromarray(np.round(page * 255).astype(np.uint8))
    d = rng.uniform(-0.06, 0.06, 8) * np.array([w, h] * 4)
    corners = np.array([0, 0, 0, h, w, h, w, 0], dtype=float) + d
    out = img.transform((w, h), Image.QUAD, tuple(corners), Image.BILINEAR, fillcolor=tuple(img.getpixel((0, 0))))
    return np.asarray(out, dtype=np.float64) / 255


@scene("ruled", "a notebook: light blue, gray or red rules every 0.6-1 digit heights, a red margin, a slight tilt")
def _ruled(digits, rng):
    height = int(rng.integers(40, 80))
    page = sheet(height * 2 + 20, max(200, len(digits) * height + 80), rng)
    spacing = height * rng.uniform(0.6, 1.0)
    lines(page, spacing, RULE_COLOURS[int(rng.integers(3))], rng.uniform(1, 3), 0, rng, rng.uniform(-0.03, 0.03))
    page[:, 15:18] = page[:, 15:18] * 0.3 + 0.7 * np.asarray((0.9, 0.4, 0.4))
    return encode(written(digits, rng, height, page, ink=str(rng.choice(["black", "blue", "pencil"]))))


@scene("ruled_photo", "a notebook photographed: rules every 0.5-0.9 digit heights, the digit's foot on a rule, so "
       "two or three rules cross it; a red margin on half the pages")
def _ruled_photo(digits, rng):
    height = int(rng.integers(50, 100))
    page = sheet(height * 2 + 30, max(240, len(digits) * height + 100), rng)
    spacing = height * rng.uniform(0.5, 0.9)
    phase = rng.uniform(0, spacing)
    foot = int(phase + spacing * round(((page.shape[0] + height) / 2 - phase) / spacing))  # the rule nearest the foot
    ys = np.arange(page.shape[0])[:, None]
    d = np.abs((ys - phase + spacing / 2) % spacing - spacing / 2)
    colour = RULE_COLOURS[int(rng.integers(2))]
    put(page, np.broadcast_to(np.clip(rng.uniform(1, 2.5) / 2 + 0.5 - d, 0, 1), page.shape[:2]).copy(), 0, 0, colour)
    if rng.random() < 0.5:
        margin = int(rng.integers(10, 40))
        page[:, margin: margin + 2] = page[:, margin: margin + 2] * 0.35 + 0.65 * np.asarray((0.9, 0.4, 0.4))
    top = min(page.shape[0] - height, max(0, foot - height))
    page = written(digits, rng, height, page, ink=str(rng.choice(["black", "blue", "pencil"])),
                   at=(top, (page.shape[1] - len(digits) * height) // 2))
    return photographed(page, rng)


@scene("squared", "squared paper: light blue or gray lines every 0.3-0.5 digit heights")
def _squared(digits, rng):
    height = int(rng.integers(50, 90))
    page = sheet(height * 2, max(height * 2, len(digits) * height + 60), rng)
    spacing, colour, width = height * rng.uniform(0.3, 0.5), RULE_COLOURS[int(rng.integers(2))], rng.uniform(1, 2)
    for axis in (0, 1):
        lines(page, spacing, colour, width, axis, rng)
    return encode(written(digits, rng, height, page))


@scene("form_box", "a printed form box (black or gray, 1-3 pixels) around the digit, 3-25% of its height clear")
def _form_box(digits, rng):
    page, alpha, t, (r0, r1, c0, c1) = form(digits, rng, (40, 80), (0.03, 0.25))
    for r in (r0, r1):
        alpha[r: r + t, c0: c1 + t] = 1
    for c in (c0, c1):
        alpha[r0: r1 + t, c: c + t] = 1
    put(page, alpha, 0, 0, printed(rng))
    return encode(page)


def form(digits, rng: np.random.Generator, heights: tuple[int, int], clear: tuple[float, float]) -> tuple:
    """The digits written at a height drawn from `heights`, for a form to be printed round them: the page, an
    empty alpha for the printing, a line width `t` of 1-3 pixels, and the rows and columns (r0, r1, c0, c1) of a
    box round the ink with a share of the height drawn from `clear` between them, its lines inside the page."""
    height = int(rng.integers(*heights))
    page = written(digits, rng, height)
    margin, t = int(height * rng.uniform(*clear)), int(rng.integers(1, 4))
    ink = np.nonzero(np.any(page < 0.7, axis=2))
    r0, r1 = max(0, ink[0].min() - margin), min(page.shape[0] - t, ink[0].max() + margin)
    c0, c1 = max(0, ink[1].min() - margin), min(page.shape[1] - t, ink[1].max() + margin)
    return page, np.zeros(page.shape[:2]), t, (r0, r1, c0, c1)


def printed(rng: np.random.Generator) -> tuple[float, float, float]:
    """A form's printing: black or gray."""
    return (0.2, 0.2, 0.2) if rng.random() < 0.5 else (0.55, 0.55, 0.55)


@scene("form_lines", "a comb of printed boxes, an underline or a frame close enough to touch the pen (0-12% of the "
       "digit's height clear), black or gray, half of them photographed")
def _form_lines(digits, rng):
    page, alpha, t, (r0, r1, c0, c1) = form(digits, rng, (45, 85), (0.0, 0.12))
    kind = rng.choice(["comb", "underline", "frame"])
    alpha[r1: r1 + t, 4 if kind == "underline" else c0: -4 if kind == "underline" else c1 + t] = 1
    if kind != "underline":
        alpha[r0: r0 + t, c0: c1 + t] = kind == "frame"
        teeth = [c0, c1] if kind == "frame" else range(c0 - (c1 - c0), c1 + (c1 - c0) + 1, c1 - c0)
        for c in teeth:
            if 0 <= c < page.shape[1] - t:
                alpha[r0 if kind == "frame" else r1 - (r1 - r0) // 3: r1 + t, c: c + t] = 1
        if kind == "comb":
            alpha[r1: r1 + t, :] = 1
    put(page, alpha, 0, 0, printed(rng))
    return photographed(page, rng) if rng.random() < 0.5 else encode(page)


def cut(strokes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A pen that skipped: one or two gaps 1-3 pixels wide across the digit at random places and angles."""
    h, w = strokes.shape
    ys, xs = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(1, 3))):
        angle, width = rng.uniform(0, np.pi), rng.uniform(1, 3.5)
        cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.3, 0.7) * w
        across = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
        strokes = strokes * (np.abs(across) >= width / 2)
    return strokes


@scene("pen_gaps", "a pen that skipped: 1 or 2 gaps of 1-3.5 pixels across the digit, on plain paper")
def _gaps(digits, rng):
    return encode(written(digits, rng, int(rng.integers(30, 70)), ink="black", alter=cut))


def dotted(strokes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dotted or dashed pen: the ink kept in dashes of 2-4 pixels with gaps of 1-3."""
    h, w = strokes.shape
    ys, xs = np.mgrid[0:h, 0:w]
    on, off = rng.uniform(2, 4), rng.uniform(1, 3)
    t = (xs + ys * rng.uniform(0.5, 1.5)) % (on + off)
    return strokes * (t < on)


@scene("dotted", "a dotted or dashed pen: dashes of 2-4 pixels, gaps of 1-3")
def _dotted(digits, rng):
    return encode(written(digits, rng, int(rng.integers(40, 80)), ink="black", alter=dotted))


def hairline(strokes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fine pen drawn large: each stroke's morphological skeleton (what is left of it eroded k times that an
    opening would take away, over every k), a pixel or two wide."""
    shape = ndimage.gaussian_filter(strokes, 2.0) > 0.4  # smoothed first: fewer spurs
    skeleton = np.zeros_like(shape)
    while shape.any():
        skeleton |= shape & ~ndimage.binary_opening(shape)
        shape = ndimage.binary_erosion(shape)
    width = int(rng.integers(0, 2))
    return (ndimage.binary_dilation(skeleton, iterations=width) if width else skeleton) * rng.uniform(0.7, 1.0)


@scene("hairline", "a hairline pen, the digit 60-150 pixels tall: strokes 1-3 pixels wide")
def _hairline(digits, rng):
    return encode(written(digits, rng, int(rng.integers(60, 150)), ink="black", alter=hairline))


@scene("number", "a number of 2-4 digits on plain or ruled paper, 2 pixels overlapping to 12 apart", (2, 4))
def _number(digits, rng):
    height = int(rng.integers(36, 70))
    page = sheet(height * 2, len(digits) * height + 80, rng)
    if rng.random() < 0.5:
        lines(page, height * rng.uniform(0.7, 1.0), RULE_COLOURS[0], 1.5, 0, rng)
    return encode(written(digits, rng, height, page, gap=(-2, 13)))


def scenes(name: str, images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0):
    """`count` scenes of kind `name` from the test digits: [(file bytes, label string)], the same each time for
    the same seed."""
    rng = np.random.default_rng(zlib.crc32(f"{name}/{seed}".encode()))
    kind = SCENES[name]
    out = []
    for _ in range(count):
        k = int(rng.integers(kind.digits[0], kind.digits[1] + 1))
        pick = rng.integers(0, len(labels), k)
        out.append((kind.make([images[i] for i in pick], rng), "".join(str(int(labels[i])) for i in pick)))
    return out


def read(data: bytes, where: str = "scene") -> np.ndarray:
    """A scene's file read the way `predict` reads one: grayscale floats in [0, 1]."""
    return open_image(io.BytesIO(data), where)


@paper_generator("tuning", "tuned-on", tuple(SCENES), "mnistlab's own paper scenes (robustness/paper.py): the suite "
                 "the preparation's rules were tuned on, so its figures are no evidence")
def tuning_scenes(seed: int, count: int, scene: str) -> list[tuple[bytes, str]]:
    """`count` scenes of kind `scene` from MNIST's test digits (the package's sample where MNIST is absent)."""
    dataset = load_dataset("mnist")
    return scenes(scene, dataset.test_images, dataset.test_labels, count, seed)
