"""`mnistlab bench`: our recipes against the published ones, time to accuracy on the same data and device.

The names load on first use (`mnistlab.lazy`), so `bench --help` reads the line-up (lineup.py) without torch.
"""
from ..lazy import lazy_names

_PUBLIC = {"RECIPES": ".lineup", **dict.fromkeys(("BenchSpec", "bench", "first_reaching", "steps_between_evals", "summarize"),
                                                 ".timing")}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
