"""User images to MNIST form: what the model saw in training is what it sees here.

MNIST digits are white on black, their bounding box scaled to fit 20x20 (aspect
kept) and placed in a 28x28 frame with its centre of mass at pixel (14, 14), where MNIST has it.
"""
from __future__ import annotations

import functools
import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from ..errors import UserError

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")  # PIL decodes only these: never EPS (Ghostscript) or the rest
MAX_SIDE, MAX_PIXELS = 16_384, 50_000_000  # a photo is a few megapixels; refuse decompression bombs from the header
NPY_KINDS = "biuf"  # bool, integers, floats: no objects, strings, records or complex numbers
PngImagePlugin.MAX_TEXT_CHUNK = PngImagePlugin.MAX_TEXT_MEMORY = 1 << 20  # zTXt/iCCP bombs: 1 MB of text at most


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A grayscale float image in [0, 1] from PNG, JPEG, BMP, GIF, TIFF, WebP or NPY, its size checked first."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        return as_gray(read_npy(path), str(path))
    with open(path, "rb") as f:
        return open_image(f, str(path))


def read_npy(path: Path) -> np.ndarray:
    """An NPY array whose header (shape, type) is checked before its data is read."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f, max_header_size=10_000)
    except Exception as exc:  # NumPy raises ValueError, OSError, SyntaxError or its own for malformed headers
        raise UserError(f"{path}: not a readable NPY array ({exc.__class__.__name__}); save it with numpy.save") from None
    size = math.prod(shape)
    if dtype.kind not in NPY_KINDS or dtype.hasobject or dtype.fields:
        raise UserError(f"{path}: not a numeric image array ({dtype}); save a 2-D array of gray values")
    if size == 0 or size > 4 * MAX_PIXELS:
        raise UserError(f"{path}: NPY shape {shape} is not an image of 1 to {MAX_PIXELS:,} pixels")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable NPY array ({str(exc)[:100]})") from None


def open_image(source, where: str, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file or byte stream of an allowed format → grayscale floats in [0, 1]; its size is
    checked from the header, before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's DecompressionBombWarning: our own limit below decides
            with Image.open(source, formats=FORMATS) as img:
                if img.width > max_side or img.height > max_side or img.width * img.height > max_pixels:
                    raise UserError(f"{where}: {img.width}x{img.height} is too large; at most {max_side}x{max_side} "
                                    f"and {max_pixels:,} pixels")
                return from_pil(img)
    except UserError:
        raise
    except Exception as exc:  # a damaged file can make any decoder raise anything; none of it is a crash of ours
        raise UserError(f"{where}: not an image mnistlab reads ({exc.__class__.__name__}); "
                        f"give a PNG, JPEG, BMP, GIF, TIFF, WebP or NPY file") from None


def from_pil(img: Image.Image) -> np.ndarray:
    """An opened PIL image (from a file or from bytes) → grayscale floats in [0, 1]."""
    img.load()
    if img.mode in ("F", "I", "I;16", "I;16B", "I;16L"):  # float or 16/32-bit gray (TIFF): keep the values
        a = np.asarray(img, dtype=np.float64)
        return as_gray(a / 257.0 if img.mode != "F" and a.max() > 255 else a)
    if img.mode in ("RGBA", "LA") or "transparency" in img.info:
        # Transparent strokes on a transparent canvas: composite on white, as a viewer shows it.
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def as_gray(array, where: str = "array") -> np.ndarray:
    """(H, W), (H, W, 3|4) or a flat square array of 0..1 or 0..255 values → (H, W) floats in [0, 1]."""
    try:
        a = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{where}: not a numeric image array") from None
    a = a.squeeze() if a.ndim > 2 and 1 in a.shape else a
    if a.ndim == 1 and a.size and int(np.sqrt(a.size)) ** 2 == a.size:
        side = int(np.sqrt(a.size))
        a = a.reshape(side, side)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[..., :3].mean(axis=2)
    if a.ndim != 2 or min(a.shape) < 2 or a.size > MAX_PIXELS:
        raise UserError(f"{where}: expected a 2-D grayscale or RGB image of at most {MAX_PIXELS:,} pixels, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise UserError(f"{where}: the image holds NaN or infinite values")
    return a / 255.0 if a.max() > 1.0 else a


BLANK = 0.05  # ink this far from the background at most (on a 0..1 scale): nothing drawn, or no contrast
ALL_INK = 0.6  # more of the image than this differs from the paper at its border: no background to find a digit on
MASK, BOX = 0.25, 0.1  # a component is ink brighter than this share of the peak; the box keeps its fainter rim
KEEP_INSIDE, KEEP_NEAR, NEAR = 0.1, 0.15, 0.08  # keep another component lying within the main one's box if it holds
# this share of its ink, or one this close to the box (a share of its larger side) holding this share
SPECK = 2  # a piece of fewer pixels is a speck (salt noise): it joins nothing and is no digit
CENTRE = 0.25  # in choosing the digit, a component's ink counts half this far from the image's centre (share of a side)
TILES, PAPER_PERCENTILE = 4, 10  # the paper's first estimate: a low percentile of each of 4x4 tiles, interpolated
CLEAR = 0.1  # under uneven light, ink is the side the image reaches this much further (a share), else see bright_ink
UNEVEN = 0.1  # the border's 10th and 90th percentiles this far apart: the light is uneven, measure paper locally
SMOOTH, NOT_INK, ROUNDS = 10, 0.4, 3  # then the paper is the average of the pixels that are not ink (under this share
# of the peak), over a Gaussian of std 1/SMOOTH of the image's side, refined this many times
WORK_SIDE = 64  # the paper's level is measured on at most about this many pixels a side (it varies slowly)
KEEP_SCALE = (0.8, 1.25)  # a digit whose box would be scaled by this little to fit 20x20 is left at its size
SETTLED = 2.5  # pixels: a 28x28 digit at MNIST's scale whose centre of mass is this near the centre is not moved


def box2(a: np.ndarray) -> np.ndarray:
    """Means of 2x2 neighbourhoods: a lone bright or dark speck counts a quarter (an image under 8 pixels a side
    is too small for specks and stays as it is)."""
    if min(a.shape) < 8:
        return a
    return (a[:-1, :-1] + a[1:, :-1] + a[:-1, 1:] + a[1:, 1:]) / 4


def ink_of(image: np.ndarray, where: str = "image") -> np.ndarray:
    """Ink as floats in [0, 1] (0 on the paper), whichever way round the image is and whatever its paper.

    The paper's level comes from the border (the digit sits inside), and the ink is the side of it the image
    reaches furthest (bright strokes on gray, dark strokes on white). Where the border is even, the paper is
    that level everywhere; where it is uneven (a shadow, a vignette, fog), it is measured locally (`uneven_ink`).
    """
    a = np.asarray(image, dtype=np.float64)
    smooth = box2(a)  # lone specks (salt and pepper) count a quarter
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    paper = float(np.median(border))
    up, down = smooth.max() - paper, paper - smooth.min()
    if max(up, down) < BLANK:
        raise UserError(f"{where}: no digit found (the image is blank or has no contrast)")
    if min(a.shape) >= 8 and np.mean(np.abs(a - paper) > 0.5 * max(up, down)) > ALL_INK:  # a tiny image has no border
        raise UserError(f"{where}: the image is almost all ink (over {ALL_INK:.0%} of it differs from the paper at its "
                        f"border); crop it so the digit has paper around it")
    low, high = np.percentile(border, [10, 90])
    if high - low < UNEVEN:  # even paper: its level everywhere
        return np.clip(a - paper, 0.0, 1.0) if up >= down else np.clip(paper - a, 0.0, 1.0)
    clear = abs(up - down) >= CLEAR * max(up, down)  # the image reaches clearly further one way from the paper
    return uneven_ink(a if (up >= down if clear else bright_ink(a)) else 1.0 - a)


def bright_ink(a: np.ndarray) -> bool:
    """Whether the ink is brighter than the paper under uneven light: strokes are narrow, so they stand out from
    the median of their neighbourhood, while a broad patch of light or shade is its own neighbourhood's median."""
    # scipy: a large package, needed only when a user's image is prepared
    from scipy import ndimage

    step = max(1, max(a.shape) // WORK_SIDE)
    sub = a[::step, ::step]
    local = ndimage.median_filter(sub, size=max(3, max(sub.shape) // 4))
    return bool(np.percentile(sub - local, 99) >= np.percentile(local - sub, 99))


def uneven_ink(o: np.ndarray) -> np.ndarray:
    """Ink of `o` (ink high) on paper whose level varies (fog, a shadow, a vignette): the paper is first the
    tiles' estimate (`paper_field`), then, ROUNDS times, a smooth average of the pixels that are not ink (the
    strokes and a pixel around them left out), which follows a haze closely where the tiles' grid cannot."""
    # scipy: a large package, needed only when a user's image is prepared
    from scipy import ndimage

    paper = paper_field(o)
    sigma = max(o.shape) / SMOOTH
    for _ in range(ROUNDS):
        ink = np.clip(o - paper, 0.0, 1.0)
        strokes = ndimage.binary_dilation(ink > NOT_INK * box2(ink).max(), structure=np.ones((3, 3)))
        weight = ndimage.gaussian_filter((~strokes).astype(np.float64), sigma, mode="nearest")
        level = ndimage.gaussian_filter(np.where(strokes, 0.0, o), sigma, mode="nearest")
        paper = np.where(weight > 0.05, level / np.maximum(weight, 1e-9), paper)  # 0.05: paper seen nearby
    return np.clip(o - paper, 0.0, 1.0)


def paper_field(o: np.ndarray) -> np.ndarray:
    """The paper's level under every pixel of `o` (ink high): a low percentile of each tile of a 4x4 grid,
    interpolated linearly between the tiles' centres."""
    h, w = o.shape
    step = max(1, max(h, w) // WORK_SIDE)
    sub = o[::step, ::step]
    g = max(1, min(TILES, sub.shape[0] // 4, sub.shape[1] // 4))
    th, tw = sub.shape[0] // g, sub.shape[1] // g
    tiles = sub[: g * th, : g * tw].reshape(g, th, g, tw).transpose(0, 2, 1, 3).reshape(g, g, th * tw)
    k = th * tw * PAPER_PERCENTILE // 100
    level = np.pad(np.partition(tiles, k, axis=-1)[..., k], 1, mode="edge")
    # The median of the tile and its eight neighbours: a tile that a thick stroke fills takes its neighbours'
    # paper, while a haze that varies smoothly is followed.
    level = np.median([level[i:i + g, j:j + g] for i in range(3) for j in range(3)], axis=0)
    return interpolation(h, g, th * step) @ level @ interpolation(w, g, tw * step).T


@functools.lru_cache(maxsize=64)
def interpolation(n: int, g: int, tile: int) -> np.ndarray:
    """(n, g) weights that spread g tile values, each at its tile's centre, linearly over n pixels."""
    centres = (np.arange(g) + 0.5) * tile - 0.5
    return np.stack([np.interp(np.arange(n), centres, np.eye(g)[j]) for j in range(g)], axis=1)


def digit_mask(ink: np.ndarray, where: str = "image") -> np.ndarray:
    """False on the marks that are not the digit, True elsewhere (the faintest ink stays as it was).

    The digit is the main ink component (ink one pixel apart counts as joined): the one with the most ink,
    counted more the nearer it lies to the image's centre (a long stroke at the edge does not beat a 1), with
    the components inside its box that carry some of its ink and those close beside it that carry a fair share
    (a 5's detached bar); not specks, a line or zigzag beside it, or blots around it.
    """
    # scipy: a large package, needed only when a user's image is prepared
    from scipy import ndimage

    peak = float(box2(ink).max())  # a lone bright speck does not set the scale
    if peak < BLANK:
        raise UserError(f"{where}: no digit found (the image is blank or has no contrast)")
    square = np.ones((3, 3))
    strokes = ink > MASK * peak
    pieces, n = ndimage.label(strokes, structure=square)
    solid = strokes & (np.bincount(pieces.ravel(), minlength=n + 1)[pieces] >= SPECK)  # a lone speck joins nothing
    solid = solid if solid.any() else strokes
    bridge = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 1]], dtype=bool)  # one pixel right and down: closes 1-pixel gaps
    labels, count = ndimage.label(ndimage.binary_dilation(solid, structure=bridge), structure=square)
    labels *= solid
    masses = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    main = int(np.argmax(masses * centrality(labels, ink, count)))
    boxes = ndimage.find_objects(labels)
    (r0, r1), (c0, c1) = ((s.start, s.stop) for s in boxes[main])
    near = NEAR * max(r1 - r0, c1 - c0)

    def kept(k: int, rows: slice, cols: slice) -> bool:
        gap = max(r0 - rows.stop, rows.start - r1, c0 - cols.stop, cols.start - c1)  # negative: overlapping
        inside = rows.start >= r0 and rows.stop <= r1 and cols.start >= c0 and cols.stop <= c1
        return k == main or masses[k] >= (KEEP_INSIDE if inside else KEEP_NEAR if gap <= near else 2) * masses[main]

    keep = np.zeros(count + 1, dtype=bool)
    keep[1:] = [kept(k, rows, cols) for k, (rows, cols) in enumerate(boxes)]
    rim = max(1, round(max(r1 - r0, c1 - c0) / 20))  # a stroke's faint rim: about a pixel at MNIST's scale
    digit = ndimage.binary_dilation(keep[labels], structure=square, iterations=rim)
    others = ndimage.binary_dilation((ink > BOX * peak) & ~digit, structure=square) & ~digit
    return ~others


def centrality(labels: np.ndarray, ink: np.ndarray, count: int) -> np.ndarray:
    """A weight per component (count,): 1 for ink at the image's centre, 1/2 for ink a root-mean-square distance
    of CENTRE of the image's side from it (people photograph the digit in the middle; stray marks sit beside it)."""
    h, w = labels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    d2 = ((ys - (h - 1) / 2) / h) ** 2 + ((xs - (w - 1) / 2) / w) ** 2  # squared distance, in sides
    mass = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    spread = np.bincount(labels.ravel(), weights=(ink * d2).ravel(), minlength=count + 1)[1:]
    return 1.0 / (1.0 + spread / np.maximum(mass, 1e-12) / CENTRE ** 2)


def to_mnist(image: np.ndarray, where: str = "image") -> np.ndarray:
    """Any grayscale image in [0, 1] → uint8 (28, 28), white digit on black, centred by mass.

    The digit is found first (`ink_of`, `digit_mask`); marks beside it are left out, faint ink is brought to
    full strength, and the digit's box is scaled to fit 20x20 as MNIST's are, unless it is near that size
    already (resampling would only blur it). A 28x28 image already in MNIST's form is not moved (`centred`).
    """
    ink = ink_of(image, where)
    ink = ink * digit_mask(ink, where)
    ink /= ink.max()
    rows, cols = np.nonzero(ink > BOX)
    box = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1] * 255
    h, w = box.shape
    scale = 20.0 / max(h, w)
    if KEEP_SCALE[0] <= scale <= KEEP_SCALE[1] and max(h, w) <= 28:
        return centred(box, (rows.min(), cols.min()) if np.shape(image) == (28, 28) else None)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    digit = np.asarray(Image.fromarray(box.astype(np.uint8)).resize(size, Image.LANCZOS), dtype=np.float64)
    return centred(np.clip(digit, 0, 255))


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


def load_for_model(paths: list[str | os.PathLike]) -> np.ndarray:
    """Read and bring every file to MNIST form: uint8 (N, 28, 28)."""
    return np.stack([to_mnist(read_image(p), str(p)) for p in paths]) if paths else np.zeros((0, 28, 28), np.uint8)
