"""Experiments: every lecture finding as one reproducible command (`mnistlab experiment run NAME`)."""
from .registry import EXPERIMENTS, describe, run_experiment

__all__ = ["EXPERIMENTS", "describe", "run_experiment"]
