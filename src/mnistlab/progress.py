"""One status line for long commands on a terminal: what runs, how far it is, elapsed and remaining time.

The line goes to stderr and is redrawn in place, and only when stderr is a terminal and --json is off:
piped or captured output, and JSON on stdout, stay exactly what they were without it.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO


def clock_text(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A status line: `begin(label)` starts a part of the work, `show(text, fraction)` redraws the line.

    Elapsed time counts from the command's start; the remaining time is that of the current part,
    extrapolated from the fraction of it done so far.
    """

    EVERY = 0.1  # seconds between redraws: a step loop may call show() thousands of times a second

    def __init__(self, enabled: bool, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.enabled, self.stream, self.clock = enabled, stream, clock
        self.started = self.part_started = clock()
        self.label, self.drawn, self.last_draw = "", False, -float("inf")

    @classmethod
    def for_command(cls, args: argparse.Namespace, stream: TextIO | None = None) -> Progress:
        """Enabled when `stream` (default: stderr) is a terminal and the command was not given --json."""
        stream = stream or sys.stderr
        return cls(not getattr(args, "json", False) and stream.isatty(), stream)

    def begin(self, label: str) -> None:
        """Start a part of the work (a configuration, a run): its label leads the line, its clock starts."""
        self.label, self.part_started = label, self.clock()
        self.show(force=True)

    def show(self, text: str = "", fraction: float | None = None, force: bool = False) -> None:
        """Redraw the line: label, `text` (e.g. "epoch 3/10"), elapsed time and, given `fraction` of the part
        done, the time left for the part. Redraws come at most every `EVERY` seconds unless forced."""
        if not self.enabled:
            return
        now = self.clock()
        if not force and now - self.last_draw < self.EVERY:
            return
        self.last_draw = now
        parts = [p for p in (self.label, text) if p] + [f"{clock_text(now - self.started)} elapsed"]
        if fraction is not None and 0 < fraction < 1:
            parts.append(f"~{clock_text((now - self.part_started) * (1 - fraction) / fraction)} left")
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r" + "  ".join(parts)[:width] + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        """Erase the line, e.g. before printing a result on the same terminal."""
        if self.enabled and self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    def printer(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """`say` that first erases the status line, so printed lines and the status never share a row."""

        def clean_say(line: str) -> None:
            self.clear()
            say(line)

        return clean_say
