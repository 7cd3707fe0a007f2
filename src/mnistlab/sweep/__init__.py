"""Sweeps: search training options and model specs on this machine or a Ray cluster (`mnistlab sweep`)."""
from .runner import run_sweep

__all__ = ["run_sweep"]
