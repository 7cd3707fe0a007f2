"""The corruption benchmark: corruptions (corruptions.py), scoring (score.py); the command is cli/robustness.py.

The names load on first use (`mnistlab.lazy`), so a submodule can be read without the others (and torch).
"""
from ..lazy import lazy_names

_PUBLIC = {**dict.fromkeys(("CORRUPTIONS", "SEVERITIES", "corrupt", "families", "prepared"), ".corruptions"),
           **dict.fromkeys(("Suite", "score", "score_runs"), ".score")}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
