"""What every sub-command shares: the parser class, --json, the data and device options, printing.

Kept apart from `cli/__init__.py` (the entry point) so that command modules import helpers, never the entry point.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator

from ..argtypes import SEED, bounded
from ..data import load_dataset
from ..data.formats import ReadOptions, parse_shape
from ..data.sources import NAMES
from ..errors import UserError
from ..mpl import backend_kept
from ..threads import AUTO, threads_arg
from ..train.choices import CAPTURE, DEVICES


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (what, and where to look) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def say(args: argparse.Namespace, *lines: str) -> None:
    """Print for humans; silent under --json so stdout stays one JSON object."""
    if not getattr(args, "json", False):
        print(*lines, sep="\n", flush=True)


def say_first(args: argparse.Namespace) -> None:
    """The command's first line (`first(args)`, what it is about to do), said before torch and the data load, which
    take seconds on a busy machine: on a terminal and in a log alike. With --json, stdout is the JSON object alone
    and stderr only warnings and errors, so nothing is said."""
    if getattr(args, "first", None) is not None:
        say(args, args.first(args))


def data_named(args: argparse.Namespace, default: str = "the run's data set") -> str:
    """The data a command line names, for a first line: --data's path, --dataset's name, or `default`."""
    return str(getattr(args, "data_dir", None) or getattr(args, "dataset", None) or default)


@contextlib.contextmanager
def notices_to_stderr() -> Iterator[None]:
    """While a command runs, the library's logged warnings (e.g. the fallback to mnist-sample) go to stderr as
    plain lines: the command line prints what the library only returns and logs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("mnistlab")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextlib.contextmanager
def process_settings(args: argparse.Namespace) -> Iterator[None]:
    """The command's --threads while it runs; on return, torch's thread count and matplotlib's backend are the
    caller's again (main() runs inside notebooks, scripts and test sessions, whose settings are theirs)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(backend_kept())
        if hasattr(args, "threads") and not getattr(args, "onnx", None):  # predict --onnx never loads torch
            # torch: not on predict --onnx's path
            from ..train.device import managed_scope, threads_set

            stack.enter_context(threads_set(args.threads))
            stack.enter_context(managed_scope())  # the library calls keep the command's count and print no progress
        yield


def common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else there")
    common.add_argument("--threads", type=threads_arg, default=AUTO, metavar="auto|N",
                        help="torch CPU threads: auto takes the cores nothing else is busy on, measured at start "
                             "(with another busy process on a 2-core machine, 2 threads run many times slower than 1); "
                             "for sweeps and experiment executors, threads per trial (default: auto)")
    return common


def add_command(subparsers, name: str, handler: Callable[[argparse.Namespace], dict], common,
                first: Callable[[argparse.Namespace], str] | None = None, **kwargs):
    """A sub-command; `first(args)` is its first line, what it is about to do, from the options alone: main() says
    it (`say_first`) before torch and the data load, so the command speaks at once."""
    parser = subparsers.add_parser(name, parents=[common], **kwargs)
    parser.set_defaults(handler=handler, first=first)
    return parser


def data_options(parser: argparse.ArgumentParser, formats: bool = True, dataset: bool = True) -> None:
    """--dataset and --data (alias --data-dir); with `formats`, the options a CSV or image folder may need."""
    if dataset:
        parser.add_argument("--dataset", default="mnist", help=f"registered data set: {', '.join(NAMES)} (default: mnist)")
    parser.add_argument("--data", "--data-dir", dest="data_dir", metavar="PATH",
                        help="read this data set instead of --dataset's: an IDX folder, a CSV file (label first, then pixels), an image "
                             "folder (PATH/<class>/* or PATH/train|test/<class>/*) or a CIFAR-10 binary archive; see "
                             "docs/data.md (default: the --dataset from $MNISTLAB_DATA/<name>, then ~/.cache/mnistlab, "
                             "then download)")
    if formats:
        parser.add_argument("--test-data", metavar="PATH", help="the test set for a CSV --data (same layout); without "
                                                                "it a seeded stratified 10%% is held out")
        parser.add_argument("--shape", metavar="CxHxW", help="image shape of a CSV whose pixel count is not square, "
                                                             "channels first (e.g. 3x32x32)")
        parser.add_argument("--image-size", metavar="HxW", help="resize every image of an image folder to HxW")


def read_options(args: argparse.Namespace):
    """The format options given on the command line, as data.formats.ReadOptions (None when there are none)."""
    shape, size, test = getattr(args, "shape", None), getattr(args, "image_size", None), getattr(args, "test_data", None)
    if shape is None and size is None and test is None:
        return None
    if args.data_dir is None:
        raise UserError("--shape, --image-size and --test-data describe a --data PATH; give --data too")
    return ReadOptions(parse_shape(shape, 3) if shape else None, test, parse_shape(size, 2) if size else None)


def load_data(args: argparse.Namespace):
    """The data set the command line names: --dataset, or --data PATH read with the format options."""
    return load_dataset(args.dataset, args.data_dir, read_options(args))


DEVICE_REASONS = {"auto": "this command trains: the fastest device here",
                  "cpu": "this command loads a run to score, show or serve it, which the CPU does at once, with no "
                         "GPU start-up or copies; give cuda for large test sets"}


def device_option(parser: argparse.ArgumentParser, default: str = "auto", why: str | None = None) -> None:
    """--device: `auto` for commands that train (the fastest device here), `cpu` for those that load a run; the
    help says which and why (`why` for a command with its own reason)."""
    parser.add_argument("--device", default=default, choices=DEVICES,
                        help=f"{', '.join(DEVICES)}; auto picks cuda, then mps, then cpu "
                             f"(default: {default}: {why or DEVICE_REASONS[default]})")


def verify_option(parser: argparse.ArgumentParser) -> None:
    """--no-verify: load a run whose weights no longer match the SHA-256 its run.json recorded."""
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="load the weights even if they were changed after the run was saved (their SHA-256 "
                             "differs from run.json's); by default such a run is refused")


def capture_option(parser: argparse.ArgumentParser, what: str = "training") -> None:
    """--capture: CUDA graphs for the training step and evaluation (TrainConfig.capture)."""
    parser.add_argument("--capture", default="auto", choices=CAPTURE,
                        help=f"CUDA graphs for {what}: auto captures each step and evaluation on CUDA where the "
                             "configuration allows and runs eagerly elsewhere; on refuses where it cannot; off never "
                             "(default: auto)")


MAX_N = 1000  # images in one figure; more would take minutes to draw and be unreadable


def figure_options(parser: argparse.ArgumentParser) -> None:
    """What `inspect` and `report` share: the run, which test images, the seed, another data set, the device."""
    parser.add_argument("run_dir", help="a run directory written by mnistlab train")
    parser.add_argument("--sample", type=bounded(int, 0, 10**9), nargs="+", metavar="I",
                        help="test image indices for probs and attribution (all) and featuremaps (the first); default: random")
    parser.add_argument("--n", type=bounded(int, 1, MAX_N), help="random samples for probs (default 10), mistakes for errors "
                                                                 "(default 24), samples and mistakes for attribution (default 6 each)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed for the random samples (default: 0)")
    parser.add_argument("--dataset", help="take test images from another registered set (default: the run's)")
    data_options(parser, dataset=False)
    device_option(parser, "cpu")
    verify_option(parser)
