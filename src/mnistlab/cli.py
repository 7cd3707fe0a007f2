"""The `mnistlab` command: a thin layer over the public functions.

Each sub-command handler takes the parsed arguments and returns a JSON-able dict;
with --json that dict is the only thing on stdout, otherwise the handler prints
a human-readable account through `say`. A UserError becomes one line on stderr
and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Callable

from .errors import UserError

# Feature areas that add their own sub-commands: each module has register(subparsers, common).
EXTENSIONS: tuple[str, ...] = ("mnistlab.scratch.cli",)


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (what, and where to look) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def say(args: argparse.Namespace, *lines: str) -> None:
    """Print for humans; silent under --json so stdout stays one JSON object."""
    if not getattr(args, "json", False):
        print(*lines, sep="\n", flush=True)


def common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else there")
    return common


def data_options(parser: argparse.ArgumentParser) -> None:
    from .data.sources import NAMES

    parser.add_argument("--dataset", default="mnist", help=f"registered data set: {', '.join(NAMES)} (default: mnist)")
    parser.add_argument("--data-dir", help="folder holding the set's four IDX files (default: $MNISTLAB_DATA/<name>, "
                                           "then ~/.cache/mnistlab, then download)")


def add_command(subparsers, name: str, handler: Callable[[argparse.Namespace], dict], common, **kwargs):
    parser = subparsers.add_parser(name, parents=[common], **kwargs)
    parser.set_defaults(handler=handler)
    return parser


def cmd_data_info(args: argparse.Namespace) -> dict:
    from .data import load_dataset
    from .data.info import data_info

    info = data_info(load_dataset(args.dataset, args.data_dir))
    say(args,
        f"{info['name']}: {info['n_train']} train / {info['n_test']} test images from {info['source']} ({info['path']})",
        f"image size {info['height']}x{info['width']}, pixels {info['pixel_min']}..{info['pixel_max']}",
        "class counts (train): " + ", ".join(f"{c}: {n}" for c, n in info["class_counts"].items()))
    return info


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    common = common_parser()
    parser = Parser(prog="mnistlab", description="Build, train, inspect and experiment with MNIST classifiers.")
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    data = sub.add_parser("data", help="inspect data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser, metavar="ACTION")
    info = add_command(data_sub, "info", cmd_data_info, common, help="source, sizes, class counts, pixel range")
    data_options(info)

    for module in EXTENSIONS:
        importlib.import_module(module).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        payload = args.handler(args)
    except UserError as exc:
        print(f"mnistlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnistlab: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
