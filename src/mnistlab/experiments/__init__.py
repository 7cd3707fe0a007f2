"""Experiments: every lecture finding as one reproducible command (`mnistlab experiment run NAME`).

Each module registers itself (`@experiment`); importing it here, in the lectures' order, is what lists it.
"""
from . import (  # noqa: F401 - imported to register
    binarized,
    breadth_depth,
    conv_layers,
    epochs,
    linear_relu_conv,
    missing_class,
    normalization,
    optimizers,
    scrambled,
    shifted,
    softmax,
    weight_histograms,
)
from .registry import EXPERIMENTS, Setup, describe, run_experiment

__all__ = ["EXPERIMENTS", "Setup", "describe", "run_experiment"]
