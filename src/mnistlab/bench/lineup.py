"""The recipes `mnistlab bench` races, by bench name: plain data, torch-free, so that `bench --help` lists them at once."""

REFERENCE = "fast-reference"
# bench names → recipes (train/recipes.py); published ones first, then ours.
BENCH: dict[str, str] = {"pytorch-examples": "pytorch-examples", REFERENCE: "fast-reference", "mnistlab-fast": "fast",
                         "mnistlab-best-short": "best-short", "mnistlab-best": "best"}
RECIPES = tuple(BENCH)
