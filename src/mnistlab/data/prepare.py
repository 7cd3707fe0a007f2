"""User images to MNIST form: what the model saw in training is what it sees here.

MNIST digits are white on black, their bounding box scaled to fit 20x20 (aspect kept) and placed in a 28x28
frame with its centre of mass at pixel (14, 14), where MNIST has it. A user's image goes there in four steps:
the paper's level (paper.ink_of), the lines printed on the paper taken out (paper.without_rules), the ink
pieces grouped into digits (pieces.py), and each digit scaled, its pen brought to MNIST's stroke width, and
centred (`mnist_form`). `to_mnist` keeps the image's one digit; `find_digits` every digit of a number.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

# scipy: a large package, needed only when a user's image is prepared (this module is imported only then)
from scipy import ndimage

from ..errors import UserError
from .crossings import without_crossings
from .outlines import filled
from .paper import BLANK, box2, ink_of, without_rules
from .pieces import Groups, digits_in, group, main_digit, pieces, stroke_width

WORK = 640  # a larger image is prepared at this many pixels a side: a digit needs far fewer, a photo has 4,000
BOX = 0.1  # the digit's box holds its ink above this share of its peak (its faint rim)
EMPTY = 0.25  # printed lines taken out, ink under this share of the peak left: there was no digit
KEEP_SCALE = (0.8, 1.25)  # a digit whose box would be scaled by this little to fit 20x20 is left at its size
SETTLED = 2.5  # pixels: a 28x28 digit at MNIST's scale whose centre of mass is this near the centre is not moved
PLACED = 4.0  # pixels: a 28x28 image whose ink's centre of mass is this near the centre may also read as drawn
PEN = 1.2  # pixels at MNIST's 20-pixel scale: a finer pen is thickened to this (thicker reads hairlines no better
# and makes letters, doodles and faces look like digits: fewer come back unsure)
RULED = 64  # pixels a side: a smaller image is a crop of one digit, too small to show printed lines beside it
MOST_READINGS = 3  # prepared, as drawn, and without the lines across its frame or else the outline filled (`readings`)
LINE = 4.0  # a lone piece this many times longer than wide is a stroke (a 1), even when straight like a rule


@dataclass(frozen=True)
class Digit:
    """One digit found in an image: its MNIST form (uint8 (28, 28)), its box in the image's own pixels,
    (x0, y0, x1, y1) with x1 and y1 one past its last column and row, and its line of writing (0: the top one)."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    line: int = 0


def to_mnist(image: np.ndarray, where: str = "image", judge: Callable | None = None) -> np.ndarray:
    """Any grayscale image in [0, 1] → uint8 (28, 28), white digit on black, centred by mass: the image's one
    digit (`pieces.main_digit`), marks beside it and printed lines left out. A 28x28 image already in MNIST's
    form (`in_mnist_form`) is left as it is, its ink at full strength: nothing in it is beside the digit.

    `judge` (uint8 (N, 28, 28) -> the log of each one's calibrated top probability, a run's `confidence`): where a
    28x28 image has other readings too (`readings`), the one the model reads most surely."""
    options = readings(image, where)
    if len(options) == 1 or judge is None:
        return options[0]
    return options[surest(judge, np.stack(options)[:, None])[0]]


def surest(judge: Callable, options: np.ndarray) -> np.ndarray:
    """For each image, the index of the reading `judge` reads most surely (options: uint8 (K, N, 28, 28), all
    judged in one call; a tie keeps the earlier reading, the prepared one first)."""
    k, n = options.shape[:2]
    return np.argmax(judge(options.reshape(k * n, 28, 28)).reshape(k, n), axis=0)


def readings(image: np.ndarray, where: str = "image") -> list[np.ndarray]:
    """The image's digit in MNIST form (`to_mnist` without a judge) first, then its other readings: of a 28x28
    image not in MNIST's form (lines or bands across it, which the preparation takes into the digit's box and
    shrinks it with), as drawn, its ink at full strength, where the digit sits where MNIST's digits do (`as_drawn`,
    judged without the lines across it), and prepared with the lines and bands that cross its frame taken out
    (`crossings`), where there are any and something is left; where there are none, or the image is not 28x28,
    the strokes its digit outlines if it is drawn as an outline (`outlines.filled`; not with lines across a 28x28
    image: a line across the digit closes thin holes of its own)."""
    options, crossed = first_readings(image, where)
    strokes = None if crossed else filled(options[-1])
    if strokes is None:
        return options
    rows, cols = np.nonzero(strokes)
    return options + [centred(strokes[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1])]  # centred by mass


def first_readings(image: np.ndarray, where: str) -> tuple[list[np.ndarray], bool]:
    """`readings` but the outline filled; and whether lines cross a 28x28 image."""
    if np.shape(image) != (28, 28):
        return [main_form(*scene(image, where)[:2], False)], False
    ink = ink_of(image, where)
    drawn = np.round(ink / ink.max() * 255).astype(np.uint8)
    if in_mnist_form(ink):
        return [drawn], False
    uncrossed = without_crossings(ink)
    crossed = not np.array_equal(uncrossed, ink) and float(box2(uncrossed).max()) >= BLANK  # something left
    options = [main_form(*grouped(ink, where), True)] + ([drawn] if as_drawn(uncrossed if crossed else ink) else [])
    if crossed:
        try:
            options.append(main_form(*grouped(uncrossed, where), True))
        except UserError:  # nothing left but marks: no such reading
            pass
    return options, crossed


def main_form(ink: np.ndarray, groups: Groups, native: bool) -> np.ndarray:
    """The image's one digit (`pieces.main_digit`) in MNIST's form."""
    return mnist_form(ink, main_digit(ink, groups)[groups.labels], native)


def in_mnist_form(ink: np.ndarray) -> bool:
    """Whether all of a 28x28 image's ink fits MNIST's 20x20 box, filling at least 16 pixels of it (a smaller
    digit is scaled up), with its centre of mass within SETTLED pixels of (14, 14): a digit in MNIST's form,
    whatever gaps, stripes or faintness it has, with no mark beside it."""
    if float(box2(ink).max()) < BLANK:
        return False
    span, off = placement(ink)
    return 20 / KEEP_SCALE[1] <= span <= 20 and off <= SETTLED  # 16 to 20 pixels: MNIST's size


def as_drawn(ink: np.ndarray) -> bool:
    """Whether a 28x28 image's ink spans at least 16 pixels (MNIST's digits span 16 to 20) with its centre of mass
    within PLACED pixels of (14, 14): placed as MNIST places a digit, so it may read as it is."""
    span, off = placement(ink)
    return span >= 20 / KEEP_SCALE[1] and off <= PLACED


def placement(ink: np.ndarray) -> tuple[int, float]:
    """Where a 28x28 image's ink sits: the longer side of the box of its ink above BOX of its peak, and how far
    its centre of mass lies from MNIST's, (14, 14)."""
    rows, cols = np.nonzero(ink > BOX * float(box2(ink).max()))
    ys, xs = np.mgrid[0:28, 0:28]
    off = np.hypot((ink * ys).sum() / ink.sum() - 14, (ink * xs).sum() / ink.sum() - 14)
    return int(max(np.ptp(rows), np.ptp(cols))) + 1, float(off)


def find_digits(image: np.ndarray, where: str = "image", judge: Callable | None = None) -> list[Digit]:
    """Every digit in an image, line by line, each left to right (`pieces.digits_in`): digits that touch are
    split, the pieces of a broken digit joined. `judge` (uint8 (N, 28, 28) -> the log of each one's calibrated top probability, a
    run's `confidence`) picks where touching digits are cut: where the model reads the parts most surely."""
    ink, groups, factor = scene(image, where, one=False)
    score = None if judge is None else lambda masks: judge(np.stack([mnist_form(ink, m, False) for m in masks]))
    found = []
    for line, masks in enumerate(digits_in(ink, groups, score)):
        for mask in masks:
            rows, cols = np.nonzero(mask)
            box = (cols.min() * factor, rows.min() * factor, (cols.max() + 1) * factor, (rows.max() + 1) * factor)
            found.append(Digit(mnist_form(ink, mask, False), tuple(int(round(v)) for v in box), line))
    return found


def scene(image: np.ndarray, where: str, one: bool = True) -> tuple[np.ndarray, Groups, float]:
    """The ink of an image at working size, printed lines taken out, its pieces grouped (`grouped`: `one`); and
    the factor from working pixels to the image's own."""
    a = np.asarray(image, dtype=np.float64)
    factor = max(1.0, max(a.shape) / WORK)
    if factor > 1:  # area-averaged: a thin stroke fades a little but is not lost between samples
        size = (max(1, round(a.shape[1] / factor)), max(1, round(a.shape[0] / factor)))
        a = np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(size, Image.BOX), dtype=np.float64)
    return *grouped(ink_of(a, where), where, one), factor


def grouped(ink: np.ndarray, where: str, one: bool = True) -> tuple[np.ndarray, Groups]:
    """`ink` with printed lines taken out, and its pieces grouped (`scene` at working size). With `one` (the image
    holds one digit), the pen's pieces either side of a printed line taken out through them are one group; in a
    number they are not: digits written side by side on a rule would join along it."""
    peak = float(box2(ink).max())
    if peak < BLANK:
        raise UserError(f"{where}: no digit found (the image is blank or has no contrast)")
    solid = pieces(ink, peak)
    cleaned = without_rules(ink) if max(ink.shape) >= RULED else ink
    if float(box2(cleaned).max()) < EMPTY * peak:
        if not lone_stroke(solid):
            raise UserError(f"{where}: no digit found (only printed lines: ruled paper, a grid or an empty box)")
        cleaned = ink  # one straight stroke and nothing else: a 1, not a rule
    taken = (ink > cleaned) if one and cleaned is not ink else None  # the printed lines taken out
    return cleaned, group(cleaned, pieces(cleaned, float(box2(cleaned).max())), taken)


def lone_stroke(solid: np.ndarray) -> bool:
    """Whether the ink is one piece, a straight stroke LINE times longer than wide (a 1 drawn with a ruler)."""
    labels, n = ndimage.label(solid, structure=np.ones((3, 3)))
    if n != 1:
        return False
    rows, cols = np.nonzero(solid)
    h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    return max(h, w) >= LINE * min(h, w)


def mnist_form(ink: np.ndarray, digit: np.ndarray, native: bool) -> np.ndarray:
    """The ink of `digit` (a bool mask of its pieces) in MNIST's form: uint8 (28, 28). Its faint rim is kept and
    other marks with theirs erased; faint ink is brought to full strength; the box is scaled to fit 20x20 as
    MNIST's are, unless it is near that size already (resampling would only blur it), a fine pen thickened
    so it does not fade; then it is centred by mass. A `native` 28x28 input keeps its place (`centred`)."""
    rows, cols = np.nonzero(digit)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    rim = max(1, round(max(r1 - r0, c1 - c0) / 20))  # a stroke's faint rim: about a pixel at MNIST's scale
    r0, c0, r1, c1 = max(0, r0 - rim), max(0, c0 - rim), r1 + rim, c1 + rim
    window, own = ink[r0:r1, c0:c1], digit[r0:r1, c0:c1]
    grown = ndimage.binary_dilation(own, structure=np.ones((3, 3)), iterations=rim)
    peak = float(window[own].max())
    others = ndimage.binary_dilation((window > BOX * peak) & ~grown, structure=np.ones((3, 3))) & ~grown
    window = np.where(others, 0.0, window) / max(peak, 1e-12)
    rows, cols = np.nonzero(window > BOX)
    box = np.clip(window[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1], 0, 1) * 255
    h, w = box.shape
    scale = 20.0 / max(h, w)
    if KEEP_SCALE[0] <= scale <= KEEP_SCALE[1] and max(h, w) <= 28:  # as it is, with its faintest rim
        return centred(np.clip(window, 0, 1) * 255, (r0, c0) if native else None)
    if scale < 1:
        box = thickened(box, own[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1], scale)
        h, w = box.shape
        scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    digit28 = np.asarray(Image.fromarray(box.astype(np.uint8)).resize(size, Image.LANCZOS), dtype=np.float64)
    return centred(np.clip(digit28, 0, 255))


def thickened(box: np.ndarray, strokes: np.ndarray, scale: float) -> np.ndarray:
    """`box` (0..255) with its strokes widened so that, scaled by `scale`, they are at least PEN pixels wide:
    a hairline drawn large would otherwise fade to a faint thread at MNIST's size."""
    width = stroke_width(strokes)
    grow = int(round((PEN / scale - width) / 2))
    if grow < 1:
        return box
    disc = np.hypot(*np.mgrid[-grow:grow + 1, -grow:grow + 1]) <= grow + 0.5
    return disc_dilation(np.pad(box, grow), disc)


def disc_dilation(image: np.ndarray, disc: np.ndarray) -> np.ndarray:
    """The grey dilation of `image` (values >= 0, zero beyond its edge) by the odd-sided bool `disc`, as the
    maximum over its rows of a running maximum along each row (one per distinct row width), shifted by the row:
    scipy's grey_dilation visits the whole disc at every pixel, which made a large digit's candidate cuts take
    minutes to judge (`prepare.find_digits`)."""
    out, r, h = np.zeros_like(image), disc.shape[0] // 2, image.shape[0]
    runs: dict[int, np.ndarray] = {}
    for dy, row in enumerate(disc, start=-r):
        half = int(row.sum()) // 2
        if half not in runs:
            runs[half] = ndimage.maximum_filter1d(image, 2 * half + 1, axis=1, mode="constant")
        np.maximum(out[max(0, -dy): h - max(0, dy)], runs[half][max(0, dy): h - max(0, -dy)],
                   out=out[max(0, -dy): h - max(0, dy)])
    return out


def centred(digit: np.ndarray, at: tuple[int, int] | None = None) -> np.ndarray:
    """`digit` (0..255) in a 28x28 frame with its centre of mass at (14, 14), where MNIST has it; or left at `at`,
    its place in a 28x28 input, if its centre of mass is within SETTLED pixels of there already (a blot beside
    the strokes moves the centre of mass, not the digit)."""
    mass = digit.sum()
    cy = (digit.sum(1) * np.arange(digit.shape[0])).sum() / mass
    cx = (digit.sum(0) * np.arange(digit.shape[1])).sum() / mass
    if at is not None and np.hypot(at[0] + cy - 14.0, at[1] + cx - 14.0) <= SETTLED:
        top, left = at
    else:
        top = int(np.clip(round(14.0 - cy), 0, 28 - digit.shape[0]))
        left = int(np.clip(round(14.0 - cx), 0, 28 - digit.shape[1]))
    frame = np.zeros((28, 28))
    frame[top: top + digit.shape[0], left: left + digit.shape[1]] = digit
    return np.round(frame).astype(np.uint8)
