"""A search space: which options vary and over what, from the command line or a TOML file.

Values are written the same way in both places:

    a,b,c                 a choice (one value is simply a fixed setting)
    LOW..HIGH[:log|:lin]  a range, sampled uniformly on a log or linear scale (log by default for lr and
                          weight decay); integer options give integer ranges; `:N` after the scale gives
                          N evenly spaced points for a grid search
    c{8,16}k{3,5} f64     a model template: every combination of the braces, each checked with the grammar
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

# Every option a sweep can vary or fix, with its type; everything else is refused by name.
OPTIONS: dict[str, type] = {
    "model": str, "activation": str, "head": str, "normalize": str, "epochs": float, "batch_size": int,
    "optimizer": str, "lr": float, "schedule": str, "weight_decay": float, "label_smoothing": float,
    "loss": str, "augment": str, "seed": int, "max_steps": int,
}
LOG_BY_DEFAULT = {"lr", "weight_decay"}
MAX_VALUES = 100_000  # grid points one range may take
MAX_MODELS = 1_000  # specs one model template may expand to: each is built once to check it


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Choice:
    name: str
    values: tuple

    def grid(self) -> tuple:
        return self.values

    def sample(self, rng):
        return self.values[int(rng.integers(len(self.values)))]


@dataclass(frozen=True)
class Range:
    name: str
    low: float
    high: float
    log: bool
    integer: bool
    points: int = 0  # grid points; 0: a range a grid search cannot enumerate

    def grid(self) -> tuple:
        if not self.points:
            raise UserError(f"{flag(self.name)} {self.low:g}..{self.high:g}: a grid search needs a number of points "
                            f"(e.g. {self.low:g}..{self.high:g}:{'log' if self.log else 'lin'}:4) or a choice list")
        if self.points == 1:
            return (self.cast(self.low),)
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        values = [lo + (hi - lo) * i / (self.points - 1) for i in range(self.points)]
        return tuple(dict.fromkeys(self.cast(math.exp(v) if self.log else v) for v in values))

    def sample(self, rng):
        if self.log:
            return self.cast(math.exp(rng.uniform(math.log(self.low), math.log(self.high + (1 if self.integer else 0)))))
        return self.cast(rng.uniform(self.low, self.high + (1 if self.integer else 0)))

    def cast(self, value: float):
        return min(int(value), int(self.high)) if self.integer else float(f"{value:.6g}")


Param = Choice | Range

def _typed(name: str, text: str):
    kind = OPTIONS[name]
    try:
        if kind is int:
            return int(text)
        if kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
    except ValueError:
        raise UserError(f"{flag(name)} {text!r}: not a{'n integer' if kind is int else ' number'}") from None
    return text


def parse_range(name: str, text: str) -> Range:
    bounds, *tail = [t.strip() for t in text.split(":")]
    scale = tail.pop(0) if tail and tail[0] in ("log", "lin") else None
    if OPTIONS[name] is str or bounds.count("..") != 1 or len(tail) > 1 or (tail and not tail[0].isdigit()):
        raise UserError(f"{flag(name)} {text!r}: a range is LOW..HIGH[:log|:lin][:POINTS] of a numeric option")
    low, high = (_typed(name, b.strip()) for b in bounds.split(".."))
    log = scale == "log" if scale else name in LOG_BY_DEFAULT
    if not low < high:
        raise UserError(f"{flag(name)} {text!r}: the range is empty or reversed; write LOW..HIGH with LOW < HIGH")
    if log and low <= 0:
        raise UserError(f"{flag(name)} {text!r}: a log range needs LOW > 0; use :lin or a positive LOW")
    points = int(tail[0]) if tail else 0
    if tail and not 1 <= points <= MAX_VALUES:
        raise UserError(f"{flag(name)} {text!r}: the number of grid points must be from 1 to {MAX_VALUES:,}")
    return Range(name, low, high, log, OPTIONS[name] is int, points)


def top_level_split(text: str) -> list[str]:
    """Split `a{1,2} b, c` on the commas outside braces: alternatives, each a template."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    if any(not p.strip() for p in parts):
        raise UserError(f"--model {text!r}: an empty spec between commas; separate model templates with single commas")
    return parts


def expand_template(template: str) -> list[str]:
    """`c{8,16}k{3,5} f64` → every combination of the braces, in order."""
    parts = re.split(r"(\{[^{}]*\})", template)
    if any(c in p for p in parts[::2] for c in "{}"):
        raise UserError(f"--model {template!r}: unbalanced or nested braces; write choices as {{a,b}}")
    options = [p for p in parts[1::2]]
    for o in options:
        if not [v for v in o[1:-1].split(",") if v.strip()] or any(not v.strip() for v in o[1:-1].split(",")):
            raise UserError(f"--model {template!r}: {o} has an empty choice; list values as {{a,b}}")
    lists = [[v.strip() for v in o[1:-1].split(",")] for o in options]
    count = math.prod(len(values) for values in lists)
    if count > MAX_MODELS:
        raise UserError(f"--model {template!r}: the braces make {count:,} specs; at most {MAX_MODELS:,} can be swept")
    specs = []
    for combo in itertools.product(*lists):
        pieces = list(parts)
        pieces[1::2] = combo
        specs.append(" ".join("".join(pieces).split()))
    return list(dict.fromkeys(specs))


def parse_value(name: str, value) -> Param:
    """One option's value as written on the command line (a string) or in TOML (a string, number or list)."""
    if name not in OPTIONS:
        raise UserError(f"unknown sweep option {name!r}; choose from: {', '.join(flag(o) for o in OPTIONS)}")
    if isinstance(value, list):
        if not value:
            raise UserError(f"{flag(name)}: an empty choice list; give at least one value")
        values = [_typed(name, str(v)) for v in value]
    elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserError(f"{flag(name)}: {value!r} is not a value, a list or a range")
    else:
        text = str(value).strip()
        if name != "model" and ".." in text:
            return parse_range(name, text)
        if name == "model":
            values = [spec for part in top_level_split(text) for spec in expand_template(part)]
        else:
            items = text.split(",")
            if any(not item.strip() for item in items):
                raise UserError(f"{flag(name)} {text!r}: an empty choice; write values as a,b,c")
            values = [_typed(name, item.strip()) for item in items]
    return Choice(name, tuple(dict.fromkeys(values)))


def load_toml(path: str | Path) -> dict:
    """A TOML space: keys are option names (lr or --lr style), values as on the command line or TOML lists."""
    try:
        # tomllib is Python 3.11+; 3.10 has tomli
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        # Python 3.10: tomli (the tomllib of 3.11+)
        import tomli as tomllib
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"--space {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"--space {path}: not valid TOML ({exc})") from None
    return {key.lstrip("-").replace("-", "_"): value for key, value in data.items()}


@dataclass
class Space:
    params: dict[str, Param]  # the options that vary (more than one value)
    fixed: dict  # the options given a single value
    rejected: dict[str, str]  # model specs left out, with the reason


def check_models(specs: tuple, activation: str, head: str, input_shape: tuple, n_classes: int) -> tuple[list, dict]:
    """Build every spec once on the data's input shape: the ones that work, and the reason for each that does not."""
    from ..models import build_model  # torch: a sweep's data is loaded by now; `sweep --help` reads OPTIONS without it

    good, bad = [], {}
    for spec in specs:
        try:
            build_model(spec, activation, head, input_shape, n_classes, seed=None)
            good.append(spec)
        except UserError as exc:
            bad[spec] = str(exc)
    return good, bad


def make_space(values: dict, input_shape: tuple = (1, 28, 28), n_classes: int = 10) -> Space:
    """Parse every given option; split varying from fixed; drop model specs the grammar or the input refuse."""
    parsed = {name: parse_value(name, value) for name, value in values.items() if value is not None}
    rejected = {}
    model = parsed.get("model")
    if isinstance(model, Choice):
        fixed_of = lambda n, d: parsed[n].values[0] if isinstance(parsed.get(n), Choice) else d  # noqa: E731
        good, rejected = check_models(model.values, fixed_of("activation", "relu"), fixed_of("head", "logits"),
                                      input_shape, n_classes)
        if not good:
            spec, reason = next(iter(rejected.items()))
            raise UserError(f"--model: none of the {len(rejected)} spec(s) works on this data, e.g. '{spec}': {reason}")
        parsed["model"] = Choice("model", tuple(good))
    varying = {n: p for n, p in parsed.items() if isinstance(p, Range) or len(p.values) > 1}
    fixed = {n: p.values[0] for n, p in parsed.items() if n not in varying}
    return Space(varying, fixed, rejected)
