"""train --init RUN: start from a run's weights; another model is refused naming the layer that differs."""
from types import SimpleNamespace

from conftest import assert_user_error
from mnistlab.train.init import difference


def test_init_starts_from_the_runs_weights(cli, tiny_run, tmp_path):
    result = cli("train", "--dataset", "mnist-sample", "--init", tiny_run.run_dir, "--train-size", "64", "--max-steps", "1",
                 "--batch-size", "64", "--lr", "1e-4", "--out", tmp_path / "tuned", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert out["model"]["spec"] == tiny_run.model.config.spec and out["train"]["init"] == str(tiny_run.run_dir)
    # one tiny step from the trained weights keeps the run's accuracy; from scratch it would be near chance
    assert out["final"]["test_accuracy"] > tiny_run.final["test_accuracy"] - 0.05 > 0.5


def test_init_refuses_another_model(cli, tiny_run, tmp_path):
    assert_user_error(cli("train", "--dataset", "mnist-sample", "--init", tiny_run.run_dir, "--model", "c8k5s2 f64",
                          "--out", tmp_path / "x"), "layer 2 differs", "'f32'", "'f64'")
    assert_user_error(cli("train", "--dataset", "mnist-sample", "--init", tmp_path / "nowhere", "--out", tmp_path / "y"),
                      "does not exist")


def test_difference_names_shape_classes_and_activation():
    config = lambda **kw: SimpleNamespace(**{"spec": "c8k5s2 f32", "activation": "relu", "head": "logits",  # noqa: E731
                                             "input_shape": (1, 28, 28), "n_classes": 10, **kw})
    assert difference("r", config(), config()) is None
    assert "takes 1x28x28 inputs but this data is 3x32x32" in difference("r", config(), config(input_shape=(3, 32, 32)))
    assert "the output layer differs" in difference("r", config(), config(n_classes=2))
    assert "activation differs" in difference("r", config(), config(activation="tanh"))
