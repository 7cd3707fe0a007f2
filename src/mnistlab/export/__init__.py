"""Taking a trained run out of mnistlab: files that take raw pixels and return class probabilities.

`graph` writes ONNX and TorchScript files and checks them against PyTorch (needs torch);
`onnxrun` classifies images with an ONNX file and onnxruntime alone, so a machine without
torch can use the model. Nothing is imported here, so `onnxrun` and the command line's parser stay torch-free.
"""

FORMATS = ("onnx", "torchscript")  # what `graph` writes
