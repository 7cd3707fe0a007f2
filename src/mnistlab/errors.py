"""The one error type users see: the CLI prints it as a single line and exits 2."""
import contextlib
import errno
from collections.abc import Iterator
from contextvars import ContextVar

_FLAGS: ContextVar[bool] = ContextVar("mnistlab_flags", default=False)  # True while a command runs


class UserError(Exception):
    """A problem the user can fix (bad option, bad file, unreachable data).

    The message must say what is wrong, where, and how to fix it, on one line.
    """


def os_error_line(exc: OSError) -> str | None:
    """One line for an OS error a user can fix where it happened (no permission, a full disk, a read-only file
    system), or None for one that is a bug of ours. The CLI catches these last, for reads and writes alike."""
    where = f"{exc.filename}: " if exc.filename else ""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return f"{where}permission denied; check its permissions (ls -l) or use a file or folder this user may use"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}no space left on the device; free some space or choose another place (nothing half-written was kept)"
    if exc.errno == errno.EROFS:
        return f"{where}the file system is read-only; choose another place"
    return None


def named(name: str, value: object = None, python: object = None) -> str:
    """An option as its caller wrote it: `--batch-size 0` in a command, `batch_size=0` from Python. The library
    names options through this, so `fit()` in a notebook is told about its own parameter, a terminal its flag."""
    if _FLAGS.get():
        flag = "--" + name.replace("_", "-")
        return flag if value is None else f"{flag} {value}"
    value = value if python is None else python  # as Python writes it where the flag's text differs: (28, 28) for 28x28
    return name if value is None else f"{name}={value}"


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Within this block `named` writes command-line flags (the CLI runs each command inside it)."""
    token = _FLAGS.set(True)
    try:
        yield
    finally:
        _FLAGS.reset(token)
