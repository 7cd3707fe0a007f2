"""The paper under a digit: its level (even, or varying under a shadow or fog) and the lines printed on it
(notebook rules, margins, squared paper, form boxes, underlines), which are paper, not ink.

Every function takes float images in [0, 1]; `ink_of` returns ink high (0 on the paper), which the rest reads.
"""
from __future__ import annotations

import functools

import numpy as np

# scipy: a large package, needed only when a user's image is prepared (this module is imported only then)
from scipy import ndimage

from ..errors import UserError
from .pieces import stroke_width

BLANK = 0.05  # ink this far from the background at most (on a 0..1 scale): nothing drawn, or no contrast
ALL_INK = 0.6  # more of the image than this differs from the paper at its border: no background to find a digit on
LEVELS = 16  # the border's levels in this many bins when its median is ink (`ink_of`)
PAPER_SHARE = 0.25  # ... and a level may be the paper's where it holds this share of the border at least
TILES, PAPER_PERCENTILE = 4, 10  # the paper's first estimate: a low percentile of each of 4x4 tiles, interpolated
CLEAR = 0.1  # under uneven light, ink is the side the image reaches this much further (a share), else see bright_ink
UNEVEN = 0.1  # the border's 10th and 90th percentiles this far apart: the light is uneven, measure paper locally
SMOOTH, NOT_INK, ROUNDS = 10, 0.4, 3  # then the paper is the average of the pixels that are not ink (under this share
# of the peak), over a Gaussian of std 1/SMOOTH of the image's side, refined this many times
WORK_SIDE = 64  # the paper's first estimate is measured on at most about this many pixels a side (it varies slowly)
LEVEL_SIDE = 160  # and its refinement on at most this many: a Gaussian a tenth of a 4,000-pixel side is slow
STEP_SIDE, OPENING = 64, 5  # an image this large (a photo, not a 28x28 crop) also gets the paper's level as an opening
# of a fifth of its side (wider than a pen's stroke): the level a sharp shadow's edge leaves
DARKEST = 0.2  # paper in a shadow is taken as at least this bright when ink is measured as a share of it (noise)
NARROW = 11  # pixels: strokes narrower than this stand out of a top-hat; a lit patch or a shadow's edge does not

RULE_INK = 0.08  # a printed line is ink above this share of the peak (rules are often fainter than the pen)
PEN_INK = 0.25  # the pen's strokes: ink above this share of the peak (a paper line is on its own, away from them)
LONG = 0.8  # a straight line spanning this share of the image's side is paper: a rule, a margin, an underline
SHORT = 0.12  # a straight line down to this share of the side is paper when it closes a frame or is thinner or
THINNER, LIGHTER = 0.6, 0.6  # lighter than the pen (this share of the pen's stroke width or of its ink)
MIN_LINE = 16  # pixels: no paper line is shorter (a 28x28 digit's strokes are not rules)
SLIM = 1 / 20  # a paper line's thickness is at most this share of its length (a pen's 1 or 7 is stouter)
TILTS = np.tan(np.radians(np.arange(-4.0, 4.01, 0.5)))  # slopes tried: a photo is seldom square to the page
PAST = 0.1  # an underline reaches past the other ink at both ends by this share of its width
FRAME_SIDES = 0.7  # a frame: straight lines cover this share of each of the four sides of their box
FREE = 0.5  # a paper line has paper beside it along this share of its length at least
OVER = 1.4  # on a rule, ink this many times the rule's own level is the pen crossing it, and stays


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
    inky = all_ink(a, smooth, paper)
    if inky:  # a tight crop whose digit covers half its border, or a page cropped along two rules: the paper is the
        # border's commonest level, or the next commonest holding PAPER_SHARE of it, that the image is not all ink from
        counts, edges = np.histogram(border, bins=LEVELS, range=(0.0, 1.0))
        for k in np.argsort(-counts, kind="stable")[: max(1, np.count_nonzero(counts >= PAPER_SHARE * len(border)))]:
            paper = float(np.median(border[(border >= edges[k]) & (border <= edges[k + 1])]))
            inky = all_ink(a, smooth, paper)
            if not inky:
                break
    up, down = smooth.max() - paper, paper - smooth.min()
    if max(up, down) < BLANK:
        raise UserError(f"{where}: no digit found (the image is blank or has no contrast)")
    if inky:
        raise UserError(f"{where}: the image is almost all ink (over {ALL_INK:.0%} of it differs from the paper at its "
                        f"border); crop it so the digit has paper around it")
    low, high = np.percentile(border, [10, 90])
    if high - low < UNEVEN:  # even paper: its level everywhere
        return np.clip(a - paper, 0.0, 1.0) if up >= down else np.clip(paper - a, 0.0, 1.0)
    clear = abs(up - down) >= CLEAR * max(up, down)  # the image reaches clearly further one way from the paper
    bright = up >= down if clear else bright_ink(a)
    if bright and min(a.shape) >= STEP_SIDE:  # in a photo, a lit patch beside a shadow reaches further than the pen
        bright = narrow_bright(smooth)
    return uneven_ink(a) if bright else uneven_ink(1.0 - a, shaded=True)


def all_ink(a: np.ndarray, smooth: np.ndarray, paper: float) -> bool:
    """Whether over ALL_INK of an image (8 pixels a side or more: a tinier one has no border) differs from `paper`
    by more than half its reach from it."""
    reach = max(smooth.max() - paper, paper - smooth.min())
    return min(a.shape) >= 8 and float(np.mean(np.abs(a - paper) > 0.5 * reach)) > ALL_INK


def bright_ink(a: np.ndarray) -> bool:
    """Whether the ink is brighter than the paper under uneven light: strokes are narrow, so they stand out from
    the median of their neighbourhood, while a broad patch of light or shade is its own neighbourhood's median."""
    step = max(1, max(a.shape) // WORK_SIDE)
    sub = a[::step, ::step]
    local = ndimage.median_filter(sub, size=max(3, max(sub.shape) // 4))
    return bool(np.percentile(sub - local, 99) >= np.percentile(local - sub, 99))


def narrow_bright(a: np.ndarray) -> bool:
    """Whether the narrow features of `a` (under NARROW pixels wide: strokes, rules) stand out brighter than their
    surroundings more than darker ones do (the top-hats' 99.9th percentiles): a broad lit patch and a shadow's edge
    stand out from neither."""
    white = a - ndimage.grey_opening(a, size=NARROW)
    black = ndimage.grey_closing(a, size=NARROW) - a
    return bool(np.percentile(white, 99.9) > np.percentile(black, 99.9))


def uneven_ink(o: np.ndarray, shaded: bool = False) -> np.ndarray:
    """Ink of `o` (ink high) on paper whose level varies (fog, a shadow, a vignette): the paper is first the
    tiles' estimate (`paper_field`), then, ROUNDS times, a smooth average of the pixels that are not ink (the
    strokes and a pixel around them left out), which follows a haze closely where the tiles' grid cannot; in a
    photo at least its grey opening (a shadow's sharp edge). A large image's paper is measured on every few
    pixels and spread back: it varies slowly.

    `shaded`: `o` is dark ink on lit paper (o = 1 - brightness), where a shadow scales ink and paper alike, so
    the ink is measured as a share of the paper's brightness there: a pen or a printed rule is as dark in the
    shadow as in the light (a fog or a haze adds light instead, and keeps the difference)."""
    step = -(-max(o.shape) // LEVEL_SIDE)
    sub = o[::step, ::step]
    paper = paper_field(sub)
    sigma = max(sub.shape) / SMOOTH
    for _ in range(ROUNDS):
        ink = np.clip(sub - paper, 0.0, 1.0)
        strokes = ndimage.binary_dilation(ink > NOT_INK * box2(ink).max(), structure=np.ones((3, 3)))
        weight = ndimage.gaussian_filter((~strokes).astype(np.float64), sigma, mode="nearest")
        level = ndimage.gaussian_filter(np.where(strokes, 0.0, sub), sigma, mode="nearest")
        paper = np.where(weight > 0.05, level / np.maximum(weight, 1e-9), paper)  # 0.05: paper seen nearby
    if max(sub.shape) >= STEP_SIDE:  # a shadow's sharp edge: the opening follows it where a Gaussian lags behind
        paper = np.maximum(paper, ndimage.grey_opening(sub, size=max(5, max(sub.shape) // OPENING)))
    if step > 1:
        paper = interpolation(o.shape[0], sub.shape[0], step) @ paper @ interpolation(o.shape[1], sub.shape[1], step).T
    ink = o - paper
    return np.clip(ink / np.maximum(1.0 - paper, DARKEST) if shaded else ink, 0.0, 1.0)


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
    """(n, g) weights that spread g values, each at the centre of its tile of `tile` pixels, linearly over n
    pixels."""
    centres = (np.arange(g) + 0.5) * tile - 0.5
    return np.stack([np.interp(np.arange(n), centres, np.eye(g)[j]) for j in range(g)], axis=1)


def without_rules(ink: np.ndarray) -> np.ndarray:
    """`ink` with the straight lines printed on the paper taken out: rules, margins, squared paper, the frame of
    a form box, an underline. A straight line is paper when it spans LONG of the image's side and is slim, or,
    down to SHORT of the side, when it closes a frame or is thinner or lighter than the pen. The pen crossing a
    rule stays: where the line's ink is OVER times the rule's own level, and where strokes go on at both sides
    of it."""
    peak = float(box2(ink).max())
    pen = ink > PEN_INK * peak
    faint = ink > RULE_INK * peak
    bands = [straight(faint.T).T, straight(faint)]  # vertical, horizontal
    runs = [band & faint for band in bands]
    both = runs[0] | runs[1]
    if not both.any():
        return ink
    labels, _ = ndimage.label(both, structure=np.ones((3, 3)))
    strokes = pen & ~both  # the pen's ink, not on any straight line
    pen_width = stroke_width(strokes)
    across = frames(both, labels, pen_width) | paper_lines(ink, strokes, bands[1], faint, pen_width, peak, True)
    down = paper_lines(ink.T, strokes.T, bands[0].T, faint.T, pen_width, peak).T
    lines = across | down
    if not lines.any():
        return ink
    level = float(np.median(ink[lines]))
    core = np.maximum(core_levels(ink, across), core_levels(ink.T, down.T).T)
    crossing = lines & (ink > OVER * core)
    # the pen's own fainter rim round those: above the lines' usual level, within two pixels of them
    crossing |= lines & ndimage.binary_dilation(crossing, iterations=2) & (ink > OVER * level)
    rest = pen & ~lines
    for bar in (np.ones((9, 1), dtype=bool), np.ones((1, 9), dtype=bool)):  # strokes going on at both sides
        crossing |= lines & ndimage.binary_closing(rest, structure=bar)
    erase = lines & ~crossing
    erase |= ndimage.binary_dilation(erase) & (ink <= level)  # the lines' faint edges
    return np.where(erase, 0.0, ink)


def core_levels(ink: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Each horizontal printed line's own level at its pixels: the median, along the line, of its darkest pixel
    across it (its core; the median of all its pixels would be its faint edges', which its core passes as if it
    were pen). Lines that touch count as one."""
    labels, n = ndimage.label(lines, structure=np.ones((3, 3)))
    ys, xs = np.nonzero(lines)
    across = np.zeros((n + 1) * ink.shape[1])
    np.maximum.at(across, labels[ys, xs] * ink.shape[1] + xs, ink[ys, xs])
    level = np.array([np.median(col[col > 0]) if (col > 0).any() else 0.0 for col in across.reshape(n + 1, -1)])
    return level[labels]


def frames(both: np.ndarray, labels: np.ndarray, pen_width: float) -> np.ndarray:
    """The straight lines of `both` (pieces `labels`) that close a frame round a box (`closes_frame`): the part of
    each such piece along its box's sides, up to a pen's width in (at least 3 pixels). A digit touching the frame
    joins its piece, and its own straight strokes inside stay."""
    out = np.zeros_like(both)
    edge = max(3, round(pen_width))
    for k, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        if closes_frame(both, rows, cols):
            side = np.ones((rows.stop - rows.start, cols.stop - cols.start), dtype=bool)
            side[edge:-edge, edge:-edge] = False
            out[rows, cols] |= (labels[rows, cols] == k) & side
    return out


def straight(mask: np.ndarray) -> np.ndarray:
    """Where `mask` has horizontal straight lines at least SHORT of its width long (a band around each, its gaps
    of a pixel or two bridged), at the slope (of TILTS) along which its rows line up best."""
    slope = best_slope(mask)
    runs = straight_runs(shear(mask, slope), max(MIN_LINE, round(SHORT * mask.shape[1])))
    return shear(runs, -slope)


def paper_lines(ink: np.ndarray, strokes: np.ndarray, band: np.ndarray, faint: np.ndarray, pen_width: float,
                peak: float, underlines: bool = False) -> np.ndarray:
    """Which ink of the horizontal straight lines (each a connected part of `band`) is paper: lines on their own
    (no pen `strokes` just above or below them over most of their length: not the straight edge of a thick
    stroke) that are long and slim, or slim and thinner or lighter than the pen; with `underlines`, also slim
    lines that reach past all other ink at both ends (an underline or a form's line under the writing: a 7's
    bar, a 2's foot or a 4's cross ends where the digit's other strokes do, at one end at least)."""
    labels, n = ndimage.label(band, structure=np.ones((3, 3)))
    if n == 0:
        return band
    labels = labels * faint
    runs = labels > 0
    side = runs.shape[1]
    alone = runs & ~ndimage.binary_dilation(strokes, structure=np.ones((5, 1), dtype=bool))
    with np.errstate(invalid="ignore"):  # a piece of the band with no faint ink in it: nan, skipped below
        free = ndimage.mean(alone, labels, np.arange(1, n + 1))
        level = ndimage.mean(ink, labels, np.arange(1, n + 1))
    across = np.bincount((labels * side + np.arange(side)).ravel(), minlength=(n + 1) * side).reshape(n + 1, side)[1:]
    if underlines:  # the pen's pieces and the columns each spans: a line's own pieces (its ticks, a digit touching
        # it) are not ink it could reach past
        parts, count = ndimage.label(ink > PEN_INK * peak, structure=np.ones((3, 3)))
        spans = np.array([(c.start, c.stop - 1) for _, c in ndimage.find_objects(parts)]).reshape(-1, 2)
    keep = np.zeros(n + 1, dtype=bool)
    for k, found in enumerate(ndimage.find_objects(labels, max_label=n)):
        if found is None:
            continue
        length = found[1].stop - found[1].start
        cols = found[1]
        thick = float(np.median(across[k, cols]))  # the median: a stroke touching the line does not count
        slim = thick <= max(1.5, SLIM * length) and free[k] >= FREE
        frail = thick <= THINNER * pen_width or level[k] <= LIGHTER * peak
        keep[k + 1] = slim and (length >= LONG * side or frail or underlines and reaches_past(  # asked last: costlier
            cols, apart(spans, np.unique(parts[found][labels[found] == k + 1]))))
    return keep[labels]


def apart(spans: np.ndarray, joined: np.ndarray) -> np.ndarray:
    """The spans of the pen's pieces but those `joined` to a line (their labels; 0, no piece, is left aside)."""
    return np.delete(spans, joined[joined > 0] - 1, axis=0)


def reaches_past(cols: slice, spans: np.ndarray) -> bool:
    """Whether a line over `cols` reaches past the ink not joined to it (`spans`: the first and last column of each
    of its pieces) at both ends, by PAST of that ink's width (and 2 pixels); False when there is none."""
    if not len(spans):
        return False
    first, last = spans[:, 0].min(), spans[:, 1].max()
    reach = max(2.0, PAST * (last - first))
    return cols.start <= first - reach and cols.stop - 1 >= last + reach


def best_slope(m: np.ndarray) -> float:
    """The slope of TILTS along which the rows of `m` line up best: the most uneven row profile (rules make
    sharp peaks in it when followed along their slope), all slopes counted at once from the ink's coordinates."""
    ys, xs = np.nonzero(m)
    if len(ys) > 20_000:  # plenty to see the rules' slope
        ys, xs = ys[:: len(ys) // 10_000], xs[:: len(xs) // 10_000]
    h = m.shape[0] + 2 * int(np.ceil(np.abs(TILTS).max() * m.shape[1]))
    rows = ys[None, :] - np.round(TILTS[:, None] * (xs[None, :] - m.shape[1] / 2)).astype(int) + (h - m.shape[0]) // 2
    profiles = np.bincount((rows + h * np.arange(len(TILTS))[:, None]).ravel(), minlength=h * len(TILTS))
    scores = np.square(profiles.reshape(len(TILTS), h).astype(np.float64)).sum(axis=1)
    return float(TILTS[int(np.argmax(scores))]) if len(ys) else 0.0


def shear(m: np.ndarray, slope: float) -> np.ndarray:
    """`m` with each column moved up by slope * its column: a line of that slope becomes a row."""
    if slope == 0:
        return m
    h, w = m.shape
    shift = np.round(slope * (np.arange(w) - w / 2)).astype(int)
    rows = np.clip(np.arange(h)[:, None] + shift[None, :], 0, h - 1)
    return m[rows, np.arange(w)[None, :]]


def straight_runs(m: np.ndarray, length: int) -> np.ndarray:
    """Where `m`, a pixel of drift up or down allowed, has a horizontal run of at least `length` pixels: an
    opening by a line, as two running means (their cost does not grow with the length)."""
    band = ndimage.maximum_filter1d(m, 3, axis=0)
    whole = ndimage.uniform_filter1d(band.astype(np.float32), length, axis=1) > 1 - 1e-3
    return ndimage.uniform_filter1d(whole.astype(np.float32), length, axis=1) > 1e-3


def closes_frame(runs: np.ndarray, rows: slice, cols: slice) -> bool:
    """Whether straight lines cover FRAME_SIDES of each of the four sides of the box (rows, cols), meet at its
    four corners, and leave the band inside at least two sides mostly clear: a form box, not a digit (a 0 drawn
    squarely has round corners; an 8's strokes go on inside its edges, a boxed digit near two at most)."""
    h, w = rows.stop - rows.start, cols.stop - cols.start
    if min(h, w) < MIN_LINE:
        return False
    box = runs[rows, cols]
    sides = [frame_side(b) for b in (box, box[::-1], box.T, box.T[::-1])]  # top, bottom, left, right
    near = max(2, min(h, w) // 20) * 2 + 2  # a corner: lines this near it (their thickness, a pixel of drift)
    corners = all(b[:, :near].any() and b[:, -near:].any() for b in (box[:near], box[-near:]))
    clear = sum(inner <= 1 - FRAME_SIDES for _, inner in sides)
    return corners and all(cover >= FRAME_SIDES for cover, _ in sides) and clear >= 2


def frame_side(box: np.ndarray) -> tuple[float, float]:
    """For the top side of `box`: the share of its columns a line covers, and the share the two rows just inside
    that line (however thick it is) cover."""
    rows = box.mean(axis=1)
    thick = max(1, int(np.argmax(rows < FRAME_SIDES)) if (rows < FRAME_SIDES).any() else len(rows))
    return float(box[:thick].any(axis=0).mean()), float(box[thick: thick + 2].any(axis=0).mean())
