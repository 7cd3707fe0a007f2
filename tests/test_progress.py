"""The status line of long commands: on a terminal only, never with --json or when stderr is piped."""
import argparse
import io
import json
import re
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest

from mnistlab.cli import main
from mnistlab.inspect.numbers import WHAT
from mnistlab.progress import Progress, clock_text


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_line_names_the_part_and_gives_elapsed_and_remaining_time():
    now = [0.0]
    stream = Terminal()
    progress = Progress.for_command(argparse.Namespace(json=False), stream)
    progress.clock = lambda: now[0]
    progress.started = 0.0
    now[0] = 10.0
    progress.begin("softmax: configuration 2/4 (log-softmax)")
    now[0] = 40.0
    progress.show("epoch 3/10", 0.3)  # 30 s for 30% of this configuration: 70 s left
    now[0] = 40.05
    progress.show("epoch 4/10", 0.4)  # too soon after the last draw: skipped
    assert stream.getvalue().split("\r")[1:] == ["softmax: configuration 2/4 (log-softmax)  0:10 elapsed\x1b[K",
                                                 "softmax: configuration 2/4 (log-softmax)  epoch 3/10  0:40 elapsed  ~1:10 left\x1b[K"]
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    assert clock_text(3725) == "1:02:05"


def test_the_clock_keeps_moving_between_updates(monkeypatch):
    monkeypatch.setattr(Progress, "TICK", 0.01)
    stream = Terminal()
    progress = Progress(True, stream)
    progress.begin("optimizers: configuration 1/1 (18 models together)")
    deadline = time.monotonic() + 10
    while stream.getvalue().count("\r") < 4 and time.monotonic() < deadline:  # begin's draw, then the ticks
        time.sleep(0.01)
    progress.close()
    drawn = stream.getvalue()
    assert drawn.count("optimizers: configuration 1/1") >= 3 and drawn.endswith("\r\x1b[K")
    assert not progress.ticker.is_alive()


def test_nothing_with_json():
    progress = Progress.for_command(argparse.Namespace(json=True), Terminal())
    progress.begin("anything")
    progress.show("epoch 1/2", 0.5, force=True)
    progress.printer(lambda line: None)("a result")
    progress.close()
    assert progress.stream.getvalue() == "" and progress.mode == "off"


def test_piped_progress_is_plain_lines_at_most_every_ten_seconds():
    """A log gets whole lines (no carriage returns, no escape codes): none in the first seconds, then one when
    a part begins and one at least every PLAIN_EVERY seconds while it runs."""
    now = [0.0]
    stream = io.StringIO()
    progress = Progress.for_command(argparse.Namespace(json=False), stream)
    progress.clock, progress.started = (lambda: now[0]), 0.0
    assert progress.mode == "plain"
    progress.begin("report: classifying the test set")  # at 0 s: a short command stays silent
    now[0] = 1.0
    progress.show("figure 1/10", 0.1, force=True)
    assert stream.getvalue() == ""
    now[0] = 3.0
    progress.begin("report")  # a new part after the first seconds: one line
    for t in (4.0, 8.0, 12.9):
        now[0] = t
        progress.show("figure 2/10", 0.2, force=True)  # forcing does not flood a log
    now[0] = 13.0
    progress.show("figure 5/10", 0.5)
    lines = stream.getvalue().splitlines()
    assert lines == ["report  0:03 elapsed", "report  figure 5/10  0:13 elapsed  ~0:10 left"]
    progress.close()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_piped_ticks_keep_a_log_alive_through_a_silent_part(monkeypatch):
    monkeypatch.setattr(Progress, "TICK", 0.01)
    monkeypatch.setattr(Progress, "PLAIN_EVERY", 0.02)
    monkeypatch.setattr(Progress, "PLAIN_AFTER", 0.0)
    stream = io.StringIO()
    progress = Progress(True, stream)
    progress.begin("optimizers: configuration 1/1 (18 models together)")  # then no show() at all
    deadline = time.monotonic() + 10
    while stream.getvalue().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    progress.close()
    assert stream.getvalue().count("optimizers: configuration 1/1") >= 3


def test_notebook_progress_is_one_line_updated_in_place(monkeypatch):
    """In Jupyter the line is one display handle: every draw updates it, clearing empties it, nothing reaches
    the stream."""
    import mnistlab.progress as progress_module

    writes = []

    class Line:
        def write(self, text):
            writes.append(text)

    monkeypatch.setattr(progress_module, "NotebookLine", Line)
    stream = io.StringIO()
    progress = Progress(True, stream, mode="notebook")
    progress.begin("epoch 1/2")
    progress.show("step 10/235  loss 0.5000", 0.04, force=True)
    progress.printer(lambda line: None)("epoch 1/2  train loss ...")
    progress.close()
    assert re.match(r"epoch 1/2  \d+:\d\d elapsed", writes[0]) and "step 10/235" in writes[1] and writes[-1] == ""
    assert stream.getvalue() == ""


def test_notebook_mode_is_picked_inside_a_kernel(monkeypatch):
    import sys
    import types

    from mnistlab.progress import mode_for

    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert mode_for(sys.stderr) == "notebook" and mode_for(sys.stderr, json=True) == "off"
    shell.kernel = None  # a terminal IPython: no kernel
    assert mode_for(sys.stderr) != "notebook"


def test_a_pickled_printer_draws_nothing(capsys):
    """Ray Tune pickles its callbacks, and with them the sweep's printer: the copy must pickle, print, and draw no line."""
    cloudpickle = pytest.importorskip("ray.cloudpickle")
    progress = Progress(True, Terminal())
    progress.begin("sweep")
    drawn = progress.stream.getvalue()
    copy = cloudpickle.loads(cloudpickle.dumps(progress.printer(print)))
    copy("a trial ended")
    assert capsys.readouterr().out == "a trial ended\n" and progress.stream.getvalue() == drawn
    progress.close()


def run_cli(stderr: io.StringIO, *args) -> tuple[int, str, str]:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return code, out.getvalue(), stderr.getvalue()


def commands(tiny_idx_dir, tiny_run, tmp_path) -> dict[str, tuple[list, str]]:
    """Each long command, cut small, with a fragment its status line shows."""
    cpu = ["--device", "cpu"]
    return {
        "experiment": (["experiment", "run", "softmax", "--quick", "--data-dir", tiny_idx_dir, *cpu, "--threads", "1",
                        "--out", tmp_path / "exp"], "softmax: configuration 2/2 (softmax)"),
        "bench": (["bench", "--data-dir", tiny_idx_dir, "--recipes", "mnistlab-fast,fast-reference", "--seeds", "1",
                   "--max-epochs", "1", "--evals-per-epoch", "1", "--target", "0.5", "--no-warmup", *cpu, "--threads", "1"],
                  "run 2/2: fast-reference seed 0"),
        "scratch": (["scratch", "train", "--data-dir", tiny_idx_dir, "--epochs", "2"], "scratch train  epoch 2/2 step 3/3"),
        "inspect": (["inspect", tiny_run.run_dir, "--what", "curves", "--out", tmp_path / "figures"], "inspect  figure 1/1 (curves)"),
        "data explore": (["data", "explore", "--data-dir", tiny_idx_dir, "--out", tmp_path / "explore"],
                         "data explore: figures"),
        "report": (["report", tiny_run.run_dir, "--out", tmp_path / "report.html"],
                   f"report  figure {len(WHAT)}/{len(WHAT)} ({WHAT[-1]})"),
    }


REPORT = pytest.param("report", marks=pytest.mark.slow)  # every figure of a run: 10-20 s
EXPLORE = pytest.param("data explore", marks=pytest.mark.slow)  # five figures and pairwise correlations


@pytest.mark.parametrize("name", ["experiment", "bench", "scratch", "inspect", EXPLORE, REPORT])
def test_long_commands_show_progress_on_a_terminal(name, tiny_idx_dir, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(Progress, "EVERY", 0.0)  # draw every update, so the line this test looks for is there
    argv, fragment = commands(tiny_idx_dir, tiny_run, tmp_path)[name]
    code, out, err = run_cli(Terminal(), *argv)
    assert code == 0 and fragment in err and "elapsed" in err
    assert err.endswith("\r\x1b[K")  # the line is erased before the command ends
    assert "\r" not in out  # results on stdout never share a row with the status line


@pytest.mark.parametrize("name", ["experiment", "scratch", "inspect", EXPLORE, REPORT, "bench"])
def test_long_commands_log_plain_lines_when_piped_and_nothing_with_json(name, tiny_idx_dir, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(Progress, "PLAIN_AFTER", 0.0)  # these commands, cut small, finish within the quiet seconds
    argv, _ = commands(tiny_idx_dir, tiny_run, tmp_path)[name]
    code, out, err = run_cli(io.StringIO(), *argv)
    assert code == 0 and out and "elapsed" in err and "\r" not in err and "\x1b" not in err
    label = {"experiment": "softmax: configuration", "scratch": "scratch train", "inspect": "inspect", "data explore": "data explore",
             "report": "report", "bench": "bench"}[name]
    assert err.startswith(label)  # the command's own label leads its lines
    code, out, err = run_cli(Terminal(), *argv, "--json")
    assert code == 0 and err == "" and isinstance(json.loads(out), dict)
