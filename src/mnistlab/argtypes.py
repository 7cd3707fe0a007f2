"""argparse types for bounded numbers: the commands' options and the sweep executors' own options (their fields
become flags) share them, so they live below both."""
from __future__ import annotations

import argparse
import math


def bounded(kind: type = int, low: float | None = None, high: float | None = None):
    """An argparse type: a finite `kind` within [low, high]; anything else is the parser's one-line error."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a number from {kind(low)} to {kind(high)}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


SEED = bounded(int, 0, 2**32 - 1)  # every generator in the project (torch, NumPy) takes these
COUNT = bounded(int, 1, 2**31 - 1)  # trials, jobs, threads: a count below 1 is refused, never read as 1
