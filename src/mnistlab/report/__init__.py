"""Self-contained HTML pages: a run's report (every figure embedded) and a sweep's (`mnistlab report DIR`).

The names load on first use, so the command line can register `report` without loading torch and matplotlib.
"""
from ..lazy import lazy_names

_PUBLIC = {"CAPTIONS": ".run", "report_html": ".run", "write_report": ".run",
           "sweep_report_html": ".sweep", "write_sweep_report": ".sweep"}
__all__ = list(_PUBLIC)
__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
