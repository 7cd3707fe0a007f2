import pytest
import torch

from mnistlab.errors import UserError
from mnistlab.models import build_model, format_spec, parse_spec, summary_text
from mnistlab.models.grammar import BatchNorm, Conv, Dense, Dropout, Output, Pool

SPECS = ["", "f64 f32", "f600 f600", "c10k5s2 c20k7s2 f5", "c10k7", "c10k7 c55k2", "c32k3 bn m2 d0.25 f128 d0.5",
         "c24k5 m2 c32k3 m2 f256", "c16k3p1 a2 c32k3s2p1 m3s2 f10 o10"]


@pytest.mark.parametrize("spec", SPECS)
def test_round_trip(spec):
    layers = parse_spec(spec)
    assert format_spec(layers) == spec
    assert parse_spec(format_spec(layers)) == layers


def test_parse_objects_and_canonical_form():
    assert parse_spec("C10K5S2 m2s2 d.5 BN f7") == [Conv(10, 5, 2), Pool("max", 2), Dropout(0.5), BatchNorm(), Dense(7)]
    assert format_spec(parse_spec("c8k3s1p0 m2s2")) == "c8k3 m2"
    assert parse_spec("a3s1 o10") == [Pool("avg", 3, 1), Output(10)]


def test_lecture_network_flattens_to_180():
    model = build_model("c10k5s2 c20k7s2 f5", activation="tanh")
    rows = {r["name"]: r for r in model.rows}
    assert rows["conv1"]["output_shape"] == [10, 12, 12]
    assert rows["conv2"]["output_shape"] == [20, 3, 3]
    assert rows["flatten"]["output_shape"] == [180]
    assert model.fc1.in_features == 180 and isinstance(model.act1, torch.nn.Tanh)
    assert "180" in summary_text(model)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("spec", SPECS)
def test_summary_matches_the_module(spec):
    model = build_model(spec, head="log_softmax")
    assert sum(r["params"] for r in model.rows) == sum(p.numel() for p in model.parameters())
    x = torch.zeros(3, 1, 28, 28)
    for row, (name, module) in zip(model.rows, model.named_children()):
        assert row["name"] == name
        x = module(x)
        assert list(x.shape[1:]) == row["output_shape"], name


def test_heads_and_activations():
    x = torch.randn(4, 1, 28, 28)
    assert torch.allclose(build_model("f16", head="softmax")(x).sum(1), torch.ones(4))
    assert torch.allclose(build_model("f16", head="log_softmax")(x).exp().sum(1), torch.ones(4))
    assert not any(isinstance(m, torch.nn.ReLU) for m in build_model("f600 f600", activation="linear"))
    assert sum(isinstance(m, torch.nn.ReLU) for m in build_model("f600 f600")) == 2


def test_batch_norm_takes_the_activation_after_it():
    names = [n for n, _ in build_model("c8k3 bn f10 bn").named_children()]
    assert names == ["conv1", "bn1", "act1", "flatten", "fc1", "bn2", "act2", "output"]


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = build_model("c4k3 f8", seed=7), build_model("c4k3 f8", seed=7)
    assert torch.rand(1) == before
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.conv1.weight, build_model("c4k3 f8", seed=8).conv1.weight)


@pytest.mark.parametrize("spec, fragments", [
    ("c10k5s2 c20k7s2 c40k5s2", ["layer 3 'c40k5s2'", "at least 5x5", "gets 3x3", "c20k7s2 3x3"]),
    ("c8k29", ["layer 1 'c8k29'", "28x28"]),
    ("f64 o784", ["layer 2 'o784'", "784 units", "10 classes"]),
    ("f10 c3k3", ["layer 2 'c3k3'", "cannot follow a fully connected layer"]),
    ("f10 q3", ["layer 2 'q3'", "unknown layer token"]),
    ("d1.5", ["dropout probability"]),
    ("o10 f5", ["must be the last token"]),
    ("bn f5", ["batch norm must follow"]),
    ("c0k3", ["at least 1"]),
])
def test_impossible_specs_name_layer_and_shapes(spec, fragments):
    with pytest.raises(UserError) as info:
        build_model(spec)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_unknown_activation_and_head():
    with pytest.raises(UserError, match="unknown activation 'swish'"):
        build_model("f5", activation="swish")
    with pytest.raises(UserError, match="unknown head 'probit'"):
        build_model("f5", head="probit")


def test_dropout_probability_round_trips_exactly():
    assert format_spec(parse_spec("d0.1234567 f5")) == "d0.1234567 f5"


def test_a_spec_parses_and_checks_without_torch():
    # the NumPy engine and the command line's help read specs; only building a torch model needs torch
    import subprocess
    import sys

    code = ("import sys\nfrom mnistlab.models.grammar import format_spec, parse_spec\n"
            "from mnistlab.errors import UserError\n"
            "print(format_spec(parse_spec('crop2 c8k5s2 m2 f32 bn d0.25')))\n"
            "try:\n    parse_spec('c0k5')\nexcept UserError as exc:\n    print('refused', exc)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert out[0] == "crop2 c8k5s2 m2 f32 bn d0.25" and out[1].startswith("refused layer 1 'c0k5'") and out[2] == "False", out
