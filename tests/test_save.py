"""Saving a run never loses data: only mnistlab's own runs are replaced, atomically, one writer at a time,
and whatever a killed save left behind is cleaned by the next save to that place."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import mnistlab.fileio as fileio
import mnistlab.train.run as runs
from conftest import assert_user_error
from mnistlab import load_run
from mnistlab.errors import UserError
from mnistlab.train.run import META, WEIGHTS, save_run


def holds_run(path, created: str) -> bool:
    return load_run(path).model is not None and json.loads((path / META).read_text())["created"] == created


def saved(run, out) -> str:
    save_run(run, out)
    return json.loads((out / META).read_text())["created"]


def test_a_folder_that_merely_holds_a_run_json_is_refused_before_training(cli, tiny_idx_dir, tmp_path):
    out = tmp_path / "p"
    (out / "src").mkdir(parents=True)
    (out / META).write_text("{}")
    (out / "thesis.txt").write_text("keep")
    assert_user_error(cli("train", "--data-dir", tiny_idx_dir, "--model", "f8", "--max-steps", "3", "--out", out),
                      "is not an mnistlab run")
    assert sorted(p.name for p in out.iterdir()) == [META, "src", "thesis.txt"]


def test_a_changed_run_is_not_replaced(tiny_run, tmp_path):
    out = save_run(tiny_run, tmp_path / "run")
    (out / WEIGHTS).write_bytes(b"my own weights")
    with pytest.raises(UserError, match=f"{WEIGHTS} was changed after mnistlab wrote it"):
        save_run(tiny_run, out)
    assert (out / WEIGHTS).read_bytes() == b"my own weights"


def boom(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("step", ["save_file", "write_json", "swap_in", "_exchange", "record"])
def test_an_interrupt_at_any_step_leaves_the_old_or_the_new_run(tiny_run, tmp_path, monkeypatch, step):
    out = tmp_path / "run"
    first = saved(tiny_run, out)
    if step == "record":  # after the swap: the interrupt lands once the run is complete
        monkeypatch.setattr(fileio, "COMMITTED", type("Boom", (list,), {"append": boom})())
    else:
        monkeypatch.setattr(runs if step in ("save_file", "write_json") else fileio, step, boom)
    with pytest.raises(KeyboardInterrupt):
        save_run(tiny_run, out)
    monkeypatch.undo()
    created = json.loads((out / META).read_text())["created"]
    assert holds_run(out, created) and (created == first or step == "record")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_fallback_swap_recovers_the_old_run(tiny_run, tmp_path, monkeypatch):
    """Where the file system cannot exchange two folders, a kill between the two renames is undone next time."""
    out = tmp_path / "run"
    saved(tiny_run, out)
    monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    renames, rename = [], os.rename

    def rename_then_die(a, b):
        renames.append((a, b))
        if len(renames) == 3:  # the first tries a plain rename, the second moves the old run aside
            raise SystemExit("killed")  # the new one is not yet in place
        rename(a, b)

    monkeypatch.setattr(fileio.os, "rename", rename_then_die)
    with pytest.raises(SystemExit):
        fileio.swap_in(_dead_save(out), out)
    monkeypatch.undo()
    assert not out.exists() and (tmp_path / f".run{fileio.OLD}").is_dir()
    monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    created = saved(tiny_run, out)
    assert holds_run(out, created)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _dead_save(run_dir):
    """A copy of the run where a save whose process is gone would have built it."""
    import shutil

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    copy = run_dir.parent / f".{run_dir.name}.{gone.stdout.strip()}.x{fileio.TMP}"
    shutil.copytree(run_dir, copy)
    return copy


KILLER = textwrap.dedent("""
    import os, signal, sys
    import mnistlab.fileio as fileio
    import mnistlab.train.run as runs
    from mnistlab import load_run

    run, out, where = load_run(sys.argv[1]), sys.argv[2], sys.argv[3]
    run.extras["saved_by"] = "the killed save"  # tells its record from the first one's, whatever the clock says
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if where == "writing":
        runs.write_json = die
    elif where == "after-swap":
        swap = fileio.swap_in
        fileio.swap_in = lambda new, path: (swap(new, path), die())
    elif where == "holding":
        with fileio.exclusive(out):
            print("locked", flush=True)
            sys.stdin.read()
        sys.exit(0)
    runs.save_run(run, out)
""")


@pytest.mark.parametrize("where", ["writing", "after-swap"])
def test_a_sigkilled_save_leaves_a_run_and_its_leftovers_go_with_the_next_save(tiny_run, tmp_path, where):
    source = save_run(tiny_run, tmp_path / "source")
    out = tmp_path / "out" / "run"
    saved(tiny_run, out)
    done = subprocess.run([sys.executable, "-c", KILLER, str(source), str(out), where], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    record = json.loads((out / META).read_text())
    assert holds_run(out, record["created"]) and ("saved_by" in record["extras"]) == (where == "after-swap")
    assert len(list(out.parent.iterdir())) > 1  # the killed save left its temporary folder behind
    saved(tiny_run, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_two_saves_to_one_place_one_wins_the_other_gets_one_line(tiny_run, cli, tiny_idx_dir, tmp_path):
    source = save_run(tiny_run, tmp_path / "source")
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", KILLER, str(source), str(out), "holding"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match="another mnistlab process is writing there right now"):
            save_run(tiny_run, out)
        assert_user_error(cli("train", "--data-dir", tiny_idx_dir, "--model", "f8", "--out", out), "another mnistlab process")
    finally:
        holder.communicate("")
    created = saved(tiny_run, out)
    assert holds_run(out, created) and sorted(p.name for p in tmp_path.iterdir()) == ["run", "source"]


def test_an_interrupt_after_the_save_says_the_run_was_saved(cli, tiny_idx_dir, tmp_path, monkeypatch):
    save = runs.Run.save

    def save_then_interrupt(self, out):
        save(self, out)
        raise KeyboardInterrupt

    monkeypatch.setattr(runs.Run, "save", save_then_interrupt)
    result = cli("train", "--data-dir", tiny_idx_dir, "--model", "f8", "--max-steps", "2", "--out", tmp_path / "run")
    assert result.code == 130 and f"interrupted after {tmp_path / 'run'}" in result.err and "saved complete" in result.err
    monkeypatch.setattr(runs.Run, "save", boom)
    result = cli("train", "--data-dir", tiny_idx_dir, "--model", "f8", "--max-steps", "2", "--out", tmp_path / "other")
    assert result.code == 130 and "nothing was saved" in result.err and not (tmp_path / "other").exists()


def test_a_sigint_during_the_swap_lands_after_it(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "run"
    saved(tiny_run, out)
    swap = fileio.swap_in

    def interrupted_swap(new, path):
        os.kill(os.getpid(), signal.SIGINT)
        swap(new, path)

    monkeypatch.setattr(fileio, "swap_in", interrupted_swap)
    before = len(fileio.COMMITTED)
    with pytest.raises(KeyboardInterrupt):
        save_run(tiny_run, out)
    assert fileio.COMMITTED[before:] == [out] and load_run(out) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("args, fragment", [
    (["train", "--out", "/proc/mnistlab-run"], "cannot write in /proc"),
    (["train", "--out", "{file}/run"], "is a file, so no folder can be made inside it"),
    (["train", "--out", "{file}"], "exists and is not a directory"),
    (["train", "--out", "{tmp}/" + "x" * 250], "bytes long"),
    (["inspect", "{run}", "--out", "{file}"], "exists and is not a directory"),
    (["report", "{run}", "--out", "{tmp}"], "is a folder; give a file name"),
    (["data", "explore", "--out", "/proc/x"], "cannot write in /proc"),
    (["scratch", "demo", "--out", "{file}/x"], "is a file"),
    (["experiment", "run", "softmax", "--quick", "--out", "{file}"], "exists and is not a directory"),
])
def test_output_paths_are_checked_before_the_work(cli, tiny_run, tiny_idx_dir, tmp_path, args, fragment):
    (tmp_path / "a-file").write_text("x")
    values = {"file": tmp_path / "a-file", "tmp": tmp_path, "run": tiny_run.run_dir}
    args = [a.format(**values) for a in args]
    if args[0] in ("train", "data", "scratch", "experiment"):
        args += ["--data-dir", str(tiny_idx_dir)]
    assert_user_error(cli(*args), fragment)


def test_every_output_follows_the_umask_like_run_json(tiny_run, tmp_path, cli, monkeypatch):
    # safetensors and the exporters make their files owner-only (0600): a run folder shared with a teammate was
    # unreadable to them even where the umask said otherwise
    umask = 0o027  # the group reads, others do not: neither 0600 nor the usual 0644
    monkeypatch.setattr(fileio, "_UMASK", umask)  # read once at import, as the process's umask
    save_run(tiny_run, tmp_path / "run")
    assert cli("export", tmp_path / "run", "--format", "onnx", "--out", tmp_path / "out" / "model.onnx").code == 0
    assert cli("export", tmp_path / "run", "--format", "torchscript", "--out", tmp_path / "out" / "model.pt").code == 0
    written = [p for p in tmp_path.rglob("*") if p.name != "out"]
    assert {p.name for p in written} >= {"run", META, WEIGHTS, "model.onnx", "model.pt"}
    for p in written:
        assert oct(p.stat().st_mode & 0o777) == oct((0o777 if p.is_dir() else 0o666) & ~umask), p


def test_a_lock_folder_removed_by_another_process_between_our_steps_is_made_again(tmp_path, monkeypatch):
    # 1 of 300 concurrent saves was refused with "No such file or directory": a releasing process removed the empty
    # parent folder it had made for its lock between this process making it and opening its own lock there
    real_open, calls = os.open, []

    def racing_open(path, flags, mode=0o777):
        calls.append(path)
        if len(calls) == 1:
            os.rmdir(os.path.dirname(path))  # the other process's remove_empty, at the worst moment
        return real_open(path, flags, mode)

    monkeypatch.setattr(fileio.os, "open", racing_open)
    with fileio.exclusive(tmp_path / "new" / "run"):
        assert len(calls) == 2 and (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()  # the folder made for the lock is removed with it
