"""A tiny run of `mnistlab bench` on mnist-sample: every recipe trains, and the report has what users read."""
import json

import pytest

from mnistlab import load_dataset
from mnistlab.bench import RECIPES, bench, summarize
from mnistlab.cli import main


@pytest.fixture(scope="module")
def small():
    ds = load_dataset("mnist-sample")
    ds.train_images, ds.train_labels = ds.train_images[:1024], ds.train_labels[:1024]
    ds.test_images, ds.test_labels = ds.test_images[:500], ds.test_labels[:500]
    return ds


@pytest.mark.slow  # every recipe trains
def test_every_recipe_runs_and_reports(small):
    report = bench(small, seeds=1, target=0.5, device="cpu", max_epochs=1, evals_per_epoch=2, warmup=False)
    assert [r["recipe"] for r in report["results"]] == list(RECIPES)
    for r in report["results"]:
        assert set(r) >= {"recipe", "seed", "time_to_target_s", "final_accuracy", "images_per_s", "peak_mem_mb"}
        assert 0 <= r["final_accuracy"] <= 1 and r["images_per_s"] > 0 and r["peak_mem_mb"] > 0
        if r["time_to_target_s"] is not None:
            assert r["time_to_target_s"] <= r["train_s"]
    for row in report["summary"].values():
        assert set(row) >= {"median_time_to_target_s", "mean_accuracy", "runs_reaching_target"}
    assert report["summary"]["fast-reference"]["time_ratio_to_fast_reference"] in (1.0, None)


def test_summary_counts_a_run_that_never_reached_the_target_as_slowest():
    runs = [{"recipe": "x", "seed": s, "time_to_target_s": t, "final_accuracy": 0.99, "images_per_s": 1, "peak_mem_mb": 1}
            for s, t in enumerate([1.0, None, None])]
    row = summarize(runs, ["x"])["x"]
    assert row["median_time_to_target_s"] is None and row["runs_reaching_target"] == 1


@pytest.mark.slow  # trains a recipe
def test_cli_bench_json(capsys):
    code = main(["bench", "--dataset", "mnist-sample", "--recipes", "fast-reference,mnistlab-fast", "--seeds", "1",
                 "--target", "0.5", "--evals-per-epoch", "1", "--no-warmup", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["recipe"] for r in report["results"]] == ["fast-reference", "mnistlab-fast"]
    assert set(report["summary"]) == {"fast-reference", "mnistlab-fast"}


@pytest.mark.parametrize("option, message", [(["--recipes", "nope"], "unknown recipe"),
                                             (["--target", "99"], "--target 99"), (["--threads", "0"], "--threads 0")])
def test_cli_bench_refuses_bad_options(capsys, option, message):
    assert main(["bench", "--dataset", "mnist-sample", *option, "--json"]) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_recipe_is_refused_before_anything_is_printed(capsys):
    """Not its first line, not the table's header: one line on stderr, exit 2."""
    assert main(["bench", "--dataset", "mnist-sample", "--recipes", "mnistlab-fast,nosuch"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == [
        "mnistlab: error: unknown recipe(s) nosuch; choose from: " + ", ".join(RECIPES)]
