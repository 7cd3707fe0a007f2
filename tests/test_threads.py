"""--threads auto: torch gets the cores nothing else is busy on, so a busy neighbour does not stall every step."""
import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import torch

from mnistlab import threads
from mnistlab.cli import main


def fake_proc_stat(monkeypatch, cores: list[int], busy_share: list[float]) -> None:
    """Two readings of /proc/stat, 100 ticks apart per core, with each core busy for the given share."""
    readings = iter([{c: (0, 0) for c in cores}, {c: (int(100 * b), 100) for c, b in zip(cores, busy_share)}])
    monkeypatch.setattr(threads, "allowed_cores", lambda: cores)
    monkeypatch.setattr(threads, "_cpu_times", lambda _: next(readings))
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # no user limit: the cores decide


@pytest.mark.parametrize("busy_share, expected", [([0.0, 0.02], 2), ([1.0, 0.03], 1), ([0.7, 0.1], 1), ([1.0, 1.0], 1),
                                                  ([0.45, 0.1], 2)])
def test_auto_leaves_out_the_busy_cores(monkeypatch, busy_share, expected):
    fake_proc_stat(monkeypatch, [0, 1], busy_share)
    assert threads.auto_threads() == expected


def test_auto_falls_back_to_the_load_average_without_proc_stat(monkeypatch):
    monkeypatch.setattr(threads, "allowed_cores", lambda: [0, 1, 2, 3])
    monkeypatch.setattr(threads, "_cpu_times", lambda _: None)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 0.5, 0.2))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.auto_threads() == 3


def test_proc_stat_is_read_for_the_allowed_cores_only():
    times = threads._cpu_times(threads.allowed_cores())
    if times is None:
        pytest.skip("no /proc/stat here")
    assert set(times) <= set(threads.allowed_cores()) and all(0 <= busy <= total for busy, total in times.values())


def run_cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # the parser's own one-line refusals
            code = exc.code
    return code, err.getvalue()


def test_every_command_takes_threads_and_applies_it(monkeypatch, tiny_run):
    applied, set_num_threads = [], torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: applied.append(n) or set_num_threads(n))
    before = torch.get_num_threads()
    assert run_cli("eval", str(tiny_run.run_dir), "--threads", "1", "--json")[0] == 0
    assert applied == [1, before]  # the command's count while it runs, the caller's after
    fake_proc_stat(monkeypatch, [0, 1], [1.0, 0.0])  # a neighbour spins on one of two cores
    assert run_cli("data", "info", "--dataset", "mnist-sample", "--json")[0] == 0  # auto is the default
    assert applied[2:] == [1, before]


def test_main_gives_the_caller_its_process_settings_back(tmp_path):
    # the capture test ran at one thread in the suite because the train test before it left main()'s count behind
    import matplotlib

    before, backend = torch.get_num_threads(), matplotlib.get_backend()
    other = 1 if before > 1 else 2
    torch.set_num_threads(other)
    matplotlib.use("svg")  # a caller's own choice; the command draws on Agg
    try:
        assert run_cli("data", "explore", "--dataset", "mnist-sample", "--threads", str(other % 2 + 1),
                       "--out", str(tmp_path / "x"))[0] == 0
        assert any(tmp_path.rglob("*.png"))  # it drew
        assert torch.get_num_threads() == other and matplotlib.get_backend() == "svg"
        assert run_cli("data", "info", "--dataset", "mnist-sample", "--threads", "0")[0] == 2  # refused: the same
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)
        matplotlib.use(backend)


@pytest.mark.parametrize("value, message", [("0", "--threads 0: must be at least 1"), ("two", "give auto or a whole number")])
def test_bad_thread_counts_are_one_line(value, message):
    code, err = run_cli("data", "info", "--dataset", "mnist-sample", "--threads", value)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_fit_from_a_script_takes_the_auto_policy_and_shows_progress(monkeypatch, capsys):
    # the README's Python example ran 327 s silent beside a busy process: torch's 2 threads, no progress
    from mnistlab import fit, load_dataset, make_splits
    from mnistlab.progress import Progress

    monkeypatch.setattr(threads, "auto_threads", lambda sample_s=threads.SAMPLE_S: 1)  # a neighbour holds a core
    monkeypatch.setattr(Progress, "PLAIN_AFTER", 0.0)  # a short fit still writes its lines
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        splits = make_splits(load_dataset("mnist-sample"), train_size=300)
        run = fit("f8", splits, epochs=1, device="cpu")
        assert run.train["threads"] == 1 and torch.get_num_threads() == 2  # auto for the call, the caller's count back
        assert "epoch 1/1" in capsys.readouterr().err  # progress on stderr, as the command line shows it
        quiet = fit("f8", splits, epochs=1, device="cpu", progress=False, threads=2)
        assert quiet.train["threads"] == 2 and capsys.readouterr().err == ""
        assert main(["train", "--dataset", "mnist-sample", "--model", "f8", "--max-steps", "1", "--threads", "2", "--json",
                     "--out", str(Path(os.environ["MNISTLAB_CACHE"]).parent / "threads-run")]) == 0
        assert json.loads(capsys.readouterr().out)["train"]["threads"] == 2  # inside a command: the command's count
    finally:
        torch.set_num_threads(before)


def test_auto_never_passes_omp_num_threads(monkeypatch):
    fake_proc_stat(monkeypatch, [0, 1], [0.0, 0.0])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.auto_threads() == 1
