"""The status line of long commands: on a terminal only, never with --json or when stderr is piped."""
import argparse
import io
import json
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


@pytest.mark.parametrize("stream, json_flag", [(io.StringIO(), False), (Terminal(), True)])
def test_nothing_when_piped_or_json(stream, json_flag):
    progress = Progress.for_command(argparse.Namespace(json=json_flag), stream)
    progress.begin("anything")
    progress.show("epoch 1/2", 0.5, force=True)
    progress.printer(lambda line: None)("a result")
    progress.close()
    assert stream.getvalue() == ""


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
        "scratch": (["scratch", "train", "--data-dir", tiny_idx_dir, "--epochs", "2"], "scratch train  epoch 2/2 step 6/6"),
        "report": (["report", tiny_run.run_dir, "--out", tmp_path / "report.html"],
                   f"report  figure {len(WHAT)}/{len(WHAT)} ({WHAT[-1]})"),
    }


@pytest.mark.parametrize("name", ["experiment", "bench", "scratch", "report"])
def test_long_commands_show_progress_on_a_terminal(name, tiny_idx_dir, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(Progress, "EVERY", 0.0)  # draw every update, so the line this test looks for is there
    argv, fragment = commands(tiny_idx_dir, tiny_run, tmp_path)[name]
    code, out, err = run_cli(Terminal(), *argv)
    assert code == 0 and fragment in err and "elapsed" in err
    assert err.endswith("\r\x1b[K")  # the line is erased before the command ends
    assert "\r" not in out  # results on stdout never share a row with the status line


@pytest.mark.parametrize("name", ["experiment", "scratch"])
def test_long_commands_add_nothing_when_piped_or_json(name, tiny_idx_dir, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(Progress, "EVERY", 0.0)
    argv, _ = commands(tiny_idx_dir, tiny_run, tmp_path)[name]
    code, out, err = run_cli(io.StringIO(), *argv)
    assert code == 0 and err == "" and out
    code, out, err = run_cli(Terminal(), *argv, "--json")
    assert code == 0 and err == "" and isinstance(json.loads(out), dict)
