"""Lines across a 28x28 image (data/crossings.py, issue 28): a pen line or a band through the digit from edge to
edge is not ink, so one of the image's readings has the digit without it (the run reads the surest); and a digit
that itself reaches the frame's edges (moved there, sheared wider than the frame, cropped to its box) is never
cut."""
import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from conftest import correlation
from mnistlab.data.crossings import without_crossings
from mnistlab.data.prepare import readings, to_mnist


@pytest.fixture(scope="module")
def digits(sample):
    """Three test digits of each class."""
    labels = np.asarray(sample.test_labels)
    return [sample.test_images[i] / 255.0 for k in range(10) for i in np.nonzero(labels == k)[0][:3]]


def best_reading(image: np.ndarray, clean: np.ndarray) -> float:
    """How near the image's reading nearest the clean digit's is to it (the run judges which reading it reads)."""
    return max(correlation(option, to_mnist(clean)) for option in readings(image))


def crossed(digit: np.ndarray, degrees: float) -> np.ndarray:
    """`digit` with a 1-pixel pen line at `degrees` through its centre of mass, running out past the frame."""
    cy, cx = ndimage.center_of_mass(digit)
    dy, dx = np.sin(np.radians(degrees)) * 40, np.cos(np.radians(degrees)) * 40
    line = Image.new("F", (28, 28), 0.0)
    ImageDraw.Draw(line).line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=1.0, width=1)
    return np.maximum(digit, np.asarray(line, float))


@pytest.mark.parametrize("degrees", [0, 35, 100, 145])  # not 90: a line down a 1's own stroke is the 1
def test_a_pen_line_across_the_frame_through_the_digit_is_not_ink(digits, degrees):
    """Kept, the line would be taken for part of the digit and shrink it to fit MNIST's box with the line."""
    scores = [best_reading(crossed(d, degrees), d) for d in digits]
    assert np.median(scores) > 0.9 and min(scores) > 0.6


def zigzag(digit: np.ndarray, points: list[tuple[float, float]]) -> np.ndarray:
    """`digit` with a pen zigzag through `points` (x, y in 28-pixel units), drawn at 4x and brought back."""
    canvas = Image.new("L", (112, 112), 0)
    ImageDraw.Draw(canvas).line([(4 * x, 4 * y) for x, y in points], fill=255, width=6)
    return np.maximum(digit, np.asarray(canvas.resize((28, 28), Image.BOX), float) / 255)


def test_a_zigzag_across_the_frame_is_followed_round_its_corners_and_taken_out(digits):
    """Only its ends touch the frame's edges: the line is followed in from them, straight and round each corner;
    what is left of it otherwise stays with the digit and shrinks it."""
    points = [(0, 4), (9, 12), (18, 3), (28, 11)]  # above the middle, through the digit's top half
    taken = []
    for d in digits:
        crossed_ = zigzag(d, points)
        line = (crossed_ > 0.5) & (d < 0.1)  # the zigzag's own pixels, off the digit
        taken.append(float(np.mean(without_crossings(crossed_)[line] < 0.25)))
    assert np.median(taken) > 0.6  # its ends alone (no more than the frame's outer 4 pixels) are about a third


def test_a_band_of_the_scan_in_negative_gets_its_digit_back(digits):
    for d in digits:
        banded = d.copy()
        banded[12:15] = 1 - banded[12:15]  # three rows across the frame inverted, through the digit
        assert best_reading(banded, d) > 0.9 > correlation(to_mnist(banded), to_mnist(d))


def moved_to_edge(digit: np.ndarray, side: str, past: int) -> np.ndarray:
    """`digit` moved until its ink touches one side of the frame, and `past` pixels further (cut off there)."""
    rows, cols = np.nonzero(digit > 0)
    shift = {"top": (-rows.min() - past, 0), "bottom": (27 - rows.max() + past, 0),
             "left": (0, -cols.min() - past), "right": (0, 27 - cols.max() + past)}[side]
    return ndimage.shift(digit, shift, order=0, cval=0.0)


@pytest.mark.parametrize("side", ["top", "bottom", "left", "right"])
@pytest.mark.parametrize("past", [0, 3])
def test_a_digit_moved_to_an_edge_is_not_cut(digits, side, past):
    for d in digits:
        moved = moved_to_edge(d, side, past)
        assert np.array_equal(without_crossings(moved), moved)
        if past == 0:  # whole, it is only moved back: all of its ink is there
            assert to_mnist(moved).sum() / 255 == pytest.approx(moved.sum(), rel=0.03)


@pytest.mark.parametrize("box, pen", [((-3, 6, 30, 22), 3), ((-4, 4, 31, 23), 2), ((-2, 8, 29, 20), 3)])
def test_a_zero_wider_than_its_frame_keeps_its_sides(box, pen):
    """Written wider than the frame, a 0 reaches both side edges with its own arcs, two at each side."""
    zero = Image.new("F", (28, 28), 0.0)
    ImageDraw.Draw(zero).ellipse(box, outline=1.0, width=pen)
    zero = np.asarray(zero, float)
    assert np.array_equal(without_crossings(zero), zero)


def test_a_one_leaning_from_edge_to_edge_is_the_digit():
    """One stroke from the top edge to the bottom one and nothing else: the 1 itself, not a line across it."""
    stroke = np.zeros((28, 28))
    stroke[np.arange(28), np.arange(28) // 2 + 7] = 1.0
    one = ndimage.grey_dilation(stroke, size=(1, 3))
    assert np.array_equal(without_crossings(one), one)


def test_a_crop_to_the_digits_own_box_is_left_as_it_is(digits):
    """A user's crop with no paper around the digit: its strokes reach all four edges, none of them a line."""
    for d in digits:
        rows, cols = np.nonzero(d > 0.3)
        box = d[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
        crop = np.asarray(Image.fromarray(box.astype(np.float32), "F").resize((box.shape[1] * 2, box.shape[0] * 2)))
        assert np.array_equal(without_crossings(crop), crop)
