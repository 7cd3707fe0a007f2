import json

import numpy as np
import pytest
import torch

from mnistlab import build_model, fit, load_run, make_splits
from mnistlab.cli import main
from mnistlab.errors import UserError
from mnistlab.train.run import META, WEIGHTS


def metrics(history):
    return [{k: v for k, v in row.items() if "seconds" not in k} for row in history]


def test_short_real_training_beats_85_percent(sample):
    run = fit("c16k5s2 f64", make_splits(sample), epochs=2, batch_size=64, lr=3e-3)
    assert run.final["test_accuracy"] > 0.85
    assert len(run.history) == 2 and run.final["train_loss"] < run.history[0]["train_loss"]
    row = run.history[-1]
    assert set(row) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
                        "test_accuracy", "seconds", "eval_seconds"}
    assert row["val_loss"] is None and 0 <= row["test_accuracy"] <= 1 and row["seconds"] > 0


def test_same_seed_same_history_on_cpu(sample):
    splits = make_splits(sample, train_size=1000)
    options = dict(epochs=2, batch_size=50, device="cpu", precision="fp32", threads=1)  # `auto` may pick 1 or 2 by load
    a, b = fit("c4k5s2 d0.2 f16", splits, seed=3, **options), fit("c4k5s2 d0.2 f16", splits, seed=3, **options)
    assert metrics(a.history) == metrics(b.history)
    c = fit("c4k5s2 d0.2 f16", splits, seed=4, **options)
    assert metrics(c.history) != metrics(a.history)


def test_validation_and_train_size(sample):
    splits = make_splits(sample, val=500, train_size=1000)
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (1000, 500, 1000)
    assert torch.equal(splits.y_val.cpu(), torch.as_tensor(sample.train_labels[-500:]))
    run = fit("f32", splits, epochs=1)
    assert run.history[0]["val_accuracy"] is not None and run.data["n_val"] == 500


def test_normalization_modes(sample):
    for mode, lo, hi in [("unit", 0, 1), ("raw", 0, 255), ("binary", 0, 1)]:
        s = make_splits(sample, normalize=mode, train_size=100)
        assert (float(s.x_train.min()), float(s.x_train.max())) == (lo, hi)
    s = make_splits(sample, normalize="standard")
    assert abs(float(s.x_train.mean())) < 1e-3 and abs(float(s.x_train.std()) - 1) < 1e-3
    assert set(torch.unique(make_splits(sample, normalize="binary", train_size=100).x_train).tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("head, loss", [("logits", "ce"), ("log_softmax", "nll"), ("logits", "mse"), ("softmax", "nll")])
def test_losses_and_heads_train(sample, head, loss):
    from mnistlab.train.metrics import evaluate
    from mnistlab.train.optim import make_loss

    splits = make_splits(sample, train_size=1000)
    model = build_model("f32", head=head, seed=0)
    untrained_loss, _ = evaluate(model, splits.x_test, splits.y_test, make_loss(loss, 10))
    run = fit(model, splits, epochs=1, batch_size=32, lr=1e-3, schedule="none", label_smoothing=0.0, loss=loss)
    assert run.train["loss"] == loss and run.final["test_loss"] < untrained_loss  # this loss's gradient taught the model


@pytest.mark.parametrize("optimizer, lr, schedule", [("sgd", 0.1, "step"), ("adamw", 1e-2, "cosine"),
                                                   ("RMSprop", 1e-3, "onecycle"), ("adadelta", 1.0, "none")])
def test_optimizers_and_schedules_by_name(sample, optimizer, lr, schedule):
    run = fit("f16", make_splits(sample, train_size=1000), epochs=2, batch_size=32, optimizer=optimizer,
              schedule=schedule, lr=lr)
    assert run.train["optimizer"] == optimizer and run.final["test_accuracy"] > 0.5


def test_schedule_shapes():
    from mnistlab.train.optim import make_schedule

    def lrs(name, epochs=2, steps=10):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched, per_batch = make_schedule(name, opt, 0.1, epochs, steps)
        seen = []
        for _ in range(epochs):
            for _ in range(steps):
                seen.append(opt.param_groups[0]["lr"])
                opt.step()
                if per_batch:
                    sched.step()
            if sched is not None and not per_batch:
                sched.step()
        return seen

    step = lrs("step")
    assert step[:10] == [0.1] * 10 and step[10:] == pytest.approx([0.07] * 10)
    onecycle = lrs("onecycle")
    assert max(onecycle) == pytest.approx(0.1, rel=0.05) and onecycle[0] < 0.01 and onecycle[-1] < 1e-3
    assert lrs("cosine")[-1] < 0.01 and lrs("none") == [0.1] * 20


@pytest.mark.parametrize("options, message", [
    (dict(lr=0), "learning rate must be greater than 0"), (dict(lr=-1), "greater than 0"),
    (dict(epochs=0), "epochs=0"), (dict(batch_size=0), "batch_size=0"),
    (dict(optimizer="adamx"), "unknown optimizer 'adamx'"), (dict(loss="hinge"), "unknown loss 'hinge'"),
    (dict(schedule="warmup"), "unknown schedule 'warmup'"), (dict(device="tpu"), "unknown device 'tpu'"),
])
def test_bad_options(sample, options, message):
    with pytest.raises(UserError, match=message):
        fit("f8", make_splits(sample, train_size=64), **options)


def test_unavailable_cuda_is_a_user_error(sample):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(UserError, match="device=cuda: not available"):
        fit("f8", make_splits(sample, train_size=64), device="cuda")


def test_nan_stops_with_advice(sample):
    with pytest.raises(UserError, match=r"loss became nan in epoch 1; try a smaller learning rate \(e.g. lr=1e\+09\)"):
        fit("f64 f64", make_splits(sample, normalize="raw", train_size=500), optimizer="sgd", lr=1e10, epochs=3,
            schedule="none", batch_size=50)


def test_split_ranges(sample):
    with pytest.raises(UserError, match="val=4000 is out of range"):
        make_splits(sample, val=4000)
    with pytest.raises(UserError, match="train_size=3901 is out of range: 3900"):
        make_splits(sample, val=100, train_size=3901)


BF16_TOLERANCE = 2e-2  # probabilities of a model run in bf16 autocast: ~3 significant digits


def assert_same_predictions(expected, restored, tolerance: float) -> None:
    """The reloading contract: probabilities agree within `tolerance`, and a predicted class may change only
    where the original's top two probabilities were within that tolerance of each other (a near tie)."""
    (classes_a, probs_a), (classes_b, probs_b) = expected, restored
    np.testing.assert_allclose(probs_b, probs_a, atol=tolerance)
    top2 = np.sort(probs_a, axis=1)[:, -2:]
    differ = classes_a != classes_b
    assert (top2[differ, 1] - top2[differ, 0] <= 2 * tolerance).all()


@pytest.mark.numeric
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_save_and_load_round_trip(tiny_run, sample, tmp_path, device):
    run = tiny_run if device == "cpu" else fit("c8k5s2 f32", make_splits(sample), epochs=1, batch_size=64, lr=3e-3,
                                               seed=0, device=device, precision="bf16")
    out = run.save(tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == [WEIGHTS, META]
    record = json.loads((out / META).read_text())
    assert record["model"]["spec"] == "c8k5s2 f32" and record["data"]["name"] == "mnist-sample"
    assert record["final"] == run.final and len(record["history"]) == len(run.history)
    restored = load_run(out, device)
    images = sample.test_images[:100]
    reloaded = restored.predict(images)
    tolerance = BF16_TOLERANCE if run.train["precision"] == "bf16" else 1e-6
    assert_same_predictions(run.predict(images), reloaded, tolerance)
    assert np.allclose(reloaded[1].sum(1), 1, atol=1e-5) and reloaded[1].shape == (100, 10)


def test_predict_accepts_flat_and_channel_inputs(tiny_run, sample):
    images = sample.test_images[:5]
    a = tiny_run.predict(images)[0]
    assert (a == tiny_run.predict(images.reshape(5, 784))[0]).all()
    assert (a == tiny_run.predict(images[:, None].astype(np.float32))[0]).all()


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / META).unlink(), "is not an mnistlab run"),
    (lambda d: (d / META).write_text("{not json"), "not a valid mnistlab run record"),
    (lambda d: (d / WEIGHTS).write_bytes(b"garbage"), "the weights were changed after the run was saved"),
])
def test_damaged_runs_are_user_errors(tiny_run, tmp_path, damage, message):
    out = tiny_run.save(tmp_path / "run")
    damage(out)
    with pytest.raises(UserError, match=message):
        load_run(out)
    if "changed" in message:  # unverified, the damage itself is found
        with pytest.raises(UserError, match="cannot load weights"):
            load_run(out, verify=False)


def test_missing_run_dir():
    with pytest.raises(UserError, match="run directory /no/run does not exist"):
        load_run("/no/run")


def test_every_listed_optimizer_trains_a_step(sample):
    from mnistlab.train.optim import OPTIMIZERS

    splits = make_splits(sample, train_size=64)
    for name in OPTIMIZERS:
        model = build_model("f8", seed=0)
        before = [p.detach().clone() for p in model.parameters()]
        run = fit(model, splits, epochs=1, batch_size=32, optimizer=name, lr=1e-3, weight_decay=1e-4)
        assert all(not torch.equal(a, b.detach().cpu()) for a, b in zip(before, run.model.parameters())), name  # it stepped
    assert "lbfgs" not in OPTIMIZERS  # needs a closure: not a plain training step


def test_losses_are_not_negative_for_sound_pairs(sample):
    splits = make_splits(sample, train_size=500)
    for head, loss in [("logits", "ce"), ("log_softmax", "nll"), ("log_softmax", "ce"), ("logits", "mse")]:
        run = fit(build_model("f16", head=head), splits, epochs=1, loss=loss)
        assert run.final["train_loss"] >= 0 and run.final["test_loss"] >= 0, (head, loss)
    with pytest.raises(UserError, match="loss=nll needs a probability head"):
        fit(build_model("f16", head="logits"), splits, loss="nll")
    with pytest.raises(UserError, match="weight_decay=-1"):
        fit("f16", splits, weight_decay=-1)


def test_resaving_replaces_the_run_whole_but_never_files_added_to_it(tiny_run, tmp_path):
    out = tiny_run.save(tmp_path / "run")
    tiny_run.save(out)
    assert sorted(p.name for p in out.iterdir()) == [WEIGHTS, META]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary folders left beside it
    (out / "report.html").write_text("written by mnistlab report, or by hand: not part of the run")
    with pytest.raises(UserError, match=r"holds files that are not part of the run \(report.html\)"):
        tiny_run.save(out)
    assert (out / "report.html").is_file()


def test_runs_never_overwrite_other_files(tiny_run, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not an mnistlab run"):
        tiny_run.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_interrupted_save_leaves_the_old_run(tiny_run, tmp_path, monkeypatch):
    out = tiny_run.save(tmp_path / "run")
    before = (out / META).read_text()
    import mnistlab.train.run as checkpoint

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        tiny_run.save(out)
    assert (out / META).read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_standard_constants_from_the_histogram(sample):
    from mnistlab.data.transforms import Normalizer

    norm = Normalizer.fit("standard", sample.train_images)
    unit = sample.train_images / 255.0
    assert norm.mean == pytest.approx(unit.mean()) and norm.std == pytest.approx(unit.std())
    assert Normalizer.fit("standard", np.zeros((3, 28, 28), np.uint8)).std == 1.0


def test_the_library_names_its_own_parameters_and_the_command_its_flags(sample, capsys):
    with pytest.raises(UserError, match=r"^lr=-1: the learning rate must be greater than 0"):
        fit("f8", make_splits(sample, train_size=64), lr=-1)
    assert main(["train", "--dataset", "mnist-sample", "--lr", "-1", "--json"]) == 2
    assert "error: --lr -1.0: the learning rate must be greater than 0" in capsys.readouterr().err
