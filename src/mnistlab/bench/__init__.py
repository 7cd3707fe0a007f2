"""`mnistlab bench`: our recipes against the published ones, time to accuracy on the same data and device."""
from .timing import RECIPES, BenchSpec, bench, first_reaching, steps_between_evals, summarize

__all__ = ["RECIPES", "BenchSpec", "bench", "first_reaching", "steps_between_evals", "summarize"]
