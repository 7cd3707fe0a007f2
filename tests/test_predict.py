import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, correlation
from mnistlab.data.images import as_gray, load_for_model, read_image
from mnistlab.data.prepare import to_mnist
from mnistlab.errors import UserError


def canvas_with(digit: np.ndarray, size=(300, 400), place=(40, 70, 6), invert=False) -> np.ndarray:
    """Paste an MNIST digit, scaled by a whole factor, at (top, left) of a large canvas; dark-on-light when `invert`."""
    top, left, factor = place
    scaled = np.asarray(Image.fromarray(digit).resize((28 * factor, 28 * factor), Image.BILINEAR), dtype=float)
    canvas = np.zeros(size)
    canvas[top:top + 28 * factor, left:left + 28 * factor] = scaled
    return 255 - canvas if invert else canvas


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("place", [(40, 70, 6), (0, 0, 2), (150, 250, 5)])
def test_shifted_scaled_inverted_digits_come_back_to_mnist_form(sample, invert, place):
    for digit in sample.test_images[:20]:
        restored = to_mnist(as_gray(canvas_with(digit, place=place, invert=invert)))
        assert restored.shape == (28, 28) and restored.dtype == np.uint8
        assert correlation(restored, digit) > 0.85


def test_digit_box_fits_20x20_and_mass_is_centred(sample):
    restored = to_mnist(as_gray(canvas_with(sample.test_images[0], place=(10, 10, 10), invert=True)))
    rows, cols = np.nonzero(restored > 25)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21
    mass = restored.astype(float)
    cy = (mass.sum(1) * np.arange(28)).sum() / mass.sum()
    cx = (mass.sum(0) * np.arange(28)).sum() / mass.sum()
    assert abs(cy - 14) < 0.75 and abs(cx - 14) < 0.75  # where MNIST puts it (pixel-index coordinates)


def test_model_agrees_on_transformed_digits(tiny_run, sample):
    images, labels = sample.test_images[:100], sample.test_labels[:100]
    direct, _ = tiny_run.predict(images)
    moved = np.stack([to_mnist(as_gray(canvas_with(d, invert=True))) for d in images])
    via_canvas, _ = tiny_run.predict(moved)
    assert (via_canvas == labels).mean() >= (direct == labels).mean() - 0.1


def test_a_run_reads_no_images_as_no_answers(tiny_run):
    """An empty batch (a folder filtered to nothing, a number with no digit) gives empty answers, not an error."""
    classes, probs = tiny_run.predict(np.zeros((0, 28, 28), np.uint8))
    assert classes.shape == (0,) and probs.shape == (0, 10)
    assert tiny_run.confidence(np.zeros((0, 28, 28), np.uint8)).shape == (0,)


def test_file_formats(tmp_path, sample):
    digit = sample.test_images[3]
    big = canvas_with(digit, invert=True).astype(np.uint8)
    Image.fromarray(big).save(tmp_path / "d.png")
    Image.fromarray(big).convert("RGB").save(tmp_path / "d.jpg", quality=95)
    np.save(tmp_path / "d.npy", big.astype(np.float32) / 255)
    rgba = np.zeros((*big.shape, 4), np.uint8)
    rgba[..., 3] = 255 - big  # black strokes on a transparent canvas, as browsers export drawings
    Image.fromarray(rgba, "RGBA").save(tmp_path / "d_rgba.png")
    batch = load_for_model([tmp_path / n for n in ("d.png", "d.jpg", "d.npy", "d_rgba.png")])
    assert batch.shape == (4, 28, 28)
    for restored in batch:
        assert correlation(restored, digit) > 0.85


def test_bad_images(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(UserError, match="notes.png: not an image"):
        read_image(tmp_path / "notes.png")
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(UserError, match="blank.png: no digit found"):
        load_for_model([tmp_path / "blank.png"])
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 5, 5)))
    with pytest.raises(UserError, match="expected a 2-D grayscale"):
        read_image(tmp_path / "cube.npy")


def test_cli_predict(cli, tiny_run, sample, tmp_path):
    Image.fromarray(canvas_with(sample.test_images[0], invert=True).astype(np.uint8)).save(tmp_path / "seven.png")
    result = cli("predict", tiny_run.run_dir, tmp_path / "seven.png", "--json")
    assert result.code == 0, result.err
    (prediction,) = result.json()["predictions"]
    assert prediction["file"].endswith("seven.png") and prediction["class"] in "0123456789"
    assert len(prediction["probabilities"]) == 10 and abs(sum(prediction["probabilities"]) - 1) < 1e-4
    human = cli("predict", tiny_run.run_dir, tmp_path / "seven.png")
    assert human.code == 0 and "seven.png: " in human.out


def test_cli_predict_bad_file(cli, tiny_run, tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG garbage")
    assert_user_error(cli("predict", tiny_run.run_dir, tmp_path / "x.png"), "x.png: not an image")
    assert_user_error(cli("predict", tmp_path / "nowhere", tmp_path / "x.png"), "does not exist")


def test_npy_with_singleton_axes_and_non_numeric(tmp_path, sample):
    digit = sample.test_images[0]
    np.save(tmp_path / "hwc.npy", digit[:, :, None])
    np.save(tmp_path / "chw.npy", digit[None])
    for restored in load_for_model([tmp_path / "hwc.npy", tmp_path / "chw.npy"]):
        assert correlation(restored, digit) > 0.85
    np.save(tmp_path / "words.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(UserError, match="not a numeric image array"):
        read_image(tmp_path / "words.npy")
