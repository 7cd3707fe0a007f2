"""One more reading of a digit (issue 28): drawn as its outline, the strokes it outlines filled (data/outlines.py).
The run reads the reading it is surest of."""
import numpy as np
import pytest
from scipy import ndimage

from conftest import correlation
from mnistlab.data.outlines import filled
from mnistlab.data.prepare import readings, to_mnist


@pytest.fixture(scope="module")
def digits(sample):
    """Five test digits of each class."""
    labels = np.asarray(sample.test_labels)
    return [sample.test_images[i] for k in range(10) for i in np.nonzero(labels == k)[0][:5]]


def outline(digit: np.ndarray) -> np.ndarray:
    """The digit's strokes hollow: only a 1-pixel line round each, as an edge detector draws them."""
    stroke = digit > 127
    return ((ndimage.binary_dilation(stroke) & ~stroke) * 255).astype(np.uint8)


def nearest(image: np.ndarray, clean: np.ndarray) -> float:
    return max(correlation(option, to_mnist(clean)) for option in readings(image))


def test_an_outlined_digit_has_a_reading_with_its_strokes_filled(digits):
    """Most outlined digits get the filled reading, and it is far nearer the digit than the prepared outline."""
    prepared = np.array([correlation(to_mnist(outline(d)), to_mnist(d)) for d in digits])
    best = np.array([nearest(outline(d), d) for d in digits])
    offered = np.array([filled(outline(d)) is not None for d in digits])
    assert offered.mean() > 0.5
    assert np.median(prepared) < 0.5 and np.median(best[offered]) > 0.8
    assert np.all(best[offered] > prepared[offered] + 0.1)


def test_the_filled_reading_is_centred_by_mass(digits):
    """Filled from the reading as drawn, 3 pixels right of the centre, it still sits where MNIST puts a digit."""
    shifted = [np.roll(outline(d), 3, axis=1) for d in digits]  # MNIST's margin is 4 pixels: nothing wraps
    centres = [ndimage.center_of_mass(readings(s / 255.0)[-1].astype(float)) for s in shifted if filled(s) is not None]
    assert len(centres) > 10
    assert np.abs(np.array(centres) - 14).max() <= 1


def test_a_digit_drawn_with_strokes_is_not_an_outline(digits):
    """A clean digit's loops are wide holes, not the inside of a stroke: most digits have no filled reading, and
    no 0, 1 or 7 has one."""
    found = [filled(d) is not None for d in digits]
    assert np.mean(found) < 0.15
    assert not any(found[:10] + found[35:40])  # the 0s and 1s, the 7s
