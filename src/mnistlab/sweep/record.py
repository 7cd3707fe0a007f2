"""sweep.json: the sweep's settings and every trial so far, rewritten atomically after each trial.

A killed sweep leaves a complete file describing the trials that ended; `--resume`
reads it back and skips them, provided the settings are those of the same sweep.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..fileio import write_json

SWEEP = "sweep.json"
DONE = ("finished", "stopped_early")  # a resumed sweep reruns failed trials only


class SweepRecord:
    def __init__(self, sweep_dir: Path, settings: dict, resume: bool):
        self.dir, self.path, self.settings = sweep_dir, sweep_dir / SWEEP, settings
        self.trials: dict[str, dict] = {}
        if self.path.exists():
            if not resume:
                raise UserError(f"--out {sweep_dir}: already holds a sweep; add --resume to continue it, or choose another folder")
            old = load_sweep(sweep_dir)
            if old["settings"]["key"] != settings["key"]:
                raise UserError(f"--resume: {self.path} was written by another sweep (different space, search or data); "
                                f"rerun its own command or choose another --out")
            self.trials = {t["id"]: t for t in old["trials"] if t["status"] in DONE}
        elif sweep_dir.exists() and any(sweep_dir.iterdir()):
            raise UserError(f"--out {sweep_dir}: exists and is not a sweep folder; choose a new or empty folder")

    def done(self) -> dict[str, dict]:
        return dict(self.trials)

    def add(self, trial: dict, extra: dict | None = None) -> None:
        self.trials[trial["id"]] = trial
        self.write(extra)

    def write(self, extra: dict | None = None) -> None:
        trials = sorted(self.trials.values(), key=lambda t: t["id"])
        write_json(self.path, {"settings": self.settings, "trials": trials, **(extra or {})})


def load_sweep(sweep_dir: str | Path) -> dict:
    path = Path(sweep_dir) / SWEEP
    try:
        data = json.loads(path.read_text())
        data["settings"], data["trials"]  # noqa: B018 - both must be there
    except OSError:
        raise UserError(f"{sweep_dir}: no {SWEEP} there; pass a folder written by `mnistlab sweep`") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a valid sweep record ({exc.__class__.__name__}: {exc})") from None
    return data
