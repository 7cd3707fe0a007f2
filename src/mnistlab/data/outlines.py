"""A digit drawn as its outline (hollow strokes: an edge detector's output, a stencil, bubble writing) read as
the strokes it outlines.

The model learnt MNIST's filled strokes; an outline shows it two thin lines where it learnt one stroke, and it
reads most of them wrong. A stroke is a few pixels wide, so an outlined stroke's inside is a thin hole in the
ink, where a digit's own loops (a 0, an 8's) are wide ones: the thin holes, widened by a pixel, are the strokes.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

INK = 0.35  # share of the peak above which a pixel is ink
THIN = 2.0  # pixels: a hole no point of which lies farther than this from the ink is a stroke's inside (deeper:
# a letter's loops, which then read as digits)
LONG = 6.0  # a stroke's inside is long: its area this many times its depth squared or more (a small round hole,
# a face's eye, the squares of a cross-hatching, is not)
HOLLOW = 0.4  # thin holes of this share of the ink's area or more: the ink outlines strokes (a clean digit's
# small loops: 1 in 5,000 MNIST test digits; at 0.2, 1 in 70, and the robust run read 4 of them worse)
SOFT = 0.5  # pixels: the filled strokes' edge blurred by this much, as MNIST's anti-aliased strokes are


def filled(digit: np.ndarray) -> np.ndarray | None:
    """A reading of a digit (uint8 (28, 28), ink high) → the strokes its ink outlines, filled (floats 0..255, in
    place: to be centred), or None where its ink does not outline strokes. Solid strokes beside the outlined ones
    are not kept: the image's other readings have them."""
    ink = digit > INK * float(digit.max())
    holes = ndimage.binary_fill_holes(ink) & ~ink
    labels, n = ndimage.label(holes)
    if n == 0:
        return None
    index = np.arange(1, n + 1)
    depth = np.asarray(ndimage.maximum(ndimage.distance_transform_edt(holes), labels, index))
    area = np.asarray(ndimage.sum(holes, labels, index))
    inside = np.concatenate([[False], (depth <= THIN) & (area >= LONG * depth ** 2)])[labels]
    if inside.sum() < HOLLOW * ink.sum():
        return None
    strokes = ndimage.gaussian_filter(ndimage.binary_dilation(inside).astype(np.float64), SOFT)
    return strokes / strokes.max() * 255
