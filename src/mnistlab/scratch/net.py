"""A model spec of the shared grammar (`mnistlab train --model`) as a stack of NumPy layers, and its loss.

`Net("crop2 c24k5s2 c32k3 m2 f256")` builds what `models.build_model` builds in PyTorch: each conv and fully
connected layer followed by the activation, then the output layer. The engine implements crop, conv (stride,
padding), max and average pooling, fully connected and output layers; any other token is refused in one line.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..models.grammar import format_spec, parse_spec
from .layers import Activation, Clock, Conv, Crop, Dense, Layer, Pool

ACTIVATIONS = tuple(Activation.FORWARD)
IMPLEMENTED = "crop<n>, c<out>k<kernel>[s<stride>][p<pad>], m<k>[s<stride>], a<k>[s<stride>], f<units>, o<classes>"


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log of the softmax; subtracting each row's max first keeps exp from overflowing."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def smoothed_cross_entropy(logits: np.ndarray, labels: np.ndarray, smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """Mean cross-entropy against targets (1 - s) * one-hot + s / classes, and its gradient wrt the logits:
    (softmax - target) / n, the one line of backprop every classifier starts from."""
    n, classes = logits.shape
    log_probs = log_softmax(logits)
    target = np.full_like(log_probs, smoothing / classes)
    target[np.arange(n), labels] += 1 - smoothing
    loss = -float((target * log_probs).sum()) / n
    return loss, (np.exp(log_probs) - target) / n


class Net:
    """The layers of `spec` for (H, W, C) images with `n_classes` outputs; `params`/`grads` name every array
    `<layer>.<w|b>` (conv1.w, ..., output.b) for the optimizer."""

    def __init__(self, spec: str, activation: str = "relu", input_shape: tuple[int, int, int] = (28, 28, 1),
                 n_classes: int = 10, seed: int = 0, dtype=np.float32):
        if activation not in ACTIVATIONS:
            raise UserError(f"activation {activation!r}: the NumPy engine implements {', '.join(ACTIVATIONS)}")

        tokens = parse_spec(spec)
        self.spec, self.activation, self.dtype = format_spec(tokens), activation, dtype
        self.layers: list[Layer] = []
        self.input_shape = self.shape = tuple(input_shape)
        rng = np.random.default_rng(seed)
        for position, token in enumerate(tokens, start=1):
            self._add(token, position, rng)
        self.layers.append(Dense(self.shape, n_classes, rng, dtype))
        self.clock = Clock()
        for layer in self.layers:
            layer.clock = self.clock
        names = self.layer_names()
        self.params = {f"{names[i]}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}
        self.grads = {f"{names[i]}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def layer_names(self) -> list[str]:
        """conv1, act1, pool1, fc1, ..., output: as `models.build_model` names the modules."""
        kinds = {Crop: "crop", Conv: "conv", Activation: "act", Pool: "pool", Dense: "fc"}
        counts: dict[str, int] = {}
        names = []
        for layer in self.layers[:-1]:
            kind = kinds[type(layer)]
            counts[kind] = counts.get(kind, 0) + 1
            names.append(kind if kind == "crop" else f"{kind}{counts[kind]}")
        return [*names, "output"]

    def _add(self, token, position: int, rng: np.random.Generator) -> None:
        H, W, C = self.shape if len(self.shape) == 3 else (0, 0, 0)
        where, kind = f"layer {position} {str(token)!r}", type(token).__name__  # the grammar's token classes
        if kind == "Crop" and not self.layers and min(H, W) > 2 * token.pixels:
            self.layers.append(Crop(token.pixels))
            self.shape = (H - 2 * token.pixels, W - 2 * token.pixels, C)
        elif kind in ("Conv", "Pool") and len(self.shape) == 3:
            k, s, pad = token.kernel, token.stride or token.kernel, getattr(token, "pad", 0)
            if min(H, W) + 2 * pad < k:
                raise UserError(f"{where}: needs at least {k}x{k} pixels but gets {H}x{W}; use a smaller kernel")
            out = ((H + 2 * pad - k) // s + 1, (W + 2 * pad - k) // s + 1)
            if kind == "Conv":
                self.layers += [Conv(C, token.out, k, s, pad, rng, self.dtype), Activation(self.activation)]
                self.shape = (*out, token.out)
            else:
                self.layers.append(Pool(token.kind, k, s))
                self.shape = (*out, C)
        elif kind == "Dense":
            self.layers += [Dense(self.shape, token.units, rng, self.dtype), Activation(self.activation)]
            self.shape = (token.units,)
        elif kind != "Output":
            what = "cannot go here" if kind in ("Crop", "Conv", "Pool") else "is not implemented"
            raise UserError(f"{where} {what} in the NumPy engine (it runs {IMPLEMENTED}); "
                            f"train this spec with `mnistlab train`")

    def forward(self, images: np.ndarray) -> np.ndarray:
        """Logits of a batch of (n, H, W) or (n, H, W, C) images."""
        x = images[..., None] if images.ndim == 3 else images
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill `grads` from the loss's gradient wrt the logits; the images' own gradient is never needed."""
        d = dlogits
        for i in range(len(self.layers) - 1, -1, -1):
            d = self.layers[i].backward(d, need_dx=i > 0)

    def step_loss(self, images: np.ndarray, labels: np.ndarray, smoothing: float = 0.0) -> float:
        """One forward and backward pass: the batch's loss, with every gradient in `grads`."""
        logits = self.forward(images)
        with self.clock("loss"):
            loss, dlogits = smoothed_cross_entropy(logits, labels, smoothing)
        self.backward(dlogits.astype(self.dtype, copy=False))
        return loss

    def predict(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Predicted classes, in batches that reuse the same buffers."""
        return np.concatenate([self.forward(images[i:i + batch_size]).argmax(axis=1)
                               for i in range(0, len(images), batch_size)])
