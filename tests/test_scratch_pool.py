import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.scratch import avg_pool, avg_pool_backward, max_pool, max_pool_backward

pytestmark = pytest.mark.numeric  # against PyTorch, in float64


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_pooling_forward_and_backward_match_torch(size, stride):
    rng = np.random.default_rng(size * 10 + stride)
    x = rng.normal(size=(2, 3, 11, 11))
    for ours, backward, theirs in ((avg_pool, lambda dy: avg_pool_backward(dy, x.shape, size, stride), F.avg_pool2d),
                                   (max_pool, lambda dy: max_pool_backward(dy, x, size, stride), F.max_pool2d)):
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt, size, stride)
        dy = rng.normal(size=yt.shape)
        (yt * torch.tensor(dy)).sum().backward()
        np.testing.assert_allclose(ours(x, size, stride), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_sends_the_gradient_to_the_winner_only():
    x = np.array([[[[1.0, 5.0], [2.0, 3.0]]]])
    assert max_pool(x)[0, 0, 0, 0] == 5
    np.testing.assert_array_equal(max_pool_backward(np.ones((1, 1, 1, 1)), x), [[[[0, 1], [0, 0]]]])
    np.testing.assert_array_equal(avg_pool_backward(np.ones((1, 1, 1, 1)), x.shape), np.full_like(x, 0.25))
