"""matplotlib, set up once for the whole package: the Agg backend (PNG files and bytes, no display).

Every module that draws gets matplotlib from here, so the backend choice lives in one place and
`import mnistlab` stays light (matplotlib loads on the first figure). In a Jupyter kernel the backend is
left as the kernel set it (inline), and a figure that a cell returns is shown once, as an image.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


def _kernel_shell():
    """The IPython shell of a running Jupyter kernel, or None (terminal, script, server)."""
    if "ipykernel" not in sys.modules:
        return None
    # IPython: present only inside a Jupyter kernel
    from IPython import get_ipython

    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def show_figures_inline(shell) -> None:
    """Show every matplotlib Figure a cell returns as a PNG, pyplot-managed or not (ours are not)."""
    # IPython: present only inside a Jupyter kernel
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def agg() -> ModuleType:
    """matplotlib on the Agg backend: figures render off-screen, in servers and threads alike (in a Jupyter
    kernel: its own backend, so the user's plots stay inline, and returned figures display)."""
    # matplotlib loads on the first figure (this module is how everything gets it)
    import matplotlib

    shell = _kernel_shell()
    if shell is None:
        matplotlib.use("Agg")  # cheap when already Agg
    else:
        show_figures_inline(shell)
    return matplotlib


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend, for code that draws with pyplot's figure helpers."""
    agg()
    # matplotlib loads on the first figure (this module is how everything gets it)
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def backend_kept() -> Iterator[None]:
    """The caller's matplotlib backend back after a command that drew with Agg (main() runs inside scripts and
    sessions that may have chosen another). Only where matplotlib was loaded before: otherwise no choice was made."""
    matplotlib = sys.modules.get("matplotlib")
    before = dict.get(matplotlib.rcParams, "backend") if matplotlib else None  # raw: reading rcParams picks one
    try:
        yield
    finally:
        if matplotlib is not None and dict.get(matplotlib.rcParams, "backend") != before:
            if isinstance(before, str):
                try:
                    matplotlib.use(before)
                except ImportError:  # an interactive backend that cannot start here any more: Agg stays
                    pass
            else:
                matplotlib.rcParams["backend"] = before  # still to be chosen on the first figure, as before
