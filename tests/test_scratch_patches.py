import numpy as np
import pytest

from mnistlab.errors import UserError
from mnistlab.scratch import make_patches, make_patches_loops, n_positions


@pytest.fixture
def images():
    return np.random.default_rng(0).random((3, 28, 28))


@pytest.mark.parametrize("stride, mode, count", [(7, "crop", 16), (7, "pad", 16), (2, "crop", 121), (2, "pad", 196)])
def test_l3_counts(images, stride, mode, count):
    patches = make_patches(images, 7, stride, mode)
    assert patches.shape[1] * patches.shape[2] == count
    assert patches.shape[-2:] == (7, 7)


@pytest.mark.parametrize("size, stride, mode",
                         [(7, 7, "crop"), (7, 2, "crop"), (7, 2, "pad"), (5, 3, "pad"), (3, 1, "crop")])
def test_strided_equals_loops_exactly(images, size, stride, mode):
    strided, loops = make_patches(images, size, stride, mode), make_patches_loops(images, size, stride, mode)
    np.testing.assert_array_equal(strided, loops)


def test_flattened_images_give_the_same_patches(images):
    np.testing.assert_array_equal(make_patches(images.reshape(3, 784), 7, 2), make_patches(images, 7, 2))


def test_patches_are_views_of_the_image(images):
    flat = images.reshape(3, 784)
    patches = make_patches(flat, 7, 2)
    assert np.shares_memory(patches, flat)
    flat[1, 2 * 28 + 4] = 42.0  # row 2, column 4: inside patch (0, 0) and patch (1, 1), among others
    assert patches[1, 0, 0, 2, 4] == 42.0
    assert patches[1, 1, 1, 0, 2] == 42.0


def test_pad_mode_keeps_the_ragged_edge(images):
    patches = make_patches(images, 7, 2, "pad")
    last = patches[0, -1, -1]  # starts at pixel (26, 26): two real rows and columns, the rest zero padding
    np.testing.assert_array_equal(last[:2, :2], images[0, 26:, 26:])
    assert not last[2:].any() and not last[:, 2:].any()


def test_bad_arguments_are_user_errors(images):
    with pytest.raises(UserError, match="does not fit"):
        make_patches(images, 29, 1)
    with pytest.raises(UserError, match="mode"):
        n_positions(28, 7, 2, "wrap")
    with pytest.raises(UserError, match="shape"):
        make_patches(np.zeros((2, 783)), 7, 2)
