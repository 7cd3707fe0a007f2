"""A small reverse-mode autograd engine on NumPy arrays, after micrograd: what `loss.backward()` does.

Every operation builds a node that remembers its inputs and, for each input, how the
output's gradient flows back to it (a vector-Jacobian product, written right next to the
forward formula). `backward()` walks the graph from the output back to the inputs, each
node after every node that uses it, adding each input's share. Nodes are numbered in
the order they were created, which is always an order in which inputs come first.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

_created = itertools.count()


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient over the axes that broadcasting stretched, back to the input's shape."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class Tensor:
    """A value in the graph: `data`, and after `backward()` the gradient of the output in `grad`.

    `op` is a format string over the inputs' names ("ln({0})", "{0} * {1}"); `parents` pairs
    each input with the function that maps this node's gradient to that input's share.
    """

    def __init__(self, data, op: str = "", parents: tuple = (), name: str = ""):
        self.data = np.asarray(data, dtype=float)
        self.grad = np.zeros_like(self.data)
        self.op, self.parents, self.name = op, parents, name
        self.id = next(_created)

    def __repr__(self) -> str:
        return f"Tensor({self.data}, grad={self.grad})"

    # ---- binary operations (NumPy broadcasting; gradients summed back to each input's shape)
    def __add__(self, other) -> Tensor:
        other = as_tensor(other)
        return Tensor(self.data + other.data, "{0} + {1}", ((self, lambda g: g), (other, lambda g: g)))

    def __sub__(self, other) -> Tensor:
        other = as_tensor(other)
        return Tensor(self.data - other.data, "{0} - {1}", ((self, lambda g: g), (other, lambda g: -g)))

    def __mul__(self, other) -> Tensor:
        other = as_tensor(other)
        return Tensor(self.data * other.data, "{0} * {1}",
                      ((self, lambda g: g * other.data), (other, lambda g: g * self.data)))

    def __truediv__(self, other) -> Tensor:
        other = as_tensor(other)
        return Tensor(self.data / other.data, "{0} / {1}",
                      ((self, lambda g: g / other.data), (other, lambda g: -g * self.data / other.data ** 2)))

    def __matmul__(self, other) -> Tensor:  # 2-D matrices
        other = as_tensor(other)
        return Tensor(self.data @ other.data, "{0} @ {1}",
                      ((self, lambda g: g @ other.data.T), (other, lambda g: self.data.T @ g)))

    def __pow__(self, k: float) -> Tensor:  # a constant exponent
        return Tensor(self.data ** k, f"{{0}} ** {k}", ((self, lambda g: g * k * self.data ** (k - 1)),))

    def __neg__(self) -> Tensor:
        return Tensor(-self.data, "-{0}", ((self, lambda g: -g),))

    __radd__, __rmul__ = __add__, __mul__

    def __rsub__(self, other) -> Tensor:
        return as_tensor(other) - self

    def __rtruediv__(self, other) -> Tensor:
        return as_tensor(other) / self

    # ---- elementwise functions
    def log(self) -> Tensor:
        return Tensor(np.log(self.data), "ln({0})", ((self, lambda g: g / self.data),))

    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor(out, "exp({0})", ((self, lambda g: g * out),))

    def sin(self) -> Tensor:
        return Tensor(np.sin(self.data), "sin({0})", ((self, lambda g: g * np.cos(self.data)),))

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor(out, "tanh({0})", ((self, lambda g: g * (1 - out ** 2)),))

    def sigmoid(self) -> Tensor:
        out = 1 / (1 + np.exp(-self.data))
        return Tensor(out, "sigmoid({0})", ((self, lambda g: g * out * (1 - out)),))

    def relu(self) -> Tensor:
        return Tensor(np.maximum(self.data, 0), "relu({0})", ((self, lambda g: g * (self.data > 0)),))

    # ---- reductions
    def sum(self, axis: int | None = None) -> Tensor:
        def back(g):  # every summed entry gets the sum's gradient
            return np.broadcast_to(g if axis is None else np.expand_dims(g, axis), self.data.shape)
        return Tensor(self.data.sum(axis=axis), "sum({0})", ((self, back),))

    def mean(self, axis: int | None = None) -> Tensor:
        return self.sum(axis) / (self.data.size if axis is None else self.data.shape[axis])

    def log_softmax(self, axis: int = -1) -> Tensor:
        shifted = self.data - self.data.max(axis=axis, keepdims=True)  # no overflow in exp
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return Tensor(out, "log_softmax({0})",
                      ((self, lambda g: g - np.exp(out) * g.sum(axis=axis, keepdims=True)),))

    # ---- the backward pass
    def graph(self) -> list[Tensor]:
        """Every node this one depends on, itself included, in creation order (inputs before their uses)."""
        seen, stack = {}, [self]
        while stack:
            node = stack.pop()
            if node.id not in seen:
                seen[node.id] = node
                stack.extend(parent for parent, _ in node.parents)
        return [seen[i] for i in sorted(seen)]

    def backward(self) -> list[tuple[Tensor, Tensor, Callable, np.ndarray]]:
        """Set `grad` of every node in the graph to d self / d node (from scratch, no accumulation across calls).

        Returns the steps taken, the adjoint trace: (node, input, share_of, the share added to the input's grad).
        """
        nodes = self.graph()
        for node in nodes:
            node.grad = np.zeros_like(node.data)
        self.grad = np.ones_like(self.data)
        steps = []
        for node in reversed(nodes):  # each node's grad is complete before it is passed on
            for parent, share_of in node.parents:
                share = _unbroadcast(share_of(node.grad), parent.data.shape)
                parent.grad = parent.grad + share
                steps.append((node, parent, share_of, share))
        return steps


def cross_entropy(logits: Tensor, labels: np.ndarray) -> Tensor:
    """Mean negative log probability of the true classes."""
    one_hot = np.eye(logits.data.shape[1])[labels]
    return -(logits.log_softmax() * one_hot).sum() / len(labels)


def mse(prediction: Tensor, target) -> Tensor:
    return ((prediction - target) ** 2).mean()


def lecture_example(x1: float = 2.0, x2: float = 5.0) -> tuple[Tensor, Tensor, Tensor]:
    """L4's worked example f = ln(x1) + x1*x2 - sin(x2), after backward(): (f, x1, x2).

    At (2, 5): f = 11.652, df/dx1 = 5.5, df/dx2 = 1.716.
    """
    x1, x2 = Tensor(x1, name="x1"), Tensor(x2, name="x2")
    v1, v2, v3 = x1.log(), x1 * x2, x2.sin()  # in the lecture's order, so the trace numbers match its table
    f = v1 + v2 - v3
    f.backward()
    return f, x1, x2


def _fmt(x: np.ndarray) -> str:
    return f"{float(x):.3f}".rstrip("0").rstrip(".") if x.size == 1 else f"<array {x.shape}>"


def trace_table(output: Tensor) -> dict:
    """Run backward() and number the graph as L4's table does: inputs up to v0 (v-1, v0 for two), computed nodes
    from v1; dv is the gradient of the output with respect to v.

    Returns {"output": its v, "nodes": [{"v", "formula", "name", "inputs", "value", "grad"}] in creation order,
    "steps": [{"node", "input", "local", "share"}] in the order backward() took them}; `local` is dnode/dinput
    where both are scalars, else None. `trace` prints it; `figures.graph_figure` draws it.
    """
    steps = output.backward()
    nodes = output.graph()
    inputs = [node for node in nodes if not node.parents]
    computed = [node for node in nodes if node.parents]
    v = {node.id: f"v{i + 1 - len(inputs)}" for i, node in enumerate(inputs)}
    v.update({node.id: f"v{i + 1}" for i, node in enumerate(computed)})
    rows = [{"v": v[node.id], "name": node.name, "inputs": [v[p.id] for p, _ in node.parents],
             "formula": node.op.format(*(v[p.id] for p, _ in node.parents)) if node.parents else node.name or "constant",
             "value": node.data, "grad": node.grad} for node in inputs + computed]
    return {"output": v[output.id], "nodes": rows,
            "steps": [{"node": v[node.id], "input": v[parent.id], "share": share, "grad": node.grad,
                       "local": share_of(np.ones(())) if node.data.size == 1 == parent.data.size else None}
                      for node, parent, share_of, share in steps]}


def trace(output: Tensor) -> str:
    """Run backward() and return the forward (primal) and backward (adjoint) trace as L4's table (`trace_table`)."""
    table = trace_table(output)
    out = table["output"]
    lines = ["Forward (primal) trace"]
    lines += [f"  {row['v']:>4} = {row['formula']:<16} = {_fmt(row['value'])}" for row in table["nodes"]]
    lines += ["Backward (adjoint) trace", f"  {'d' + out:>5} = 1"]
    for step in table["steps"]:
        text = f"{'d' + step['input']:>5} += d{step['node']} * d{step['node']}/d{step['input']}"
        if step["local"] is not None:  # scalars: show the local derivative too
            text += f" = {_fmt(step['grad'])} * {_fmt(step['local'])}"
        lines.append(f"  {text:<40} = {_fmt(step['share'])}")
    lines.append("Gradients: " + ", ".join(f"d{out}/d{row['name'] or row['v']} = {_fmt(row['grad'])}"
                                           for row in table["nodes"] if not row["inputs"]))
    return "\n".join(lines)
