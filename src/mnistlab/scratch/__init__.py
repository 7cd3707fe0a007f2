"""The from-scratch engine: what `nn.Conv2d` and `loss.backward()` do, in NumPy only.

Read it in this order; each step is one small module:

>>> import numpy as np
>>> from mnistlab import scratch
>>> images = np.random.default_rng(0).random((2, 28, 28))
>>> scratch.make_patches(images, 7, stride=7).shape                # 1. patches: 4 x 4 = 16 per image
(2, 4, 4, 7, 7)
>>> scratch.make_patches(images, 7, stride=2).shape[1:3], scratch.make_patches(images, 7, 2, "pad").shape[1:3]
((11, 11), (14, 14))
>>> filters = np.stack(list(scratch.edge_filters(7).values()))    # 2. filters -> feature maps
>>> maps = scratch.feature_maps(images, filters, stride=2)
>>> maps.shape, np.allclose(maps, scratch.feature_maps_loops(images, filters, stride=2))
((2, 4, 11, 11), True)
>>> scratch.max_pool(maps, 2, 2).shape                             # 3. pooling
(2, 4, 5, 5)
>>> model = scratch.CNN(n_filters=8, patch_size=5, stride=2, hiddens=(20,))  # 4. a CNN with hand-written backprop
>>> loss, grads = model.gradients(images.astype(np.float32), np.array([3, 7]))
>>> grads["conv_w"].shape                                          # one column per filter
(25, 8)
>>> f, x1, x2 = scratch.lecture_example()                          # 5. reverse-mode autograd (L4)
>>> round(float(f.data), 3), float(x1.grad), round(float(x2.grad), 3)
(11.652, 5.5, 1.716)
>>> net = scratch.Net("crop2 c24k5s2 c32k3 m2 f256")                # 6. a model spec in NumPy: im2col + GEMM
>>> net.forward(images.astype(np.float32)).shape
(2, 10)

`scratch.fit(load_dataset("mnist"))` trains L1's CNN, `scratch.fit_plan(data, scratch_plan("default", n))`
the default recipe's network (scratch.recipes); `scratch.gradcheck()` checks every hand-written gradient;
`mnistlab scratch demo|train|compare|gradcheck` are the same from the shell.
"""
from .autograd import Tensor, cross_entropy, lecture_example, mse, trace, trace_table
from .cnn import CNN, fit, standardize
from .filters import edge_filters, feature_maps, feature_maps_loops, probe_patches, response, response_table
from .gradcheck import gradcheck, numerical_gradient, relative_error
from .net import Net
from .optim import SGD, Adam, one_cycle_lr
from .patches import make_patches, make_patches_loops, n_positions, pad_images
from .pool import avg_pool, avg_pool_backward, max_pool, max_pool_backward
from .trainer import Plan, fit_plan

__all__ = [
    "Tensor", "cross_entropy", "lecture_example", "mse", "trace", "trace_table",
    "CNN", "fit", "standardize", "Net", "SGD", "Adam", "one_cycle_lr", "Plan", "fit_plan",
    "edge_filters", "feature_maps", "feature_maps_loops", "probe_patches", "response", "response_table",
    "gradcheck", "numerical_gradient", "relative_error",
    "make_patches", "make_patches_loops", "n_positions", "pad_images",
    "avg_pool", "avg_pool_backward", "max_pool", "max_pool_backward",
]
