"""Self-contained HTML pages: a run's report (every figure embedded) and a sweep's (`mnistlab report DIR`).

The names load on first use, so the command line can register `report` without loading torch and matplotlib.
"""
from importlib import import_module

_PUBLIC = {"CAPTIONS": ".run", "report_html": ".run", "write_report": ".run",
           "sweep_report_html": ".sweep", "write_sweep_report": ".sweep"}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
