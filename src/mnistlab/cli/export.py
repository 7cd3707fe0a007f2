"""`mnistlab export`: a run as an ONNX or TorchScript file, checked against PyTorch before it is kept."""
from __future__ import annotations

import argparse

from ..export import FORMATS
from .common import add_command, say, verify_option


def cmd_export(args: argparse.Namespace) -> dict:
    # torch and torch.onnx load when a model is exported, not when the parser is built
    from ..export.graph import export_run
    from ..train.run import load_run

    result = export_run(load_run(args.run_dir, verify=args.verify), args.format, args.out)
    c, h, w = result["input_shape"]
    dims = f"{h}, {w}" if c == 1 else f"{c}, {h}, {w}"
    say(args, f"wrote {result['path']} ({result['format']}): raw pixels 0..255 (batch, {dims}) in, class probabilities out",
        f"parity on {result['n_images']} test images against PyTorch (fp32): max |difference| {result['max_abs_diff']:.2g}, "
        f"argmax agreement {100 * result['argmax_agreement']:.2f}%, {result['images_per_s']:,.0f} images/s in the runtime")
    return result


def register(subparsers, common) -> None:
    ex = add_command(subparsers, "export", cmd_export, common, first=lambda args: f"exporting {args.run_dir} as "
                     f"{args.format} and checking it against PyTorch on the test images", help="write a run as an ONNX or TorchScript file",
                     description="Write the run as one file that takes raw pixels (0..255, any batch size; (batch, H, W) for gray, "
                                 "(batch, C, H, W) for colour) and returns "
                                 "class probabilities, normalization inside. The file is kept only if it agrees with "
                                 "PyTorch on 1,000 test images. ONNX needs: pip install \"mnistlab[onnx]\".")
    ex.add_argument("run_dir", help="a run directory written by mnistlab train")
    ex.add_argument("--format", required=True, choices=FORMATS, help="onnx (onnxruntime, Netron, browsers, C++) or "
                                                                     "torchscript (torch.jit.load, libtorch)")
    ex.add_argument("--out", help="file to write (default: RUN_DIR/model.onnx or RUN_DIR/model.pt)")
    verify_option(ex)
