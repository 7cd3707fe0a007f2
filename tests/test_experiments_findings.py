"""The quick experiments reproduce the direction of the lectures' findings (offline, on mnist-sample)."""
import json
from pathlib import Path

import pytest

from mnistlab.experiments import run_experiment
from mnistlab.train import memo
from mnistlab.train.device import call_threads

pytestmark = pytest.mark.slow  # trains every quick experiment


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Run a quick experiment once per module on mnist-sample; return its results.

    One torch thread, held for the module (`call_threads`: the training inside keeps it rather than choosing by
    the machine's load, so two runs of one seed sum in one order): these are tiny steps, and on a shared 2-core
    machine two threads spin and crawl.
    """
    done = {}

    def run(name, **options):
        if name not in done:
            out = tmp_path_factory.mktemp(name)
            done[name] = run_experiment(name, quick=True, out=out, device="cpu", say=lambda line: None,
                                        dataset="mnist-sample", **options)
        return done[name]

    with call_threads(1):
        yield run


def test_shifted_ffn_falls_far_below_unshifted_and_cnn_holds_up_better(quick):
    s = quick("shifted")["summary"]
    assert s["ffn-original"] > 0.75
    assert s["ffn-shifted"] < s["ffn-original"] - 0.3
    assert s["cnn-original"] - s["cnn-shifted"] < s["ffn-original"] - s["ffn-shifted"]


def test_scrambled_ffn_learns_as_well_as_on_original_pixels(quick):
    s = quick("scrambled")["summary"]
    assert set(s) == {"ffn-original", "ffn-scrambled", "cnn-original", "cnn-scrambled"}
    assert abs(s["ffn-scrambled"] - s["ffn-original"]) < 0.05
    assert s["cnn-scrambled"] < s["cnn-original"]


def test_training_on_raw_and_testing_on_unit_pixels_fails(quick):
    result = quick("normalization")
    s = result["summary"]
    assert s["train-raw-test-unit"] < s["train-unit-test-unit"] - 0.3
    assert abs(s["train-unit-test-raw"] - s["train-unit-test-unit"]) < 0.15  # accuracy survives the mismatch...
    losses = {c["condition"]: c["final"]["test_loss"] for c in result["configurations"]}
    assert losses["train-unit-test-raw"] > 10 * losses["train-unit-test-unit"]  # ...the loss does not
    assert result["notes"]["ranges"]["train-unit-test-raw"]["test"] == [0.0, 255.0]


def test_missing_class_fractions_cover_the_other_digits_and_sum_to_one(quick):
    result = quick("missing-class", digit=7)
    s = result["summary"]
    assert set(s) == {f"fraction-as-{d}" for d in range(10)}
    assert sum(s.values()) == pytest.approx(1.0)
    assert s["fraction-as-7"] < 0.02  # never trained to answer 7
    assert max(s, key=s.get) == "fraction-as-9"
    assert result["notes"]["held_out"]["n_images"] > 0


def test_results_json_records_every_configuration(quick):
    result = quick("normalization")
    saved = json.loads(Path(result["results_path"]).read_text())
    assert saved["name"] == "normalization" and saved["quick"] is True and saved["device"] == "cpu"
    assert len(saved["configurations"]) == 3
    for c in saved["configurations"]:
        assert c["history"] and c["final"]["test_accuracy"] is not None and c["seconds"] > 0
        assert c["data"]["name"] == "mnist-sample" and c["data"]["n_train"] == 4500 and c["seed"] == 0
        assert c["settings"]["train"]["batch_size"] == 32 and c["settings"]["train"]["drop_last"] is True
    assert all(p.endswith(".png") for p in saved["figures"])


def test_same_seed_same_numbers(quick, tmp_path):
    first = quick("missing-class", digit=7)
    with memo.shared(tmp_path / "trained"):  # a folder of its own: trains again rather than reusing the first run
        again = run_experiment("missing-class", quick=True, out=tmp_path / "again", device="cpu", say=lambda line: None,
                               dataset="mnist-sample", digit=7)
    assert not again["configurations"][0].get("reused")
    assert again["summary"] == first["summary"]
    timeless = lambda r: [{k: v for k, v in row.items() if "seconds" not in k} for row in r["configurations"][0]["history"]]  # noqa: E731
    assert timeless(again) == timeless(first)
