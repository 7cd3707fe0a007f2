"""The levers of the fast recipe, each an option of the normal API and CLI: the crop layer, label smoothing,
schedule options and fractional epochs."""
import json

import pytest
import torch
import torch.nn.functional as F

from mnistlab import build_model, fit, load_dataset, load_run, make_splits
from mnistlab.cli import main
from mnistlab.errors import UserError
from mnistlab.inspect.activations import first_layer_weights
from mnistlab.models import summary_text
from mnistlab.train import train_recipe
from mnistlab.train.optim import make_loss, make_schedule
from mnistlab.train.recipes import recipe_settings


@pytest.fixture(scope="module")
def splits():
    return make_splits(load_dataset("mnist-sample"), "standard", train_size=1024)


# --- crop layer ---------------------------------------------------------------------------------------------

def test_crop_layer_is_a_conv_on_the_cropped_image():
    cropped, plain = build_model("crop2 c8k5s2 f16", seed=0), build_model("c8k5s2 f16", input_shape=(1, 24, 24), seed=0)
    plain.load_state_dict(cropped.state_dict())  # same parameter names and shapes: the crop has none
    x = torch.randn(4, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(cropped(x), plain(x[:, :, 2:26, 2:26]))
    assert cropped.config.input_shape == (1, 28, 28) and cropped.image_shape == (1, 24, 24)
    assert "crop      crop2       1x24x24" in summary_text(cropped)


@pytest.mark.parametrize("spec, message", [
    ("c8k3 crop2", "must be the first token"),
    ("crop14", "leaves nothing"),
    ("crop0", "at least 1 pixel"),
])
def test_impossible_crops_are_refused_naming_the_layer(spec, message):
    with pytest.raises(UserError, match=message):
        build_model(spec)


def test_cropped_ffn_run_saves_loads_predicts_and_shows_its_weights_as_images(splits, tmp_path):
    run = fit("crop4 f16", splits, epochs=1, device="cpu", lr=3e-3)
    run.save(tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    raw = load_dataset("mnist-sample").test_images[:8]
    assert (loaded.predict(raw)[0] == run.predict(raw)[0]).all()
    assert first_layer_weights(loaded.model).shape == (16, 20, 20)


# --- label smoothing ----------------------------------------------------------------------------------------

def test_label_smoothing_means_the_same_target_for_every_loss():
    torch.manual_seed(0)
    logits, y, s = torch.randn(6, 10), torch.randint(0, 10, (6,)), 0.1
    target = F.one_hot(y, 10) * (1 - s) + s / 10
    logp = logits.log_softmax(1)
    expected = -(target * logp).sum(1).mean()
    assert make_loss("ce", 10, s)(logits, y) == pytest.approx(float(expected), abs=1e-6)
    assert make_loss("nll", 10, s)(logp, y) == pytest.approx(float(expected), abs=1e-6)
    assert make_loss("mse", 10, s)(logits, y) == pytest.approx(float(((logits - target) ** 2).mean()), abs=1e-6)
    assert make_loss("ce", 10)(logits, y) == pytest.approx(float(F.cross_entropy(logits, y)), abs=1e-6)


@pytest.mark.numeric
def test_label_smoothing_trains_on_smoothed_targets_but_reports_the_plain_test_loss(splits):
    plain, smooth = (fit("c8k5s2 f16", splits, epochs=1, device="cpu", lr=3e-3, label_smoothing=s) for s in (0.0, 0.2))
    assert smooth.train["label_smoothing"] == 0.2
    assert smooth.history[0]["train_loss"] > plain.history[0]["train_loss"]  # smoothed targets cannot be fit exactly
    with torch.inference_mode():
        out = smooth.model(splits.x_test)
    assert smooth.final["test_loss"] == pytest.approx(float(F.cross_entropy(out, splits.y_test)), rel=2e-3)


def test_label_smoothing_out_of_range_is_one_line_exit_2(capsys):
    assert main(["train", "--dataset", "mnist-sample", "--label-smoothing", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--label-smoothing 1.0: must be at least 0 and below 1" in err and "\n" not in err


def test_label_smoothing_is_refused_where_it_only_rescales_the_loss(splits):
    with pytest.raises(UserError, match="only rescales"):
        fit(build_model("f8", head="softmax"), splits, loss="nll", label_smoothing=0.1, device="cpu")


def test_recipe_smoothing_and_schedule_shape_stay_with_the_recipes_model(tmp_path):
    def train_json(*args):
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        assert main(["train", "--dataset", "mnist-sample", "--max-steps", "2", "--out", str(out), *args]) == 0
        return json.loads((out / "run.json").read_text())["train"]

    own = train_json()
    assert own["label_smoothing"] == 0.1 and own["schedule_options"] == recipe_settings("default")["schedule_options"]
    lecture = train_json("--model", "f64 f32", "--head", "log_softmax", "--loss", "nll")  # L5: the plain loss
    assert lecture["label_smoothing"] == 0.0 and lecture["schedule_options"] == {}
    assert train_json("--model", "f16", "--label-smoothing", "0.05")["label_smoothing"] == 0.05


def test_train_recipe_overrides_drop_the_recipes_own_options():
    sample = load_dataset("mnist-sample")
    run = train_recipe("fast", sample, device="cpu", schedule="cosine", optimizer="sgd", max_steps=2)
    assert run.train["schedule_options"] == {} and run.train["optimizer_options"] == {}
    assert run.train["label_smoothing"] == 0.1  # still the recipe's own model


# --- schedule options and fractional epochs -------------------------------------------------------------------

def test_schedule_options_reach_the_scheduler():
    lrs = {}
    for pct in (0.2, 0.5):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        sched, per_batch = make_schedule("onecycle", opt, 1.0, 1, 100, pct_start=pct, anneal_strategy="linear")
        lrs[pct] = []
        for _ in range(100):
            lrs[pct].append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    assert per_batch and max(range(100), key=lrs[0.2].__getitem__) == 19 and max(range(100), key=lrs[0.5].__getitem__) == 49


@pytest.mark.parametrize("name, options, message", [
    ("onecycle", {"warmup": 3}, "refused its options"),
    ("onecycle", {"pct_start": 2.0}, "refused its options"),
    ("none", {"pct_start": 0.2}, "without a schedule"),
])
def test_bad_schedule_options_are_user_errors(name, options, message):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(UserError, match=message):
        make_schedule(name, opt, 1.0, 1, 10, **options)


def test_a_fraction_of_an_epoch_ends_inside_it_and_the_schedule_fits(splits):
    run = fit("c8k5s2 f16", splits, epochs=0.5, batch_size=128, device="cpu", lr=1e-2, schedule="onecycle",
              eval_every=100)
    assert len(run.history) == 1 and run.extras["evals"][-1]["step"] == 4  # half of 8 steps
    assert fit("f8", splits, epochs=0.8, batch_size=4, device="cpu",
               eval_every=1000).extras["evals"][-1]["step"] == 205  # 0.8 * 256 steps = 204.8, rounded up
    fifty = make_splits(load_dataset("mnist-sample"), "standard", train_size=1000)  # 50 steps of 20
    assert fit("f8", fifty, epochs=1.1, batch_size=20, device="cpu",
               eval_every=1000).extras["evals"][-1]["step"] == 55  # not 56: 1.1 * 50 is 55.00000000000001
    assert fit("f8", splits, epochs=1e-9, device="cpu").train["epochs_trained"] > 0  # at least one step
    for bad in (0, float("inf"), float("nan")):
        with pytest.raises(UserError, match="more than 0"):
            fit("f8", splits, epochs=bad, device="cpu")


def test_fast_recipe_cli_carries_its_levers_and_drops_schedule_options_with_another_schedule(tmp_path):
    fast = recipe_settings("fast")
    out = tmp_path / "fast"
    assert main(["train", "--dataset", "mnist-sample", "--recipe", "fast", "--out", str(out), "--json"]) == 0
    train = json.loads((out / "run.json").read_text())["train"]
    assert train["label_smoothing"] == fast["label_smoothing"] == 0.1
    assert train["schedule_options"] == fast["schedule_options"] and train["epochs"] == 0.8
    assert json.loads((out / "run.json").read_text())["model"]["spec"].startswith("crop2 ")
    out = tmp_path / "cosine"
    assert main(["train", "--dataset", "mnist-sample", "--recipe", "fast", "--schedule", "cosine", "--max-steps", "2",
                 "--out", str(out), "--json"]) == 0
    train = json.loads((out / "run.json").read_text())["train"]
    assert train["schedule"] == "cosine" and train["schedule_options"] == {}
