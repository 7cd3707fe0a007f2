"""The NumPy layers of a model spec (`crop2 c24k5s2 c32k3 m2 f256`): each one's forward and backward side by side.

Images flow as (n, H, W, C), channels last, so a convolution is three moves:

1. im2col: `as_strided` describes every k x k x C window as a view of the input, (n, Ho, Wo, k, k, C), and one
   copy lays the windows out as the rows of a matrix, (n*Ho*Wo, k*k*C);
2. one GEMM with the filters, (k*k*C, F), gives (n*Ho*Wo, F): already the next layer's (n, Ho, Wo, F);
3. backward runs the GEMMs the other way: the filters' gradient is cols.T @ dy, the windows' gradient dy @ W.T,
   and col2im adds each window's share back onto the pixels it came from (a loop over the k*k offsets within a
   window: every image and position at once).

Every array a step writes is allocated the first time a batch size is seen and reused after, so a training step
allocates (almost) nothing. `Clock` adds up where the time goes: im2col, GEMM, pooling and the rest.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np
from numpy.lib.stride_tricks import as_strided


class Clock:
    """Seconds spent per kind of work, added up over a run (a `with clock("gemm"):` block per piece)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.running = True

    @contextmanager
    def __call__(self, kind: str):
        start = time.perf_counter()
        yield
        if self.running:
            self.seconds[kind] += time.perf_counter() - start

    @contextmanager
    def paused(self):
        """Time spent inside is not added up (e.g. testing during a training run)."""
        self.running = False
        try:
            yield
        finally:
            self.running = True


class Layer:
    """A layer: `forward(x)` keeps what `backward(dy)` needs; `backward` fills `grads` and returns dx (None when
    `need_dx` is False: the first layer's input is the image). `params` and `grads` are dicts of arrays that the
    optimizer updates in place."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.clock = Clock()
        self._buffers: dict[tuple, np.ndarray] = {}

    def buffer(self, name: str, shape: tuple, dtype, fill: float | None = None) -> np.ndarray:
        """The array `name` of this shape, allocated on first use (filled with `fill` if given) and reused by
        every later step."""
        key = (name, shape)
        if key not in self._buffers:
            self._buffers[key] = np.empty(shape, dtype=dtype) if fill is None else np.full(shape, fill, dtype=dtype)
        return self._buffers[key]

    def bias_grad(self, dy: np.ndarray) -> None:
        """The bias's gradient, dy summed over its rows, as a matrix-vector product with ones: BLAS sums a
        (25600, 24) matrix's columns ~30x faster than `dy.sum(axis=0)` walks them."""
        np.matmul(self.buffer("ones", (len(dy),), dy.dtype, fill=1), dy, out=self.grads["b"])

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        raise NotImplementedError


def windows(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Every k x k window of (n, H, W, C) as a read-only view (n, Ho, Wo, k, k, C): no copy."""
    n, H, W, C = x.shape
    sn, sh, sw, sc = x.strides
    shape = (n, (H - k) // stride + 1, (W - k) // stride + 1, k, k, C)
    return as_strided(x, shape, (sn, stride * sh, stride * sw, sh, sw, sc), writeable=False)


def col2im(dwin: np.ndarray, dx: np.ndarray, stride: int) -> np.ndarray:
    """The adjoint of `windows`: dx (n, H, W, C) = the sum, over windows, of each window's gradient put back
    where the window sat. `dwin` is (k, k, n, Ho, Wo, C): offset (i, j) of every window is one contiguous slab,
    added onto dx's pixels (i, j), (i, j + stride), ... at once. A loop over the k*k offsets, never over pixels."""
    k, _, _, Ho, Wo, _ = dwin.shape
    dx[...] = 0
    for i in range(k):
        for j in range(k):
            dx[:, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride] += dwin[i, j]
    return dx


def uniform_init(rng: np.random.Generator, fan_in: int, shape: tuple, dtype) -> np.ndarray:
    """PyTorch's default for Linear and Conv2d weights and biases: uniform in +-1/sqrt(fan_in)."""
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


class Crop(Layer):
    """Drop `pixels` rows and columns on every side: a view, nothing copied."""

    def __init__(self, pixels: int):
        super().__init__()
        self.p = pixels

    def forward(self, x):
        self.shape = x.shape
        return x[:, self.p:-self.p, self.p:-self.p]

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        dx = self.buffer("dx", self.shape, dy.dtype, fill=0)  # the border stays 0: it reached no output
        dx[:, self.p:-self.p, self.p:-self.p] = dy
        return dx


class Conv(Layer):
    """`c<F>k<k>s<stride>p<pad>`: F filters of k x k x C, as the columns of W (k*k*C, F), rows ordered (i, j, c)."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, pad: int, rng: np.random.Generator, dtype):
        super().__init__()
        self.k, self.stride, self.pad = k, stride, pad
        fan_in = k * k * c_in
        self.params = {"w": uniform_init(rng, fan_in, (fan_in, c_out), dtype), "b": uniform_init(rng, fan_in, (c_out,), dtype)}
        self.grads = {name: np.empty_like(p) for name, p in self.params.items()}

    def padded(self, x: np.ndarray) -> np.ndarray:
        if not self.pad:
            return x
        n, H, W, C = x.shape
        p = self.pad
        xp = self.buffer("padded", (n, H + 2 * p, W + 2 * p, C), x.dtype, fill=0)  # the border is written once
        xp[:, p:-p, p:-p] = x
        return xp

    def forward(self, x):
        w, b = self.params["w"], self.params["b"]
        with self.clock("im2col"):
            self.in_shape = x.shape
            view = windows(self.padded(x), self.k, self.stride)             # (n, Ho, Wo, k, k, C): a view
            self.cols = self.buffer("cols", view.shape, x.dtype)
            np.copyto(self.cols, view)                                      # the one copy: a row per window
        n, Ho, Wo = view.shape[:3]
        with self.clock("gemm"):
            y = self.buffer("y", (n * Ho * Wo, w.shape[1]), x.dtype)
            np.matmul(self.cols.reshape(len(y), -1), w, out=y)             # every filter on every window
            y += b
        return y.reshape(n, Ho, Wo, -1)

    def backward(self, dy, need_dx=True):
        w, cols = self.params["w"], self.cols.reshape(-1, self.params["w"].shape[0])
        dy = dy.reshape(len(cols), -1)
        with self.clock("gemm"):
            np.matmul(cols.T, dy, out=self.grads["w"])                     # each window's share, summed
            self.bias_grad(dy)
            if not need_dx:
                return None
            k, (n, H, W, C), p = self.k, self.in_shape, self.pad
            n, Ho, Wo = self.cols.shape[:3]
            # each window's gradient dy @ W.T, computed offset by offset (a batch of k*k products in one call) so
            # that offset (i, j) of every window lands in one contiguous slab for col2im
            dwin = self.buffer("dwin", (k * k, len(dy), C), dy.dtype)
            np.matmul(dy, w.reshape(k * k, C, -1).transpose(0, 2, 1), out=dwin)
        with self.clock("im2col"):
            dx = self.buffer("dx", (n, H + 2 * p, W + 2 * p, C), dy.dtype)
            col2im(dwin.reshape(k, k, n, Ho, Wo, C), dx, self.stride)
        return dx[:, p:p + H, p:p + W] if p else dx


class Pool(Layer):
    """`m<k>s<stride>` / `a<k>s<stride>`: the max or the mean of each window, one window offset at a time over
    every window at once; backward hands each window's gradient to its winner (the first maximum, as PyTorch
    picks it), or evenly to all k*k pixels."""

    def __init__(self, kind: str, k: int, stride: int):
        super().__init__()
        self.kind, self.k, self.stride = kind, k, stride

    def forward(self, x):
        with self.clock("pool"):
            self.x, view = x, windows(x, self.k, self.stride)                # (n, Ho, Wo, k, k, C): a view
            y = self.buffer("y", view.shape[:3] + view.shape[5:], x.dtype)
            np.copyto(y, view[:, :, :, 0, 0])
            for i in range(self.k):
                for j in range(self.k):
                    if i or j:
                        (np.maximum if self.kind == "max" else np.add)(y, view[:, :, :, i, j], out=y)
            if self.kind == "avg":
                y /= self.k * self.k
            return y

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        with self.clock("pool"):
            k = self.k
            if self.kind == "avg":
                dwin = np.broadcast_to(dy / (k * k), (k, k, *dy.shape))
            else:
                view, y = windows(self.x, k, self.stride), self.buffer("y", dy.shape, dy.dtype)
                dwin = self.buffer("dwin", (k, k, *dy.shape), dy.dtype)
                taken = self.buffer("taken", dy.shape, bool)
                taken[...] = False
                for i in range(k):
                    for j in range(k):                                      # the first offset that holds the max wins
                        hit = np.equal(view[:, :, :, i, j], y, out=self.buffer("hit", dy.shape, bool))
                        hit &= ~taken
                        taken |= hit
                        np.multiply(hit, dy, out=dwin[i, j])
            return col2im(dwin, self.buffer("dx", self.x.shape, dy.dtype), self.stride)


class Dense(Layer):
    """`f<units>` and the output layer: x (n, D) @ W (D, U) + b. An (n, H, W, C) input is flattened first, in
    (h, w, c) order (`input_shape` keeps (H, W, C) for whoever maps the weights to PyTorch's (c, h, w) order)."""

    def __init__(self, input_shape: tuple[int, ...], n_out: int, rng: np.random.Generator, dtype):
        super().__init__()
        self.input_shape, n_in = input_shape, int(np.prod(input_shape))
        self.params = {"w": uniform_init(rng, n_in, (n_in, n_out), dtype), "b": uniform_init(rng, n_in, (n_out,), dtype)}
        self.grads = {name: np.empty_like(p) for name, p in self.params.items()}

    def forward(self, x):
        self.in_shape = x.shape
        self.x = x.reshape(len(x), -1)                                       # flatten (h, w, c): a view
        with self.clock("gemm"):
            y = self.buffer("y", (len(x), self.params["w"].shape[1]), x.dtype)
            np.matmul(self.x, self.params["w"], out=y)
            y += self.params["b"]
        return y

    def backward(self, dy, need_dx=True):
        with self.clock("gemm"):
            np.matmul(self.x.T, dy, out=self.grads["w"])
            self.bias_grad(dy)
            if not need_dx:
                return None
            dx = self.buffer("dx", self.x.shape, dy.dtype)
            np.matmul(dy, self.params["w"].T, out=dx)
        return dx.reshape(self.in_shape)


class Activation(Layer):
    """relu, tanh, sigmoid or linear, in place on the layer before's output; backward from the output alone."""

    FORWARD = {"relu": lambda x: np.maximum(x, 0, out=x), "tanh": lambda x: np.tanh(x, out=x),
               "sigmoid": lambda x: np.divide(1, 1 + np.exp(-x), out=x), "linear": lambda x: x}
    SLOPE = {"relu": lambda y: y > 0, "tanh": lambda y: 1 - y * y, "sigmoid": lambda y: y * (1 - y),
             "linear": lambda y: 1}

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def forward(self, x):
        with self.clock("activation"):
            self.y = self.FORWARD[self.name](x)
        return self.y

    def backward(self, dy, need_dx=True):
        with self.clock("activation"):
            dy *= self.SLOPE[self.name](self.y)                              # the next layer's dx: ours to reuse
        return dy
