"""The model grammar: a space-separated list of layer tokens, e.g. `c10k5s2 c20k7s2 f5` (the tokens: `layers.TOKENS`).

The activation, the flatten between conv and fully connected parts and the output
layer are added by the builder, so a spec says only what differs between models.
"""
from __future__ import annotations

from ..errors import UserError
from .layers import TOKENS, BatchNorm, Conv, Crop, Dense, Dropout, Output, Pool, Token

__all__ = ["BatchNorm", "Conv", "Crop", "Dense", "Dropout", "GRAMMAR_HELP", "Layer", "Output", "Pool", "format_spec",
           "parse_spec", "parse_token"]


Layer = Token

MAX_SPEC = 10_000  # characters; a real spec is a few dozen
GRAMMAR_HELP = "tokens: " + ", ".join(TOKENS)


def parse_token(token: str, position: int) -> Layer:
    for kind in TOKENS.values():
        match = kind.pattern.fullmatch(token)
        if match:
            layer = kind.parse(match)
            _check_values(layer, token, position)
            return layer
    raise UserError(f"layer {position} {token[:40]!r}: unknown layer token; {GRAMMAR_HELP}")


MAX_UNITS, MAX_SIZE = 1_000_000, 4096  # units or channels per layer; kernel, stride, padding, crop or pool in pixels


def _check_values(layer: Layer, token: str, position: int) -> None:
    where = f"layer {position} {token[:40]!r}"
    counts = [getattr(layer, name) for name in ("out", "units") if hasattr(layer, name)]
    sizes = [getattr(layer, name) for name in ("kernel", "stride", "pad", "pixels") if getattr(layer, name, None) is not None]
    if any(c > MAX_UNITS for c in counts) or any(s > MAX_SIZE for s in sizes):
        raise UserError(f"{where}: at most {MAX_UNITS:,} units or channels per layer and {MAX_SIZE} pixels "
                        f"per kernel, stride, padding or crop")
    problem = layer.check()
    if problem:
        raise UserError(f"{where}: {problem}")


def parse_spec(spec: str) -> list[Layer]:
    """Parse a spec string; an empty spec is a linear model (input → output)."""
    if not isinstance(spec, str) or len(spec) > MAX_SPEC:
        raise UserError(f"model spec: expected a string of at most {MAX_SPEC} characters")
    layers = [parse_token(token, i) for i, token in enumerate(spec.lower().split(), start=1)]
    for i, layer in enumerate(layers[:-1], start=1):
        if isinstance(layer, Output):
            raise UserError(f"layer {i} {str(layer)!r}: the output layer must be the last token")
    return layers


def format_spec(layers: list[Layer]) -> str:
    return " ".join(str(layer) for layer in layers)
