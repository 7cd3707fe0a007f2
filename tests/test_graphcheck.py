"""The strict graph check: every recipe's real capture path passes it on the CPU within its kernel budget
(benchmarks/kernels.py: counts are deterministic and do not depend on the batch size), and the graph bugs it
exists for (a host-set learning rate, a host read, a batch cut on the host or into new buffers, an optimizer off
its capturable path) fail it."""
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mnistlab import build_model, fit, make_splits
from mnistlab.experiments.settings import L5_MODEL, L5_TRAIN, LECTURE_TRAIN
from mnistlab.train.device import Stopwatch
from mnistlab.train.engine import BatchSource, DeviceSteps, Engine, StepPlan, StepSpec, schedule_table, train
from mnistlab.train.graphcheck import GraphSafetyError, StrictGraph, strict_capture
from mnistlab.train.loop import train_recipe
from mnistlab.train.many import fit_many
from mnistlab.train.optim import make_optimizer
from mnistlab.train.reuse import reuse_captures

STEPS = 7  # three warm-up steps, the capture, three checked replays
spec = importlib.util.spec_from_file_location("kernels", Path(__file__).resolve().parents[1] / "benchmarks" / "kernels.py")
kernels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kernels)
BUDGET = {"default": kernels.BUDGETS["fast"], "fast": kernels.BUDGETS["fast"], "best-short": kernels.BUDGETS["best"]}


@pytest.fixture(scope="module")
def small(sample):
    return make_splits(sample, val=0, train_size=32 * STEPS)


@pytest.mark.parametrize("recipe", ["default", "fast", "best-short"])
def test_every_recipes_captured_step_is_graph_safe(sample, recipe):  # in bf16, as on a GPU; batch 64 for speed
    with strict_capture() as graphs:
        run = train_recipe(recipe, sample, device="cpu", precision="bf16", capture="on", max_steps=STEPS, batch_size=64)
    step = graphs[0]
    assert run.train["capture"] == "on" and step.replays == STEPS - 3 and 20 < step.kernels <= BUDGET[recipe]


def test_the_l5_ffn_and_fit_many_are_graph_safe(small):
    with strict_capture() as graphs:
        run = fit(build_model(**L5_MODEL), small, **{**L5_TRAIN, **LECTURE_TRAIN, "epochs": 1}, device="cpu", capture="on")
    assert run.train["capture"] == "on" and graphs[0].replays == STEPS - 3 and graphs[0].kernels <= kernels.BUDGETS["ffn"]
    with strict_capture() as graphs:
        runs = fit_many([build_model(**L5_MODEL, seed=s) for s in range(3)], small,
                        [("sgd", 0.01), ("rmsprop", 1e-3), ("adam", 1e-3)], epochs=1, batch_size=32, drop_last=True,
                        device="cpu", capture="on")
    assert runs[0].train["capture"] == "on" and graphs[0].replays == STEPS - 3


@pytest.mark.parametrize("capture", ["off", "on"])
def test_training_accuracy_counts_every_image_the_steps_saw(sample, capture):
    """With a learning rate too small to move a weight every step predicts with the same weights, so the epoch's training accuracy is
    the model's accuracy on the training set: the recorded outputs must be counted against the right labels, in
    the epoch's order, the short last batch included."""
    splits = make_splits(sample, val=0, train_size=32 * STEPS + 5)
    model = build_model("f16", seed=0)
    with torch.no_grad():
        expected = (model(splits.x_train).argmax(-1) == splits.y_train).double().mean().item()
    with strict_capture():
        run = fit(model, splits, optimizer="sgd", lr=1e-30, optimizer_options={}, schedule="none", batch_size=32,
                  epochs=2, device="cpu", capture=capture)
    assert [row["train_accuracy"] for row in run.history] == pytest.approx([expected, expected], abs=1e-12)


def engine_for(splits, *, optimizer="adam", loss=None, lean=True, epochs=1):
    """An engine on the capture path for a small FFN, 7 steps of 32 an epoch, to run under the strict check."""
    model = build_model("f16", seed=0)
    plan = StepPlan.of(len(splits.y_train), 32, epochs, drop_last=True)
    opt = make_optimizer(optimizer, model.parameters(), 1e-2, lean=lean)
    table = schedule_table("onecycle", opt, 1e-2, plan, {})
    spec = StepSpec(loss=loss or F.cross_entropy, table=table, capture="on")
    return Engine(model, [model], [opt], BatchSource(splits.x_train, splits.y_train, plan, seed=0), spec)


def run_engine(engine):
    return train(engine, lambda epoch, step, end: {}, Stopwatch(torch.device("cpu")))


@pytest.mark.parametrize("optimizer, options", [("sgd", {"momentum": 0.9}), ("adamw", {})])
def test_fused_optimizers_take_a_scheduled_rate_from_the_device(small, optimizer, options):
    with strict_capture() as graphs:
        run = fit("c4k5s2 bn f16", small, optimizer=optimizer, optimizer_options=options, schedule="onecycle",
                  batch_size=32, epochs=1, device="cpu", capture="on")
    assert run.train["capture"] == "on" and graphs[0].replays == STEPS - 3


def test_the_correct_engine_passes(small):
    with strict_capture() as graphs:
        run_engine(engine_for(small))
    assert graphs[0].replays == STEPS - 3


def test_a_learning_rate_set_from_the_host_fails(small, monkeypatch):
    def host_lr_step(self, batch=None, at=None):
        e = self.engine
        for g in e.groups:
            g["lr"] = e.table[e.steps_done][0]["lr"]  # a float: the captured kernel keeps the first one
        e._core(*(batch or e.source.row(self.row_t)), self.step_t, self.row_t)
        self.counters.add_(1)

    monkeypatch.setattr(DeviceSteps, "device_step", host_lr_step)
    with strict_capture(), pytest.raises(GraphSafetyError, match="replay 2 ran other ops or constants.*fused_adam"):
        run_engine(engine_for(small))


def test_an_item_in_the_step_fails(small):
    def loss(out, y):
        return F.cross_entropy(out, y) * (2.0 if y[0].item() > 4 else 1.0)  # a host decision on a device value

    with strict_capture(), pytest.raises(GraphSafetyError, match=r"host read during capture: Tensor.item\(\)"):
        run_engine(engine_for(small, loss=loss))


def test_a_batch_cut_on_the_host_fails(small, monkeypatch):
    def host_batch_step(self, batch=None, at=None):
        e = self.engine
        e._core(*e.source.batch(e.steps_done), self.step_t, self.row_t)  # a Python slice: the graph would replay batch 3 forever
        self.counters.add_(1)

    monkeypatch.setattr(DeviceSteps, "device_step", host_batch_step)
    with strict_capture(), pytest.raises(GraphSafetyError, match="replay 2 ran other ops or constants"):
        run_engine(engine_for(small))


def test_batch_buffers_made_anew_each_epoch_fail(small, monkeypatch):
    staged = BatchSource.new_epoch

    def new_buffers(self):
        self.x_rows = None  # the graph would go on reading the first epoch's buffer
        staged(self)

    monkeypatch.setattr(BatchSource, "new_epoch", new_buffers)
    with strict_capture(), pytest.raises(GraphSafetyError, match="replay 5 ran other ops"):
        run_engine(engine_for(small, epochs=2))


def test_optimizers_pass_on_their_capturable_path_and_fail_off_it():
    def check(**options):
        p = torch.zeros(3, requires_grad=True)
        opt = torch.optim.Adam([p], lr=0.1, **options)

        def step():
            p.grad = torch.ones(3)
            opt.step()

        step()  # its state exists before the capture, as after the engine's warm-up steps
        graph = StrictGraph()
        graph.capture(step)
        for _ in range(3):
            graph.replay()

    with strict_capture():
        check(capturable=True, foreach=True)
        check(fused=True)
        with pytest.raises(GraphSafetyError, match="host read"):
            check(capturable=False, foreach=True)  # torch's CPU default: bias corrections from step.item()


def test_printing_or_reading_a_tensor_in_a_step_fails():
    t = torch.ones(3)
    for read in (lambda: print(t), lambda: t.tolist(), lambda: t.numpy(), lambda: float(t.sum()), lambda: bool(t[0]),
                 lambda: t.cpu()):
        with pytest.raises(GraphSafetyError, match="host read"):
            StrictGraph().capture(read)


def test_replays_must_repeat_the_captured_constants():
    t, scale = torch.ones(3), [1.0]
    graph = StrictGraph()
    graph.capture(lambda: t.mul_(scale[0]))
    graph.replay()  # the capture's own run
    graph.replay()
    scale[0] = 2.0
    with pytest.raises(GraphSafetyError, match=r"replay 3 .* aten::mul_"):
        graph.replay()


@pytest.mark.numeric
def test_runs_alike_replay_one_captured_step_and_train_as_if_alone(small):
    common = dict(epochs=2, batch_size=32, lr=3e-3, device="cpu", precision="fp32", capture="on", eval_every=3,
                  threads=1)  # compared at 1e-6: one thread, whatever the machine's load makes `auto` pick
    with strict_capture() as graphs:
        alone = [fit("c4k5s2 bn f16 d0.2", small, seed=seed, **common) for seed in (1, 2)]
    with strict_capture() as graphs, reuse_captures():
        runs = [fit("c4k5s2 bn f16 d0.2", small, seed=seed, **common) for seed in (1, 2)]
        first = [p.detach().clone() for p in runs[0].model.parameters()]
        third = fit("c4k5s2 bn f16 d0.2", small, seed=3, **common)
        other = fit("c4k5s2 bn f16 d0.2", small, seed=1, **{**common, "batch_size": 16})  # another step shape
    steps = [g for g in graphs if g.ops and any(name == "aten::_fused_adam_" for name, _, _ in g.ops)]
    # 14 steps a run: the first captures after 3 warm-up steps, the others take the graph over after 1 eager step
    assert len(steps) == 2 and steps[0].replays == (14 - 3) + 2 * (14 - 1)
    for a, b in zip(alone, runs):
        for key in ("train_loss", "test_loss", "test_accuracy"):
            assert [r[key] for r in a.history] == pytest.approx([r[key] for r in b.history], rel=1e-6)
        assert [e["test_loss"] for e in a.extras["evals"]] == pytest.approx([e["test_loss"] for e in b.extras["evals"]], rel=1e-6)
    for before, after in zip(first, runs[0].model.parameters()):  # later runs trained in the graph's memory, not in ours
        assert torch.equal(before, after.detach())
    assert third.history[-1]["test_accuracy"] > 0.3 and other.train["capture"] == "on"


def test_only_the_latest_captured_steps_are_kept(small, monkeypatch):
    import mnistlab.train.reuse as reuse

    monkeypatch.setattr(reuse, "KEEP", 1)
    common = dict(epochs=1, batch_size=32, lr=3e-3, device="cpu", precision="fp32", capture="on")
    with strict_capture(), reuse_captures() as cache:
        fit("f16", small, seed=0, **common)
        fit("f8", small, seed=0, **common)  # another shape: the first graph is let go
        assert len(cache) == 1 and "Linear(in_features=784, out_features=8" in repr(next(iter(cache)))
