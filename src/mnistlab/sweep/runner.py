"""`run_sweep`: a space, a search and an executor in; sweep.json, figures and the best run out."""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..data.formats import ReadOptions
from ..data.sources import load_dataset
from ..data.transforms import NORMALIZATIONS
from ..display import Record
from ..errors import UserError
from ..fileio import atomic_dir
from ..models.layers import ACTIVATION_CLASSES, HEADS
from ..tables import format_table
from ..train.choices import check_folds
from ..train.config import TrainConfig
from .executors import Executor, ExecutorSpec, check_executor, make_executor
from .figures import draw_figures
from .record import SweepRecord
from .search import ASHA, Search, maximize, plan_size
from .space import Choice, Space, flag, make_space
from .trial import Trial, trial_options

METRICS = ("val_accuracy", "val_loss", "train_accuracy", "train_loss")
TRIALS, BEST = "trials", "best"


def check_options(space: Space, recipe: str) -> None:
    """Refuse a bad value of any option before a trial starts: each choice and range end checked on its own."""
    candidates = [(name, v) for name, p in space.params.items()
                  for v in (p.values if isinstance(p, Choice) else (p.cast(p.low), p.cast(p.high)))]
    for name, value in [(None, None), *candidates]:
        try:
            model, train, normalize = trial_options({"recipe": recipe, **space.fixed, **({name: value} if name else {})})
            TrainConfig(**train).check()
            for key, chosen, allowed in (("normalize", normalize, NORMALIZATIONS), ("activation", model["activation"], ACTIVATION_CLASSES),
                                         ("head", model["head"], HEADS)):
                if chosen not in allowed:
                    raise UserError(f"--{key} {chosen!r}: choose from {', '.join(allowed)}")
        except UserError as exc:
            raise UserError((f"{flag(name)} {value!r}: " if name else "") + str(exc)) from None


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def describe_param(p) -> str | list:
    if isinstance(p, Choice):
        return list(p.values)
    return f"{p.low:g}..{p.high:g}:{'log' if p.log else 'lin'}" + (f":{p.points}" if p.points else "")


@dataclass(frozen=True)
class SweepSpec:
    """A sweep besides its space: where it goes, how it searches and judges, on which data and device, how it stops."""

    out: str | Path
    search: str = "random"
    trials: int | None = None
    seed: int = 0
    metric: str = "val_accuracy"
    recipe: str = "default"
    dataset: str = "mnist"
    data_dir: str | None = None
    read: dict | None = None  # how to read data_dir (data.formats.ReadOptions as a dict): CSV shape, test file, image size
    val: int | None = None  # validation images carved off the end of train (default: a sixth)
    folds: int | None = None  # instead: score each trial by the mean of a stratified K-fold cross-validation
    train_size: int | None = None
    device: str = "cpu"
    stop_early: bool = False
    reduction_factor: int = 3
    resume: bool = False


SPEC_FIELDS = tuple(f.name for f in fields(SweepSpec))


def run_sweep(values: dict, spec: SweepSpec | None = None, executor: ExecutorSpec | str | None = None, *,
              say: Callable[[str], None] = print, **given) -> dict:
    """Search `values` (option name -> value as on the command line, see `space`) and keep the best run.

    `given`: SweepSpec's fields by keyword (out=..., search="grid"), and the executor's own options where
    `executor` is a name (jobs=2, address=...). Trials are judged on `spec.metric` over a validation split carved
    off the training set; the test set only reports the best trial's accuracy at the end.
    """
    spec = replace(spec, **{k: v for k, v in given.items() if k in SPEC_FIELDS}) if spec else \
        SweepSpec(**{k: v for k, v in given.items() if k in SPEC_FIELDS})
    if not isinstance(executor, ExecutorSpec):
        executor = ExecutorSpec.of(executor or "local", **{k: v for k, v in given.items() if k not in SPEC_FIELDS})
    if spec.metric not in METRICS:
        raise UserError(f"--metric {spec.metric!r}: choose one of {', '.join(METRICS)} (the test set never chooses)")
    check_executor(executor)  # an address nothing answers on is refused before the data loads or the folder is made
    space, record, data = prepare(values, spec, say)
    plan = Search(space, spec.search, spec.trials, spec.seed, spec.metric)
    done = record.done()
    for trial in done.values():
        plan.resume(trial)
    if done:
        say(f"resuming: {len(done)} trial(s) already done are skipped")
    out = Path(spec.out)
    runner = make_executor(executor, data, out / TRIALS, spec.device)
    say(f"sweep: {plan.total} trial(s), {spec.search} search over {', '.join(space.params) or 'nothing'}; "
        f"{executor.name} executor; metric {spec.metric} "
        + (f"as the mean of {spec.folds} folds" if spec.folds else f"on {data['val']} validation images"))
    start = time.perf_counter()
    try:
        run_trials(plan, record, runner, spec, space, say)
        where = runner.info()
    finally:
        runner.close()
    seconds = time.perf_counter() - start
    result = finish(record, spec.metric, out, where, seconds)
    say(table_text(record.trials.values(), list(space.params)))
    best = result["best"]
    if best:
        say(f"best: {best['id']} {_config_text(best['config'])}: {spec.metric} {_fmt(best[spec.metric])}, "
            f"test accuracy {_fmt(best['test_accuracy'])} (reported, not used to choose); run saved to {best['run_dir']}")
    say(f"sweep saved to {out / 'sweep.json'} ({seconds:.1f} s)")
    return result


def prepare(values: dict, spec: SweepSpec, say: Callable[[str], None]) -> tuple[Space, SweepRecord, dict]:
    """Load the data, parse and check the space, open sweep.json: the space, the record and the data settings."""
    if spec.folds is not None:
        check_folds(spec.folds)  # before the data load: cheap
    ds = load_dataset(spec.dataset, spec.data_dir, ReadOptions.from_dict(spec.read))
    if spec.folds is not None and (spec.val or spec.stop_early):
        raise UserError(f"--folds {spec.folds}: goes with neither --val (the folds are the validation sets) nor "
                        f"--stop-early (each trial's folds train to the end together)")
    val = 0 if spec.folds else len(ds.train_labels) // 6 if spec.val is None else spec.val
    if spec.metric.startswith("val") and val < 1 and not spec.folds:
        raise UserError(f"--val {val}: --metric {spec.metric} needs a validation split; give --val N with N >= 1")
    space = make_space(values, ds.shape, ds.n_classes)
    for model, reason in space.rejected.items():
        say(f"left out model '{model}': {reason}")
    check_options(space, spec.recipe)
    plan_size(space, spec.search, spec.trials)  # a space too large is refused before the folder is made
    data = {"dataset": spec.dataset, "data_dir": spec.data_dir, "val": val, "train_size": spec.train_size,
            **({"folds": spec.folds} if spec.folds else {}), **({"read": spec.read} if spec.read else {})}
    defining = {"space": {n: describe_param(p) for n, p in space.params.items()}, "fixed": space.fixed,
                "search": spec.search, "trials": spec.trials, "seed": spec.seed, "metric": spec.metric,
                "recipe": spec.recipe, "data": data, "stop_early": spec.stop_early and spec.reduction_factor}
    settings = {**defining, "key": _key(defining), "rejected_models": space.rejected, "source": ds.describe()}
    return space, SweepRecord(Path(spec.out), settings, spec.resume), data


def run_trials(plan: Search, record: SweepRecord, runner: Executor, spec: SweepSpec, space: Space,
               say: Callable[[str], None]) -> None:
    """Ask the search for trials, a round of `runner.jobs` at a time, until it has no more; record each as it ends."""
    asha = ASHA(spec.metric, spec.reduction_factor) if spec.stop_early else None
    configs: dict[str, dict] = {}

    def on_record(trial: dict) -> None:
        trial = {"id": trial["id"], "config": configs[trial["id"]], **trial}
        record.add(trial)
        plan.tell(trial)
        m = trial["metrics"]
        detail = trial["reason"] if trial["status"] == "failed" else f"{spec.metric} {_fmt(m.get(spec.metric))}"
        say(f"  {trial['id']} {_config_text(trial['config'])}: {trial['status']}, {detail}")

    attempted: set[str] = set()
    while True:
        batch = [(i, c) for i, c in plan.next(runner.jobs, record.done()) if i not in attempted and i not in record.trials]
        if not batch:
            return
        attempted.update(i for i, _ in batch)
        configs.update(batch)
        folds = {"folds": spec.folds} if spec.folds else {}
        runner.run([Trial(i, {"recipe": spec.recipe, **space.fixed, **c, **folds}) for i, c in batch], on_record, asha)


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _config_text(config: dict) -> str:
    return " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={_fmt(v)}" for k, v in config.items())


def best_trial(trials, metric: str) -> dict | None:
    """The best finished trial by `metric` (ties: the earlier id)."""
    scored = [t for t in trials if t["status"] == "finished" and t["metrics"].get(metric) is not None
              and math.isfinite(t["metrics"][metric])]
    if not scored:
        return None
    sign = -1 if maximize(metric) else 1
    return min(scored, key=lambda t: (sign * t["metrics"][metric], t["id"]))


def finish(record: SweepRecord, metric: str, out: Path, executor: dict, seconds: float) -> dict:
    """Copy the best trial's run to out/best, draw the figures, write the final sweep.json; the --json payload."""
    from ..train.run import load_run  # torch: the trials are done by now (see prepare)

    trials = sorted(record.trials.values(), key=lambda t: t["id"])
    top = best_trial(trials, metric)
    best = None
    if top is not None:
        src = out / TRIALS / top["id"]
        with atomic_dir(out / BEST) as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
        run = load_run(out / BEST)
        best = {"id": top["id"], "config": top["config"], metric: top["metrics"][metric],
                "val_accuracy": top["metrics"]["val_accuracy"], "test_accuracy": run.final.get("test_accuracy"),
                "run_dir": str(out / BEST)}
    figures = []
    if trials:
        figures = draw_figures(trials, record.settings, metric, out, top["id"] if top else None)
    extra = {"executor": executor, "seconds": round(seconds, 3), "best": best, "figures": figures}
    record.write(extra)
    return Record({"sweep_dir": str(out), "executor": executor["executor"],
            "trials": [{k: t.get(k) for k in ("id", "config", "status", "reason", "metrics")} for t in trials],
            "best": best, "figures": figures, "seconds": round(seconds, 3)})


def table_text(trials, names: list[str]) -> str:
    rows = [{"id": t["id"], **{n: t["config"].get(n) for n in names}, "params": t.get("params"), "status": t["status"],
             "epochs": len(t["history"]), "val_accuracy": t["metrics"]["val_accuracy"], "val_loss": t["metrics"]["val_loss"],
             "seconds": t["metrics"]["seconds"]} for t in sorted(trials, key=lambda t: t["id"])]
    return format_table(rows)
