"""Ink pieces grouped into digits: one mechanism for a single digit and for a number.

Pieces are the connected parts of the ink. Pieces a short gap apart (a pen that skipped, a broken scan, a dotted
pen, a 5's flag, a 4 open at the top) are one group: the gap allowed grows with the pen's stroke width. A
group too wide for one digit is split where its ink is thinnest (digits that touch); groups that stand over
one another (a stroke above a digit, a dot under it) are one digit, unless they stand in separate lines of
writing: a page of numbers is read line by line.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# scipy: a large package, needed only when a user's image is prepared (this module is imported only then)
from scipy import ndimage

MASK = 0.25  # a piece is ink brighter than this share of the peak (a faint rim around it stays with it)
SPECK = 2  # a piece of fewer pixels is a speck (salt noise): it joins nothing and is no digit
REACH = 0.4  # stroke ends facing each other up to 2 x reach + 1 pixels apart are one group (reach in pen widths, at
# least 1: at MNIST's scale a gap of 1-3 pixels across a stroke is a pen that skipped)
NEAR_REACH = 0.25  # any pieces up to 2 x this many pen widths (rounded down) + 1 pixels apart are one group: at MNIST's
# scale 1 pixel, so a mark 2 pixels beside a digit's side stays a mark
END = 0.6  # a stroke's end: ink around it under this share of what surrounds a typical stroke pixel
PART = 0.15  # a group's core: its pieces with this share of its largest piece's ink (smaller ones join inside it)
KEEP_INSIDE, KEEP_NEAR, NEAR = 0.1, 0.15, 0.08  # for one digit: keep another group lying within the digit's box (its
# main group's, or a dashed pen's dashes') if it holds this share of its ink, or one this close to the box (a share
# of its larger side) holding this share
DASH, CHAIN, DASH_INK = 4, 2, 0.1  # a dashed or dotted pen (`chained`): dashes under this many pen widths each way,
# this many pen widths apart from one to the next, the median one holding this share of the heaviest's ink
PAGE, SPAN = 64, 3  # pixels: on an image this large (a page, not a crop of a digit), a group from its left edge to
# its right, this many times as long as tall, is a rule's remnant or a shadow's edge: never the digit while there is
# another group
CENTRE = 0.25  # in choosing the digit, a group's ink counts half this far from the image's centre (share of a side)
LIGHT, TALL = 0.1, 0.6  # in a number, a group with less ink than this share of the most, or shorter than this share
# of the digits' height (or taller than it over this share), is no digit of its own: a fragment of the digit beside
# it, or a mark (a 1 carries little ink: at 0.2, 1s in the tuning suite's numbers were taken for marks). The
# digits' height is the tallest of the groups with SMALL of the most ink and TALL of the tallest group's height
# (or, where none is both, of the group with the most ink: a faint remnant of a rule beside short digits)
FAINTER = 0.6  # a group whose core is under this share of the digits' is a printed line's remnant (a pencil's
# digits differ less: pressed 0.55 to 0.8 in the held-out suite), CORE the percentile of its ink taken as its core
CORE = 90
ONE = 1.5  # a thin upright line over this many times the digits' height is no 1 among them (a margin's remnant);
# MNIST fits a digit's longer side to 20 pixels, so a wide 0 stands 16 where a 1 stands 20: a 1 written as tall
# as the rest may be 1.4 times a neighbour's height
SMALL = 0.2  # (the digits' height, above) cutting a group by width alone (no model to judge), a part with less ink
# than this share of the largest part's stays with its left neighbour
FRAGMENT = 0.25  # a fragment joins a digit it is at most this share of the digit's height away from, across and
# up or down
FLAT = 10  # a group at most two pen widths tall and this many times as long is a line (a rule), no digit
IN_LINE = 0.5  # a digit whose rows overlap a line of digits' rows by this share of the shorter is in that line
ROW_GAP = 0.3  # lines of digits closer than this share of the shorter one's height are one line (a digit cut across)
WIDE = 1.3  # a group wider than this many times its height holds several digits
ASPECT = 0.8  # a digit of a number is about this many times as wide as it is tall (where to look for the cuts)
OVERLAP = 0.6  # groups sharing this share of the narrower one's columns are one digit
LEAST, MOST = 0.15, 1.4  # with a model to judge the cuts: a digit of a number is this many times the number's
# height wide at least and at most (a 1 is narrow: at 0.3 a 1 touching its neighbour could not be cut off; a 0
# or a 2 with a long tail is wide)
SMOOTH = 0.04  # the ink profile searched for cuts is smoothed over this share of the number's height (odd)
SEARCH = 0.8  # a group narrower than this many times the number's height is one digit, not searched for cuts
WHOLE = 2.0  # a group under this many times the number's height may still be one digit (a 2 with a long tail, a
# digit with a rule's remnant): the model decides; a wider one is cut


@dataclass
class Groups:
    """The pieces of an image's ink grouped: `labels` (H, W) numbers each group's pixels 1..count (0: no piece),
    `mass` its ink, `boxes` its slices, `width` the pen's stroke width in pixels."""

    labels: np.ndarray
    mass: np.ndarray
    boxes: list
    width: float

    @property
    def count(self) -> int:
        return len(self.mass)


def stroke_width(mask: np.ndarray) -> float:
    """The pen's stroke width in pixels, from the mean distance of its ink to the paper: w / 4 for a stroke w
    wide, plus half a pixel for a pixel's own extent."""
    if not mask.any():
        return 1.0
    return max(1.0, 4.0 * (float(ndimage.distance_transform_edt(mask)[mask].mean()) - 0.5))


def pieces(ink: np.ndarray, peak: float) -> np.ndarray:
    """The ink brighter than MASK of the peak, specks (pieces of fewer than SPECK pixels) left out."""
    strokes = ink > MASK * peak
    labels, n = ndimage.label(strokes, structure=np.ones((3, 3)))
    solid = strokes & (np.bincount(labels.ravel(), minlength=n + 1)[labels] >= SPECK)
    return solid if solid.any() else strokes


def group(ink: np.ndarray, solid: np.ndarray, taken: np.ndarray | None = None) -> Groups:
    """Pieces of `solid` grouped: any pieces a pixel apart (more with a broad pen, NEAR_REACH), stroke ends
    facing each other up to 2 x reach + 1 apart (reach: REACH pen widths, at least 1; a pen that skipped
    leaves two ends, while a mark beside a digit faces its side), and pieces within a printed line's width of
    the same stretch of it, where it was taken out through the pen (`taken`, a bool mask of the lines' pixels:
    a stroke it cut), their ink counted. A group's extent is that of its core, the pieces with PART
    of its largest one's ink: a smaller piece joins only inside the core's box (a dot of a dotted pen, a 7's
    bar), not beside it (a blot, a remnant of haze)."""
    width = stroke_width(solid)
    reach = max(1, round(REACH * width))
    square = np.ones((3, 3))
    parts, n = ndimage.label(solid, structure=square)
    bridge = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 1]], dtype=bool)  # one pixel more, right and down
    close = int(NEAR_REACH * width)
    near, _ = ndimage.label(ndimage.binary_dilation(ndimage.binary_dilation(solid, structure=square, iterations=close)
                                                    if close else solid, structure=bridge), structure=square)
    ends = stroke_ends(solid, width)
    facing, _ = ndimage.label(ndimage.binary_dilation(ndimage.binary_dilation(ends, structure=square, iterations=reach),
                                                      structure=bridge), structure=square)
    linkings = [near, facing]
    if taken is not None:
        across = taken & ndimage.binary_dilation(solid, structure=square, iterations=max(1, round(stroke_width(taken))))
        linkings.append(ndimage.label(solid | across, structure=square)[0])
    owner = joined(parts, n, linkings)
    mass = np.bincount(parts.ravel(), weights=ink.ravel(), minlength=n + 1)
    largest = np.zeros(owner.max() + 1)
    np.maximum.at(largest, owner[1:], mass[1:])
    core = mass >= PART * largest[owner]
    core[0] = False
    core_boxes = ndimage.find_objects(np.where(core[parts], owner[parts], 0), max_label=len(largest) - 1)
    for k, box in enumerate(ndimage.find_objects(parts), start=1):
        if not core[k]:
            owner[k] *= inside(box, core_boxes[owner[k] - 1], 0)
    labels, count = relabel(owner[parts])
    group_mass = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    return Groups(labels, group_mass, ndimage.find_objects(labels, max_label=count), width)


def stroke_ends(solid: np.ndarray, width: float) -> np.ndarray:
    """Pixels near a stroke's end: where the ink around (a square of about three pen widths) is under END of
    what surrounds a typical stroke pixel (the middle of a stroke has ink on two sides, an end on one)."""
    size = 2 * max(1, round(width)) + 1
    density = ndimage.uniform_filter(solid.astype(np.float32), size, mode="constant")  # beyond the edge: paper
    return solid & (density < END * float(np.median(density[solid])))


def joined(parts: np.ndarray, n: int, linkings: list[np.ndarray]) -> np.ndarray:
    """Each piece's group (n + 1,), 0 for the paper: pieces that share a component of any of `linkings`."""
    # scipy.sparse: the connected components of the pieces' links
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    on = parts > 0
    rows, cols = [], []
    for links in linkings:
        codes = np.unique(links[on].astype(np.int64) * (n + 1) + parts[on])  # (component, piece) pairs, once each
        pairs = np.stack([codes // (n + 1), codes % (n + 1)], axis=1)
        pairs = pairs[pairs[:, 0] > 0]  # a piece outside every component of this linking: no link from it
        first = np.zeros(links.max() + 1, dtype=np.int64)
        first[pairs[::-1, 0]] = pairs[::-1, 1]  # a piece per component, linked to every other piece in it
        rows.append(pairs[:, 1])
        cols.append(first[pairs[:, 0]])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1))
    _, owner = connected_components(graph, directed=False)
    owner = owner + 1
    owner[0] = 0
    return owner


def inside(box: tuple, core: tuple | None, margin: int) -> bool:
    """Whether the box (rows, cols) lies within the core's box grown by `margin` pixels."""
    return core is not None and all(b.start >= c.start - margin and b.stop <= c.stop + margin for b, c in zip(box, core))


def relabel(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """`labels` renumbered 1..count in order, the numbers no pixel has left out."""
    used = np.unique(labels[labels > 0])
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    lookup[used] = np.arange(1, len(used) + 1)
    return lookup[labels], len(used)


def main_digit(ink: np.ndarray, groups: Groups) -> np.ndarray:
    """Which groups (a bool per label 0..count) make the one digit of an image: the group with the most ink,
    counted more the nearer it lies to the image's centre (a long stroke at the edge does not beat a 1; a band
    across a page, SPAN, is none while there is another group), with the rest of its digit where it is a dash
    of a dashed pen (`chained`), the groups inside their box that carry some of their ink and those close
    beside it that carry a fair share; not specks, a line or zigzag beside it, or blots around it."""
    masses, edges = groups.mass, box_edges(groups.boxes)
    across = (edges[:, 1] == 0) & (edges[:, 3] == ink.shape[1]) & (edges[:, 3] - edges[:, 1] >= SPAN * (edges[:, 2] - edges[:, 0]))
    score = np.where(across & (max(ink.shape) >= PAGE), 0.0, masses * centrality(groups.labels, ink, groups.count))
    core = chained(groups, edges, int(np.argmax(score if score.any() else masses)))
    union = np.concatenate([edges[core, :2].min(axis=0), edges[core, 2:].max(axis=0)])  # r0, c0, r1, c1
    gap, mass = box_gaps(edges, union), masses[core].sum()
    within = np.array([inside(box, (slice(union[0], union[2]), slice(union[1], union[3])), 0) for box in groups.boxes])
    keep = np.isin(np.arange(groups.count), core) | within & (masses >= KEEP_INSIDE * mass)
    keep |= (gap <= NEAR * max(union[2:] - union[:2])) & (masses >= KEEP_NEAR * mass)
    return np.concatenate([[False], keep])


def chained(groups: Groups, edges: np.ndarray, main: int) -> np.ndarray:
    """The groups of `main`'s digit (indices; `edges`: the groups' boxes, `box_edges`): where `main` is a dash or a
    dot of a dashed or dotted pen, the groups reached from it in steps of at most CHAIN of its pen widths, else
    `main` alone. A dashed pen's digit is such a chain of dashes alike (the heaviest, where two meet at a corner,
    holds under half the chain's ink, its median dash at least DASH_INK of the heaviest's) and each small (the
    median under DASH pen widths each way); a whole digit holds most of the ink near it, and a background of dots
    beside it (dot-grid paper, specks) is far lighter than it."""
    labels, masses = groups.labels, groups.mass
    width = stroke_width(labels == main + 1)  # its own pen: a blot or a shadow's remnant widens the image's
    near = ndimage.distance_transform_edt(labels == 0) <= CHAIN * width / 2  # within a step of another group
    reach, _ = ndimage.label(near, structure=np.ones((3, 3)))
    chain = np.unique(labels[np.isin(reach, reach[labels == main + 1]) & (labels > 0)]) - 1
    sides = (edges[chain, 2:] - edges[chain, :2]).max(axis=1)
    dashes = np.median(sides) < DASH * width and np.median(masses[chain]) >= DASH_INK * masses[main]
    return chain if dashes and masses[main] < 0.5 * masses[chain].sum() else np.array([main])


def box_edges(boxes: list) -> np.ndarray:
    """Each group's box (rows, cols slices) as (r0, c0, r1, c1) (count, 4), r1 and c1 one past its last row and
    column."""
    return np.array([(b[0].start, b[1].start, b[0].stop, b[1].stop) for b in boxes], dtype=np.int64).reshape(-1, 4)


def box_gaps(edges: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The gap in pixels between each box of `edges` (count, 4) and `box` (4,), the larger of the row and the
    column gap; negative where they overlap."""
    return np.maximum(box[:2] - edges[:, 2:], edges[:, :2] - box[2:]).max(axis=1)


def centrality(labels: np.ndarray, ink: np.ndarray, count: int) -> np.ndarray:
    """A weight per group (count,): 1 for ink at the image's centre, 1/2 for ink a root-mean-square distance of
    CENTRE of the image's side from it (people photograph the digit in the middle; stray marks sit beside it)."""
    h, w = labels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    d2 = ((ys - (h - 1) / 2) / h) ** 2 + ((xs - (w - 1) / 2) / w) ** 2  # squared distance, in sides
    mass = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    spread = np.bincount(labels.ravel(), weights=(ink * d2).ravel(), minlength=count + 1)[1:]
    return 1.0 / (1.0 + spread / np.maximum(mass, 1e-12) / CENTRE ** 2)


def digits_in(ink: np.ndarray, groups: Groups, score: Callable | None = None) -> list[list[np.ndarray]]:
    """Every digit of a number or a page of them, each a bool mask of its pieces: its lines of digits top to
    bottom (`lines_of`), each left to right; a flat line (`flat`) is none. The digits' height is measured on
    groups of some weight (LIGHT of the most ink) off the image's edge, thin upright lines apart; a group whose
    core is far fainter than the digits' (FAINTER) or a thin line far taller (ONE) is a printed line's remnant and
    left out. In a line, groups that stand over one another are joined; a group far smaller or shorter than the
    digits (under LIGHT of the most ink, TALL of their height) is a fragment of the digit it lies near (within
    FRAGMENT of its height across and up or down), else a mark left out; groups too wide for one digit are split
    (by `score`, where given: `searched`)."""
    boxes = groups.boxes
    found = [k for k, box in enumerate(boxes) if box is not None and not flat(box, groups.width)]
    if not found:
        return []
    height = {k: boxes[k][0].stop - boxes[k][0].start for k in found}
    area = np.bincount(groups.labels.ravel(), minlength=groups.count + 1)[1:]
    thin = {k for k in found if area[k] <= 2 * groups.width * height[k] and height[k] ** 2 >= FLAT * area[k]}
    inside = [k for k in found if not at_edge(boxes[k], groups.labels.shape) and height[k] > 2 * groups.width] \
        or found  # beyond a photographed page's edge lies the table; a speck measures nothing
    weighty = [k for k in inside if groups.mass[k] >= LIGHT * groups.mass[inside].max()]
    shapes = [k for k in weighty if k not in thin] or weighty  # a rule's remnant is no measure of the digits (nor a 1)
    most, tallest = groups.mass[shapes].max(), max(height[k] for k in shapes)
    heavy = [k for k in shapes if groups.mass[k] >= SMALL * most and height[k] >= TALL * tallest]
    size = max(height[k] for k in heavy) if heavy else height[max(shapes, key=lambda k: groups.mass[k])]
    level = {k: core(ink, groups, k) for k in found}  # a pen's strength: a 1 has little ink, but as dark as the rest
    pen = float(np.median([level[k] for k in heavy or shapes]))
    printed = [k for k in found if level[k] < FAINTER * pen or (k in thin and height[k] > ONE * size)]
    found = [k for k in found if k not in printed] or found  # remnants of printed lines: no digit, nor part of one
    big = [k for k in found if groups.mass[k] >= LIGHT * most and TALL * size <= height[k] <= size / TALL] \
        or [max(found, key=lambda k: groups.mass[k])]
    lines = lines_of(boxes, big)
    owner = {k: [k] for k in big}
    for k in found:
        if k not in owner:  # a fragment: in its line, to the digit whose columns it shares, or the nearest; near it
            mine = min(lines, key=lambda line: row_gap(boxes, line, [k]))
            gaps = [(max(boxes[j][1].start - boxes[k][1].stop, boxes[k][1].start - boxes[j][1].stop), j) for j in mine]
            gap, j = min(gaps)
            if max(gap, row_gap(boxes, [j], [k])) <= height[j] * FRAGMENT:  # near it across and up or down
                owner[j].append(k)
    digits = [[np.isin(groups.labels, np.array(m) + 1) for m in stacked(boxes, line, owner)] for line in lines]
    heights = [ink_rows(d) for line in digits for d in line]
    tall = float(np.median(heights))  # the number's height: its digits are written alike
    return [[part for d in line for part in (searched(ink, d, tall, score) if score else split(ink, d, tall))]
            for line in digits]


def core(ink: np.ndarray, groups: Groups, k: int) -> float:
    """How dark group k's strokes are at their core (its ink's CORE percentile: a thin stroke's faint rim, a
    larger share of it, leaves this as it is)."""
    box = groups.boxes[k]
    return float(np.percentile(ink[box][groups.labels[box] == k + 1], CORE))


def at_edge(box: tuple, shape: tuple[int, int]) -> bool:
    """Whether a group reaches the image's edge."""
    rows, cols = box
    return rows.start == 0 or cols.start == 0 or rows.stop == shape[0] or cols.stop == shape[1]


def flat(box: tuple, pen: float) -> bool:
    """Whether a group is a flat line, no digit: a stroke at most two pen widths tall, FLAT times as long as that
    (a rule left on the page; read as a number, it was cut into hundreds of "digits")."""
    rows, cols = box
    tall = rows.stop - rows.start
    return tall <= 2 * pen and cols.stop - cols.start >= FLAT * tall


def lines_of(boxes: list, big: list[int]) -> list[list[int]]:
    """The digit-sized groups in lines of writing, top to bottom: a group whose rows overlap a line's by
    IN_LINE of the shorter is in that line (a number's digits go up and down a little). Lines less than ROW_GAP
    of the shorter one's height apart are one line: the halves of a digit cut across, not two lines."""
    lines: list[list[int]] = []
    for k in sorted(big, key=lambda k: (boxes[k][0].start, boxes[k][1].start)):
        rows = boxes[k][0]
        for line in lines:
            top, bottom = min(boxes[j][0].start for j in line), max(boxes[j][0].stop for j in line)
            if min(rows.stop, bottom) - max(rows.start, top) >= IN_LINE * min(rows.stop - rows.start, bottom - top):
                line.append(k)
                break
        else:
            lines.append([k])
    lines.sort(key=lambda line: min(boxes[j][0].start for j in line))
    joined_lines = [lines[0]]
    for line in lines[1:]:
        tall = min(line_height(boxes, joined_lines[-1]), line_height(boxes, line))
        if row_gap(boxes, joined_lines[-1], line) < ROW_GAP * tall:
            joined_lines[-1] = joined_lines[-1] + line
        else:
            joined_lines.append(line)
    return joined_lines


def line_height(boxes: list, line: list[int]) -> float:
    return float(np.median([boxes[j][0].stop - boxes[j][0].start for j in line]))


def row_gap(boxes: list, upper: list[int], lower: list[int]) -> int:
    """Rows of paper between two sets of groups (negative where their rows overlap)."""
    return max(min(boxes[j][0].start for j in lower) - max(boxes[j][0].stop for j in upper),
               min(boxes[j][0].start for j in upper) - max(boxes[j][0].stop for j in lower))


def stacked(boxes: list, line: list[int], owner: dict) -> list[list[int]]:
    """A line's digits left to right, each the groups (with their fragments, `owner`) of a digit-sized group and
    of those after it sharing OVERLAP of their columns with it (a stroke above a digit, a digit cut across)."""
    merged: list[list[int]] = []
    for k in sorted(line, key=lambda k: boxes[k][1].start):
        if merged and shared(boxes, merged[-1], k) >= OVERLAP:
            merged[-1] += owner[k]
        else:
            merged.append(list(owner[k]))
    return merged


def shared(boxes: list, ks: list[int], k: int) -> float:
    """The share of the narrower one's columns that group k shares with the groups ks."""
    a0, a1 = min(boxes[j][1].start for j in ks), max(boxes[j][1].stop for j in ks)
    b0, b1 = boxes[k][1].start, boxes[k][1].stop
    return max(0, min(a1, b1) - max(a0, b0)) / max(1, min(a1 - a0, b1 - b0))


def split(ink: np.ndarray, digit: np.ndarray, line: float) -> list[np.ndarray]:
    """A group too wide for one digit (WIDE times the number's height `line`, or its own) cut into about
    width / (ASPECT x height) digits, each cut at the column of least ink near where it is expected; a part
    with under SMALL of the largest part's ink, or under TALL of `line` tall, is no digit and stays with the part
    on its left."""
    rows, cols = np.nonzero(digit)
    h, w = max(line, rows.max() - rows.min() + 1), cols.max() - cols.min() + 1
    n = round(w / (ASPECT * h))
    if w <= WIDE * h or n < 2:
        return [digit]
    profile = (ink * digit).sum(axis=0)[cols.min(): cols.max() + 1]
    cuts = []
    for i in range(1, n):
        lo = round((i - 0.35) * w / n)
        hi = max(lo + 1, round((i + 0.35) * w / n))  # a column at least: a stroke a pixel tall gives n near w
        cuts.append(cols.min() + lo + int(np.argmin(profile[lo:hi])))
    edges = [cols.min(), *cuts, cols.max() + 1]
    mass = np.array([(ink * digit)[:, a:b].sum() for a, b in zip(edges, edges[1:])])
    tall = [digit[:, a:b].any() and ink_rows(digit[:, a:b]) >= TALL * line for a, b in zip(edges, edges[1:])]
    keep = [0, *(i for i in range(1, len(mass)) if mass[i] >= SMALL * mass.max() and tall[i]), len(mass)]  # a sliver
    # or a flat tail joins its left neighbour
    parts = []
    for a, b in zip(keep, keep[1:]):
        part = columns(digit, edges[a], edges[b])
        if part.any():
            parts.append(part)
    return parts


def searched(ink: np.ndarray, digit: np.ndarray, line: float, score: Callable) -> list[np.ndarray]:
    """A group read as the digits that the model reads most surely together: among the cuts at columns of least
    ink (`cut_points`) giving digits LEAST to MOST times the number's height `line` wide (the whole group also
    when under WHOLE times it), the cutting whose digits have the highest joint log-probability (`score`: a list
    of masks -> the log of each one's calibrated top probability), found by dynamic programming. A cut must
    earn its place: every digit's log-probability is at most 0, so two parts beat one only if both read surely
    where the whole does not (a tail's slivers left with a digit, not read as digits of their own)."""
    rows, cols = np.nonzero(digit)
    h, c0, w = max(line, rows.max() - rows.min() + 1), cols.min(), cols.max() - cols.min() + 1
    if w < SEARCH * h:
        return [digit]
    profile = (ink * digit).sum(axis=0)[c0: c0 + w]
    bounds = [0, *cut_points(profile, h), w]
    last = len(bounds) - 1
    spans = [(i, j) for i in range(last) for j in range(i + 1, last + 1)
             if LEAST * h <= bounds[j] - bounds[i] <= MOST * h or (i, j) == (0, last) and w <= WHOLE * h]
    masks = [columns(digit, c0 + bounds[i], c0 + bounds[j]) for i, j in spans]
    inked = [k for k, m in enumerate(masks) if m.any() and (spans[k] == (0, last) or ink_rows(m) >= TALL * line)]
    logp = np.full(len(spans), -np.inf)
    if inked:
        logp[inked] = score([masks[k] for k in inked])
    best, back = np.full(last + 1, -np.inf), np.zeros(last + 1, dtype=int)
    best[0] = 0.0
    for k in np.argsort([j for _, j in spans], kind="stable"):  # spans in order of their right end: DP over bounds
        i, j = spans[k]
        if best[i] + logp[k]  > best[j]:
            best[j], back[j] = best[i] + logp[k] , k
    if not np.isfinite(best[last]):
        return split(ink, digit, line)
    parts, j = [], last
    while j > 0:
        parts.append(masks[back[j]])
        j = spans[back[j]][0]
    return parts[::-1]


def cut_points(profile: np.ndarray, height: float) -> list[int]:
    """Where a group might be cut (column offsets): the columns of least ink around them, one per run of equal
    minima (the middle of an empty gap). The profile is smoothed over SMOOTH of the number's `height` (3 columns
    at least): at a fixed number of columns a digit drawn large has a minimum at every wobble of its strokes, and
    the cuttings to judge grow as their square (a 420-pixel number in a photo: 3,569 candidates, minutes)."""
    size = max(3, 2 * int(SMOOTH * height / 2) + 1)
    smooth = np.convolve(profile, np.ones(size) / size, mode="same")
    x = np.arange(1, len(smooth) - 1)
    low = np.zeros(len(smooth), dtype=bool)
    low[x] = (smooth[x] <= smooth[x - 1]) & (smooth[x] <= smooth[x + 1])
    runs, n = ndimage.label(low)
    return [int(round(np.mean(np.nonzero(runs == k)[0]))) for k in range(1, n + 1)]


def ink_rows(mask: np.ndarray) -> int:
    """How many rows a mask's pixels span, top to bottom."""
    rows = np.nonzero(mask.any(axis=1))[0]
    return int(rows[-1] - rows[0] + 1)


def columns(digit: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The part of `digit` within columns start..stop - 1."""
    part = np.zeros_like(digit)
    part[:, start:stop] = digit[:, start:stop]
    return part
