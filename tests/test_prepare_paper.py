"""The preparation on paper (issue 28): a cut digit keeps both halves, printed lines are not ink, a number is
found as its digits, phone photos come upright, and bad pages get a clear answer."""
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import correlation
from mnistlab.data.images import ink_gray, open_image
from mnistlab.data.prepare import find_digits, to_mnist
from mnistlab.errors import UserError


def on_page(digit: np.ndarray, factor: int = 4, margin: int = 40) -> np.ndarray:
    """An MNIST digit scaled up as ink in [0, 1] (0 = paper) on a wider sheet."""
    big = np.asarray(Image.fromarray(digit).resize((28 * factor, 28 * factor), Image.BILINEAR), float) / 255
    return np.pad(big, margin)


@pytest.fixture(scope="module")
def digits(sample):
    return sample.test_images[:12]


def test_a_digit_cut_through_its_middle_keeps_both_halves(digits):
    """A gap of 2 pixels across a 28x28 digit's middle (a pen that skipped): no half is dropped."""
    for d in digits:
        for cut in (np.s_[13:15, :], np.s_[:, 13:15]):
            broken = d / 255.0
            broken[cut] = 0
            assert to_mnist(broken).sum() / 255 == pytest.approx(broken.sum(), rel=0.03)


def test_a_digit_cut_on_a_page_keeps_both_halves(digits):
    for d in digits[:6]:
        page = on_page(d)
        whole = to_mnist(1 - page)
        page[:, 40 + 54: 40 + 57] = 0  # a 3-pixel gap down the middle of the digit, drawn 112 pixels tall
        cut = to_mnist(1 - page)
        span = [np.ptp(np.nonzero(img.max(axis=0) > 25)[0]) for img in (cut, whole)]
        assert correlation(cut, whole) > 0.8 and span[0] >= 0.9 * span[1]  # a lost half would halve the width


def ruled(ink: np.ndarray, colour=(150, 190, 240), spacing: int = 28) -> np.ndarray:
    """Dark blue ballpoint ink on white paper with rules of `colour` every `spacing` rows, as RGB 0..255."""
    rgb = np.full((*ink.shape, 3), 250.0)
    rgb[spacing // 2::spacing] = colour
    pen = np.array([20, 30, 120])
    return rgb * (1 - ink[..., None]) + pen * ink[..., None]


@pytest.mark.parametrize("colour", [(150, 190, 240), (235, 120, 120)])
def test_ruled_lines_are_not_ink(digits, colour):
    """Blue and red rules across the page, through the digit: the prepared digit is the clean one."""
    for d in digits[:6]:
        page = on_page(d)
        clean = to_mnist(1 - page)
        prepared = to_mnist(ink_gray(ruled(page, colour)) / 255)
        assert correlation(prepared, clean) > 0.9


def test_a_dark_rule_and_a_form_box_are_not_ink(digits):
    for d in digits[:6]:
        page = on_page(d)
        clean = to_mnist(1 - page)
        lined = page.copy()
        lined[25:27, :] = lined[-27:-25, :] = 0.9  # two dark printed rules above and below the digit
        assert correlation(to_mnist(1 - lined), clean) > 0.9
        boxed = page.copy()
        boxed[20:22, 20:-20] = boxed[-22:-20, 20:-20] = boxed[20:-20, 20:22] = boxed[20:-20, -22:-20] = 1.0
        assert correlation(to_mnist(1 - boxed), clean) > 0.9


def test_a_form_box_close_round_the_pen_takes_none_of_the_digit(sample):
    """A box drawn 3 pixels round the digit (under a pixel at MNIST's scale), one of each class: the frame goes,
    and the digit's straight strokes near it stay (a 2's foot, a 5's flag and a 6's back went with it)."""
    labels = np.asarray(sample.test_labels)
    for k in range(10):
        page = on_page(sample.test_images[np.nonzero(labels == k)[0][0]])
        rows, cols = np.nonzero(page > 0.5)
        r0, r1, c0, c1 = rows.min() - 3, rows.max() + 3, cols.min() - 3, cols.max() + 3
        boxed = page.copy()
        boxed[r0: r0 + 2, c0: c1 + 1] = boxed[r1 - 1: r1 + 1, c0: c1 + 1] = 1.0
        boxed[r0: r1 + 1, c0: c0 + 2] = boxed[r0: r1 + 1, c1 - 1: c1 + 1] = 1.0
        assert correlation(to_mnist(1 - boxed), to_mnist(1 - page)) > 0.7, k


def number_page(digits, gap: int = 12) -> np.ndarray:
    """Digits side by side, `gap` pixels apart, 56 pixels tall, as ink on a page."""
    parts = []
    for d in digits:
        big = np.asarray(Image.fromarray(d).resize((56, 56), Image.BILINEAR), float) / 255
        cols = np.nonzero(big.max(axis=0) > 0.1)[0]
        parts += [big[:, cols.min(): cols.max() + 1], np.zeros((56, gap))]
    return np.pad(np.concatenate(parts[:-1], axis=1), 30)


def test_a_number_is_found_as_its_digits_left_to_right(digits):
    chosen = [digits[0], digits[1], digits[2]]
    found = find_digits(1 - number_page(chosen))
    assert len(found) == 3
    lefts = [f.box[0] for f in found]
    assert lefts == sorted(lefts) and all(f.image.shape == (28, 28) for f in found)
    for f, d in zip(found, chosen):
        assert correlation(f.image, to_mnist(d / 255.0)) > 0.8


def test_predict_reports_digits_found_and_reads_numbers(cli, tiny_run, tmp_path, digits):
    Image.fromarray(np.round((1 - number_page(digits[:3])) * 255).astype(np.uint8)).save(tmp_path / "n.png")
    plain = cli("predict", tiny_run.run_dir, tmp_path / "n.png", "--json")
    assert plain.code == 0 and plain.json()["predictions"][0]["digits_found"] == 3
    assert "--number" in plain.err and len(plain.err.strip().splitlines()) == 1
    number = cli("predict", tiny_run.run_dir, tmp_path / "n.png", "--number", "--json").json()["predictions"][0]
    assert len(number["number"]) == 3 and [d["class"] for d in number["digits"]] == list(number["number"])
    assert all(len(d["box"]) == 4 and 0 <= d["probability"] <= 1 for d in number["digits"])



def lines_page(rows: list, gap: int = 30) -> np.ndarray:
    """Numbers (`number_page`) one under another, `gap` pixels of paper between the lines, left aligned."""
    pages = [number_page(row) for row in rows]
    width = max(p.shape[1] for p in pages)
    return np.concatenate([np.pad(p, ((0, gap), (0, width - p.shape[1]))) for p in pages])


def test_a_page_of_digits_is_read_line_by_line(digits):
    """Three lines of four digits: each line left to right, top line first, no digit taken for part of the one
    above it (read by columns alone, a page of 40 digits was read as 8 columns of stacked ink, surely wrong)."""
    rows = [digits[0:4], digits[4:8], digits[8:12]]
    found = find_digits(1 - lines_page(rows))
    assert [f.line for f in found] == [0] * 4 + [1] * 4 + [2] * 4
    for f, d in zip(found, [d for row in rows for d in row]):
        assert correlation(f.image, to_mnist(d / 255.0)) > 0.8


def test_predict_reads_a_page_of_numbers_line_by_line_and_says_when_unsure(cli, tiny_run, tmp_path, digits):
    Image.fromarray(np.round((1 - lines_page([digits[:3], digits[3:6]])) * 255).astype(np.uint8)).save(tmp_path / "p.png")
    number = cli("predict", tiny_run.run_dir, tmp_path / "p.png", "--number", "--json").json()["predictions"][0]
    assert [len(line) for line in number["number"].split(" ")] == [3, 3]
    assert [d["line"] for d in number["digits"]] == [0, 0, 0, 1, 1, 1]
    assert number["unsure"] == any(d["unsure"] for d in number["digits"])


def encode(rgb: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.round(rgb).astype(np.uint8)).save(buf, format=fmt, **options)
    return buf.getvalue()


def test_a_phone_photo_comes_upright(digits):
    """A JPEG stored sideways with EXIF orientation 6 (turn 90 degrees clockwise to view): read upright."""
    page = np.stack([255 * (1 - on_page(digits[0]))] * 3, axis=2)
    upright = open_image(io.BytesIO(encode(page, "JPEG", quality=90)), "photo.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = open_image(io.BytesIO(encode(np.rot90(page, 1), "JPEG", quality=90, exif=exif)), "photo.jpg")
    assert correlation(to_mnist(sideways), to_mnist(upright)) > 0.95


@pytest.mark.parametrize("page, message", [
    (np.full((200, 300, 3), 245.0), "no digit found"),
    (ruled(np.zeros((200, 300)), (120, 160, 230)), "no digit found"),
])
def test_blank_and_ruled_pages_have_no_digit(page, message):
    with pytest.raises(UserError, match=message):
        to_mnist(ink_gray(page) / 255, "page.png")


def test_an_empty_box_has_no_digit():
    page = np.zeros((120, 120))
    page[20:22, 20:100] = page[98:100, 20:100] = page[20:100, 20:22] = page[20:100, 98:100] = 1.0
    with pytest.raises(UserError, match="no digit found"):
        to_mnist(1 - page, "box.png")


def test_a_truncated_jpeg_is_one_clear_error(digits):
    data = encode(np.stack([255 * (1 - on_page(digits[0]))] * 3, axis=2), "JPEG")
    with pytest.raises(UserError, match="photo.jpg"):
        to_mnist(open_image(io.BytesIO(data[: len(data) // 2]), "photo.jpg"))


def test_a_small_digit_in_a_28x28_frame_is_scaled_to_mnist_size(digits):
    """A digit written small in the middle of a 28x28 image is not taken as already in MNIST's form: its box is
    brought to 20 pixels."""
    for d in digits[:6]:
        small = np.zeros((28, 28))
        small[8:20, 8:20] = np.asarray(Image.fromarray(d).resize((12, 12), Image.BILINEAR), float) / 255
        rows, cols = np.nonzero(to_mnist(small) > 25)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 >= 19


def test_paper_scenes_are_seeded_and_read_like_a_users_file(sample):
    from mnistlab.robustness.paper import SCENES, read, scenes

    for name, kind in SCENES.items():
        made = scenes(name, sample.test_images, sample.test_labels, 2, seed=1)
        assert made == scenes(name, sample.test_images, sample.test_labels, 2, seed=1)
        for data, label in made:
            assert kind.digits[0] <= len(label) <= kind.digits[1] and read(data).ndim == 2


def test_one_broken_digit_is_one_digit_not_a_number(digits):
    """A digit cut by a pen that skipped, on a ruled page: find_digits finds one digit, so `predict` does not
    send its user to --number."""
    for d in digits[:6]:
        page = on_page(d)
        page[40 + 50: 40 + 53, :] = 0  # a 3-pixel gap across the digit
        assert len(find_digits(ink_gray(ruled(page)) / 255)) == 1


def overlapped(digits, overlap: int = 3) -> np.ndarray:
    """Digits 56 pixels tall side by side, each reaching `overlap` pixels into the one before: one piece of ink."""
    parts = []
    for d in digits:
        big = np.asarray(Image.fromarray(d).resize((56, 56), Image.BILINEAR), float) / 255
        cols = np.nonzero(big.max(axis=0) > 0.1)[0]
        parts.append(big[:, cols.min(): cols.max() + 1])
    page = np.zeros((56, sum(p.shape[1] for p in parts)))
    x = 0
    for p in parts:
        page[:, x: x + p.shape[1]] = np.maximum(page[:, x: x + p.shape[1]], p)
        x += p.shape[1] - overlap
    return np.pad(page[:, :x + overlap], 30)


def template_judge(templates: list[np.ndarray]):
    """A judge that reads an image as surely as it matches one of `templates` (MNIST form): the model's role in
    the number reader, played by the digits themselves, so the test does not hang on a tiny run's skill."""
    def judge(images: np.ndarray) -> np.ndarray:
        return np.log(np.clip([max(correlation(x, t) for t in templates) for x in images], 1e-6, 1.0))
    return judge


@pytest.mark.parametrize("pair", [(1, 0), (7, 1), (3, 1), (1, 4), (0, 0)])
def test_touching_digits_are_cut_where_the_model_reads_them(sample, pair):
    """Two digits overlapping by 3 pixels are one piece of ink, with a 1 under 1.3 times as wide as tall (cut
    only by width, it stays one digit): the reader cuts it into the two digits, each close to its own MNIST form."""
    chosen = [sample.test_images[np.nonzero(sample.test_labels == c)[0][0]] for c in pair]
    templates = [to_mnist(d / 255.0) for d in chosen]
    found = find_digits(1 - overlapped(chosen), judge=template_judge(templates))
    assert len(found) == 2
    for f, t in zip(found, templates):
        assert correlation(f.image, t) > 0.7


def test_a_judged_single_digit_stays_one_digit(digits):
    """With the model judging the cuts, one digit is still one digit: its halves do not outscore it."""
    for d in digits[:8]:
        templates = [to_mnist(d / 255.0)]
        assert len(find_digits(1 - on_page(d), judge=template_judge(templates))) == 1


def test_a_number_whose_tallest_piece_is_faint_still_gives_its_digits():
    # a held-out photo (818 on ruled paper) left a faint tall remnant beside short heavy digits: no group was
    # both heavy and tall, and predict ended in a traceback
    from mnistlab.data.pieces import Groups, digits_in

    labels = np.zeros((80, 60), dtype=np.int32)
    labels[40:60, 5:25] = 1  # a heavy, short digit: 400 pixels of ink, 20 tall
    labels[2:78, 50] = 2  # a faint tall stroke: 76 pixels, 76 tall
    ink = (labels > 0).astype(np.float64)
    groups = Groups(labels, np.array([400.0, 76.0]), [np.s_[40:60, 5:25], np.s_[2:78, 50:51]], 3.0)
    found = digits_in(ink, groups)
    assert len(found) >= 1 and found[0][0][45, 10]  # the first line's first digit


def test_a_light_1_between_heavy_digits_is_a_digit_not_a_mark():
    # a 1 carries little ink: with 15% of the heaviest digit's ink it was taken for a mark of its neighbour
    from mnistlab.data.pieces import Groups, digits_in

    labels = np.zeros((60, 120), dtype=np.int32)
    labels[20:40, 10:30] = 1  # a heavy digit: 400 pixels of ink, 20 tall
    labels[20:40, 40:43] = 2  # a 1: 60 pixels, 20 tall
    labels[20:40, 53:73] = 3  # another heavy digit
    ink = (labels > 0).astype(np.float64)
    boxes = [np.s_[20:40, 10:30], np.s_[20:40, 40:43], np.s_[20:40, 53:73]]
    found = digits_in(ink, Groups(labels, np.array([400.0, 60.0, 400.0]), boxes, 3.0))
    assert [[int(labels[d][0]) for d in line] for line in found] == [[1, 2, 3]]



def test_rules_left_on_a_page_are_no_digits_and_cutting_one_does_not_fail():
    # a held-out ruled page kept four rules 1 pixel tall and 495 long: read line by line, each was cut by width
    # into hundreds of "digits" (1,980 found), and a window narrower than a column ended in a traceback
    from mnistlab.data.pieces import Groups, digits_in, split

    labels = np.zeros((60, 240), dtype=np.int32)
    labels[10, 20:220], labels[40, 20:220] = 1, 2
    ink = (labels > 0).astype(np.float64)
    groups = Groups(labels, np.array([200.0, 200.0]), [np.s_[10:11, 20:220], np.s_[40:41, 20:220]], 1.0)
    assert digits_in(ink, groups) == []
    parts = split(ink, labels == 1, 1.0)
    assert sum(p.sum() for p in parts) == 200  # every pixel of the rule in some part


def test_a_printed_rule_with_a_dark_core_goes_whole(digits):
    """Rules printed as a dark core between two paler rows (a photo blurs every printed line so): their core is no
    darker than their own line, so no 1-pixel rule stays on the page as pen (grey rules, a little lighter than the
    pen)."""
    scores = []
    for d in digits[:6]:
        page = on_page(d)
        paper = np.full((*page.shape, 3), 250.0)
        paper[13::28], paper[15::28], paper[14::28] = (210, 210, 215), (210, 210, 215), (160, 160, 165)
        rgb = paper * (1 - page[..., None]) + np.array([20, 30, 120]) * page[..., None]
        scores.append(correlation(to_mnist(ink_gray(rgb) / 255), to_mnist(1 - page)))
    assert min(scores) > 0.6 and np.mean(scores) > 0.85, scores  # rule cores kept as pen: three of six under 0.1


def test_a_shadow_over_most_of_a_photo_is_paper_and_the_lit_corner_is_not_ink(digits):
    """A photo whose border lies mostly in a shadow, with a lit corner: the lit paper reaches further from the
    border's level than the pen does, yet it is a broad patch, not a stroke; the digit in the shadow is the ink."""
    h, w = 480, 640
    ys, xs = np.mgrid[0:h, 0:w]
    light = 0.5 + 0.45 / (1 + np.exp((xs + 1.5 * ys - 420) / 12))  # the top left corner lit, the rest in shade
    for d in digits[:4]:
        sheet = np.zeros((h, w))
        page = on_page(d, factor=3, margin=0)
        sheet[260: 260 + page.shape[0], 380: 380 + page.shape[1]] = page
        image = light * (1 - 0.7 * sheet)
        assert correlation(to_mnist(image), to_mnist(1 - page)) > 0.85


def test_a_printed_underline_darker_than_the_pen_is_not_the_digit(sample):
    """A form's line under the writing, printed darker than the blue pen and reaching past the digit at both ends:
    it is paper (it was the heaviest ink, so it was taken for the digit), and every class of digit stays whole."""
    labels = np.asarray(sample.test_labels)
    for k in range(10):
        page = on_page(sample.test_images[np.nonzero(labels == k)[0][0]], margin=60)
        rows, cols = np.nonzero(page > 0.5)
        rgb = np.full((*page.shape, 3), 248.0) * (1 - page[..., None]) + np.array([40, 60, 160]) * page[..., None]
        rgb[rows.max() + 8: rows.max() + 11, cols.min() - 40: cols.max() + 40] = 40  # the printed line
        assert correlation(to_mnist(ink_gray(rgb) / 255), to_mnist(1 - page)) > 0.9, k


def test_a_comb_field_under_a_digit_is_not_the_digit(digits):
    """A form's comb: a line under the writing with ticks rising from it, the digit between two ticks (the ticks
    are the line's own, so the line still reaches past the digit at both ends)."""
    for d in digits[:6]:
        page = on_page(d, margin=60)
        rows, cols = np.nonzero(page > 0.5)
        combed = page.copy()
        base, left, right = rows.max() + 8, cols.min() - 50, cols.max() + 50
        combed[base: base + 3, left: right] = 1.0
        for x in (left, cols.min() - 10, cols.max() + 10, right - 3):
            combed[base - 30: base, x: x + 3] = 1.0
        assert correlation(to_mnist(1 - combed), to_mnist(1 - page)) > 0.8


def test_a_thin_upright_line_far_taller_than_the_digits_is_no_digit(digits):
    """A pen-thick upright line beside a number, twice its height (a margin's remnant, a fold): the number's digits
    are found, and the line is not one of them (it set the digits' height, and the digits were taken for marks)."""
    page = np.pad(number_page(digits[:3]), ((60, 60), (0, 0)))
    page[50:170, 12:18] = 1.0
    found = find_digits(1 - page)
    assert len(found) == 3 and all(d.box[0] > 20 for d in found)


def three_digits(shape=(200, 400), top: int = 90, tall: int = 22, level: float = 1.0, wide: int = 16):
    """Labels and ink of three blocky digits `tall` pixels tall, `wide` wide, in the middle of a page, ink `level`."""
    labels = np.zeros(shape, dtype=np.int32)
    for k, x in enumerate((180, 210, 240), start=1):
        labels[top: top + tall, x: x + wide] = k
    return labels, (labels > 0) * level


def digits_of(labels: np.ndarray, ink: np.ndarray, pen: float = 3.0) -> list[list[int]]:
    """digits_in's lines of digits, each digit the sorted labels of the groups in it."""
    from mnistlab.data.pieces import Groups, digits_in

    n = int(labels.max())
    boxes = [ndimage_box(labels == k) for k in range(1, n + 1)]
    mass = np.array([ink[labels == k].sum() for k in range(1, n + 1)])
    found = digits_in(ink, Groups(labels, mass, boxes, pen))
    return [[sorted(int(v) for v in np.unique(labels[d]) if v) for d in line] for line in found]


def ndimage_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.nonzero(mask)
    return np.s_[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]


def test_what_lies_beyond_a_photographed_pages_edge_does_not_set_the_digits_height():
    # a held-out photo of 7277 showed the table beyond the page's edge as a dark patch 150 pixels tall at the
    # picture's left edge: the digits' height was taken from it, the real digits were too short to count, and the
    # patch was read as digits
    labels, ink = three_digits()
    labels[20:170, 0:40] = 4
    ink = np.where(labels == 4, 1.0, ink)
    assert digits_of(labels, ink) == [[[1], [2], [3]]]


def test_a_thin_upright_line_taller_than_the_digits_sets_neither_their_height_nor_reads_as_a_1():
    # a margin's remnant 34 pixels tall beside digits 22 tall: taken as their height, and read as a 1
    labels, ink = three_digits()
    labels[80:114, 100:102] = 4
    ink = np.where(labels == 4, 1.0, ink)
    assert digits_of(labels, ink) == [[[1], [2], [3]]]
    labels[labels == 4] = 0
    labels[84:119, 175:177] = 4  # beside the first digit, 3 columns from it: no part of it either
    ink = (labels > 0) * 1.0
    assert digits_of(labels, ink) == [[[1], [2], [3]]]


def test_a_1_taller_than_a_wide_0_beside_it_is_a_digit():
    # held-out 01: a slanted 1 of 141 pixels beside a 0 of 98 (wide, so shorter) is a digit, not a margin's remnant
    labels = np.zeros((400, 640), dtype=np.int32)
    labels[163:261, 208:311] = 1
    labels[170:254, 215:304] = 0  # the 0: a ring 7 wide
    rows = np.arange(138, 279)
    for dx in range(7):
        labels[rows, 442 - (rows - 138) * 66 // 141 - dx] = 2  # the 1: a slanted stroke 7 wide
    ink = (labels > 0) * 1.0
    assert digits_of(labels, ink, pen=6.9) == [[[1], [2]]]


def test_a_faint_printed_remnant_of_digit_height_is_no_1():
    # a piece of a margin line as tall as the digits, but printed: its ink's core 0.34 where the pen's is 0.65 (3554
    # in a held-out photo of ruled paper was read as 33542)
    labels, ink = three_digits(level=0.65, wide=4)  # strokes of a pen, not blocks: 57 of ink each
    labels[90:112, 100:102] = 4
    ink = np.where(labels == 4, 0.34, ink)
    assert digits_of(labels, ink) == [[[1], [2], [3]]]


def test_a_mark_far_above_a_digit_is_not_joined_to_it_but_a_flag_near_it_is():
    # a remnant of a rule high above a digit was taken into it: its box grew tall and the digit shrank to a dot
    # in MNIST's form (621 read as 423); a 5's flag just above its body is still part of it
    labels, ink = three_digits()
    labels[30:36, 212:220] = 4  # far above the second digit (54 rows up)
    labels[84:88, 242:252] = 5  # a flag 2 rows above the third
    ink = (labels > 0) * 1.0
    assert digits_of(labels, ink) == [[[1], [2], [3, 5]]]


def test_digits_of_a_fine_pen_are_not_taken_for_lines_beside_specks():
    # a 19 written with a fine pen: both digits have the little ink of thin upright lines, and next to the specks
    # of a photo's noise they were "far taller than every other group" and dropped (held-out 19 read as 1)
    labels = np.zeros((300, 400), dtype=np.int32)
    labels[200:243, 316:319] = 1  # a 1: 3 wide, 43 tall
    labels[200:247, 374:376] = 2  # a 9 with a fine pen: its stem,
    labels[200:216, 361:376] = 2  # and its loop, 15 wide: 150 pixels of ink in all
    labels[201:215, 362:374] = 0
    labels[40:43, 60:62], labels[64:70, 61], labels[266:268, 66] = 3, 4, 5  # specks
    ink = (labels > 0) * 1.0
    assert digits_of(labels, ink, pen=2.7) == [[[1], [2]]]


def test_a_digit_pressed_lighter_than_the_rest_is_still_a_digit():
    # a pencil presses each digit its own way: a 4 at 0.34 beside digits at 0.52 (held-out 7478) stays a digit
    labels, ink = three_digits(level=0.52, wide=4)
    ink = np.where(labels == 2, 0.34, ink)
    assert digits_of(labels, ink) == [[[1], [2], [3]]]


def test_a_fine_pen_whose_faint_rim_is_most_of_its_ink_is_still_a_digit():
    # a digit's strength is its core's, not its mean: a 1-pixel stroke with a faint antialiased rim two pixels
    # wide on each side has a mean of 0.2 where its neighbours, drawn bold, have 0.52
    labels, ink = three_digits(level=0.52, wide=5)
    ink[labels == 2] = 0.12
    ink[90:112, 212] = 0.52  # the second digit's core
    assert digits_of(labels, ink) == [[[1], [2], [3]]]


def test_a_cut_part_far_shorter_than_the_number_is_no_digit_of_its_own():
    # a wide 4's flat foot, or an 8's flick, cut off by the reader and read as a digit of its own (2434 read as
    # 243124): a part must be as tall as a digit to stand alone, whatever the model says of it
    from mnistlab.data.pieces import TALL, searched

    digit = np.zeros((60, 120), dtype=bool)
    digit[10:50, 20:26] = True  # an upright stroke, 40 tall
    digit[44:50, 26:80] = True  # a flat foot running right of it, past a second upright
    digit[10:50, 40:46] = True  # the second upright

    def judge(masks):  # the tail alone reads surest, narrow parts next, the whole worst
        width = [np.ptp(np.nonzero(m.any(axis=0))[0]) + 1 for m in masks]
        tall = [np.ptp(np.nonzero(m.any(axis=1))[0]) + 1 for m in masks]
        return np.array([0.0 if t < 20 else -0.1 if w <= 25 else -5.0 if m.sum() == digit.sum() else -1.0
                         for m, w, t in zip(masks, width, tall)])

    parts = searched(digit.astype(float), digit, 40.0, judge)
    rows = [np.ptp(np.nonzero(p.any(axis=1))[0]) + 1 for p in parts]
    assert len(parts) >= 2 and min(rows) >= TALL * 40
    assert sum(int(p.sum()) for p in parts) == int(digit.sum())


def test_a_page_cropped_along_two_rules_is_read_not_refused(digits):
    """Its top and bottom rows on rules, over half its border is rule: the border's median is the rule's level,
    from which the paper itself differs. The paper is the border's commonest level the image is not all ink from."""
    for d in digits[:4]:
        page = on_page(d)
        rgb = np.full((*page.shape, 3), 250.0)
        rgb[14::28] = (160, 160, 168)  # grey rules every 28 rows from row 14
        rgb = rgb * (1 - page[..., None]) + np.array([25, 25, 30]) * page[..., None]  # a black pen
        crop = rgb[14: 14 + 6 * 28 + 1]  # cut along two rules: its first and last rows
        assert correlation(to_mnist(ink_gray(crop) / 255), to_mnist(1 - page)) > 0.9


def test_a_heavy_blot_far_from_the_digit_is_not_part_of_it(digits):
    """A shadow's remnant in a corner of a photo, with twice the digit's ink: the digit is chosen for lying in the
    middle, and a group far from it is no part of it, however heavy."""
    rows, cols = np.mgrid[0:352, 0:352]
    blot = np.hypot(rows - 305, cols - 45) < 42
    for d in digits[:4]:
        page = on_page(d, margin=120)
        assert blot.sum() > 2 * page.sum()
        assert correlation(to_mnist(1 - np.maximum(page, blot)), to_mnist(1 - page)) > 0.95


def test_pieces_either_side_of_a_printed_line_taken_out_are_one_digit(digits):
    """A rule taken out along a stroke's foot or across it at a slant leaves a gap as wide as the rule: the pen's
    pieces on either side of it are one digit, where without the rule's place they would be two."""
    from mnistlab.data.pieces import group, main_digit, pieces

    for d in digits[:6]:
        ink = on_page(d, factor=1)
        rule = np.zeros(ink.shape, bool)
        rule[51:57] = True  # 6 rows through the middle of the digit, drawn 28 pixels tall (a pen 2-4 pixels wide)
        cut = np.where(rule, 0.0, ink)
        solid = pieces(cut, cut.max())
        apart, together = group(cut, solid), group(cut, solid, taken=rule & (ink > 0))
        assert together.count < apart.count
        kept = main_digit(cut, together)[together.labels]
        assert cut[kept].sum() > 0.9 * cut.sum()  # a half left out: about half


def dashed(points: list[tuple[float, float]], dash: tuple[int, int] | None = None, width: int = 3) -> np.ndarray:
    """A digit drawn as a polyline through `points` (x, y) on white paper 240 pixels a side, `width` pixels wide;
    with `dash` (on, off), a dashed pen: pixels of stroke, then of gap, along its length."""
    canvas = Image.new("L", (240, 240), 255)
    pen = ImageDraw.Draw(canvas)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        n = int(np.hypot(x1 - x0, y1 - y0))
        for t in range(n):
            if dash is None or t % sum(dash) < dash[0]:
                x, y = x0 + (x1 - x0) * t / n, y0 + (y1 - y0) * t / n
                pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    return np.asarray(canvas, float) / 255


@pytest.mark.parametrize("dash", [(7, 6), (9, 7)])
def test_a_digit_drawn_with_a_dashed_pen_is_all_its_dashes(dash):
    """Dashes twice a fine pen's width apart, further than stroke ends join: each dash (a corner, where two meet,
    the heaviest) is too small to be a digit, so the digit is the dashes reached from it, dash to dash. Kept alone,
    one dash was scaled up into a blob."""
    from scipy import ndimage

    for points in ([(80, 60), (160, 60), (110, 180)], [(125, 60), (115, 180)], [(140, 180), (140, 60), (80, 140), (165, 140)],
                   [(85, 80), (120, 60), (155, 85), (85, 175), (160, 175)]):  # a 7, a 1, a 4 and a 2
        solid, broken = (ndimage.gaussian_filter(to_mnist(dashed(points, d)).astype(float), 1) for d in (None, dash))
        assert correlation(broken, solid) > 0.85  # blurred: a fine pen's strokes a pixel apart would not correlate


def test_a_digit_on_dot_grid_paper_is_the_digit_not_the_dots(digits):
    """The dots of dot-grid paper are small and a step apart, like a dotted pen's; but a whole digit among them
    holds far more ink than any dot, and stays the digit (joined to the dots, it shrank to a speck of the page)."""
    grid = np.zeros((192, 192))
    for r in range(3, 189, 14):
        for c in range(3, 189, 14):
            grid[r: r + 4, c: c + 4] = 0.8
    for d in digits[:6]:
        page = on_page(d)
        assert correlation(to_mnist(1 - np.maximum(page, grid)), to_mnist(1 - page)) > 0.75


def test_a_band_across_a_pages_bottom_is_not_the_digit(digits):
    """A shadow's edge joined to the rules it darkens, from a page's left edge to its right and heavier than the
    digit: never the digit while the digit is there (it was taken for it, and the digit left out)."""
    from mnistlab.data.pieces import group, main_digit, pieces

    for d in digits[:4]:
        ink = on_page(d, margin=60) / 2  # a pencil, half the band's darkness
        ink[-30:] = 1.0  # across the whole width, 30 rows tall
        groups = group(ink, pieces(ink, ink.max()))
        kept = main_digit(ink, groups)[groups.labels]
        assert kept[:180].sum() > 0.9 * (ink[:180] > 0.25).sum() and not kept[-30:].any()
