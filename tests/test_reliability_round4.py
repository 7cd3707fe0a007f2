"""Reliability, fourth round (issue 31): the hostile probe's new classes over --data, eval, robustness and their
records. Each ends in one line and exit 2, or in a correct result."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error
from mnistlab.train.run import save_run  # Run.save would move the shared tiny_run's run_dir


def write_csv(path, sample, classes: int, per_class: int = 12) -> None:
    """A CSV of `classes` classes (labels 0..classes-1), sample digits as their images."""
    rows = []
    for label in range(classes):
        for image in sample.test_images[sample.test_labels == label % 10][:per_class]:
            rows.append(f"{label}," + ",".join(map(str, image.ravel())))
    path.write_text("\n".join(rows) + "\n")


def test_eval_on_data_with_more_classes_than_the_run_is_one_line(cli, tiny_run, sample, tmp_path):
    # was IndexError: Target 10 is out of bounds
    write_csv(tmp_path / "twelve.csv", sample, 12)
    assert_user_error(cli("eval", tiny_run.run_dir, "--data", tmp_path / "twelve.csv"),
                      "class '10' is not one of the 10 classes the run", "give data of its classes")


def test_eval_on_a_partial_class_folder_matches_labels_by_name(cli, tiny_run, sample, tmp_path):
    # a folder of 3s and 7s: its labels 0 and 1 are the run's classes 3 and 7
    for label in (3, 7):
        (tmp_path / "part" / str(label)).mkdir(parents=True)
        for k, image in enumerate(sample.test_images[sample.test_labels == label][:20]):
            Image.fromarray(image).save(tmp_path / "part" / str(label) / f"{k}.png")
    result = cli("eval", tiny_run.run_dir, "--data", tmp_path / "part", "--json")
    assert result.code == 0, result.err
    out = result.json()
    from mnistlab.data import load_dataset

    test = load_dataset("mnist", tmp_path / "part")
    predicted, _ = tiny_run.predict(test.test_images)
    truth = np.array([3, 7])[test.test_labels]
    assert out["test_accuracy"] == pytest.approx(float((np.asarray(predicted) == truth).mean()))
    assert sum(map(sum, out["confusion"])) == len(truth) and out["per_class_accuracy"]["3"] is not None


def test_a_run_on_relative_data_is_read_again_from_anywhere(cli, sample, tmp_path, monkeypatch):
    # the record held `digits.csv` as typed: eval from another folder said it did not exist, or read a file of that name there
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write_csv(tmp_path / "here" / "digits.csv", sample, 10)
    write_csv(tmp_path / "elsewhere" / "digits.csv", sample, 3)  # same name, other data
    monkeypatch.chdir(tmp_path / "here")
    trained = cli("train", "--data", "digits.csv", "--model", "f8", "--max-steps", "2", "--device", "cpu", "--out",
                  tmp_path / "run", "--json")
    assert trained.code == 0, trained.err
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["data"]["path"] == str(tmp_path / "here" / "digits.csv")
    monkeypatch.chdir(tmp_path / "elsewhere")
    again = cli("eval", tmp_path / "run", "--json")
    assert again.code == 0, again.err
    assert again.json()["n_test"] == trained.json()["data"]["n_test"]


def test_robustness_reads_the_data_its_options_name_and_labels_runs_apart(cli, tiny_run, sample, tmp_path):
    # --test-data was ignored (a 32-image holdout was labelled "1,000 images"); a/run and b/run shared one figure
    write_csv(tmp_path / "train.csv", sample, 10)
    write_csv(tmp_path / "test.csv", sample, 10, per_class=3)
    for folder in ("a", "b"):
        save_run(tiny_run, tmp_path / folder / "run")
    result = cli("robustness", tmp_path / "a" / "run", tmp_path / "b" / "run", "--data", tmp_path / "train.csv",
                 "--test-data", tmp_path / "test.csv", "--quick", "--corruptions", "gaussian_blur", "--no-other-writers",
                 "--out", tmp_path / "out", "--json")
    assert result.code == 0, result.err
    saved = json.loads((tmp_path / "out" / "robustness.json").read_text())
    assert saved["suite"] == "train test set (30 images)"  # the data set is named after --data; its test set is --test-data's 30
    assert sorted(p.name for p in (tmp_path / "out").glob("examples-*.png")) == ["examples-a-run.png", "examples-b-run.png"]


def test_robustness_of_a_run_trained_on_a_path_reads_that_path(cli, sample, tmp_path):
    # was: unknown dataset 'three_classes'
    write_csv(tmp_path / "three_classes.csv", sample, 3, per_class=30)
    assert cli("train", "--data", tmp_path / "three_classes.csv", "--model", "f8", "--max-steps", "2", "--device", "cpu",
               "--out", tmp_path / "run").code == 0
    result = cli("robustness", tmp_path / "run", "--quick", "--corruptions", "gaussian_blur", "--no-other-writers",
                 "--out", tmp_path / "out", "--json")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "out" / "robustness.json").read_text())["suite"].startswith("three_classes test set (")



def test_a_record_without_its_files_list_does_not_turn_verification_off(cli, tiny_run, tmp_path):
    # deleting `files` from run.json let tampered weights be evaluated (9.8%, exit 0)
    save_run(tiny_run, tmp_path / "run")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    del record["files"]
    (tmp_path / "run" / "run.json").write_text(json.dumps(record))
    assert_user_error(cli("eval", tmp_path / "run"), "records no SHA-256 of model.safetensors", "--no-verify")
    assert cli("eval", tmp_path / "run", "--no-verify", "--json").code == 0


def test_report_sample_out_of_range_is_refused_before_the_figures(cli, tiny_run, tmp_path, monkeypatch):
    # was refused only after 2 s of figure work
    import mnistlab.report.run as report

    monkeypatch.setattr(report, "render", lambda *a, **k: pytest.fail("a figure was drawn first"))
    assert_user_error(cli("report", tiny_run.run_dir, "--sample", "99999", "--out", tmp_path / "r.html"),
                      "--sample 99999 is out of range")
    assert not (tmp_path / "r.html").exists()


def test_version_loads_no_torch_and_a_command_loads_only_its_own_module():
    # `mnistlab --version` took 8.6 s beside a busy process: torch was imported before anything was said
    import subprocess
    import sys

    code = ("import sys\nfrom mnistlab.cli import main\n"
            "for argv in (['--version'], ['notebooks', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "    print('RESULT', argv[0], 'torch' in sys.modules, sorted(m for m in sys.modules if m.startswith('mnistlab.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.splitlines()
    out = [line.removeprefix("RESULT ") for line in out if line.startswith("RESULT ")]
    assert out[-2] == "--version False ['mnistlab.cli.common', 'mnistlab.cli.predict']"  # predict: the --onnx check
    assert out[-1] == "notebooks False ['mnistlab.cli.common', 'mnistlab.cli.notebooks', 'mnistlab.cli.predict']"


COMMANDS = ("bench", "data", "eval", "experiment", "export", "finetune", "inspect", "notebooks", "predict", "report",
            "robustness", "scratch", "serve", "sweep", "train")
# an import hook that prints where torch loads, then the command line; on one pipe the order of the lines is the
# order they were said in
WATCH_TORCH = ("import importlib.abc, sys\n"
               "class Watch(importlib.abc.MetaPathFinder):\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'torch':\n            print('TORCH LOADS', flush=True)\n"
               "            sys.meta_path.remove(self)\n"
               "sys.meta_path.insert(0, Watch())\n"
               "from mnistlab.cli import main\n")


def test_the_help_of_every_command_and_the_top_level_loads_no_torch():
    # `--help` that waited for torch took 7-10 s beside a busy process; each runs in a fresh interpreter
    import subprocess
    import sys

    code = WATCH_TORCH + "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    for argv in (["--help"], ["--version"], *([name, "--help"] for name in COMMANDS)):
        out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120).stdout
        assert "TORCH LOADS" not in out and ("usage: mnistlab" in out or argv == ["--version"]), (argv, out[-300:])
    from mnistlab.cli import command_modules

    assert {m.rsplit(".", 1)[1] for m in command_modules()} == set(COMMANDS)  # every command is here


@pytest.mark.parametrize("argv", [
    ["eval", "{run}", "--dataset", "mnist-sample"],
    ["train", "--recipe", "fast", "--epochs", "1", "--dataset", "mnist-sample", "--out", "{tmp}/t"],
    ["predict", "{run}", "{digit}", "--number"],
    ["robustness", "{run}", "--quick", "--dataset", "mnist-sample", "--no-other-writers", "--out", "{tmp}/r"],
    ["sweep", "--lr", "0.01,0.02", "--epochs", "1", "--dataset", "mnist-sample", "--out", "{tmp}/s"],
], ids=lambda argv: argv[0])
def test_a_command_says_what_it_is_about_to_do_before_torch_loads_also_in_a_log(argv, tiny_run, sample, tmp_path):
    # eval printed nothing for 15-20 s beside a busy process: torch and the data loaded first. Piped into a log, its
    # first line comes before torch's import (the command is stopped there: what follows is its work)
    import subprocess
    import sys

    Image.fromarray(sample.test_images[0]).save(tmp_path / "digit.png")
    argv = [a.format(run=tiny_run.run_dir, tmp=tmp_path, digit=tmp_path / "digit.png") for a in argv]
    process = subprocess.Popen([sys.executable, "-c", WATCH_TORCH + "sys.exit(main(sys.argv[1:]))", *argv],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        said = [process.stdout.readline().rstrip("\n") for _ in range(2)]
    finally:
        process.kill()
        process.wait()
    assert said[1] == "TORCH LOADS" and said[0] and not said[0][0].isupper(), said


def test_with_json_stdout_is_the_json_alone(cli, tiny_run):
    # a program reading --json gets one object; the first line goes to stderr only where that is a terminal
    done = cli("eval", tiny_run.run_dir, "--dataset", "mnist-sample", "--json")
    assert json.loads(done.out)["test_accuracy"] and "evaluating" not in done.out + done.err


def test_a_lazy_package_name_stays_the_function_when_its_submodule_of_that_name_loads():
    # robustness.score and inspect.numbers are each a function and the module that defines it
    import importlib
    import sys

    importlib.import_module("mnistlab.robustness.score")
    importlib.import_module("mnistlab.inspect.numbers")
    from mnistlab.inspect import numbers
    from mnistlab.robustness import score

    assert score is sys.modules["mnistlab.robustness.score"].score
    assert numbers is sys.modules["mnistlab.inspect.numbers"].numbers


def test_a_command_whose_reader_stops_ends_quietly():
    # `mnistlab eval RUN | head -3` ended in a BrokenPipeError traceback; here the pipe's reading end is closed
    # before the command starts, so its first line already finds no reader
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "mnistlab.cli", "data", "info", "--dataset", "mnist-sample"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == "", done.stderr[-500:]
