"""One status line for long commands: what runs, how far it is, elapsed and remaining time.

Where the line goes depends on who is watching. On a terminal it is redrawn in place on stderr; in a
Jupyter notebook it is one output line updated in place; piped into a log it becomes plain lines on
stderr, one when a part of the work begins (after the first seconds) and one at least every
`PLAIN_EVERY` seconds, so a log shows the command is alive without filling up. With --json nothing is
drawn: stdout stays one JSON object and stderr stays free for errors.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

MODES = ("off", "terminal", "plain", "notebook")


def clock_text(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython with a kernel attached), where stderr is no terminal
    but an output area that can be updated in place."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def mode_for(stream: TextIO, json: bool = False) -> str:
    """The drawing mode for a status line on `stream`: off under --json, else notebook, terminal or plain."""
    if json:
        return "off"
    if stream is sys.stderr and in_notebook():
        return "notebook"
    return "terminal" if stream.isatty() else "plain"


class NotebookLine:
    """One output line of a notebook cell, replaced in place (IPython's display handles)."""

    def __init__(self):
        from IPython.display import Pretty, display  # only ever reached inside a Jupyter kernel

        self.text = Pretty
        self.handle = display(Pretty(""), display_id=True)

    def write(self, line: str) -> None:
        self.handle.update(self.text(line))


class Progress:
    """A status line: `begin(label)` starts a part of the work, `show(text, fraction)` updates the line,
    `close()` ends it for good.

    Elapsed time counts from the command's start; the remaining time is that of the current part,
    extrapolated from the fraction of it done so far. Between updates a background tick redraws the line
    every `TICK` seconds, so the clock keeps moving through a long epoch or a batched sweep.
    `enabled=True` picks the mode from the stream (`mode_for`); `mode` forces one.
    """

    EVERY = 0.1  # seconds between redraws on a terminal: a step loop may call show() thousands of times a second
    NOTEBOOK_EVERY = 0.5  # a notebook's front end re-renders the whole output on each update
    PLAIN_EVERY = 10.0  # at most this long between two plain lines in a log
    PLAIN_AFTER = 2.0  # commands shorter than this print no plain progress at all
    TICK = 1.0

    def __init__(self, enabled: bool, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 mode: str | None = None):
        self.stream = stream or sys.stderr
        self.mode = mode or (mode_for(self.stream) if enabled else "off")
        self.enabled, self.clock = self.mode != "off", clock
        self.started = self.part_started = clock()
        self.label, self.text, self.done_at = "", "", None  # done_at: when the part should end, once estimated
        self.drawn, self.last_draw, self.notebook = False, -float("inf"), None
        self.lock, self.stop, self.ticker = threading.RLock(), threading.Event(), None

    @classmethod
    def for_command(cls, args: argparse.Namespace, stream: TextIO | None = None) -> Progress:
        """The line of a command: off with --json, else drawn as `stream` (default: stderr) allows."""
        stream = stream or sys.stderr
        return cls(True, stream, mode=mode_for(stream, getattr(args, "json", False)))

    def begin(self, label: str) -> None:
        """Start a part of the work (a configuration, a run): its label leads the line, its clock starts."""
        with self.lock:
            self.label, self.text, self.done_at, self.part_started = label, "", None, self.clock()
            if self.mode == "plain":
                self.last_draw = -float("inf")  # a new part is worth a line in the log, once past PLAIN_AFTER
            self.show(force=True)
        if self.enabled and self.ticker is None:
            self.ticker = threading.Thread(target=self._tick, name="mnistlab-progress", daemon=True)
            self.ticker.start()

    def show(self, text: str = "", fraction: float | None = None, force: bool = False) -> None:
        """Update the line: label, `text` (e.g. "epoch 3/10"), elapsed time and, given `fraction` of the part
        done, the time left for the part. Redraws are throttled per mode; `force` lifts a terminal's throttle."""
        if not self.enabled:
            return
        with self.lock:
            now = self.clock()
            self.text = text
            if fraction is not None and 0 < fraction < 1:
                self.done_at = now + (now - self.part_started) * (1 - fraction) / fraction
            elif fraction is not None:
                self.done_at = None
            if self._due(now, force):
                self._draw(now)

    def _due(self, now: float, force: bool = False) -> bool:
        if self.mode == "plain":
            return now - self.started >= self.PLAIN_AFTER and now - self.last_draw >= self.PLAIN_EVERY
        return force or now - self.last_draw >= (self.NOTEBOOK_EVERY if self.mode == "notebook" else self.EVERY)

    def line(self, now: float) -> str:
        parts = [p for p in (self.label, self.text) if p] + [f"{clock_text(now - self.started)} elapsed"]
        if self.done_at is not None:
            parts.append(f"~{clock_text(max(0.0, self.done_at - now))} left")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        text = self.line(now)
        if self.mode == "notebook":
            self.notebook = self.notebook or NotebookLine()
            self.notebook.write(text)
        elif self.mode == "plain":
            self.stream.write(text + "\n")
        else:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + text[:width] + "\x1b[K")
        self.stream.flush()
        self.drawn, self.last_draw = self.mode != "plain", now

    def _tick(self) -> None:
        while not self.stop.wait(self.TICK):
            with self.lock:
                now = self.clock()
                if not self.stop.is_set() and (self.mode != "plain" or self._due(now)):
                    self._draw(now)

    def clear(self) -> None:
        """Erase the line, e.g. before printing a result on the same terminal (the next tick redraws it)."""
        with self.lock:
            if self.drawn and self.mode == "terminal":
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            elif self.drawn and self.mode == "notebook":
                self.notebook.write("")
            self.drawn = False

    def close(self) -> None:
        """Stop the tick and erase the line: the command is done with progress."""
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join()
        self.clear()

    def __reduce__(self):
        """A status line belongs to its process: a pickled copy (e.g. inside a Ray Tune callback) draws nothing."""
        return (Progress, (False,))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def printer(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """`say` that first erases the status line, so printed lines and the status never share a row."""

        def clean_say(line: str) -> None:
            with self.lock:
                self.clear()
                say(line)

        return clean_say
