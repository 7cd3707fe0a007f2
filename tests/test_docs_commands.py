"""Every `mnistlab ...` command the README and docs/ show parses with the real parser, and every default the
README states for an option is the one --help states: documentation that drifts from the code fails here."""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from mnistlab.cli import build_parser, parser_for

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands() -> list[tuple[str, int, list[str]]]:
    """(page, line number, argv) of every `mnistlab ...` line in a code block, without its comment or `&& ...`."""
    found = []
    for page in PAGES:
        fenced, lines = False, page.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            text = line.strip().removeprefix("$ ")
            following = iter(lines[number:])
            while text.endswith("\\"):  # a command continued on the next line
                text = text[:-1] + " " + next(following, "").strip()
            if fenced and text.startswith("mnistlab "):
                words = shlex.split(text, comments=True)[1:]
                cut = next((i for i, w in enumerate(words) if w in ("&&", "|", ";", ">")), len(words))
                found.append((page.name, number, words[:cut]))
    return found


COMMANDS = shown_commands()


SYNOPSIS = re.compile(r"^\[|\|.|^[A-Z][A-Z_]*[A-Z]$|^[A-Z]$")  # [--opt X], a|b, RUN_DIR, S: a form, not a command


@pytest.mark.parametrize("page, number, argv", COMMANDS, ids=[f"{p}:{n}" for p, n, _ in COMMANDS])
def test_every_command_the_docs_show_parses(page, number, argv, capsys):
    where = f"{page}:{number}: mnistlab {' '.join(argv)}"
    if any(SYNOPSIS.search(word) for word in argv):  # a synopsis: every option it names is the command's
        words = [w for w in argv if not w.startswith(("-", "[")) and not SYNOPSIS.search(w)]
        parser = parser_for(words)
        for word in words:
            sub = next((a.choices[word] for a in parser._actions if isinstance(getattr(a, "choices", None), dict)
                        and word in a.choices), None)
            if isinstance(sub, argparse.ArgumentParser):
                parser = sub
        known = {o for a in parser._actions for o in a.option_strings}
        named = {w.strip("[]").split("=")[0] for w in argv if w.strip("[").startswith("--")}
        assert named <= known, f"{where}: {sorted(named - known)} not options of this command"
        return
    try:
        parser_for(argv).parse_args(argv)
    except SystemExit as exc:
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.code == 0, f"{where}: {err[-1] if err else exc.code}"


def help_default(action) -> str | None:
    """The default an option's --help states: its first '(default: X)', else the parser's default."""
    said = re.findall(r"\(default: ([^)]*)\)", action.help or "")
    return said[0] if said else None if action.default is None else str(action.default)


def every_option():
    """(command, action) for every option of every command and sub-command."""
    parser = build_parser()
    stack = [("", parser)]
    while stack:
        name, p = stack.pop()
        for action in p._actions:
            if action.option_strings and action.help not in (None, "==SUPPRESS=="):
                yield name, action
            if isinstance(getattr(action, "choices", None), dict):
                stack += [(f"{name} {k}".strip(), sub) for k, sub in action.choices.items()
                          if isinstance(sub, argparse.ArgumentParser)]


def test_no_option_shows_a_default_it_does_not_have():
    # --loss said "(default: ce for logits, nll for probability heads) (default: None)"; --init "(default: )"
    for command, action in every_option():
        for empty in ("(default: None)", "(default: )"):
            assert empty not in (action.help or ""), f"mnistlab {command} {action.option_strings[0]}: {empty}"


# `--opt X`, the default | `--opt X` (default) | `--opt` (default `X`) | `--opt` (default X, ...) | `--opt X` (every
# command's default) | `--opt X|Y` (default `X`)
STATED = [re.compile(r"`(--[a-z][a-z-]*) ([^`|]+)(?:\|[^`]*)?`,? (?:the default\b|\(default\)|\(every command's default\))"),
          re.compile(r"`(--[a-z][a-z-]*)` \(default:? `?([^`),; ]+)`?[),;]"),
          re.compile(r"`(--[a-z][a-z-]*) [^`]+` \(default:? `([^`]+)`\)")]


def test_the_defaults_the_readme_and_docs_state_are_the_ones_help_states():
    stated = [(page.name, option, value) for page in PAGES for pattern in STATED
              for option, value in pattern.findall(page.read_text())]
    assert len(stated) >= 5, f"the pages state few option defaults now ({stated}): update this test's patterns"
    options = list(every_option())
    for page, option, value in stated:
        helps = {str(help_default(a)).split(",")[0].split(";")[0].split(":")[0] for _, a in options if option in a.option_strings}
        assert helps, f"{page} states a default for {option}, which no command has"
        assert value in helps, f"{page}: {option} defaults to {value}; --help says {sorted(map(str, helps))}"


def test_predicts_written_usage_names_every_option():
    # it hid --threads and --no-verify, and showed --device DEVICE without its choices
    predict = build_parser(["mnistlab.cli.predict"])._subparsers._group_actions[0].choices["predict"]
    usage = predict.format_usage()
    for action in predict._actions:
        if action.option_strings:
            assert action.option_strings[-1] in usage or action.option_strings[0] in usage, action.option_strings
    device = next(a for a in predict._actions if "--device" in a.option_strings)
    assert "{" + ",".join(device.choices) + "}" in usage
