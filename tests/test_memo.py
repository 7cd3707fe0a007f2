"""Identical trainings are trained once: a later one gets the first one's runs, equal to training it again."""
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import torch

from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.experiments.context import Context
from mnistlab.train import memo
from mnistlab.train.many import fit_many

OPTIONS = dict(epochs=1, batch_size=32, optimizer="sgd", lr=0.05, seed=0, device="cpu", schedule="none",
               optimizer_options={}, schedule_options={}, label_smoothing=0.0,
               threads=1)  # trainings compared to the bit sum in one order: `auto` may pick 1 or 2 threads by load
TIMES = ("seconds", "eval_seconds")


@pytest.fixture(scope="module")
def tiny():
    return make_splits(load_dataset("mnist-sample"), "unit", train_size=300)


def net():
    return build_model("f16", head="log_softmax", seed=0)


def trained_once(splits, folder, **changes):
    options = {**OPTIONS, **changes}
    model = net()
    with memo.shared(folder):
        (run,), reused = memo.remembered("fit", [model], splits, options, lambda: [fit(model, splits, **options)])
    return run, reused


def same(a, b):
    assert [{k: v for k, v in r.items() if k not in TIMES} for r in a.history] == \
           [{k: v for k, v in r.items() if k not in TIMES} for r in b.history]
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name


def test_an_identical_training_reuses_the_first_and_equals_training_it_again(tiny, tmp_path):
    first, reused_first = trained_once(tiny, tmp_path)
    second, reused_second = trained_once(tiny, tmp_path)
    assert (reused_first, reused_second) == (False, True)
    assert second.model is not first.model  # the caller's own model, holding the trained weights
    same(second, first)
    same(second, fit(net(), tiny, **OPTIONS))  # what training it separately gives
    # the data's record is not training input: the same tensors described otherwise reuse it, with their own record
    described = replace(tiny, info={**tiny.info, "normalize_test": "unit"})
    third, reused_third = trained_once(described, tmp_path)
    assert reused_third and third.data == {**first.data, "normalize_test": "unit"}


def test_any_difference_trains_again(tiny, tmp_path):
    trained_once(tiny, tmp_path)
    assert not trained_once(tiny, tmp_path, lr=0.06)[1]
    assert not trained_once(tiny, tmp_path, seed=1)[1]
    other = make_splits(load_dataset("mnist-sample"), "unit", train_size=299)
    assert not trained_once(other, tmp_path)[1]
    model, options = net(), dict(OPTIONS)
    with torch.no_grad():
        model[-2].bias.add_(1e-6)  # other initial weights
    with memo.shared(tmp_path):
        assert not memo.remembered("fit", [model], tiny, options, lambda: [fit(model, tiny, **options)])[1]


def test_fit_many_calls_are_remembered_as_a_whole(tiny, tmp_path):
    def together():
        models = [build_model(s, head="log_softmax", seed=0) for s in ("f16", "f8")]
        options = {**{k: OPTIONS[k] for k in ("epochs", "batch_size", "seed", "device")}, "optimizers": [("sgd", 0.05)] * 2}
        with memo.shared(tmp_path):
            return memo.remembered("fit_many", models, tiny, options,
                                   lambda: fit_many(models, tiny, [("sgd", 0.05)] * 2, epochs=1, batch_size=32, device="cpu"))
    (a, b), first = together()
    (c, d), second = together()
    assert (first, second) == (False, True)
    same(a, c), same(b, d)


def test_an_experiments_identical_fits_train_once(tiny, tmp_path):
    ctx = Context("probe", quick=True, out=tmp_path, device=torch.device("cpu"))
    model = dict(spec="f16", activation="relu", head="log_softmax")
    train = dict(epochs=1, batch_size=32, optimizer="sgd", lr=0.05)
    with memo.shared(tmp_path / "kept"):
        a = ctx.fit("a", model, tiny, **train)
        b = ctx.fit("b", model, tiny, **train)
        seen = []
        ctx.fit("c", model, tiny, on_epoch=lambda row, net: seen.append(row["epoch"]), **train)  # a callback: trains
    assert [c.get("reused", False) for c in ctx.configurations] == [False, True, False] and seen == [1]
    same(a, b)


def test_another_process_reuses_a_training_through_the_shared_folder(tiny, tmp_path):
    script = textwrap.dedent(f"""
        import torch
        torch.set_num_threads({torch.get_num_threads()})
        from mnistlab import build_model, fit, load_dataset, make_splits
        from mnistlab.train import memo
        splits = make_splits(load_dataset("mnist-sample"), "unit", train_size=300)
        model, options = build_model("f16", head="log_softmax", seed=0), {OPTIONS!r}
        with memo.shared({str(tmp_path)!r}):
            print(memo.remembered("fit", [model], splits, options, lambda: [fit(model, splits, **options)])[1])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    run, reused = trained_once(tiny, tmp_path)
    assert reused
    same(run, fit(net(), tiny, **OPTIONS))
