"""The paper suite (robustness/scene_suite.py, paper_heldout.py) and the held-out corrupted-MNIST suite: what the
benchmarks that judge the preparation rest on."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import assert_user_error
from mnistlab.errors import UserError
from mnistlab.robustness import scene_suite as paper
from mnistlab.robustness.heldout_corruptions import HELDOUT_CORRUPTIONS, corrupt_heldout, gap_cut
from mnistlab.robustness.paper_heldout import SCENES, heldout, stroke, thin


def test_pictures_are_the_same_for_a_seed_whatever_the_count():
    assert heldout(3, 2, "plain") == heldout(3, 3, "plain")[:2]
    assert heldout(3, 1, "plain") != heldout(4, 1, "plain")


@pytest.mark.parametrize("scene", SCENES)
def test_every_scene_is_a_real_image_file_with_its_label(scene):
    (data, label), = heldout(0, 1, scene)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" if scene.startswith("photo") else img.format in ("PNG", "JPEG")
        orientation = img.getexif().get(0x0112, 1)
        upright = ImageOps.exif_transpose(img)
        assert min(upright.size) >= 300 and upright.width >= upright.height  # a page seen upright, landscape
    assert label.isdigit() and (2 <= len(label) <= 4 if scene == "number" else len(label) == 1)
    assert (orientation in (3, 6, 8)) == (scene == "photo_rotated")


def test_a_pen_with_gaps_leaves_pieces_and_a_hairline_is_a_pixel_wide():
    from scipy import ndimage

    one = np.zeros((28, 28), np.uint8)
    one[4:24, 12:16] = 255  # a thick vertical bar: a 1
    rng = np.random.default_rng(0)
    whole = stroke(one, 100, "ballpoint", rng)
    assert ndimage.label(whole > 0.5)[1] == 1
    assert ndimage.label(stroke(one, 100, "dashed", rng) > 0.5)[1] >= 3
    line = stroke(one, 100, "hairline", rng) > 0.5
    assert line.sum() < 3 * 100 and line.any(axis=1).sum() >= 60  # about a pixel wide, nearly the full height
    bar = np.zeros((20, 40), bool)
    bar[5:15, 5:35] = True
    assert thin(bar).sum(axis=0)[10:30].max() == 1  # the thinned bar is one pixel thick


def test_a_second_generator_plugs_in_by_name_and_is_scored_through_predict(tiny_run, monkeypatch):
    digits = [(np.pad(np.full((12, 4), 255, np.uint8), 8), "1"), (np.zeros((28, 28), np.uint8), "7")]  # a 1, a blank page
    monkeypatch.setitem(paper.PAPER_GENERATORS, "fake", paper.PaperGenerator(
        "fake", "tuned-on", ("bars",), lambda seed, count, scene: digits[:count]))
    gen, = paper.check_generators(["fake"])
    result, = paper.score_paper([tiny_run], gen, count=2)
    assert result["role"] == "tuned-on"
    assert result["scenes"]["bars"]["refused"] == 1  # the blank page is refused and counted wrong; the 1 still read
    assert result["scenes"]["bars"]["n"] == 2 and result["scenes"]["bars"]["accuracy"] in (0.0, 0.5)
    assert result["scenes"]["bars"]["sure_wrong"] <= 0.5  # the refused page is wrong but not sure
    with pytest.raises(UserError, match="unknown paper generator"):
        paper.check_generators(["nope"])
    with pytest.raises(ValueError, match="registered twice"):  # a second generator may not take a used name
        paper.paper_generator("heldout", "tuned-on", ("bars",))(lambda seed, count, scene: digits)


class Reads2Then7:
    """A run that reads 2, then 7, then 2, ... (the scoring, not the model, is under test)."""

    classes = tuple("0123456789")

    def predict(self, images):
        return np.array([2, 7] * len(images))[: len(images)], None


def test_a_number_is_read_by_predicts_number_reader_once_it_has_one(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from mnistlab.data import images

    judges = []

    def digits_in_files(paths, judge=None):  # three digits in the first file, none readable in the second
        judges.append(judge)
        if "00001" in str(paths[0]):
            raise UserError("no digit found")
        return [[SimpleNamespace(image=np.zeros((28, 28), np.uint8)) for _ in range(3)]]

    monkeypatch.setattr(images, "digits_in_files", digits_in_files)
    paths = paper.write_files([(b"\x89PNG", "272"), (b"\x89PNG", "5")], tmp_path)
    found = paper.numbers_as_predict(paths, len)  # the run's judge reaches the reader, which cuts with it
    answers, counts = paper.read_numbers(Reads2Then7(), found)
    assert answers == ["272", ""] and list(counts) == [3, 0] and judges == [len, len]


def test_robustness_paper_prints_the_table_and_saves_the_figure(cli, tiny_run, tmp_path):
    result = cli("robustness", tiny_run.run_dir, "--paper", "heldout", "--paper-count", "1", "--out", tmp_path / "p", "--json")
    assert result.code == 0, result.err
    scores = json.loads(result.out)["generators"]["heldout"][0]
    assert set(scores["scenes"]) == set(SCENES) and scores["role"] == "held-out"
    assert "exact" in scores["scenes"]["number"] and "accuracy" in scores["scenes"]["plain"]
    assert (tmp_path / "p" / "paper-heldout.png").is_file() and (tmp_path / "p" / "paper.json").is_file()
    assert_user_error(cli("robustness", tiny_run.run_dir, "--paper", "nope", "--out", tmp_path / "q"), "unknown paper generator")


@pytest.mark.parametrize("name", HELDOUT_CORRUPTIONS)
def test_each_heldout_corruption_changes_the_digit_the_same_way_for_a_seed(name):
    digits = np.zeros((3, 28, 28), np.uint8)
    digits[:, 6:22, 12:16] = 255
    digits[:, 6:10, 8:20] = 255  # a T
    once, again = corrupt_heldout(digits, name, seed=1), corrupt_heldout(digits, name, seed=1)
    assert once.shape == digits.shape and once.dtype == np.uint8
    assert np.array_equal(once, again) and not np.array_equal(once, digits)


def test_the_gap_cuts_two_pixels_through_the_centre_of_mass():
    disc = np.zeros((1, 28, 28), np.uint8)
    yy, xx = np.mgrid[:28, :28]
    disc[0][np.hypot(yy - 14, xx - 14) <= 8] = 255
    cut = gap_cut(disc)[0]
    assert cut[14, 14] == 0  # the centre is in the gap
    removed = int((disc[0] > 0).sum() - (cut > 0).sum())
    assert 2 * 16 - 4 <= removed <= 2 * 17 * 1.5  # a band about 2 pixels wide across a disc 17 pixels wide


def load_benchmark(name: str):
    """A script of benchmarks/ as a module (benchmarks/ is no package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # the paper scenes, the gap check and fifteen corruptions, each through predict's path
def test_the_targets_benchmark_reports_every_check(tiny_run, tmp_path, monkeypatch, capsys):
    bench = load_benchmark("paper_suite")
    out = tmp_path / "suite.json"
    monkeypatch.setattr("sys.argv", ["paper_suite.py", str(tiny_run.run_dir), "--count", "1", "--digits", "20",
                                     "--parts", "paper,gap,mnistc", "--out", str(out)])
    bench.main()
    parts = json.loads(out.read_text())["parts"]
    assert set(parts["paper"][0]["scenes"]) == set(SCENES) and len(parts["mnistc"][0]["corruptions"]) == 15
    printed = capsys.readouterr().out
    for check in ("digits on paper: ruled", "numbers: digits_found > 1", "2-px gap", "worst corruption"):
        assert check in printed


@pytest.mark.parametrize("case, code, out, err, clear", [
    ("blank page", 2, "", "mnistlab: error: x.png: no digit found\n", True),
    ("blank page", 1, "", "Traceback (most recent call last):\n  ...\nValueError: boom\n", False),
    ("empty box", 0, '{"predictions": [{"class": "0", "probabilities": [0.9, 0.1]}]}', "", False),
    ("empty box", 0, '{"predictions": [{"class": "0", "probabilities": [0.3, 0.2]}]}', "", True),
    ("40 digits", 0, '{"predictions": [{"class": "7", "probabilities": [0.95], "digits_found": 40}]}', "", True),
    ("40 digits", 0, '{"predictions": [{"class": "7", "probabilities": [0.95]}]}', "", False),
])
def test_a_bad_input_is_clear_only_when_refused_unsure_or_read_as_many(case, code, out, err, clear):
    assert load_benchmark("bad_inputs").verdict(case, code, out, err)[0] is clear
