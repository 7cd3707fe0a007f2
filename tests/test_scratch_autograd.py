import numpy as np
import pytest
import torch

from mnistlab.scratch import Tensor, cross_entropy, lecture_example, mse, relative_error, trace

pytestmark = pytest.mark.numeric  # against PyTorch, in float64


def test_l4_worked_example():
    f, x1, x2 = lecture_example()
    assert float(f.data) == pytest.approx(11.652, abs=5e-4)
    assert float(x1.grad) == pytest.approx(5.5)
    assert float(x2.grad) == pytest.approx(1.716, abs=5e-4)
    t1, t2 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True), torch.tensor(5.0, dtype=torch.float64,
                                                                                     requires_grad=True)
    (torch.log(t1) + t1 * t2 - torch.sin(t2)).backward()
    assert float(x1.grad) == pytest.approx(t1.grad.item(), rel=1e-15)
    assert float(x2.grad) == pytest.approx(t2.grad.item(), rel=1e-15)


def test_trace_is_the_lecture_table():
    text = trace(lecture_example()[0])
    for line in ("v-1 = x1", "v0 = x2", "v1 = ln(v-1)          = 0.693", "v2 = v-1 * v0", "v3 = sin(v0)",
                 "v4 = v1 + v2          = 10.693", "v5 = v4 - v3          = 11.652",
                 "dv0 += dv3 * dv3/dv0 = -1 * 0.284", "dv-1 += dv2 * dv2/dv-1 = 1 * 5",
                 "dv5/dx1 = 5.5, dv5/dx2 = 1.716"):
        assert line in text


UNARY = {"log": torch.log, "exp": torch.exp, "sin": torch.sin, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
         "relu": torch.relu, "sum": torch.sum, "mean": torch.mean, "neg": torch.neg,
         "square": lambda t: t ** 2, "log_softmax": lambda t: torch.log_softmax(t, dim=-1)}
OURS = {"neg": lambda t: -t, "square": lambda t: t ** 2}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_match_torch(name):
    x = np.random.default_rng(len(name)).uniform(0.1, 2.0, size=(3, 4)) * np.array([1, -1, 1, 1])  # log gets > 0
    x = np.abs(x) if name == "log" else x
    weights = np.random.default_rng(0).normal(size=(3, 4))  # a random weighting so every output matters
    ours = Tensor(x)
    out = OURS.get(name, lambda t: getattr(t, name)())(ours)
    (out * (weights if out.data.shape else 1.0)).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    t_out = UNARY[name](theirs)
    (t_out * (torch.tensor(weights) if t_out.dim() else 1.0)).sum().backward()
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12)
    assert relative_error(ours.grad, theirs.grad.numpy()) < 1e-12


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "@"])
def test_binary_ops_with_broadcasting_match_torch(op):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 3)), rng.uniform(0.5, 2, size=(3, 5) if op == "@" else (3,))
    apply = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
             "/": lambda x, y: x / y, "@": lambda x, y: x @ y}[op]
    ta, tb = Tensor(a), Tensor(b)
    (apply(ta, tb) ** 2).sum().backward()
    ra, rb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (apply(ra, rb) ** 2).sum().backward()
    assert relative_error(ta.grad, ra.grad.numpy()) < 1e-12
    assert relative_error(tb.grad, rb.grad.numpy()) < 1e-12


def test_constants_on_either_side():
    x = Tensor(3.0)
    y = 2 * x + 1 - (6 / x) + (1 - x)
    y.backward()
    assert float(y.data) == pytest.approx(2 * 3 + 1 - 2 + 1 - 3)
    assert float(x.grad) == pytest.approx(2 + 6 / 9 - 1)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_two_layer_mlp_gradients_match_torch(activation):
    rng = np.random.default_rng(2)
    X, labels, targets = rng.normal(size=(8, 6)), rng.integers(0, 4, 8), rng.normal(size=(8, 4))
    params = {"w1": rng.normal(size=(6, 5)), "b1": rng.normal(size=5), "w2": rng.normal(size=(5, 4)),
              "b2": rng.normal(size=4)}
    ours = {name: Tensor(w) for name, w in params.items()}
    theirs = {name: torch.tensor(w, requires_grad=True) for name, w in params.items()}
    out = getattr(Tensor(X) @ ours["w1"] + ours["b1"], activation)() @ ours["w2"] + ours["b2"]
    loss = cross_entropy(out, labels) + mse(out, targets)
    loss.backward()
    t_out = getattr(torch, activation)(torch.tensor(X) @ theirs["w1"] + theirs["b1"]) @ theirs["w2"] + theirs["b2"]
    t_loss = (torch.nn.functional.cross_entropy(t_out, torch.tensor(labels))
              + torch.nn.functional.mse_loss(t_out, torch.tensor(targets)))
    t_loss.backward()
    assert float(loss.data) == pytest.approx(t_loss.item(), rel=1e-12)
    for name in params:
        assert relative_error(ours[name].grad, theirs[name].grad.numpy()) < 1e-12, name


def test_backward_twice_gives_the_same_gradients():
    x = Tensor(np.array([1.0, 2.0]))
    y = (x * x).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_the_graph_figure_draws_every_node_with_its_value_and_gradient_from_the_trace():
    from mnistlab.scratch import lecture_example, trace_table
    from mnistlab.scratch.figures import graph_figure

    f = lecture_example()[0]
    table = trace_table(f)
    assert [row["v"] for row in table["nodes"]] == ["v-1", "v0", "v1", "v2", "v3", "v4", "v5"]
    assert table["nodes"][3]["formula"] == "v-1 * v0" and table["nodes"][3]["inputs"] == ["v-1", "v0"]
    texts = [t.get_text() for t in graph_figure(f).axes[0].texts]
    boxes = [t for t in texts if "\ngrad " in t]
    assert len(boxes) == 7 and "v-1 = x1\nvalue 2\ngrad 5.5" in boxes and "v0 = x2\nvalue 5\ngrad 1.716" in boxes
    assert "v5 = v4 - v3\nvalue 11.652\ngrad 1" in boxes
    assert sorted(t for t in texts if t.startswith("∂")) == sorted(f"∂ {x}" for x in ("0.5", "5", "2", "0.284", "1", "1", "1", "-1"))
