"""Lines across a small crop: a band or a pen line that runs from one edge of the frame to another, through the
digit. Neither is the digit, and neither may decide its size: scaled with it into MNIST's box, the digit
shrinks. On a large image the printed lines go by their length (paper.without_rules); a crop of a digit or two
is too small for that, but a digit seldom reaches two opposite edges of its frame: MNIST keeps its digits
EDGE pixels in from every side of 28. When one does (sheared, written wide, cropped to its box) its own strokes
reach the edges, and they stay: a line's end is finer than the digit's pen or goes on through the digit, and
a line crosses each edge once.

Every function takes ink (floats in [0, 1], 0 on the paper), as paper.ink_of returns it.
"""
from __future__ import annotations

import numpy as np

# scipy: a large package, needed only when a user's image is prepared (this module is imported only then)
from scipy import ndimage

from .paper import box2
from .pieces import stroke_width

EDGE = 4 / 28  # a band's ink covers this share of its row at both ends (MNIST's digits keep 4 of 28 pixels clear)
STRONG, FAINT = 0.5, 0.1  # a band's row is ink above this share of the peak at both ends; its antialiased edge above
ENDS = 0.75  # ... over this share of those pixels at each end
ROW = 0.6  # ... and over this share of the whole row (a digit's strokes cross a band at a few places; the sides of
# a digit wider than the frame leave paper between them)
MASK = 0.25  # a pen line is ink above this share of the peak
INNER = 4 / 28  # the digit sits this share of the side in from the edges: ink between it and the edge is the line
KEEP = 0.4  # a line is taken out only if the ink left has at least this share of what there was
ACROSS = 0.7  # a line followed from its end this share of the frame's side away goes through it (a stroke stops)
SIDES = 0.15  # ... and leaves this share of the other ink on each side of it, at least
FINER = 0.9  # a line's end finer than this many times the width of the strokes inside the frame is not the digit's
DRIFT = 0.5  # a lone step moves this share of the way across to the middle of the line's ink found there
STEP = 1.5  # along a line, ink this many pixels beyond its edge (either side) is the pen crossing it, and stays
TURNS, MIN_TURN, LONE = 4, 4, 0.5  # a zigzag: followed round this many corners, each next stroke this many pixels of
# lone line at least; a stretch with under this share of lone steps is the digit's stroke, and ends the line


def without_crossings(ink: np.ndarray) -> np.ndarray:
    """`ink` with the bands (`without_bands`) and the pen lines (`without_lines`) that cross its frame taken out;
    as it is if its ink reaches all four edges: a crop to the digit's own box, whose strokes reach every edge (a
    line or a band crosses between two edges and leaves the other two clear, the digit being inside)."""
    seen = ink > FAINT * float(box2(ink).max())
    if seen[0].any() and seen[-1].any() and seen[:, 0].any() and seen[:, -1].any():
        return ink
    return without_lines(without_bands(ink))


def without_bands(ink: np.ndarray) -> np.ndarray:
    """`ink` with straight bands across it, rows or columns that are ink out to both edges of the frame, taken
    out: in a band, what differs from the band's own level is the digit. A strip printed or drawn over the
    digit leaves a gap where it was; a strip of the scan in negative gets its digit back."""
    out = np.array(ink, dtype=np.float64)
    for a in (out, out.T):  # rows, then columns (a view: changed in place)
        peak = float(box2(a).max())
        end = max(2, round(EDGE * a.shape[1]))
        strong = at_both_ends(a, end, STRONG * peak) & ((a > STRONG * peak).mean(axis=1) >= ROW)
        if not strong.any():
            continue
        rows = ndimage.binary_propagation(strong, mask=at_both_ends(a, end, FAINT * peak))  # with their faint edges
        level = np.median(np.concatenate([a[rows, :end], a[rows, -end:]], axis=1), axis=1, keepdims=True)
        a[rows] = np.abs(level - a[rows])
    return out


def at_both_ends(a: np.ndarray, end: int, above: float) -> np.ndarray:
    """Which rows of `a` are above `above` at both outermost pixels and over ENDS of the `end` pixels at each end
    (the digit's stroke, where the band crosses it, may come that near the edge)."""
    left, right = a[:, :end] > above, a[:, -end:] > above
    return left[:, 0] & right[:, -1] & (left.mean(axis=1) >= ENDS) & (right.mean(axis=1) >= ENDS)


def without_lines(ink: np.ndarray) -> np.ndarray:
    """`ink` with the pen lines that cross its frame taken out: each piece that reaches two opposite edges of the
    frame loses the part of it between the edges and the digit (INNER of the side in),
    and each such part is followed on, straight, as far as it goes on as a lone line: where the digit's
    strokes cross it (ink beyond its edges) it stays. Only an end alone at its edge, with one alone at the
    opposite edge, is a line's (`lone_ends`), and only if it `crosses`: a digit wider than its frame (sheared,
    written large) reaches both edges with its own pen, and its strokes stop or turn inside. A line that
    was most of the ink (KEEP) was the digit."""
    peak = float(box2(ink).max())
    solid = ink > MASK * peak
    labels, n = ndimage.label(solid, structure=np.ones((3, 3)))
    h, w = ink.shape
    ring = np.ones_like(solid)
    ring[1:-1, 1:-1] = False
    crossing = [k for k in np.unique(labels[ring & solid]) if spans(labels == k)]
    if not crossing:
        return ink
    ring = spanned(np.isin(labels, crossing))  # a stroke of the digit at a third edge is no line's end
    inner = np.zeros_like(solid)
    ri, ci = round(INNER * h), round(INNER * w)
    inner[ri: h - ri, ci: w - ci] = True
    outer = np.isin(labels, crossing) & ~inner
    eight = np.ones((3, 3))  # a 1-pixel diagonal line is one piece only with its corners
    tails, m = ndimage.label(ndimage.binary_propagation(ring & outer, eight, mask=outer), structure=eight)
    erase = np.zeros_like(solid)
    pen = stroke_width(solid & inner)
    for k in lone_ends(tails, m):
        tail = tails == k
        line, end = followed(solid, tail)
        if crosses(solid, tail, line, end, pen):
            erase |= line | tail
    grown = ndimage.binary_dilation(erase) & (ink <= MASK * peak)  # the line's faint antialiased edges
    rest = np.where(erase | grown, 0.0, ink)
    if rest.sum() < KEEP * ink.sum():  # the line was most of the ink: it is the digit (a 1 sheared or written
        return ink  # large enough to reach both edges), and nothing crosses it
    return rest


def crosses(solid: np.ndarray, tail: np.ndarray, line: np.ndarray, end: np.ndarray, pen: float) -> bool:
    """Whether `tail`, and the `line` followed on from it to `end`, cross the frame rather than being the digit's
    own stroke: finer than the digit's `pen` (FINER), or going on through the frame (ACROSS) with the digit's ink
    on both sides of it (`through`)."""
    if stroke_width(tail) < FINER * pen:
        return True
    start = np.argwhere(tail).mean(axis=0)
    rest = solid & ~ndimage.binary_dilation(line | tail, iterations=2)  # the digit, away from the line
    return bool(np.hypot(*(end - start)) >= ACROSS * min(solid.shape)) and through(rest, start, end)


def lone_ends(tails: np.ndarray, m: int) -> list[int]:
    """The labels, of the `m` in `tails`, of the ends alone at their edge with one end alone at the opposite edge:
    a line crosses each edge once, where a digit wider than its frame leaves two strokes at a side (a 0's arcs)."""
    edges = [tails[0], tails[-1], tails[:, 0], tails[:, -1]]  # top, bottom, left, right
    counts = [len(np.unique(e[e > 0])) for e in edges]
    alone = [counts[i] == 1 and counts[i ^ 1] == 1 for i in range(4)]  # i ^ 1: the opposite edge
    return [k for k in range(1, m + 1) if any(a and (e == k).any() for a, e in zip(alone, edges))]


def through(rest: np.ndarray, start: np.ndarray, end: np.ndarray) -> bool:
    """Whether the line from `start` to `end` goes through the ink of `rest`, leaving at least SIDES of it on
    each side: a line across the digit, not the digit's own top bar or foot reaching both edges."""
    d, points = end - start, np.argwhere(rest) - start
    share = float(np.mean(points[:, 0] * d[1] - points[:, 1] * d[0] > 0)) if len(points) else 0.0
    return SIDES <= share <= 1 - SIDES


def spanned(piece: np.ndarray) -> np.ndarray:
    """The edges of the frame (a bool mask of their pixels) that `piece` reaches together with the opposite one."""
    edges = np.zeros_like(piece, dtype=bool)
    if piece[0].any() and piece[-1].any():
        edges[[0, -1]] = True
    if piece[:, 0].any() and piece[:, -1].any():
        edges[:, [0, -1]] = True
    return edges


def spans(piece: np.ndarray) -> bool:
    """Whether `piece` reaches two opposite edges of the frame (a digit moved to one edge reaches only that one)."""
    return bool((piece[0].any() and piece[-1].any()) or (piece[:, 0].any() and piece[:, -1].any()))


def followed(solid: np.ndarray, tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of `solid` on the line that `tail` (a line's end between the frame's edge and the digit) goes
    on along: straight as far as the ink goes on, then, a zigzag, on from its corner (up to TURNS times) along
    the direction in which a lone line goes on furthest; where other strokes cross it (ink STEP pixels beyond
    its edge on either side), it stays. With them, the point (row, col) where the line was followed to."""
    ys, xs = np.nonzero(tail)
    out = np.zeros_like(solid)
    if len(ys) < 3:
        return out, np.array([ys.mean(), xs.mean()])
    centre = np.array([ys.mean(), xs.mean()])
    direction = np.linalg.eigh(np.cov(np.stack([ys, xs])))[1][:, -1]  # the principal axis
    if (np.array(solid.shape) / 2 - centre) @ direction < 0:
        direction = -direction  # inward
    along = (np.stack([ys, xs], 1) - centre) @ direction
    width = max(1.0, len(ys) / max(1.0, np.ptp(along) + 1))  # pixels across the line
    point = centre + along.max() * direction
    for _ in range(TURNS + 1):
        point, steps, lone = traced(solid, point, direction, width, out)
        if steps and lone < LONE * steps:
            break  # not a line on its own: the digit's stroke
        turns = [d for d in compass() if d @ direction > -0.5]  # not back along itself
        runs = [traced(solid, point, d, width, out.copy()) for d in turns]
        best = int(np.argmax([lone for _, _, lone in runs])) if runs else 0
        if not runs or runs[best][2] < MIN_TURN:
            break
        direction = turns[best]
    return out, point


def traced(solid: np.ndarray, start: np.ndarray, direction: np.ndarray, width: float,
           out: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Follow the line from `start` along `direction` while `solid` has ink on it, marking in `out` the ink of the
    line where no other stroke crosses it; the last point on ink, the steps taken and how many were lone."""
    h, w = solid.shape
    normal = np.array([-direction[1], direction[0]])
    inside = lambda q: 0 <= q[0] < h and 0 <= q[1] < w and solid[q[0], q[1]]  # noqa: E731
    point, steps, lone = start, 0, 0
    across = np.arange(-width / 2, width / 2 + 0.01, 0.5)
    for _ in range(max(h, w)):
        p = point + direction
        found = [o for o in across if inside(np.round(p + o * normal).astype(int))]
        if not found:
            break
        point, steps = p, steps + 1
        if any(inside(np.round(p + s * (width / 2 + STEP) * normal).astype(int)) for s in (-1, 1)):
            continue  # a stroke of the digit crosses the line here
        lone += 1
        for o in found:
            q = np.round(p + o * normal).astype(int)
            out[q[0], q[1]] = True
        point = p + DRIFT * np.mean(found) * normal  # back onto the line: its end gives its angle only roughly
    return point, steps, lone


def compass() -> list[np.ndarray]:
    """Unit directions (row, col) every 15 degrees."""
    return [np.array([np.sin(a), np.cos(a)]) for a in np.radians(np.arange(0, 360, 15))]
