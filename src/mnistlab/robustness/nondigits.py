"""Things that are not digits, drawn with a pen: letters, doodles and faces, to see whether a run says it is unsure.

Each drawing is strokes in a unit box (x right, y down), bent by a random affine map and a little hand jitter, and
drawn with PIL in dark ink on light paper at SIDE x SIDE, as a user's drawing or scan would arrive. No installed
font is used. Letters that people also read as digits (B, D, G, I, J, L, O, Q, S, U, Z) are left out.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIDE = 112  # pixels of a drawing; `predict`'s preparation brings it to 28x28

Stroke = list[tuple[float, float]]
LETTERS: dict[str, list[Stroke]] = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.6)], [(0.3, 0.4), (1, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "R": [[(0, 1), (0, 0), (0.75, 0), (1, 0.15), (1, 0.35), (0.75, 0.5), (0, 0.5)], [(0.4, 0.5), (1, 1)]],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "P": [[(0, 1), (0, 0), (0.75, 0), (1, 0.15), (1, 0.35), (0.75, 0.5), (0, 0.5)]],
    "C": [[(0.5 + 0.5 * math.cos(a), 0.5 - 0.5 * math.sin(a)) for a in np.linspace(0.8, 2 * math.pi - 0.8, 16)]],
    "e": [[(0.05, 0.55), (0.95, 0.55), *((0.5 + 0.45 * math.cos(a), 0.55 - 0.45 * math.sin(a))
                                          for a in np.linspace(0, 2 * math.pi - 0.9, 16))]],
    "m": [[(0, 1), (0, 0.3)], [(0, 0.5), (0.25, 0.3), (0.5, 0.5), (0.5, 1)], [(0.5, 0.5), (0.75, 0.3), (1, 0.5), (1, 1)]],
    "#": [[(0.35, 0), (0.25, 1)], [(0.75, 0), (0.65, 1)], [(0, 0.33), (1, 0.33)], [(0, 0.67), (1, 0.67)]],
}


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 20) -> Stroke:
    return [(cx + rx * math.cos(a), cy - ry * math.sin(a)) for a in np.linspace(start, end, n)]


def letter(rng: np.random.Generator) -> list[Stroke]:
    return LETTERS[list(LETTERS)[rng.integers(len(LETTERS))]]


def doodle(rng: np.random.Generator) -> list[Stroke]:
    """A scribble, a spiral, a star, a zigzag, a wave, a heart or a cross-hatched patch."""
    kind = rng.integers(7)
    if kind == 0:  # a scribble: a random walk, smoothed
        walk = np.cumsum(rng.normal(0, 0.25, (int(rng.integers(8, 16)), 2)), axis=0)
        walk = np.convolve(walk[:, 0], np.ones(3) / 3, "valid"), np.convolve(walk[:, 1], np.ones(3) / 3, "valid")
        return [list(zip(*walk))]
    if kind == 1:  # a spiral of two to four turns
        turns = rng.uniform(2, 4)
        return [[(math.cos(a) * a, math.sin(a) * a) for a in np.linspace(0.3, 2 * math.pi * turns, int(40 * turns))]]
    if kind == 2:  # a five- or six-pointed star
        points = int(rng.integers(5, 7))
        step = 2 if points == 5 else 1
        corners = [(math.cos(2 * math.pi * k * step / points), math.sin(2 * math.pi * k * step / points)) for k in range(points + 1)]
        return [corners] if points == 5 else [corners[::2] + corners[:1], corners[1::2] + corners[1:2]]
    if kind == 3:  # a zigzag
        n = int(rng.integers(4, 9))
        return [[(k / n, float(k % 2)) for k in range(n + 1)]]
    if kind == 4:  # two or three waves
        return [[(x, 0.3 * k + 0.1 * math.sin(6 * x)) for x in np.linspace(0, 1, 24)] for k in range(int(rng.integers(2, 4)))]
    if kind == 5:  # a heart
        return [[(16 * math.sin(t) ** 3, -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)))
                 for t in np.linspace(0, 2 * math.pi, 40)]]
    n = int(rng.integers(3, 6))  # a cross-hatched patch
    return [[(k / n, 0), (k / n, 1)] for k in range(n + 1)] + [[(0, k / n), (1, k / n)] for k in range(n + 1)]


def face(rng: np.random.Generator) -> list[Stroke]:
    """A head, two eyes, a mouth (smiling, frowning or straight) and sometimes a nose, ears or hair."""
    eye = rng.uniform(0.03, 0.07)
    mouth = rng.choice([-1.0, 0.0, 1.0])
    strokes = [_arc(0.5, 0.5, 0.5, rng.uniform(0.45, 0.6), 0, 2 * math.pi, 32),
               _arc(0.33, 0.38, eye, eye, 0, 2 * math.pi, 8), _arc(0.67, 0.38, eye, eye, 0, 2 * math.pi, 8)]
    strokes.append(_arc(0.5, 0.55, 0.2, 0.12, math.pi + 0.4, 2 * math.pi - 0.4) if mouth > 0 else
                   _arc(0.5, 0.8, 0.2, 0.12, 0.4, math.pi - 0.4) if mouth < 0 else [(0.35, 0.72), (0.65, 0.72)])
    if rng.random() < 0.5:
        strokes.append([(0.5, 0.45), (0.46, 0.58), (0.52, 0.6)])
    if rng.random() < 0.4:
        strokes += [_arc(0.0, 0.5, 0.08, 0.12, math.pi / 2, 3 * math.pi / 2, 8), _arc(1.0, 0.5, 0.08, 0.12, -math.pi / 2, math.pi / 2, 8)]
    if rng.random() < 0.4:
        strokes += [[(x, 0.02), (x + rng.uniform(-0.1, 0.1), -0.15)] for x in np.linspace(0.3, 0.7, 5)]
    return strokes


KINDS = {"letter": letter, "doodle": doodle, "face": face}


def draw(strokes: list[Stroke], rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """Strokes drawn in dark ink on light paper: uint8 (side, side), fitted into a random box after a random
    rotation and shear, each point moved a little as a hand would."""
    pts = [np.asarray(s, dtype=np.float64) for s in strokes]
    angle, shear = rng.uniform(-0.3, 0.3), rng.uniform(-0.25, 0.25)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ np.array([[1, shear], [0, 1]])
    pts = [p @ turn.T for p in pts]
    lo, hi = np.min([p.min(0) for p in pts], 0), np.max([p.max(0) for p in pts], 0)
    size = rng.uniform(0.45, 0.8) * side
    scale = size / max(hi - lo)
    offset = rng.uniform(0.08 * side, side - 0.08 * side - (hi - lo) * scale)
    paper, ink, width = int(rng.integers(200, 256)), int(rng.integers(0, 90)), max(2, round(rng.uniform(0.03, 0.08) * size))
    canvas = Image.new("L", (side, side), paper)
    pen = ImageDraw.Draw(canvas)
    for p in pts:
        xy = (p - lo) * scale + offset + rng.normal(0, side * 0.006, p.shape)
        pen.line([tuple(q) for q in xy], fill=ink, width=width, joint="curve")
        for q in (xy[0], xy[-1]):  # round pen ends
            pen.ellipse([q[0] - width / 2, q[1] - width / 2, q[0] + width / 2, q[1] + width / 2], fill=ink)
    return np.asarray(canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2))), dtype=np.uint8)


def nondigits(n: int, seed: int = 0, side: int = SIDE) -> tuple[np.ndarray, list[str]]:
    """`n` drawings, the kinds in turn (letter, doodle, face, letter, ...): uint8 (n, side, side) and each one's kind."""
    rng = np.random.default_rng(seed)
    kinds = [list(KINDS)[k % len(KINDS)] for k in range(n)]
    images = np.stack([draw(KINDS[k](rng), rng, side) for k in kinds]) if n else np.zeros((0, side, side), np.uint8)
    return images, kinds
