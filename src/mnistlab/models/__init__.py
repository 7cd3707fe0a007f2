"""Models: the spec grammar, the builder and the layer summary.

The names load on first use (`mnistlab.lazy`), so a submodule can be read without the others (and torch).
"""
from ..lazy import lazy_names

_PUBLIC = {**dict.fromkeys(("ACTIVATIONS", "ModelConfig", "Net", "build_model", "pool_before_activation"), ".build"),
           "HEADS": ".layers", "format_spec": ".grammar", "parse_spec": ".grammar", "summary_rows": ".summary", "summary_text": ".summary"}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
