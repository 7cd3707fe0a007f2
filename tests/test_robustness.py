"""The corruption benchmark: fixed seeds, severities that hurt more as they rise, the command and its JSON."""
import importlib.util
import json

import numpy as np
import pytest

from conftest import assert_user_error
from mnistlab.cli.robustness import table
from mnistlab.robustness import CORRUPTIONS, corrupt, families

FAMILIES = {"noise", "blur", "geometry", "contrast", "occlusion", "stray marks", "stroke", "resolution", "outline"}


def test_every_family_of_the_issue_is_there():
    assert set(families()) == FAMILIES and len(CORRUPTIONS) == 22


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruptions_are_seeded_and_grow_with_severity(sample, name):
    images = sample.test_images[:64]
    once, again = corrupt(images, name, 2, seed=3), corrupt(images, name, 2, seed=3)
    assert once.shape == images.shape and once.dtype == np.uint8 and np.array_equal(once, again)
    change = [np.abs(corrupt(images, name, s).astype(float) - images).mean() for s in (1, 2, 3)]
    assert 0 < change[0] <= change[2], change  # the hardest severity changes the digits at least as much as the mildest


@pytest.mark.slow  # the whole corruption suite, about 20 s
def test_command_table_figures_and_json(cli, tiny_run, tmp_path):
    result = cli("robustness", tiny_run.run_dir, "--quick", "--corruptions", "dotted_line", "--out", tmp_path / "rb", "--json")
    assert result.code == 0, result.err
    (run,) = result.json()["runs"]
    assert set(run) == {"run_dir", "clean_accuracy", "mean_accuracy", "worst", "corruptions"}
    assert set(run["corruptions"]) == {"dotted_line"} and set(run["corruptions"]["dotted_line"]) == {"raw", "prepared"}
    assert run["worst"]["name"] == "dotted_line" and 0 <= run["mean_accuracy"] <= 1
    detail = json.loads((tmp_path / "rb" / "robustness.json").read_text())["runs"][0]
    assert len(detail["severities"]["dotted_line"]["prepared"]) == 3
    if importlib.util.find_spec("sklearn") is not None:  # the digits kept aside, from other writers
        assert detail["other_writers"]["images"] == 1797 and 0 <= detail["other_writers"]["accuracy"] <= 1
    assert run["mean_accuracy"] == pytest.approx(np.mean(detail["severities"]["dotted_line"]["prepared"]))
    assert (tmp_path / "rb" / "examples-tiny.png").stat().st_size > 1000 and (tmp_path / "rb" / "families.png").is_file()
    lines = table([detail, detail], ["tiny", "tiny-again"])  # runs side by side, as the command prints them
    assert "tiny-again" in lines[0] and any(line.startswith("dotted_line") and line.count("%") == 4 for line in lines)
    assert any(line.startswith("[stray marks]") for line in lines)


def test_unknown_corruption_is_one_line(cli, tiny_run, tmp_path):
    assert_user_error(cli("robustness", tiny_run.run_dir, "--corruptions", "rain", "--out", tmp_path / "x"),
                      "unknown corruption 'rain'")


def test_several_runs_share_one_corrupted_and_prepared_set(sample, tiny_run, monkeypatch):
    """`robustness A B` prepares each corrupted set once for all runs (the preparation is most of the time), and
    each run scores exactly as it would alone."""
    from mnistlab.robustness import Suite, score, score_runs

    score_module = importlib.import_module("mnistlab.robustness.score")  # the package's `score` is the function

    suite = Suite(np.asarray(sample.test_images[:40]), np.asarray(sample.test_labels[:40]), ("fog", "thick"), seed=1)
    alone = score(tiny_run, suite)
    calls = []
    real = score_module.readings
    monkeypatch.setattr(score_module, "readings", lambda images: calls.append(len(images)) or real(images))
    both = score_runs([tiny_run, tiny_run], suite)
    assert len(calls) == 1 + 2 * 3  # the clean set, then each corruption's three severities, once for both runs
    for result in both:
        assert result["severities"] == alone["severities"] and result["clean_prepared"] == alone["clean_prepared"]
        assert result["mean_accuracy"] == alone["mean_accuracy"] and result["worst"] == alone["worst"]
