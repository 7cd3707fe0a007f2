"""Atomic file and folder writes: an interrupted, killed or concurrent save never loses or half-writes anything.

Temporaries sit beside their target as `.NAME.PID.XXXX.mnistlab-tmp`; one whose process is gone is a leftover
of a killed save, and the next write to that place removes it. A folder replaces another by an atomic exchange
(renameat2 on Linux, renamex_np on macOS), so the old or the new folder is at its path at every instant; where the
file system cannot exchange, the old folder waits as `.NAME.mnistlab-old` for the two renames and the next save
to that place puts it back if a kill fell between them. Saves of one folder are serialised by a lock file.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, saves are not serialised
    fcntl = None

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: mkstemp/mkdtemp make owner-only entries, we give them a plain open()'s mode
TMP, OLD, LOCK = ".mnistlab-tmp", ".mnistlab-old", ".mnistlab-lock"
NAME_ROOM = 40  # bytes our temporary names add to an output's own name
COMMITTED: list[Path] = []  # outputs this process completed, newest last: an interrupt message says what was saved
_HELD: dict[str, list] = {}  # lock file -> [fd, depth, folders made for it]: a save inside a reserved place takes its lock again


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl+C back while a commit runs, so an interrupt lands after it and can say what was saved."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield  # signals are handled in the main thread only; None: a handler Python did not install
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending and callable(previous):
        previous(signal.SIGINT, None)


def make_parents(folder: str | os.PathLike) -> list[Path]:
    """Create `folder` and its missing parents; return the ones made, deepest first, for `remove_empty`."""
    folder = Path(os.path.abspath(folder))
    made = []
    while not os.path.lexists(folder):
        made.append(folder)
        folder = folder.parent
    for d in reversed(made):
        d.mkdir(exist_ok=True)
    return made


def remove_empty(folders: list[Path]) -> None:
    """Remove folders `make_parents` made that are still empty: a refused or failed write leaves no folders behind."""
    for d in folders:
        try:
            os.rmdir(d)
        except OSError:
            return


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate it there: keep its temporaries
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but is another user's
        return True
    return True


def clean_leftovers(path: str | os.PathLike) -> None:
    """Remove temporaries beside `path` left by killed writes to it (their process is gone)."""
    path = Path(path)
    head = f".{path.name}."
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        rest = entry.name[len(head):]
        if not (entry.name.startswith(head) and entry.name.endswith(TMP)):
            continue
        pid = rest.split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(Path(entry.path))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def plain_modes(path: Path) -> None:
    """Give `path` and everything below it the mode a plain open()/mkdir() would under the umask, as run.json has:
    writers such as safetensors create their files owner-only (0600), and a run folder shared with a teammate
    must be readable by them wherever the umask says so. Links are left alone (chmod would follow them)."""
    entries = [path]
    if path.is_dir() and not path.is_symlink():
        entries += [Path(root) / name for root, dirs, files in os.walk(path) for name in dirs + files]
    for entry in entries:
        if entry.is_symlink() or not entry.exists():
            continue
        os.chmod(entry, (0o777 if entry.is_dir() else 0o666) & ~_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    made = make_parents(path.parent)
    clean_leftovers(path)
    done = False
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=TMP, dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)
        tmp = Path(tmp)
        try:
            yield tmp
            plain_modes(tmp)  # a writer that made its own file in place of ours (0600) is brought to the umask too
            with deferred_interrupt():
                os.replace(tmp, path)
                done = True
                if not path.parent.name.endswith(TMP):  # a file of a folder being built is not an output yet
                    COMMITTED.append(path)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        if not done:
            remove_empty(made)


def _lock_of(path: Path) -> Path:
    return Path(os.path.abspath(path.parent / f".{path.name}{LOCK}"))


def reserve(path: str | os.PathLike, what: str = "--out") -> None:
    """Take the lock of `path` (a file beside it) until `release_all`; a second process is refused at once.

    Taken again by the same process it only counts, so a command can reserve its output before long work
    and save into it later.
    """
    path = Path(path)
    lock = _lock_of(path)
    key = str(lock)
    if key in _HELD or fcntl is None:
        if key in _HELD:
            _HELD[key][1] += 1
        return
    made = make_parents(lock.parent)  # removed again, if still empty, when the lock is given back
    for _ in range(5):  # the holder unlinks the file on release: make sure ours is the one at the path
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        except FileNotFoundError:  # a releasing process removed the empty folder it had made for its own lock
            made += make_parents(lock.parent)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f"{what} {path}: another mnistlab process is writing there right now; "
                            f"wait for it to finish or choose another folder") from None
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                _HELD[key] = [fd, 1, made]
                return
        except FileNotFoundError:
            pass
        os.close(fd)
    remove_empty(made)
    raise UserError(f"{what} {path}: another mnistlab process keeps writing there; wait for it or choose another folder")


def _drop(key: str) -> None:
    fd, _, made = _HELD.pop(key)
    Path(key).unlink(missing_ok=True)
    os.close(fd)
    remove_empty(made)


def release(path: str | os.PathLike) -> None:
    """Give back one reservation of `path`; the last one removes the lock file."""
    key = str(_lock_of(Path(path)))
    if key in _HELD:
        _HELD[key][1] -= 1
        if _HELD[key][1] <= 0:
            _drop(key)


def release_all() -> None:
    """Give back every place this process reserved (a command's end)."""
    for key in list(_HELD):
        _drop(key)


@contextmanager
def exclusive(path: str | os.PathLike, what: str = "--out") -> Iterator[None]:
    """Hold the lock of `path` for a block (see `reserve`)."""
    reserve(path, what)
    try:
        yield
    finally:
        release(path)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step; False where the system or file system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    src, dst = os.fsencode(a), os.fsencode(b)
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        result = libc.renameat2(-100, src, -100, dst, 2)  # AT_FDCWD, RENAME_EXCHANGE
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        result = libc.renamex_np(src, dst, 2)  # RENAME_SWAP
    else:
        return False
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _recover(path: Path) -> None:
    """Finish or undo a fallback swap that a kill interrupted: the old folder goes back if nothing replaced it."""
    old = path.parent / f".{path.name}{OLD}"
    if old.is_dir() and not old.is_symlink():
        if not os.path.lexists(path):
            os.rename(old, path)
        else:
            shutil.rmtree(old, ignore_errors=True)


def swap_in(new: Path, path: Path) -> None:
    """Put folder `new` at `path`; an existing folder there goes to `new`'s place (the caller removes it)."""
    try:
        os.rename(new, path)  # no folder there, or an empty one
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if _exchange(new, path):
        return
    old = path.parent / f".{path.name}{OLD}"
    os.rename(path, old)
    os.rename(new, path)
    os.rename(old, new)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it replaces `path` as a whole only if the block succeeds.

    The caller decides whether `path` may be replaced; this holds its lock and keeps the swap atomic.
    """
    path = Path(path)
    with exclusive(path):
        _recover(path)
        clean_leftovers(path)
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path), suffix=TMP, dir=path.parent))
        os.chmod(tmp, 0o777 & ~_UMASK)
        try:
            yield tmp
            plain_modes(tmp)
            with deferred_interrupt():
                swap_in(tmp, path)
                COMMITTED.append(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def check_output(path: str | os.PathLike, what: str = "--out", folder: bool = True) -> Path:
    """Refuse, before any work, an output path that cannot be written: a file where a folder must be (or the
    reverse), a parent that is not writable or not a real file system (/proc), or a name too long to store."""
    path = Path(path)
    absolute = Path(os.path.abspath(path))
    for part in absolute.parts[1:]:
        if len(os.fsencode(part)) > 255 - NAME_ROOM:
            raise UserError(f"{what} {path}: the name {part[:20]!r}... is {len(os.fsencode(part))} bytes long; "
                            f"use at most {255 - NAME_ROOM}")
    if len(os.fsencode(str(absolute))) > 4000:
        raise UserError(f"{what} {path}: the path is too long; choose a shorter one")
    existing = absolute
    while not os.path.lexists(existing):
        existing = existing.parent
    if existing == absolute:
        if folder and not existing.is_dir():
            raise UserError(f"{what} {path}: exists and is not a directory; choose a folder name")
        if not folder and existing.is_dir():
            raise UserError(f"{what} {path}: is a folder; give a file name")
    elif not existing.is_dir():
        raise UserError(f"{what} {path}: {existing} is a file, so no folder can be made inside it; choose another place")
    probe_in = existing if existing.is_dir() else existing.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".mnistlab-probe.", dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot write in {probe_in} ({exc.strerror or exc}); choose another place") from None
    return path


SPARE_BYTES = 1 << 20  # room kept free beyond an output's expected size (records, file system overhead)
FIGURE_BYTES = 1 << 20  # a figure PNG with its numbers: the largest (embedding, at 150 dpi) is about 300 KB


def check_space(path: str | os.PathLike, needed: int, what: str = "--out") -> None:
    """Refuse, before the work, an output whose expected size (plus SPARE_BYTES) exceeds the free space where it
    will be written (the nearest existing folder on its path)."""
    existing = Path(os.path.abspath(path))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        return  # the write itself will say what is wrong
    if free < needed + SPARE_BYTES:
        raise UserError(f"{what} {path}: {free / 1e6:.1f} MB free on its device, about {(needed + SPARE_BYTES) / 1e6:.1f} MB "
                        f"needed; free some space or choose another place")


@contextmanager
def all_or_nothing(paths: list[Path]) -> Iterator[None]:
    """For a command that writes several files one by one: if it fails partway (a full disk), the files it had
    created and the folders made for them are removed; files it replaced keep their new, complete content."""
    paths = [Path(os.path.abspath(p)) for p in paths]
    new = [p for p in paths if not os.path.lexists(p)]
    folders = sorted({d for p in new for d in p.parents if not os.path.lexists(d)}, key=lambda d: -len(d.parts))
    try:
        yield
    except BaseException:
        for p in new:
            p.unlink(missing_ok=True)
        remove_empty(folders)
        raise


def save_figure(fig, path: str | os.PathLike, **options) -> Path:
    """A matplotlib figure as a PNG file, written atomically; `options` go to savefig."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **options)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """The hex digest of a file's bytes (`algorithm`: a hashlib name), read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
