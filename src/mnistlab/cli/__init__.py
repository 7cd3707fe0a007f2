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
import os
import pkgutil
import sys
import warnings

from .. import __version__
from ..errors import UserError, command_line, os_error_line
from ..fileio import COMMITTED, release_all
from .common import Parser, common_parser, notices_to_stderr, process_settings, say_first
from .predict import onnx_predict_parser, wants_onnx_predict


def build_parser(modules: list[str] | None = None) -> argparse.ArgumentParser:
    """The `mnistlab` parser with the sub-commands of `modules` (default: every command module)."""
    common = common_parser()
    parser = Parser(prog="mnistlab", description="Build, train, inspect and experiment with MNIST classifiers.")
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for module in command_modules() if modules is None else modules:
        importlib.import_module(module).register(sub, common)
    return parser


def parser_for(argv: list[str]) -> argparse.ArgumentParser:
    """The parser `argv` needs: none of the commands for --version, predict --onnx's own (built without torch), only
    the named command's module for a command (starting one never loads the other fourteen), every one for the list."""
    if argv[:1] == ["--version"]:
        return build_parser([])
    if wants_onnx_predict(argv):
        return onnx_predict_parser()
    named = f"{__name__}.{argv[0]}" if argv and not argv[0].startswith("-") else None
    return build_parser([named] if named in command_modules() else None)


FIRST = ("train", "eval", "predict")  # the commands most people want, in the order they use them


def command_modules() -> list[str]:
    """Every module of this package but `common` (and `__main__`): each adds its own sub-commands with register(subparsers, common).
    FIRST come first, the rest in alphabetical order."""
    found = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in ("common", "__main__")]
    order = sorted(found, key=lambda name: (FIRST.index(name) if name in FIRST else len(FIRST), name))
    return [f"{__name__}.{name}" for name in order]


def interrupted_message(saved_before: int) -> str:
    """What an interrupt left behind: the outputs this command completed, or nothing."""
    saved = COMMITTED[saved_before:]
    if not saved:
        return "interrupted; nothing was saved and nothing half-written was kept"
    more = f" and {len(saved) - 1} other file(s)" if len(saved) > 1 else ""
    return f"interrupted after {saved[-1]}{more} had been saved complete; nothing half-written was kept"


def main(argv: list[str] | None = None) -> int:
    """`mnistlab ARGS`: the exit status; while it runs, the library's errors name options as flags (errors.named)."""
    with command_line():
        try:
            return _run(sys.argv[1:] if argv is None else list(argv))
        except BrokenPipeError:
            # whoever read stdout stopped (`| head`): stop too, quietly, as other commands do; stdout goes to
            # /dev/null so that the interpreter's last flush does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141  # 128 + SIGPIPE, what a shell reports for a command ended by a closed pipe


def _run(argv: list[str]) -> int:
    parser = parser_for(argv)
    args = parser.parse_args(argv)
    saved_before = len(COMMITTED)
    try:
        say_first(args)  # a check a command's first line makes (cheap, from the options alone) refuses before it is said
        # torch's and PIL's warnings wait (never extra lines on a refusal); the library's logged notices print as they come;
        # process-wide settings (torch's threads, matplotlib's backend) are the caller's again on return
        with warnings.catch_warnings(record=True) as caught, notices_to_stderr(), process_settings(args):
            warnings.simplefilter("default")
            # a ResourceWarning reports an object collected unclosed, whoever made it (in a notebook or a test run, often
            # not this command): a note for developers, not for the person who ran the command
            warnings.simplefilter("ignore", ResourceWarning)
            payload = args.handler(args)
    except UserError as exc:
        print(f"mnistlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mnistlab: {interrupted_message(saved_before)}", file=sys.stderr)
        return 130
    except OSError as exc:
        line = os_error_line(exc)
        if line is None:
            raise
        print(f"mnistlab: error: {line}", file=sys.stderr)
        return 2
    finally:
        release_all()  # output places the command reserved
    for note in dict.fromkeys(str(w.message).splitlines()[0] for w in caught if str(w.message)):
        print(f"mnistlab: warning: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(payload))
    return 0

