"""One source of defaults: the default recipe is what `fit` and `mnistlab train` do when nothing is said."""
from dataclasses import fields

import pytest
import torch

from mnistlab import TrainConfig, build_model, fit, load_dataset, load_run
from mnistlab.cli import build_parser, main
from mnistlab.train.recipes import RECIPES, recipe_settings, settle

NOT_COMPARED = ("seconds", "eval_seconds")


@pytest.mark.parametrize("spec", [None, "f16"])  # the recipe's own model, and a lecture-style one
def test_a_notebook_and_the_terminal_train_the_same_run(tmp_path, spec):
    # the same options, threads included: `auto` (both sides' default) counts the cores free at each call, and a
    # count that differs sums in another order (train_loss 2.0105656 vs 2.0105654 on a busy CI machine)
    out = tmp_path / "run"
    model_option = ["--model", spec] if spec else []
    assert main(["train", "--dataset", "mnist-sample", *model_option, "--max-steps", "6", "--device", "cpu",
                 "--threads", "2", "--out", str(out)]) == 0
    terminal = load_run(out)
    notebook = fit(build_model(spec or RECIPES["default"].model), load_dataset("mnist-sample"), max_steps=6, device="cpu",
                   threads=2)
    for a, b in zip(terminal.history, notebook.history):
        assert {k: v for k, v in a.items() if k not in NOT_COMPARED} == {k: v for k, v in b.items() if k not in NOT_COMPARED}
    differs = {k for k in notebook.train if terminal.train[k] != notebook.train[k] and k != "capture_s"}
    assert differs <= {"optimizer_options"}  # a tuple in memory, a list once read back from run.json
    assert list(terminal.train["optimizer_options"]["betas"]) == list(notebook.train["optimizer_options"]["betas"])
    for a, b in zip(terminal.model.parameters(), notebook.model.parameters()):
        torch.testing.assert_close(a.cpu(), b.cpu())
    assert notebook.train["label_smoothing"] == (0.1 if spec is None else 0.0)
    assert terminal.data["n_val"] == notebook.data["n_val"] > 0 and terminal.temperature == notebook.temperature  # held aside alike


def test_every_training_option_is_on_the_command_line_and_defaults_to_the_recipe():
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.values() if a.prog.endswith(" train"))
    dests = {a.dest: a for a in train._actions}
    for f in fields(TrainConfig):
        assert f.name in dests and dests[f.name].default is None  # not given: the recipe decides
        assert f.metadata["help"].split(" (")[0] in dests[f.name].help.replace("%%", "%")
    assert recipe_settings("default") == {f.name: getattr(TrainConfig(), f.name) for f in fields(TrainConfig)}


def test_the_recipes_tied_options_follow_their_model_optimizer_and_schedule():
    own = RECIPES["default"].model
    assert settle("default", own, {})["label_smoothing"] == 0.1
    assert settle("default", "f64 f32", {})["label_smoothing"] == 0.0
    assert settle("default", "f64 f32", {})["schedule_options"] == {}
    assert settle("default", own, {"optimizer": "sgd"})["optimizer_options"] == {}
    assert settle("default", own, {"schedule": "cosine"})["schedule_options"] == {}
    assert settle("default", "f64 f32", {"label_smoothing": 0.05})["label_smoothing"] == 0.05
    assert settle("best", own, {})["optimizer"] == "adamw"
