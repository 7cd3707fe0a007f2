"""The recipes `mnistlab bench` races, by bench name: plain data, torch-free, so that `bench --help` lists them at once
and a name that is none of them is refused before the command says its first line."""
from __future__ import annotations

from ..errors import UserError

REFERENCE = "fast-reference"
# bench names → recipes (train/recipes.py); published ones first, then ours.
BENCH: dict[str, str] = {"pytorch-examples": "pytorch-examples", REFERENCE: "fast-reference", "mnistlab-fast": "fast",
                         "mnistlab-best-short": "best-short", "mnistlab-best": "best"}
RECIPES = tuple(BENCH)


def chosen(recipes: list[str] | None) -> list[str]:
    """The recipes to time: those named, each one of RECIPES, or all of them."""
    recipes = list(recipes or RECIPES)
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        raise UserError(f"unknown recipe(s) {', '.join(unknown)}; choose from: {', '.join(RECIPES)}")
    return recipes
