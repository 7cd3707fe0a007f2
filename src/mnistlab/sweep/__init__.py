"""Sweeps: search training options and model specs on this machine or a Ray cluster (`mnistlab sweep`)."""
from . import local, ray_tune  # noqa: F401 - imported to register their executors
from .executors import EXECUTORS, ExecutorSpec
from .runner import SweepSpec, run_sweep

__all__ = ["EXECUTORS", "ExecutorSpec", "SweepSpec", "run_sweep"]
