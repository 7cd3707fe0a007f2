"""The corruption benchmark: corruptions (corruptions.py), scoring (score.py); the command is cli/robustness.py."""
from .corruptions import CORRUPTIONS, SEVERITIES, corrupt, families, prepared
from .score import Suite, score, score_runs

__all__ = ["CORRUPTIONS", "SEVERITIES", "Suite", "corrupt", "families", "prepared", "score", "score_runs"]
