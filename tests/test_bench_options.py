"""CPU correctness of every speed option the bench relies on: each is an option of fit, the CLI or the API."""
import os
from pathlib import Path

import pytest
import torch

from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.cli import main
from mnistlab.models import pool_before_activation
from mnistlab.train import train_recipe
from mnistlab.train.augment import random_affine
from mnistlab.train.recipes import RECIPES, recipe_settings

FAST = RECIPES["fast"]


@pytest.fixture(scope="module")
def splits():
    ds = load_dataset("mnist-sample")
    return make_splits(ds, "standard", train_size=1024)


@pytest.mark.numeric
def test_bf16_outputs_match_fp32(splits):
    model = build_model(FAST.model, seed=0)
    x = splits.x_test[:64]
    with torch.inference_mode():
        fp32 = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(x).float()
    assert torch.allclose(fp32, bf16, atol=0.05, rtol=0.05)
    run = fit(model, splits, epochs=1, precision="bf16", device="cpu", lr=1e-2, batch_size=64)
    assert run.train["precision"] == "bf16" and run.final["test_accuracy"] > 0.5


@pytest.mark.numeric
def test_channels_last_computes_the_same_and_trains_the_same(splits):
    a = build_model(FAST.model, seed=0)
    b = build_model(FAST.model, seed=0).to(memory_format=torch.channels_last)
    x = splits.x_test[:64]
    with torch.inference_mode():
        assert torch.allclose(a(x), b(x.contiguous(memory_format=torch.channels_last)), atol=1e-4)
    runs = [fit(build_model(FAST.model, seed=0), splits, epochs=1, precision="fp32", channels_last=cl, device="cpu",
                lr=1e-2) for cl in (False, True)]
    assert abs(runs[0].final["test_accuracy"] - runs[1].final["test_accuracy"]) < 0.03


def test_eval_every_records_evaluations_off_the_training_clock(splits):
    run = fit(FAST.model, splits, epochs=2, batch_size=128, eval_every=3, device="cpu", lr=1e-2, schedule="onecycle")
    evals = run.extras["evals"]
    assert [e["step"] for e in evals] == [3, 6, 8, 11, 14, 16]  # 8 steps per epoch, plus each epoch's end
    seconds = [e["seconds"] for e in evals]
    assert seconds == sorted(seconds)
    assert seconds[-1] == pytest.approx(sum(r["seconds"] for r in run.history))
    assert evals[-1]["test_accuracy"] == run.final["test_accuracy"]


def test_max_steps_stops_inside_an_epoch(splits):
    run = fit(FAST.model, splits, epochs=3, batch_size=128, max_steps=12, eval_every=100, device="cpu", lr=1e-2,
              schedule="onecycle")
    assert len(run.history) == 2  # 8 steps per epoch: one whole epoch and 4 steps of the second
    assert [e["step"] for e in run.extras["evals"]] == [8, 12] and run.extras["evals"][-1]["epoch"] == 1.5


def test_random_affine_keeps_shape_and_background_and_is_seeded():
    x = torch.full((8, 1, 28, 28), -0.4)
    x[:, :, 10:18, 10:18] = 2.0
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    y = random_affine(x, g(), background=-0.4)
    assert y.shape == x.shape and torch.equal(y, random_affine(x, g(), background=-0.4))
    assert torch.allclose(y[:, :, 0, 0], torch.tensor(-0.4))  # corners stay background
    still = random_affine(x, g(), background=-0.4, degrees=0, shift=0, scale=(1, 1))
    assert torch.allclose(still, x, atol=1e-5)


def test_augment_option_changes_the_batches_and_still_learns(splits):
    plain, warped = (fit(FAST.model, splits, epochs=1, batch_size=32, augment=a, device="cpu", lr=3e-3)
                     for a in ("none", "affine"))
    assert warped.train["augment"] == "affine" and warped.history[0]["train_loss"] != plain.history[0]["train_loss"]
    assert warped.final["test_accuracy"] > 0.5


def test_pool_before_activation_gives_identical_outputs():
    net = build_model("c24k5 m2 c32k3 m2 f256", head="log_softmax", seed=0)
    swapped = pool_before_activation(net)
    assert [n for n, _ in swapped.named_children()][:6] == ["conv1", "pool1", "act1", "conv2", "pool2", "act2"]
    x = torch.randn(16, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(net(x), swapped(x))


def test_recipe_api_and_cli_presets(tmp_path):
    run = train_recipe("fast", load_dataset("mnist-sample"), device="cpu", max_steps=4)
    assert run.model.config.spec == FAST.model and run.train["optimizer_options"] == {"betas": (0.7, 0.9)}
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-sample", "--recipe", "fast", "--optimizer", "sgd", "--lr", "0.05",
                 "--max-steps", "2", "--out", str(out), "--json"]) == 0
    import json

    train = json.loads((out / "run.json").read_text())["train"]
    assert train["optimizer"] == "sgd" and train["lr"] == 0.05 and train["optimizer_options"] == {}
    assert train["batch_size"] == recipe_settings("fast")["batch_size"] and train["max_steps"] == 2


@pytest.mark.skipif(not os.environ.get("MNISTLAB_SLOW") or not (Path(os.environ.get("MNISTLAB_DATA", "")) / "mnist").is_dir(),
                    reason="slow: set MNISTLAB_SLOW=1 and MNISTLAB_DATA to a folder with full MNIST")
@pytest.mark.parametrize("recipe", ["fast", "default"])
def test_recipe_reaches_99_percent_on_full_mnist(recipe):
    mnist = load_dataset("mnist")
    accuracies = [train_recipe(recipe, mnist, seed=seed, device="cpu").final["test_accuracy"] for seed in range(3)]
    assert min(accuracies) >= 0.99
