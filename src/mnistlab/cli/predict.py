"""`mnistlab predict`: classify image files with a run, or with an exported ONNX file and no torch at all.

`mnistlab predict --onnx FILE IMAGE...` gets a parser of its own (`onnx_predict_parser`), built before the full
command line (which imports torch to describe the training options), so it runs where torch is not installed:
nothing this module imports at its top loads torch.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from ..calibration import UNSURE_BELOW, unsure
from ..data.images import FORMATS, as_text, digits_in_files
from ..data.rgb import images_for, is_digit_input
from ..errors import UserError
from ..export.onnxrun import OnnxModel
from ..tables import pct
from .common import Parser, add_command, common_parser, device_option, say, verify_option


def report_predictions(args: argparse.Namespace, files: list, classes, probs) -> dict:
    """What `predict` prints and returns for a run or an ONNX file: each file's class and probabilities, top 3 shown,
    and whether the answer is unsure (its probability below calibration.UNSURE_BELOW)."""
    predictions = []
    for f, ps, doubt in zip(files, probs, unsure(probs) if len(probs) else []):
        ps = [round(float(p), 6) for p in ps]
        top = sorted(range(len(ps)), key=lambda k: -ps[k])[:3]
        predictions.append({"file": str(f), "class": classes[top[0]], "probabilities": ps, "unsure": bool(doubt)})
        mark = f"  unsure (below {UNSURE_BELOW:.0%})" if doubt else ""
        say(args, f"{f}: {classes[top[0]]}  (" + ", ".join(f"{classes[k]}: {pct(ps[k])}" for k in top) + ")" + mark)
    return {"predictions": predictions}


def cmd_predict(args: argparse.Namespace) -> dict:
    if args.onnx:  # reached only through the full parser (main dispatches --onnx before building it)
        return cmd_predict_onnx(args)
    # torch: not on predict --onnx's path
    from ..train.run import load_run

    run = load_run(args.run_dir, args.device, verify=args.verify)
    digits = is_digit_input(run.model.config.input_shape, run.classes)
    if args.number:
        if not digits:
            raise UserError(f"{args.run_dir}: --number reads digits; this run is not a 28x28 model of the ten digits")
        return report_numbers(args, run, digits_in_files(args.images, run.confidence))
    _, probs = run.predict(images_for(args.images, run.model.config.input_shape, run.classes, run.confidence))
    result = report_predictions(args, args.images, run.classes, probs)
    if digits:  # how many digits each file holds: a number is not one digit, however sure the model is of one
        for prediction, found in zip(result["predictions"], digits_in_files(args.images, run.confidence)):
            prediction["digits_found"] = len(found)
            if len(found) > 1:
                print(f"{prediction['file']}: {len(found)} digits found, not one; read them as a number with "
                      f"`mnistlab predict {args.run_dir} {prediction['file']} --number`", file=sys.stderr)
    return result


def report_numbers(args: argparse.Namespace, run, found: list[list]) -> dict:
    """What `predict --number` prints and returns: each file's digits read line by line, left to right, with their
    boxes; the number is unsure when any of its digits is (a page of digits read wrong must not look sure), or
    when none was found."""
    images = [d.image for digits in found for d in digits]
    classes, probs = run.predict(np.stack(images)) if images else ([], [])
    answers = iter(zip(classes, probs, unsure(probs) if len(probs) else []))
    predictions = []
    for f, digits in zip(args.images, found):
        read = [{"class": run.classes[int(c)], "probability": round(float(p[int(c)]), 6), "box": list(d.box),
                 "line": d.line, "unsure": bool(doubt)} for d, (c, p, doubt) in zip(digits, answers)]
        number, doubt = as_text(digits, [r["class"] for r in read]), any(r["unsure"] for r in read) or not read
        predictions.append({"file": str(f), "number": number, "unsure": doubt, "digits": read})
        if not read:
            say(args, f"{f}: no digit found (only flat lines or marks), unsure")
            continue
        say(args, f"{f}: {number}  (" + ", ".join(f"{r['class']}: {pct(r['probability'])}{' unsure' if r['unsure'] else ''} "
                                                   f"at {r['box']}" for r in read) + ")"
            + (f"  unsure ({sum(r['unsure'] for r in read)} of {len(read)} digits below {UNSURE_BELOW:.0%})" if doubt else ""))
    return {"predictions": predictions}


def cmd_predict_onnx(args: argparse.Namespace) -> dict:
    images = [args.run_dir, *args.images] if args.run_dir else list(args.images)
    model = OnnxModel(args.onnx)
    x = images_for(images, model.shape, model.classes)
    probs = model.probabilities(x[:, 0] if len(model.input.shape) == 3 and x.ndim == 4 else x)
    classes = model.classes
    return report_predictions(args, images, classes, probs)


def first(args: argparse.Namespace) -> str:
    """What `predict` is about to do, from the options alone (main() says it before torch or onnxruntime loads)."""
    n = len(args.images) + (1 if args.onnx and args.run_dir else 0)  # with --onnx, the full parser's RUN_DIR is an image
    what = f"reading the digits of {n} image(s) as numbers" if getattr(args, "number", False) else f"classifying {n} image(s)"
    return f"{what} with {args.onnx or args.run_dir}"


def wants_onnx_predict(argv: list[str]) -> bool:
    """`mnistlab predict --onnx ...` (not its --help, which the full parser gives)."""
    return bool(argv) and argv[0] == "predict" and any(a == "--onnx" or a.startswith("--onnx=") for a in argv) \
        and not {"-h", "--help"} & set(argv)


def onnx_predict_parser() -> argparse.ArgumentParser:
    """The command line for `mnistlab predict --onnx FILE IMAGE...` alone, built without torch."""
    parser = Parser(prog="mnistlab")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    pr = add_command(sub, "predict", cmd_predict_onnx, common_parser(), first=first)
    pr.add_argument("--onnx", required=True, metavar="FILE")
    pr.add_argument("images", nargs="+")
    pr.set_defaults(run_dir=None)
    return parser


def register(subparsers, common) -> None:
    # the usage is written out: argparse cannot show "a run or --onnx"; the docs test checks every option is in it
    pr = add_command(subparsers, "predict", cmd_predict, common, first=first,
                     help=f"classify images of any size ({', '.join(FORMATS)} or NPY)",
                     description="Classify image files with a run (or an exported ONNX file). Each answer's "
                                 "probabilities are calibrated by the run's temperature; an answer below "
                                 f"{UNSURE_BELOW:.0%} is marked unsure (\"unsure\": true with --json): it may be "
                                 "wrong, or not a digit at all.",
                     usage="mnistlab predict [-h] [--json] [--number] [--threads auto|N] [--device {auto,cpu,cuda,mps}] [--no-verify] "
                           "(RUN_DIR | --onnx FILE) IMAGE [IMAGE ...]")
    pr.add_argument("run_dir", help="a run directory written by mnistlab train (leave out with --onnx)")
    pr.add_argument("--onnx", metavar="FILE", help="classify with a file from `mnistlab export --format onnx` instead "
                                                   "of a run: needs only onnxruntime, not torch")
    pr.add_argument("images", nargs="+", help="image files; for a 28x28 gray digit run brought to MNIST form (white on "
                                              "black, 20x20 box, centred), for any other run resized to its input")
    pr.add_argument("--number", action="store_true",
                    help="read every digit of each image, left to right (a number: digits that touch are split, a "
                         "broken digit's pieces joined), a page of them line by line (lines apart by a space); "
                         "unsure when any digit is; --json adds each digit's class, probability, box "
                         "[x0, y0, x1, y1] in the image's pixels and line")
    device_option(pr, "cpu")
    verify_option(pr)
