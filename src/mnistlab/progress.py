"""One status line for long commands on a terminal: what runs, how far it is, elapsed and remaining time.

The line goes to stderr and is redrawn in place, and only when stderr is a terminal and --json is off:
piped or captured output, and JSON on stdout, stay exactly what they were without it.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


def clock_text(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A status line: `begin(label)` starts a part of the work, `show(text, fraction)` updates the line,
    `close()` erases it for good.

    Elapsed time counts from the command's start; the remaining time is that of the current part,
    extrapolated from the fraction of it done so far. Between updates a background tick redraws the line
    every `TICK` seconds, so the clock keeps moving through a long epoch or a batched sweep.
    """

    EVERY = 0.1  # seconds between redraws: a step loop may call show() thousands of times a second
    TICK = 1.0

    def __init__(self, enabled: bool, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.enabled, self.stream, self.clock = enabled, stream, clock
        self.started = self.part_started = clock()
        self.label, self.text, self.done_at = "", "", None  # done_at: when the part should end, once estimated
        self.drawn, self.last_draw = False, -float("inf")
        self.lock, self.stop, self.ticker = threading.RLock(), threading.Event(), None

    @classmethod
    def for_command(cls, args: argparse.Namespace, stream: TextIO | None = None) -> Progress:
        """Enabled when `stream` (default: stderr) is a terminal and the command was not given --json."""
        stream = stream or sys.stderr
        return cls(not getattr(args, "json", False) and stream.isatty(), stream)

    def begin(self, label: str) -> None:
        """Start a part of the work (a configuration, a run): its label leads the line, its clock starts."""
        with self.lock:
            self.label, self.text, self.done_at, self.part_started = label, "", None, self.clock()
            self.show(force=True)
        if self.enabled and self.ticker is None:
            self.ticker = threading.Thread(target=self._tick, name="mnistlab-progress", daemon=True)
            self.ticker.start()

    def show(self, text: str = "", fraction: float | None = None, force: bool = False) -> None:
        """Update the line: label, `text` (e.g. "epoch 3/10"), elapsed time and, given `fraction` of the part
        done, the time left for the part. Redraws come at most every `EVERY` seconds unless forced."""
        if not self.enabled:
            return
        with self.lock:
            now = self.clock()
            self.text = text
            if fraction is not None and 0 < fraction < 1:
                self.done_at = now + (now - self.part_started) * (1 - fraction) / fraction
            elif fraction is not None:
                self.done_at = None
            if force or now - self.last_draw >= self.EVERY:
                self._draw(now)

    def _draw(self, now: float) -> None:
        parts = [p for p in (self.label, self.text) if p] + [f"{clock_text(now - self.started)} elapsed"]
        if self.done_at is not None:
            parts.append(f"~{clock_text(max(0.0, self.done_at - now))} left")
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r" + "  ".join(parts)[:width] + "\x1b[K")
        self.stream.flush()
        self.drawn, self.last_draw = True, now

    def _tick(self) -> None:
        while not self.stop.wait(self.TICK):
            with self.lock:
                if not self.stop.is_set():
                    self._draw(self.clock())

    def clear(self) -> None:
        """Erase the line, e.g. before printing a result on the same terminal (the next tick redraws it)."""
        with self.lock:
            if self.enabled and self.drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.drawn = False

    def close(self) -> None:
        """Stop the tick and erase the line: the command is done with progress."""
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join()
        self.clear()

    def printer(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """`say` that first erases the status line, so printed lines and the status never share a row."""

        def clean_say(line: str) -> None:
            with self.lock:
                self.clear()
                say(line)

        return clean_say
