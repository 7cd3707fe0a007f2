"""`mnistlab notebooks [DIR]`: copy the lecture notebooks to where you work."""
from __future__ import annotations

import argparse

from ..notebooks import copy_notebooks
from .common import add_command, say


def cmd_notebooks(args: argparse.Namespace) -> dict:
    paths = copy_notebooks(args.dir, args.replace)
    say(args, *(f"wrote {p}" for p in paths), f"open them with: jupyter lab {args.dir}  (QUICK = True in the first "
                                                f"cell runs each in a minute or two)")
    return {"dir": str(args.dir), "files": [str(p) for p in paths]}


def register(subparsers, common) -> None:
    cmd = add_command(subparsers, "notebooks", cmd_notebooks, common,
                      first=lambda args: f"copying the five lecture notebooks into {args.dir}",
                      help="copy the five lecture notebooks (L1-L5) into a folder")
    cmd.add_argument("dir", nargs="?", default="mnistlab-notebooks",
                     help="where to put them (default: ./mnistlab-notebooks; created if missing)")
    cmd.add_argument("--replace", action="store_true", help="overwrite notebooks of the same name already there")
