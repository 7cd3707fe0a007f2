"""matplotlib, set up once for the whole package: the Agg backend (PNG files and bytes, no display).

Every module that draws gets matplotlib from here, so the backend choice lives in one place and
`import mnistlab` stays light (matplotlib loads on the first figure).
"""
from __future__ import annotations

from types import ModuleType


def agg() -> ModuleType:
    """matplotlib on the Agg backend: figures render off-screen, in servers and threads alike."""
    import matplotlib

    matplotlib.use("Agg")  # cheap when already Agg
    return matplotlib


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend, for code that draws with pyplot's figure helpers."""
    agg()
    import matplotlib.pyplot as plt

    return plt
