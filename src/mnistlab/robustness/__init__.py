"""The corruption benchmark: corruptions (corruptions.py), scoring (score.py); the command is in cli.py."""
from .corruptions import CORRUPTIONS, SEVERITIES, corrupt, families, prepared
from .score import Suite, score

__all__ = ["CORRUPTIONS", "SEVERITIES", "Suite", "corrupt", "families", "prepared", "score"]
