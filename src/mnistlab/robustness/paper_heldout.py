"""The held-out paper suite: MNIST test digits written on generated paper, saved as the files a user would give.

Each digit is drawn as a pen draws it (dark ink on light paper, in colour, at a size people write, in a larger
picture) on plain, ruled, squared or form paper, then scanned (PNG) or photographed (light, shadow, perspective,
JPEG, sometimes stored sideways with an EXIF orientation tag). Numbers are 2-4 test digits side by side.

Held out: nothing in the preparation is tuned on these images. This code and its parameters are written apart
from the tuning generator, so a rule fitted to the one's paper shows whether it generalises on the other's.
"""
from __future__ import annotations

import functools
import io
import zlib

import numpy as np
from PIL import Image, ImageDraw

from .scene_suite import paper_generator

SCENES = ("plain", "photo", "photo_rotated", "ruled", "squared", "form_box", "pen_gap", "number")
INKS = {"blue ballpoint": (28, 48, 150), "black ballpoint": (22, 22, 30), "pencil": (75, 75, 82)}
RULE_COLOURS = ((128, 165, 220), (150, 185, 225), (160, 160, 168))  # pale blue and grey notebook rules
MARGIN_RED = (222, 92, 96)
BLOB = 3.5  # MNIST pixels: ink deeper inside than this is a filled blob, which the writer's pen filled too
ORIENTATIONS = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
# EXIF orientation tag → how the camera stored the upright picture (the viewer turns it back)


@functools.lru_cache(maxsize=1)
def test_digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test digits (uint8 (N, 28, 28), labels): full MNIST where mnistlab finds it, else its sample."""
    # the data sources: loaded when a suite is generated, not when the registry is imported
    from ..data import load_dataset

    data = load_dataset("mnist")
    return np.asarray(data.test_images), np.asarray(data.test_labels)


def thin(mask: np.ndarray) -> np.ndarray:
    """The one-pixel centre line of a stroke mask (Zhang-Suen thinning, both sub-steps vectorised)."""
    m = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(m, s, axis=(0, 1)) for s in ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))]
            # p2..p9 clockwise from north: rolling by (1, 0) brings the pixel above to here
            count = sum(q.astype(int) for q in p)
            ring = p + [p[0]]
            turns = sum((~a & b).astype(int) for a, b in zip(ring[:-1], ring[1:]))
            n, e, s, w = p[0], p[2], p[4], p[6]
            gone = (n & e & s) if step == 0 else (n & e & w)
            gone2 = (e & s & w) if step == 0 else (n & s & w)
            drop = m & (count >= 2) & (count <= 6) & (turns == 1) & ~gone & ~gone2
            if drop.any():
                m &= ~drop
                changed = True
        if not changed:
            return m[1:-1, 1:-1]


def stroke(digit: np.ndarray, height: int, pen: str, rng: np.random.Generator) -> np.ndarray:
    """Ink cover (0..1) of an MNIST digit drawn `height` pixels tall with `pen`: a ballpoint (2-9 pixels wide by
    the digit's size), a hairline (about a pixel), dotted, dashed, or gap (1-3 cuts of 1-3 pixels through it)."""
    from scipy import ndimage  # scipy: only when images are generated

    rows, cols = np.nonzero(digit > 30)
    crop = np.pad(digit[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1].astype(np.float32) / 255, 1)
    scale = height / (crop.shape[0] - 2)
    size = (max(3, round(crop.shape[1] * scale)), max(3, round(crop.shape[0] * scale)))
    big = np.asarray(Image.fromarray(crop).resize(size, Image.BICUBIC))
    centre = thin(big > 0.45)  # the writer's path; the pen's own width is drawn around it
    width = 1.2 if pen == "hairline" else float(np.clip(height * rng.uniform(0.035, 0.09), 2, 9))
    cover = np.clip(width / 2 + 0.5 - ndimage.distance_transform_edt(~centre), 0, 1)
    core = ndimage.distance_transform_edt(big > 0.45) > BLOB * scale  # ink thicker than two strokes: filled in
    if core.any() and pen != "hairline":
        cover = np.maximum(cover, ndimage.distance_transform_edt(~core) <= BLOB * scale)
    if pen == "hairline":
        cover *= 0.95
    elif pen == "dotted":
        yy, xx = np.mgrid[: cover.shape[0], : cover.shape[1]]
        period = rng.uniform(4.5, 7.5)
        cover *= np.hypot((yy % period) - period / 2, (xx % period) - period / 2) < period * 0.42
    elif pen == "dashed":
        yy, xx = np.mgrid[: cover.shape[0], : cover.shape[1]]
        period, on = rng.uniform(9, 14), rng.uniform(0.6, 0.75)
        cover *= ((yy % period) < on * period) & ((xx % period) < on * period)
    elif pen == "gap":
        cover = cut(cover, int(rng.integers(1, 4)), rng)
    return cover.astype(np.float32)


def cut(cover: np.ndarray, cuts: int, rng: np.random.Generator) -> np.ndarray:
    """`cover` with `cuts` straight gaps of 1-3 pixels, each through a random inked point at a random angle."""
    ys, xs = np.nonzero(cover > 0.5)
    yy, xx = np.mgrid[: cover.shape[0], : cover.shape[1]]
    for _ in range(cuts):
        k = rng.integers(len(ys))
        angle, gap = rng.uniform(0, np.pi), rng.uniform(1, 3)
        across = (yy - ys[k]) * np.cos(angle) - (xx - xs[k]) * np.sin(angle)
        cover = cover * (np.abs(across) > gap / 2)
    return cover


def paper(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Blank paper, RGB floats (h, w, 3): off-white with a tint and a fine grain."""
    tint = rng.uniform(232, 252) - np.array([0.0, rng.uniform(0, 4), rng.uniform(0, 12)])
    return np.clip(tint + rng.normal(0, 1.8, (h, w, 1)), 0, 255)


def draw_lines(page: np.ndarray, lines: list[tuple], colour, width: int, strength: float) -> None:
    """Draw straight lines ((x0, y0, x1, y1) each) onto the page, in place, blended at `strength`."""
    mask = Image.new("L", (page.shape[1], page.shape[0]), 0)
    pen = ImageDraw.Draw(mask)
    for line in lines:
        pen.line(line, fill=255, width=width)
    a = np.asarray(mask, np.float32)[..., None] / 255 * strength
    page[:] = page * (1 - a) + np.asarray(colour, np.float32) * a


def rules(page: np.ndarray, rng: np.random.Generator, squared: bool) -> tuple[float, float]:
    """Notebook rules (with a red margin, sometimes) or a squared grid on the page; returns the spacing and the
    first rule's height."""
    h, w, _ = page.shape
    spacing = rng.uniform(15, 22) if squared else rng.uniform(24, 36)
    y0, x0 = rng.uniform(0, spacing), rng.uniform(0, spacing)
    lines = [(0, y, w, y) for y in np.arange(y0, h, spacing)]
    if squared:
        lines += [(x, 0, x, h) for x in np.arange(x0, w, spacing)]
    colour = RULE_COLOURS[rng.integers(len(RULE_COLOURS))]
    draw_lines(page, lines, colour, int(rng.integers(1, 3)), rng.uniform(0.55, 1.0))
    if not squared and rng.random() < 0.6:
        x = rng.uniform(0.06, 0.16) * w
        draw_lines(page, [(x, 0, x, h)], MARGIN_RED, int(rng.integers(1, 3)), rng.uniform(0.7, 1.0))
    return float(spacing), float(y0)


def form(page: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """A printed field around the digit's box (x0, y0, x1, y1): a frame, a row of comb boxes, or an underline."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    pad = rng.uniform(0.12, 0.45) * side
    fx0, fy0, fx1, fy1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad * rng.uniform(0.4, 1)
    kind, ink = rng.choice(["frame", "comb", "underline"]), rng.uniform(20, 80)
    width, strength = int(rng.integers(1, 4)), rng.uniform(0.8, 1.0)
    if kind == "frame":
        lines = [(fx0, fy0, fx1, fy0), (fx1, fy0, fx1, fy1), (fx1, fy1, fx0, fy1), (fx0, fy1, fx0, fy0)]
    elif kind == "comb":
        cell = fx1 - fx0
        lines = [(fx0 - cell, fy1, fx1 + cell, fy1)]
        lines += [(x, fy1, x, fy1 - rng.uniform(0.25, 0.5) * (fy1 - fy0)) for x in (fx0 - cell, fx0, fx1, fx1 + cell)]
    else:
        lines = [(fx0 - pad, fy1, fx1 + pad, fy1)]
    draw_lines(page, lines, (ink, ink, ink + 10), width, strength)


def ink_on(page: np.ndarray, cover: np.ndarray, at: tuple[int, int], ink: str, rng: np.random.Generator) -> None:
    """Write a stroke cover onto the page at (x, y) (its top left) in `ink`, in place: a pencil is fainter and
    grainy, a ballpoint presses a little unevenly."""
    h, w = cover.shape
    x, y = at
    a = cover[: page.shape[0] - y, : page.shape[1] - x]
    if ink == "pencil":
        a = a * rng.uniform(0.55, 0.8) * np.clip(rng.normal(0.85, 0.15, a.shape), 0.3, 1)
    else:
        a = a * rng.uniform(0.85, 1.0)
    region = page[y: y + h, x: x + w]
    region[:] = region * (1 - a[..., None]) + np.asarray(INKS[ink], np.float32) * a[..., None]


def layout(scene: str, rng: np.random.Generator) -> dict:
    """The page, pen, ink, digit height and whether it is photographed, for one picture of `scene`."""
    photo = scene in ("photo", "photo_rotated") or (scene in ("ruled", "squared", "number") and rng.random() < 0.5) \
        or (scene == "form_box" and rng.random() < 0.3)
    pen = str(rng.choice(["gap", "dotted", "dashed", "hairline"])) if scene == "pen_gap" else "ballpoint"
    ink = str(rng.choice(list(INKS)))
    h, w = (480, 640) if photo else (320, 320)
    return {"photo": photo, "pen": pen, "ink": "black ballpoint" if pen == "hairline" and ink == "pencil" else ink,
            "height": rng.uniform(70, 160) if photo else rng.uniform(45, 120), "size": (h, 720 if scene == "number" else w)}


def picture(scene: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """One picture of `scene`, encoded as its file (PNG for a scan, JPEG for a photo), and what it shows."""
    images, labels = test_digits()
    picks = rng.integers(len(labels), size=int(rng.integers(2, 5)) if scene == "number" else 1)
    plan = layout(scene, rng)
    page = paper(*plan["size"], rng)
    height, baseline = plan["height"], None
    if scene in ("ruled", "squared") or (scene == "number" and rng.random() < 0.5):
        spacing, first = rules(page, rng, scene == "squared")
        height = spacing * (rng.uniform(2.0, 3.5) if scene == "squared" else rng.uniform(0.9, 1.7))
        k = round((page.shape[0] / 2 + height / 2 - first) / spacing)
        baseline = first + k * spacing + rng.uniform(-2, 4)  # written on a rule, its foot near the line
    covers = [stroke(images[i], round(height * rng.uniform(0.92, 1.08)), plan["pen"], rng) for i in picks]
    gaps = [round(rng.uniform(-0.08, 0.3) * height) for _ in covers[1:]] + [0]
    width = sum(c.shape[1] for c in covers) + sum(gaps)
    x = round((page.shape[1] - width) / 2 + rng.uniform(-0.12, 0.12) * min(page.shape[1] - width, 200))
    foot = round(baseline if baseline is not None else (page.shape[0] + height) / 2 + rng.uniform(-0.1, 0.1) * page.shape[0])
    box = [x, page.shape[0], x + width, 0]
    for cover, gap in zip(covers, gaps):
        top = max(0, foot - cover.shape[0] + round(rng.uniform(-0.04, 0.04) * height))
        ink_on(page, cover, (max(0, x), top), plan["ink"], rng)
        box[1], box[3] = min(box[1], top), max(box[3], top + cover.shape[0])
        x += cover.shape[1] + gap
    if scene == "form_box":
        form(page, tuple(box), rng)
    label = "".join(str(int(labels[i])) for i in picks)
    return (photograph(page, rng, scene == "photo_rotated") if plan["photo"] else scan(page, rng)), label


def scan(page: np.ndarray, rng: np.random.Generator) -> bytes:
    """A flatbed scan: a slight blur and sensor noise, saved as PNG."""
    from scipy import ndimage  # scipy: only when images are generated

    page = ndimage.gaussian_filter(page, (rng.uniform(0.3, 0.9),) * 2 + (0,))
    return encode(page + rng.normal(0, 1.5, page.shape), "PNG")


def photograph(page: np.ndarray, rng: np.random.Generator, rotated: bool) -> bytes:
    """A phone photo of the page: uneven light with a shadow across it, a slight perspective, a warm cast,
    noise, JPEG; `rotated` stores it turned, with the EXIF orientation tag a phone writes to turn it back."""
    h, w, _ = page.shape
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    ly, lx = rng.uniform(-0.3, 1.3, 2)
    light = 1 - rng.uniform(0.1, 0.35) * np.hypot(yy - ly, xx - lx) / 1.5
    angle, offset, soft = rng.uniform(0, 2 * np.pi), rng.uniform(-0.5, 0.5), rng.uniform(0.01, 0.06)
    side = (yy - h / max(h, w) / 2) * np.cos(angle) + (xx - w / max(h, w) / 2) * np.sin(angle) - offset
    shade = 1 - rng.uniform(0.15, 0.45) * (1 / (1 + np.exp(-side / soft)))
    cast = np.array([1.0, rng.uniform(0.93, 0.99), rng.uniform(0.82, 0.95)]) * rng.uniform(0.75, 1.0)
    lit = page * (light * shade)[..., None] * cast
    corners = rng.uniform(0, 0.06, 8) * np.array([w, h] * 4)
    quad = (corners[0], corners[1], corners[2], h - corners[3], w - corners[4], h - corners[5], w - corners[6], corners[7])
    img = Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8)).transform((w, h), Image.QUAD, quad, Image.BICUBIC)
    noisy = np.asarray(img, np.float32) + rng.normal(0, rng.uniform(1.5, 4), (h, w, 3))
    orientation = int(rng.choice(list(ORIENTATIONS))) if rotated else 1
    return encode(noisy, "JPEG", quality=int(rng.integers(55, 90)), orientation=orientation)


def encode(page: np.ndarray, fmt: str, quality: int = 90, orientation: int = 1) -> bytes:
    """The page (RGB floats) as a file's bytes; stored turned with its EXIF orientation tag when it is not 1."""
    img = Image.fromarray(np.clip(np.round(page), 0, 255).astype(np.uint8))
    out = io.BytesIO()
    if fmt == "PNG":
        img.save(out, "PNG")
        return out.getvalue()
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    if orientation != 1:
        img = img.transpose(ORIENTATIONS[orientation])
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


@paper_generator("heldout", role="held-out", scenes=SCENES,
                 about="MNIST test digits drawn with a pen on plain, ruled, squared and form paper, scanned (PNG) or "
                       "photographed (light, shadow, perspective, JPEG, EXIF orientation); pen gaps, dotted, dashed "
                       "and hairline pens; numbers of 2-4 digits")
def heldout(seed: int, count: int, scene: str) -> list[tuple[bytes, str]]:
    """`count` pictures of `scene` as file bytes with their labels; picture i is the same for any count."""
    key = zlib.crc32(scene.encode())
    return [picture(scene, np.random.default_rng([seed, key, i])) for i in range(count)]
