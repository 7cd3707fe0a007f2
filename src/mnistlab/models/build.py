"""Turn a parsed spec into an `nn.Sequential`, checking every shape on the way."""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..display import heading, table
from ..errors import UserError
from .grammar import BatchNorm, Conv, Crop, Dense, Dropout, Layer, Output, Pool, format_spec, parse_spec

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity,
               "gelu": nn.GELU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU}
HEADS = ("logits", "log_softmax", "softmax")


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


class CropBorder(nn.Module):
    """Drop `pixels` rows and columns on every side: the model still takes full-size images."""

    def __init__(self, pixels: int):
        super().__init__()
        self.pixels = pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pixels
        return x[..., p:-p, p:-p]

    def extra_repr(self) -> str:
        return f"pixels={self.pixels}"


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


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


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


def machine_memory() -> int:
    """Bytes of RAM on this machine (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_memory(modules: OrderedDict[str, nn.Module], rows: list[dict], spec: str) -> None:
    """Refuse a model whose training state for one image could not fit this machine's memory, with the estimate."""
    params = sum(p.numel() for m in modules.values() for p in m.parameters())
    activations = sum(math.prod(row["output_shape"]) for row in rows)
    need = BYTES_PER_PARAM * params + 8 * activations  # outputs and their gradients, one image
    have = machine_memory()
    if have and need > have:
        raise UserError(f"model {spec[:60]!r}: {params:,} parameters need about {need / 2**30:,.1f} GiB to train "
                        f"but this machine has {have / 2**30:,.1f} GiB; use fewer units or channels")


def _assemble(layers: list[Layer], config: ModelConfig):
    channels, height, width = config.input_shape
    features: int | None = None  # set once flattened
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    rows: list[dict] = []
    counts: dict[str, int] = {}
    trail = [f"{height}x{width}"]

    def add(kind: str, module: nn.Module, token: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{kind}{counts[kind]}" if kind not in ("crop", "flatten", "output", "head") else kind
        modules[name] = module
        shape = [features] if features is not None else [channels, height, width]
        rows.append({"name": name, "token": token, "output_shape": shape,
                     "params": sum(p.numel() for p in module.parameters())})

    def flatten() -> None:
        nonlocal features
        if features is None:
            features = channels * height * width
            add("flatten", nn.Flatten(), "")

    def activate(i: int) -> None:
        if i + 1 < len(layers) and isinstance(layers[i + 1], BatchNorm):
            return  # the batch norm that follows takes the activation after it
        add("act", ACTIVATIONS[config.activation](), config.activation)

    for i, layer in enumerate(layers):
        where = f"layer {i + 1} {str(layer)!r}"
        if isinstance(layer, Crop):
            if features is not None or modules:
                raise UserError(f"{where}: cropping works on the input image, so it must be the first token")
            if min(height, width) <= 2 * layer.pixels:
                raise UserError(f"{where}: cropping {layer.pixels} pixels off every side of a {height}x{width} image "
                                f"leaves nothing; crop fewer pixels")
            height, width = height - 2 * layer.pixels, width - 2 * layer.pixels
            trail.append(f"{str(layer)} {height}x{width}")
            add("crop", CropBorder(layer.pixels), str(layer))
        elif isinstance(layer, (Conv, Pool)):
            if features is not None:
                raise UserError(f"{where}: a {'convolution' if isinstance(layer, Conv) else 'pooling'} layer cannot follow "
                                f"a fully connected layer (the image is already flattened to {features}); put it earlier")
            pad = layer.pad if isinstance(layer, Conv) else 0
            stride = layer.stride or layer.kernel
            if min(height, width) + 2 * pad < layer.kernel:
                raise UserError(f"{where}: needs an input of at least {layer.kernel}x{layer.kernel} but gets "
                                f"{height}x{width} ({' -> '.join(trail)}); use a smaller kernel or stride, or fewer layers")
            height, width = _out_size(height, layer.kernel, stride, pad), _out_size(width, layer.kernel, stride, pad)
            trail.append(f"{str(layer)} {height}x{width}")
            if isinstance(layer, Conv):
                module = nn.Conv2d(channels, layer.out, layer.kernel, stride, pad)
                channels = layer.out
                add("conv", module, str(layer))
                activate(i)
            else:
                pool = nn.MaxPool2d if layer.kind == "max" else nn.AvgPool2d
                add("pool", pool(layer.kernel, stride), str(layer))
        elif isinstance(layer, Dense):
            flatten()
            module = nn.Linear(features, layer.units)
            features = layer.units
            add("fc", module, str(layer))
            activate(i)
        elif isinstance(layer, BatchNorm):
            if i == 0 or not isinstance(layers[i - 1], (Conv, Dense)):
                raise UserError(f"{where}: batch norm must follow a convolution or fully connected layer")
            add("bn", nn.BatchNorm2d(channels) if features is None else nn.BatchNorm1d(features), "bn")
            add("act", ACTIVATIONS[config.activation](), config.activation)
        elif isinstance(layer, Dropout):
            add("drop", nn.Dropout(layer.p), str(layer))
        elif isinstance(layer, Output) and layer.units != config.n_classes:
            raise UserError(f"{where}: the output layer has {layer.units} units but the data has {config.n_classes} "
                            f"classes; the loss would be meaningless, use o{config.n_classes} or leave it out")
    flatten()
    output = nn.Linear(features, config.n_classes)
    features = config.n_classes
    add("output", output, f"o{config.n_classes}")
    if config.head != "logits":
        add("head", nn.LogSoftmax(dim=1) if config.head == "log_softmax" else nn.Softmax(dim=1), config.head)
    return modules, rows


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
