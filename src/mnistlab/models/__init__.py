"""Models: the spec grammar, the builder and the layer summary."""
from .build import ACTIVATIONS, HEADS, ModelConfig, Net, build_model, pool_before_activation
from .grammar import format_spec, parse_spec
from .summary import summary_rows, summary_text

__all__ = ["ACTIVATIONS", "HEADS", "ModelConfig", "Net", "build_model", "format_spec", "parse_spec",
           "pool_before_activation", "summary_rows", "summary_text"]
