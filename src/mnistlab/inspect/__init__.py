"""Looking inside trained models and their data: the numbers behind every figure.

Each function returns arrays and plain dicts; `mnistlab.plots` draws them.

The names load on first use (`mnistlab.lazy`), so the command line reads `inspect.kinds` without loading torch.
"""
from ..lazy import lazy_names

_PUBLIC = {
    **dict.fromkeys(("WeightRecorder", "parameter_values"), "..train.weights"),
    **dict.fromkeys(("conv_feature_maps", "feature_maps", "first_layer_weights", "hidden_layers", "layer_outputs"), ".activations"),
    **dict.fromkeys(("attribution_maps", "attributions", "integrated_gradients", "occlusion", "saliency"), ".attribution"),
    **dict.fromkeys(("learning_curves",), ".curves"),
    **dict.fromkeys(("penultimate_features",), ".embedding"),
    **dict.fromkeys(("class_means", "digit_correlations", "digit_vector", "random_digits"), ".explore"),
    **dict.fromkeys(("weight_histograms",), ".histograms"),
    **dict.fromkeys(("jsonable", "numbers"), ".numbers"),
    "WHAT": ".kinds",
    **dict.fromkeys(("Predictions", "class_probabilities", "confusion", "confusion_cells", "mistakes", "predict_test_set"), ".predictions"),
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
