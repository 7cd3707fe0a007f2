"""Turn a parsed spec into an `nn.Sequential`, checking every shape on the way (each token builds itself: `layers`)."""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..display import heading, table
from ..errors import UserError
from ..memory import machine_memory
from .assembly import ACTIVATIONS, Assembly
from .grammar import format_spec, parse_spec
from .layers import HEADS, Token


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model; stored in run.json."""

    spec: str
    activation: str = "relu"
    head: str = "logits"
    input_shape: tuple[int, int, int] = (1, 28, 28)
    n_classes: int = 10

    def to_dict(self) -> dict:
        return {**asdict(self), "input_shape": list(self.input_shape)}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(d["spec"], d["activation"], d["head"], tuple(d["input_shape"]), int(d["n_classes"]))


class Net(nn.Sequential):
    """An `nn.Sequential` that remembers the config it was built from."""

    def __init__(self, layers: OrderedDict[str, nn.Module], config: ModelConfig, rows: list[dict]):
        super().__init__(layers)
        self.config = config
        self.rows = rows  # one summary row per module: name, token, output shape, parameter count

    @property
    def is_cnn(self) -> bool:
        return any(isinstance(m, nn.Conv2d) for m in self)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the image the first weight layer sees: the input, less any crop."""
        first = self.rows[0] if self.rows else None
        return tuple(first["output_shape"]) if first and first["name"] == "crop" else self.config.input_shape

    def _repr_html_(self) -> str:
        """Jupyter: the layer table `summary_text` prints (print(model) still shows the torch modules)."""
        cfg = self.config
        rows = [{"layer": r["name"], "token": r["token"], "output shape": "x".join(map(str, r["output_shape"])),
                 "params": f"{r['params']:,}"} for r in self.rows]
        rows.append({"layer": "total", "params": f"{sum(r['params'] for r in self.rows):,}"})
        title = f"model '{cfg.spec}'  activation {cfg.activation}  head {cfg.head}  input {'x'.join(map(str, cfg.input_shape))}"
        return heading(title) + table(rows)


def build_model(spec: str = "", activation: str = "relu", head: str = "logits",
                input_shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10, seed: int | None = 0) -> Net:
    """Build the network for `spec`; refuse shapes that cannot work, naming the layer and the shapes.

    With `seed`, weights are initialised from that seed without touching the global RNG.
    """
    if activation not in ACTIVATIONS:
        raise UserError(f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
    if head not in HEADS:
        raise UserError(f"unknown head {head!r}; choose one of: {', '.join(HEADS)}")
    layers = parse_spec(spec)
    config = ModelConfig(format_spec(layers), activation, head, tuple(input_shape), n_classes)
    with torch.device("meta"):  # shapes and sizes first, without allocating anything
        check_memory(*_assemble(layers, config), config.spec)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        modules, rows = _assemble(layers, config)
    return Net(modules, config, rows)


BYTES_PER_PARAM = 16  # float32 weights, gradients and two optimizer moments (Adam)


def check_memory(modules: OrderedDict[str, nn.Module], rows: list[dict], spec: str) -> None:
    """Refuse a model whose training state for one image could not fit this machine's memory, with the estimate."""
    params = sum(p.numel() for m in modules.values() for p in m.parameters())
    activations = sum(math.prod(row["output_shape"]) for row in rows)
    need = BYTES_PER_PARAM * params + 8 * activations  # outputs and their gradients, one image
    have = machine_memory()
    if have and need > have:
        raise UserError(f"model {spec[:60]!r}: {params:,} parameters need about {need / 2**30:,.1f} GiB to train "
                        f"but this machine has {have / 2**30:,.1f} GiB; use fewer units or channels")


def _assemble(layers: list[Token], config: ModelConfig) -> tuple[OrderedDict[str, nn.Module], list[dict]]:
    net = Assembly(layers, config.activation, config.input_shape, config.n_classes)
    for i, layer in enumerate(layers):
        layer.build(net, i)
    net.finish(config.head)
    return net.modules, net.rows


def pool_before_activation(net: Net) -> Net:
    """The same network with each activation moved behind the max-pool that follows it.

    relu(maxpool(x)) == maxpool(relu(x)), so the outputs are identical; the published fast recipe is
    written this way and it does a quarter of the activation work.
    """
    items = list(net.named_children())
    ordered: list[tuple[str, nn.Module]] = []
    i = 0
    while i < len(items):
        if i + 1 < len(items) and items[i][0].startswith("act") and isinstance(items[i + 1][1], nn.MaxPool2d):
            ordered += [items[i + 1], items[i]]
            i += 2
        else:
            ordered.append(items[i])
            i += 1
    rows = {row["name"]: row for row in net.rows}
    return Net(OrderedDict(ordered), net.config, [rows[name] for name, _ in ordered])
