"""Looking inside trained models and their data: the numbers behind every figure.

Each function returns arrays and plain dicts; `mnistlab.plots` draws them.
"""
from ..train.weights import WeightRecorder, parameter_values
from .activations import conv_feature_maps, feature_maps, first_layer_weights, hidden_layers, layer_outputs
from .attribution import attribution_maps, attributions, integrated_gradients, occlusion, saliency
from .curves import learning_curves
from .embedding import penultimate_features
from .explore import class_means, digit_correlations, digit_vector, random_digits
from .histograms import weight_histograms
from .numbers import WHAT, jsonable, numbers
from .predictions import Predictions, class_probabilities, confusion, confusion_cells, mistakes, predict_test_set

__all__ = ["WHAT", "Predictions", "WeightRecorder", "attribution_maps", "attributions", "class_means", "class_probabilities",
           "confusion", "confusion_cells", "conv_feature_maps", "digit_correlations", "digit_vector", "feature_maps",
           "first_layer_weights", "hidden_layers", "integrated_gradients", "jsonable", "layer_outputs", "learning_curves",
           "mistakes", "numbers", "occlusion", "parameter_values", "penultimate_features", "predict_test_set", "random_digits",
           "saliency", "weight_histograms"]
