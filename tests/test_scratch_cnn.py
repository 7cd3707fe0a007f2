import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.data import load_dataset
from mnistlab.errors import UserError
from mnistlab.scratch import CNN, SGD, Adam, fit, relative_error

pytestmark = pytest.mark.numeric  # against PyTorch, in float64

full_mnist = pytest.mark.skipif(not (Path(os.environ.get("MNISTLAB_DATA", "")) / "mnist").is_dir(),
                                reason="full MNIST not in $MNISTLAB_DATA/mnist")


def torch_loss(model: CNN, params: dict[str, torch.Tensor], X: np.ndarray, labels: np.ndarray) -> torch.Tensor:
    """The same network in PyTorch: conv2d for the conv layer, autograd for every gradient."""
    k, n_filters = model.patch_size, model.n_filters
    filters = params["conv_w"].T.reshape(n_filters, 1, k, k)  # column f of conv_w is filter f, row-major
    z = torch.tanh(F.conv2d(torch.tensor(X)[:, None], filters, params["conv_b"], stride=model.stride))
    z = z.permute(0, 2, 3, 1).reshape(len(X), -1)  # our flatten order: position-major, filter-minor
    for name in model.fc_names[:-1]:
        z = torch.tanh(z @ params[f"{name}_w"] + params[f"{name}_b"])
    return F.cross_entropy(z @ params["out_w"] + params["out_b"], torch.tensor(labels))


@pytest.mark.parametrize("patch_size, stride, hiddens", [(5, 2, (10,)), (3, 1, ()), (4, 3, (7, 5)), (7, 7, (6,))])
def test_every_gradient_matches_torch_autograd(patch_size, stride, hiddens):
    rng = np.random.default_rng(patch_size)
    model = CNN(image_size=14, n_filters=4, patch_size=patch_size, stride=stride, hiddens=hiddens, n_classes=10,
                seed=1, dtype=np.float64)
    X, labels = rng.normal(size=(6, 14, 14)), rng.integers(0, 10, 6)
    loss, grads = model.gradients(X, labels)
    params = {name: torch.tensor(w, requires_grad=True) for name, w in model.params.items()}
    reference = torch_loss(model, params, X, labels)
    reference.backward()
    assert loss == pytest.approx(reference.item(), rel=1e-12)
    assert set(grads) == set(params)
    for name, p in params.items():
        assert relative_error(grads[name], p.grad.numpy()) < 1e-6, name


def test_probabilities_sum_to_one_and_classes_are_the_argmax():
    model = CNN(dtype=np.float64)
    classes, probs = model.use(np.random.default_rng(0).normal(size=(5, 28, 28)))
    np.testing.assert_allclose(probs.sum(axis=1), 1)
    np.testing.assert_array_equal(classes, probs.argmax(axis=1))


@pytest.mark.parametrize("ours, theirs", [(SGD, torch.optim.SGD), (Adam, torch.optim.Adam)])
def test_optimizers_match_torch(ours, theirs):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4))
    ours_params, torch_w = {"w": w.copy()}, torch.tensor(w, requires_grad=True)
    optimizer, reference = ours(ours_params, lr=0.01), theirs([torch_w], lr=0.01)
    for _ in range(5):
        g = rng.normal(size=w.shape)
        optimizer.step({"w": g})
        torch_w.grad = torch.tensor(g)
        reference.step()
    np.testing.assert_allclose(ours_params["w"], torch_w.detach().numpy(), rtol=1e-12)


def test_a_layer_that_does_not_fit_names_the_layer():
    with pytest.raises(UserError, match="conv layer.*does not fit"):
        CNN(image_size=28, patch_size=30)


def test_training_learns_on_the_sample():
    result = fit(load_dataset("mnist-sample"), epochs=2)
    assert result["test_accuracy"] > 0.85
    assert [e["epoch"] for e in result["history"]] == [1, 2]
    assert result["history"][1]["loss"] < result["history"][0]["loss"]


@pytest.mark.slow
@full_mnist
def test_two_epochs_on_full_mnist_reach_97_percent():
    result = fit(load_dataset("mnist"), epochs=2)
    assert result["test_accuracy"] >= 0.97
