"""Looking inside trained models: activations, filters, feature maps."""
from .activations import conv_feature_maps, first_layer_weights, layer_outputs

__all__ = ["conv_feature_maps", "first_layer_weights", "layer_outputs"]
