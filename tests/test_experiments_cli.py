"""`mnistlab experiment list / run` on the command line."""
import json

import pytest

from mnistlab.cli import main
from mnistlab.experiments import EXPERIMENTS


def test_list_shows_all_twelve(capsys):
    assert main(["experiment", "list", "--json"]) == 0
    names = [e["name"] for e in json.loads(capsys.readouterr().out)["experiments"]]
    assert names == list(EXPERIMENTS) and len(names) == 12
    assert main(["experiment", "list"]) == 0
    assert "missing-class" in capsys.readouterr().out


@pytest.mark.slow  # a whole quick experiment
def test_run_json_is_one_object_with_summary_and_results_path(tmp_path, capsys):
    code = main(["experiment", "run", "softmax", "--quick", "--dataset", "mnist-sample", "--device", "cpu", "--threads", "1",
                 "--out", str(tmp_path / "sm"), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["name"] == "softmax"
    assert set(payload["summary"]) == {"log-softmax", "softmax"}
    assert payload["summary"]["softmax"] < payload["summary"]["log-softmax"]  # L5: softmax outputs learn far worse
    saved = json.loads((tmp_path / "sm" / "results.json").read_text())
    assert saved["summary"] == payload["summary"] and payload["results_path"].endswith("results.json")
    assert (tmp_path / "sm" / "softmax.png").stat().st_size > 0


def test_bad_out_is_a_one_line_error(tmp_path, capsys):
    clash = tmp_path / "file"
    clash.write_text("x")
    assert main(["experiment", "run", "softmax", "--quick", "--dataset", "mnist-sample", "--out", str(clash)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a directory" in err


@pytest.mark.slow  # two experiment processes
def test_a_suite_runs_experiments_side_by_side_and_records_each(tmp_path, capfd):
    from mnistlab.experiments.registry import run_suite

    suite = run_suite(["softmax", "missing-class"], jobs=2, out=tmp_path, quick=True, device="cpu",
                      dataset="mnist-sample", digit=3)
    assert [r["name"] for r in suite["experiments"]] == ["softmax", "missing-class"] and suite["jobs"] == 2
    assert (tmp_path / "softmax-quick" / "results.json").is_file() and (tmp_path / "missing-class-quick" / "results.json").is_file()
    assert suite["experiments"][1]["options"] == {"digit": 3} and suite["experiments"][0]["options"] == {}
    lines = capfd.readouterr().out.splitlines()  # the jobs print from their own processes
    assert all(line.startswith(("[softmax] ", "[missing-class] ")) for line in lines if line)
    assert any(line.startswith("[softmax] ") for line in lines) and any(line.startswith("[missing-class] ") for line in lines)
    assert suite["wall_seconds"] > 0


@pytest.mark.slow  # two experiment processes
def test_a_suite_trains_a_configuration_two_experiments_share_once(tmp_path):
    from mnistlab.experiments.registry import run_suite

    # softmax's log-softmax model and binarized's graded one are L5's baseline: one process trains it, the other
    # (waiting for it if it is still training) takes its run, equal to what training it again would give
    suite = run_suite(["softmax", "binarized"], jobs=2, out=tmp_path, quick=True, device="cpu", dataset="mnist-sample",
                      quiet=True)
    softmax, binarized = suite["experiments"]
    assert softmax["reused"] + binarized["reused"] == 1 and softmax["cpu_seconds"] > 0
    assert softmax["summary"]["log-softmax"] == binarized["summary"]["graded"]


def test_the_suite_runs_experiments_that_share_a_training_in_one_job_longest_first():
    from mnistlab.experiments import EXPERIMENTS
    from mnistlab.experiments.registry import suite_jobs

    jobs = suite_jobs(list(EXPERIMENTS))
    assert sorted(n for job in jobs for n in job) == sorted(EXPERIMENTS)
    assert ["epochs", "linear-relu-conv"] in jobs  # L2's two-conv net: trained by epochs, reused by the other
    assert sorted(next(job for job in jobs if "softmax" in job)) == ["binarized", "normalization", "scrambled", "shifted",
                                                                     "softmax"]  # L5's baseline FFN (and its CNN)
    assert jobs[0] == ["breadth-depth"] and ["missing-class"] in jobs
