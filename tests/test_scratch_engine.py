"""The NumPy engine of model specs (scratch.layers, net, optim, trainer) against PyTorch, and its recipe."""
import dataclasses

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from mnistlab.data import load_dataset
from mnistlab.errors import UserError
from mnistlab.scratch import Net, fit_plan, gradcheck, one_cycle_lr, relative_error
from mnistlab.scratch.compare import compare, torch_layout, torch_parts, torch_twin
from mnistlab.scratch.recipes import scratch_plan
from mnistlab.scratch.trainer import learning_rate, make_optimizer
from mnistlab.train.config import TrainConfig
from mnistlab.train.optim import make_loss
from mnistlab.train.recipes import RECIPES

DEFAULT = RECIPES["default"].model
SPECS = [DEFAULT, "c6k3p1 a2 c4k3s2 f12", "crop1 c5k4s3 m3s2 f7 f6", "f20 o10", ""]


@pytest.fixture(scope="module")
def sample():
    return load_dataset("mnist-sample")


def batch(n=6, side=28, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, side, side)), rng.integers(0, 10, n)


@pytest.mark.parametrize("spec", SPECS)
def test_loss_and_every_gradient_match_torch_autograd_in_float64(spec):
    net = Net(spec, "tanh" if "a2" in spec else "relu", seed=3, dtype=np.float64)
    images, labels = batch()
    loss = net.step_loss(images, labels, 0.1)
    model = torch_twin(net, 10, channels_last=False, dtype=torch.float64)
    reference = make_loss("ce", 10, 0.1)(model(torch.tensor(images)[:, None]), torch.tensor(labels))
    reference.backward()
    assert loss == pytest.approx(reference.item(), rel=1e-12)
    for ours, p in zip(torch_layout(net, "grads"), model.parameters(), strict=True):
        assert relative_error(ours, p.grad.numpy()) < 1e-10


def test_after_one_step_both_engines_hold_the_same_weights_to_float32_rounding(sample):
    """The default recipe's first step (Adam at the one-cycle's first rate, lr0 = max_lr / 25) in both engines.

    Adam's first step is w1 = w0 - lr0 * u(g), u(g) = g / (|g| + eps) (m and v are g and g^2 after bias
    correction). Each engine computes u in about eight float32 operations (lerp, multiply-add, sqrt, two scalings,
    add, divide, scale), each rounding by at most eps32 / 2, so the two updates differ by at most 8 eps32 * lr0
    from rounding, and the two w1 by eps32 * |w1| more. The two gradients differ too (float32 sums in another
    order) by dg; the slope of u is eps / (|g| + eps)^2, largest at the smaller |g|, so u moves by at most
    lr0 * dg * eps / (min |g| + eps)^2: nothing where |g| >> eps, and the whole difference where |g| ~ eps.
    The tolerance is their sum, weight by weight."""
    plan = scratch_plan("default", len(sample.train_labels))
    net = Net(plan.spec, plan.activation, seed=0)
    model = torch_twin(net, 10, channels_last=False)
    index = np.arange(plan.batch_size)
    images = (sample.train_images[index] / np.float32(255)).astype(np.float32)
    labels = sample.train_labels[index].astype(np.int64)
    before = [w.copy() for w in torch_layout(net)]
    with threadpool_limits(1, "blas"):
        net.step_loss(images, labels, plan.label_smoothing)
        optimizer = make_optimizer(plan, net)
        optimizer.lr = learning_rate(plan, 0)
        optimizer.step(net.grads)
    torch.set_num_threads(1)
    torch_optimizer, _, loss_fn = torch_parts(model, plan, 10)
    loss_fn(model(torch.from_numpy(images)[:, None]), torch.from_numpy(labels)).backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    torch_optimizer.step()
    eps32, lr0, adam_eps = np.finfo(np.float32).eps, learning_rate(plan, 0), plan.optimizer_options.get("eps", 1e-8)
    assert lr0 == torch_optimizer.param_groups[0]["initial_lr"]
    for w, w0, p, g, g_torch in zip(torch_layout(net), before, model.parameters(), torch_layout(net, "grads"), grads,
                                    strict=True):
        w_torch = p.detach().numpy()
        from_gradients = lr0 * np.abs(g - g_torch) * adam_eps / (np.minimum(np.abs(g), np.abs(g_torch)) + adam_eps) ** 2
        tolerance = eps32 * (np.abs(w_torch) + 8 * lr0) + from_gradients
        assert np.all(np.abs(w - w_torch) <= tolerance), np.max(np.abs(w - w_torch) / tolerance)
        assert np.max(np.abs(w - w0)) == pytest.approx(lr0, rel=1e-3)  # Adam's first step moves a weight by ~lr0


@pytest.mark.parametrize("total, pct_start, anneal", [(470, 0.2, "linear"), (32, 0.3, "cos"), (7, 0.5, "linear")])
def test_one_cycle_rates_are_torchs(total, pct_start, anneal):
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=total, pct_start=pct_start,
                                                    anneal_strategy=anneal, cycle_momentum=False)
    for step in range(total):
        assert one_cycle_lr(step, total, 0.01, pct_start, anneal) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-14)
        optimizer.step()
        scheduler.step()


def test_the_plan_is_the_torch_recipe():
    plan, config = scratch_plan("default", 60_000), TrainConfig()
    assert plan.spec == DEFAULT and plan.batch_size == config.batch_size and plan.lr == config.lr
    assert plan.optimizer == config.optimizer and plan.optimizer_options["betas"] == tuple(config.optimizer_options["betas"])
    assert plan.schedule_options == config.schedule_options and plan.label_smoothing == config.label_smoothing
    assert plan.total_steps == 2 * 235 and plan.epochs == config.epochs
    short = scratch_plan("default", 1000, epochs=0.002)  # one step: torch's schedule spans 3, so does ours
    assert short.total_steps == 1 and short.schedule_steps == 3 and learning_rate(short, 0) == pytest.approx(0.01 / 25)
    other = scratch_plan("default", 60_000, model="c8k3 f20", epochs=1, lr=0.003)
    assert other.label_smoothing == 0.0 and other.total_steps == 235 and other.lr == 0.003  # as `settle` ties them


@pytest.mark.parametrize("spec, words", [("c8k3 bn f10", "layer 2 'bn' is not implemented"),
                                         ("c8k3 d0.5", "'d0.5' is not implemented"), ("f10 c8k3", "cannot go here")])
def test_tokens_the_engine_lacks_are_refused_in_one_line(spec, words):
    with pytest.raises(UserError, match=words) as caught:
        Net(spec)
    assert "\n" not in str(caught.value) and "mnistlab train" in str(caught.value)


@pytest.mark.parametrize("recipe, words", [("best", "adamw"), ("pytorch-examples", "adadelta")])
def test_recipes_the_engine_lacks_are_refused_in_one_line(recipe, words):
    with pytest.raises(UserError, match=words):
        scratch_plan(recipe, 1000)


def test_a_training_step_reuses_every_buffer():
    net, (images, labels) = Net(DEFAULT), batch(8)
    net.step_loss(images.astype(np.float32), labels)
    before = {(i, key): id(a) for i, layer in enumerate(net.layers) for key, a in layer._buffers.items()}
    net.step_loss(images.astype(np.float32), labels)
    after = {(i, key): id(a) for i, layer in enumerate(net.layers) for key, a in layer._buffers.items()}
    assert before == after and len(before) >= 8


def test_blas_runs_on_the_threads_asked_for_and_the_run_names_its_kernel(sample):
    plan = dataclasses.replace(scratch_plan("default", len(sample.train_labels)), total_steps=2)
    seen = []
    result = fit_plan(sample, plan, threads=1, on_step=lambda step, loss: seen.append(
        [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]))
    # every BLAS loaded runs on one thread (NumPy's and, once a test imported it, SciPy's own OpenBLAS)
    assert len(seen) == 2 and all(counts and set(counts) == {1} for counts in seen) and result["blas"]["threads"] == 1
    assert result["blas"]["simd"] in ("AVX2", "AVX-512", "neither AVX2 nor AVX-512") or result["blas"]["library"] != "openblas"
    assert {"im2col", "gemm", "pool", "optimizer"} <= set(result["time_split"])


def test_compare_runs_both_engines_on_the_same_batches(sample):
    plan = scratch_plan("default", len(sample.train_labels), epochs=0.5)
    result = compare(sample, plan, threads=1)
    assert result["steps"] == plan.total_steps == len(result["loss_difference"]["per_step"])
    assert result["loss_difference"]["first"] < 1e-5  # the same weights and batch: float32 rounding apart
    assert abs(result["numpy"]["test_accuracy"] - result["torch"]["test_accuracy"]) <= 0.01
    assert result["seconds_per_epoch_ratio"] > 0


def test_gradcheck_covers_every_layer_and_the_whole_net():
    result = gradcheck()
    names = {c["name"] for c in result["checks"]}
    assert {"conv c4k3s2p1 dw", "conv c4k3s2p1 dx", "max pool m3s2 dx", "avg pool a2s1 dx", "fc from an image dw",
            "relu dx", "crop2 dx", "smoothed cross-entropy dlogits"} <= names
    assert any(name.startswith("net ") and name.endswith("conv1.w") for name in names)
    assert result["max_relative_error"] <= 1e-6
