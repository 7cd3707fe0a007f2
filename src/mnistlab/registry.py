"""The one rule every registry keeps (layer tokens, data formats, named sets, experiments, executors, corruptions):
a name is registered once. A second entry under a taken name would silently replace the first, and which one won
would depend on import order; so it is refused, naming both places. The same definition registered again (a
module reloaded, as `importlib.reload` or a notebook's autoreload does) replaces itself.
"""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def origin(thing: object) -> str:
    """Where `thing` (a function or class, or an object holding one as `read`/`apply`/`run`) is defined."""
    for attr in ("read", "apply", "run", "cls"):
        inner = getattr(thing, attr, None)
        if callable(inner) and hasattr(inner, "__module__"):
            thing = inner
            break
    return f"{getattr(thing, '__module__', '?')}.{getattr(thing, '__qualname__', type(thing).__qualname__)}"


def add(registry: dict[str, T], name: str, entry: T, what: str) -> T:
    """Put `entry` under `name` in `registry`; refuse a name another definition already holds."""
    if name in registry and origin(registry[name]) != origin(entry):
        raise ValueError(f"{what} {name!r} is registered twice: by {origin(registry[name])} and by {origin(entry)}; "
                         f"give one of them another name")
    registry[name] = entry
    return entry
