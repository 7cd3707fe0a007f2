"""Stacked training of K models follows the same trajectory as K separate `fit` runs, step for step."""
import pytest
import torch

from conftest import rounding_tolerance
from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.data.splits import Splits
from mnistlab.errors import UserError
from mnistlab.train.engine import DeviceSteps
from mnistlab.train.many import Folds, fit_many, stack_groups

pytestmark = pytest.mark.numeric

PLAIN = dict(schedule="none", optimizer_options={}, schedule_options={}, label_smoothing=0.0, device="cpu",
             precision="fp32", channels_last=False)


@pytest.fixture(scope="module")
def tiny():
    return make_splits(load_dataset("mnist-sample"), "unit", train_size=200)


def assert_same(alone, together, tol: float, keys=("train_loss", "train_accuracy", "test_loss", "test_accuracy")):
    """Histories within `tol` (relative), and each weight within `tol` of its tensor's largest weight: a weight
    whose gradient cancels to near zero has a large relative error of its own, which Adam and RMSprop, dividing by
    the gradient's size, turn into a full-size step (1e-5 of the largest weight measured, 4e-4 of itself).
    An accuracy differs only where a logit margin is below `tol`: a flip is 1/n, far outside it."""
    for a, b in zip(alone, together):
        for ra, rb in zip(a.history, b.history):
            for key in keys:
                assert ra[key] == pytest.approx(rb[key], rel=tol, abs=tol), key
        for pa, pb in zip(a.model.parameters(), b.model.parameters()):
            torch.testing.assert_close(pa.detach(), pb.detach(), rtol=0, atol=tol * float(pa.detach().abs().max()))


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_padded_widths_and_mixed_optimizers_equal_separate_fits(tiny, activation):
    # widths padded to the widest (masked where f(0) != 0), three optimizer families in one program
    plans = [("f16 f8", "sgd", 0.05), ("f12 f8", "adam", 0.01), ("f16 f4", "rmsprop", 0.001), ("f6 f8", "sgd", 0.1)]
    options = dict(epochs=2, batch_size=16, drop_last=True, seed=3)
    build = lambda s: build_model(s, activation, head="log_softmax", seed=3)  # noqa: E731
    alone = [fit(build(s), tiny, optimizer=o, lr=lr, **PLAIN, **options) for s, o, lr in plans]
    together = fit_many([build(s) for s, _, _ in plans], tiny, [(o, lr) for _, o, lr in plans], device="cpu", **options)
    # 2 epochs of 12 steps; the longest sum is the first layer's fan-in, 784 pixels (measured: 1.3e-5 of the largest
    # weight on AVX-512, AVX2 and no-SIMD kernels at 1 and 2 threads, against 8.1e-5 allowed)
    assert_same(alone, together, rounding_tolerance(784, steps=24))
    assert [r.train["optimizer"] for r in together] == ["sgd", "adam", "rmsprop", "sgd"]  # the caller's order
    assert all(r.train["batched"] == 4 for r in together)


def test_stacked_cnns_with_a_schedule_and_options_equal_separate_fits(tiny):
    # K CNNs of one spec as grouped convolutions; one-cycle rates per model from a device table; Adam's betas,
    # weight decay and label smoothing as the default recipe uses them
    spec, rates = "crop2 c6k5s2 c8k3 m2 f16", [1e-2, 3e-3]
    options = dict(PLAIN, epochs=1, batch_size=50, seed=1, optimizer="adamw", schedule="onecycle",
                   schedule_options={"pct_start": 0.2}, optimizer_options={"betas": (0.7, 0.9)}, weight_decay=1e-3,
                   label_smoothing=0.1)
    alone = [fit(build_model(spec, seed=1), tiny, **{**options, "lr": lr}) for lr in rates]
    together = fit_many([build_model(spec, seed=1) for _ in rates], tiny, [("adamw", lr) for lr in rates], **options)
    # 4 steps; the longest sum is the first convolution's weight gradient over 50 images x 10 x 10 positions
    assert_same(alone, together, rounding_tolerance(50 * 10 * 10, steps=4))


def test_each_model_trains_on_its_own_subset(tiny):
    # subsets of different sizes (the last batch is padded for the smaller one), each validated on its own rest
    n = len(tiny.y_train)
    subsets = [torch.arange(0, n - 37), torch.arange(30, n)]
    rest = [torch.arange(n - 37, n), torch.arange(0, 30)]
    options = dict(PLAIN, epochs=2, batch_size=32, seed=4, optimizer="sgd", lr=0.05, optimizer_options={"momentum": 0.9})
    alone = []
    for train, val in zip(subsets, rest):
        part = Splits(tiny.x_train[train], tiny.y_train[train], tiny.x_test, tiny.y_test, tiny.normalizer,
                      tiny.x_train[val], tiny.y_train[val])
        alone.append(fit(build_model("f16", seed=4), part, **options))
    together = fit_many([build_model("f16", seed=4) for _ in subsets], tiny, None, folds=Folds(subsets, rest),
                        **{k: v for k, v in options.items() if k not in ("optimizer", "lr")}, optimizer="sgd", lr=0.05)
    # 2 epochs of 6 steps over 784 pixels
    assert_same(alone, together, rounding_tolerance(784, steps=12), keys=("train_loss", "train_accuracy", "val_loss", "val_accuracy"))
    assert together[0].history[-1]["test_accuracy"] is None  # folds leave the test set alone unless asked
    assert [r.data["n_train"] for r in together] == [n - 37, n - 30]


def test_stacking_refuses_what_it_cannot_express(tiny):
    with pytest.raises(UserError, match="batch norm and dropout"):
        fit_many([build_model("f8 d0.5")], tiny, [("sgd", 0.1)], epochs=1, batch_size=32)
    with pytest.raises(UserError, match="one depth"):
        fit_many([build_model("f8"), build_model("f8 f8")], tiny, [("sgd", 0.1)] * 2, epochs=1, batch_size=32)
    with pytest.raises(UserError, match="cannot train stacked"):
        fit_many([build_model("f8")], tiny, [("adagrad", 0.1)], epochs=1, batch_size=32)
    with pytest.raises(UserError, match="amsgrad"):
        fit_many([build_model("f8")], tiny, [("adam", 0.1)], epochs=1, batch_size=32, optimizer="adam",
                 optimizer_options={"amsgrad": True})


def test_the_capturable_stacked_step_trains_like_the_eager_one(tiny, monkeypatch):
    # the step CUDA would capture (batch rows and rates read through device counters), run eagerly on the CPU
    import mnistlab.train.many as many

    class Static(many.Engine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps = DeviceSteps(self)

    n = len(tiny.y_train)
    folds = Folds([torch.arange(0, n - 37), torch.arange(30, n)])
    options = dict(PLAIN, epochs=2, batch_size=32, seed=4, optimizer="adam", lr=0.01, schedule="onecycle")
    eager = fit_many([build_model("f16", seed=4) for _ in range(2)], tiny, folds=folds, **options)
    monkeypatch.setattr(many, "Engine", Static)
    static = fit_many([build_model("f16", seed=4) for _ in range(2)], tiny, folds=folds, **options)
    assert_same(eager, static, rounding_tolerance(784, steps=12), keys=("train_loss", "train_accuracy"))


def test_colour_cnns_stack_with_the_models_own_channel_count():
    # three-channel inputs (the data worker's CIFAR/folder formats): the grouped convolution reads C from the model
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 3, 12, 12, generator=g), torch.randint(0, 4, (96,), generator=g)
    data = Splits(x, y, x[:32], y[:32], make_splits(load_dataset("mnist-sample")).normalizer, classes=tuple("abcd"))
    build = lambda: build_model("c4k3 m2 f8", input_shape=(3, 12, 12), n_classes=4, seed=2)  # noqa: E731
    options = dict(PLAIN, epochs=2, batch_size=16, seed=2, optimizer="adam", lr=1e-2)
    alone = [fit(build(), data, **options) for _ in range(2)]
    together = fit_many([build(), build()], data, **options)
    # 2 epochs of 6 steps; the longest sum is the convolution's weight gradient over 16 images x 10 x 10 positions
    assert_same(alone, together, rounding_tolerance(16 * 10 * 10, steps=12))


def test_widths_far_apart_train_in_separate_programs_and_still_equal_separate_fits(tiny):
    # on a CPU, padding f8 to f600 costs more than a second program: stack_groups splits them by cost
    specs = ["f8", "f600", "f12"]
    options = dict(epochs=1, batch_size=50, seed=2)
    build = lambda s: build_model(s, "relu", head="log_softmax", seed=2)  # noqa: E731
    assert stack_groups([build(s) for s in specs], torch.device("cpu")) == [[0, 2], [1]]
    assert stack_groups([build(s) for s in specs], torch.device("cuda")) == [[0, 1, 2]]  # one program per step on a GPU
    together = fit_many([build(s) for s in specs], tiny, [("sgd", 0.05)] * 3, device="cpu", **options)
    assert [r.train["batched"] for r in together] == [2, 1, 2]
    alone = [fit(build(s), tiny, optimizer="sgd", lr=0.05, **PLAIN, **options) for s in specs]
    assert_same(alone, together, rounding_tolerance(784, steps=4))
