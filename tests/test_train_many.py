"""Batched training of K FFNs follows the same trajectory as K separate `fit` runs."""
import pytest
import torch

from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.errors import UserError
from mnistlab.train.many import fit_many


@pytest.fixture(scope="module")
def tiny():
    return make_splits(load_dataset("mnist-sample"), "unit", train_size=200)


def test_batched_equals_separate_training_step_for_step(tiny):
    # different widths (padded and masked), optimizers and learning rates in one program
    plans = [("f16 f8", "sgd", 0.05), ("f12 f8", "adam", 0.01), ("f16 f4", "rmsprop", 0.001)]
    options = dict(epochs=2, batch_size=16, drop_last=True, seed=3)
    separate = [fit(build_model(s, head="log_softmax", seed=3), tiny, optimizer=o, lr=lr, device="cpu", schedule="none",
                    optimizer_options={}, **options)
                for s, o, lr in plans]
    together = fit_many([build_model(s, head="log_softmax", seed=3) for s, _, _ in plans], tiny,
                        [(o, lr) for _, o, lr in plans], device="cpu", **options)
    for a, b in zip(separate, together):
        for ra, rb in zip(a.history, b.history):
            for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
                assert ra[key] == pytest.approx(rb[key], rel=1e-5, abs=1e-6)
        for pa, pb in zip(a.model.parameters(), b.model.parameters()):
            torch.testing.assert_close(pa.detach(), pb.detach(), rtol=1e-5, atol=1e-6)
        assert b.train["batched"] == 3


def test_batched_refuses_cnns_and_mixed_depths(tiny):
    with pytest.raises(UserError, match="fully connected"):
        fit_many([build_model("c4k3")], tiny, [("sgd", 0.1)], epochs=1, batch_size=32)
    with pytest.raises(UserError, match="one depth"):
        fit_many([build_model("f8"), build_model("f8 f8")], tiny, [("sgd", 0.1)] * 2, epochs=1, batch_size=32)
