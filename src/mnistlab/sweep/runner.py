"""`run_sweep`: a space, a search and an executor in; sweep.json, figures and the best run out."""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import UserError
from ..fileio import atomic_dir
from .record import SweepRecord
from .search import ASHA, Search, maximize
from .space import Choice, Space, flag, make_space
from .trial import trial_options

METRICS = ("val_accuracy", "val_loss", "train_accuracy", "train_loss")
TRIALS, BEST = "trials", "best"


def check_options(space: Space, recipe: str) -> None:
    """Refuse a bad value of any option before a trial starts: each choice and range end checked on its own."""
    from ..data.transforms import NORMALIZATIONS
    from ..models import ACTIVATIONS, HEADS
    from ..train.config import TrainConfig

    candidates = [(name, v) for name, p in space.params.items()
                  for v in (p.values if isinstance(p, Choice) else (p.cast(p.low), p.cast(p.high)))]
    for name, value in [(None, None), *candidates]:
        try:
            model, train, normalize = trial_options({"recipe": recipe, **space.fixed, **({name: value} if name else {})})
            TrainConfig(**train).check()
            for key, chosen, allowed in (("normalize", normalize, NORMALIZATIONS), ("activation", model["activation"], ACTIVATIONS),
                                         ("head", model["head"], HEADS)):
                if chosen not in allowed:
                    raise UserError(f"--{key} {chosen!r}: choose from {', '.join(allowed)}")
        except UserError as exc:
            raise UserError((f"{flag(name)} {value!r}: " if name else "") + str(exc)) from None


def make_executor(kind: str, data: dict, out: Path, device: str, jobs: int | None, threads: int | None,
                  address: str | None, cpus_per_trial: float, gpus_per_trial: float):
    if kind == "local":
        from .local import LocalExecutor

        return LocalExecutor(data, out / TRIALS, device, jobs, threads)
    if kind == "ray":
        from .ray_tune import RayExecutor

        return RayExecutor(data, out / TRIALS, device, address, cpus_per_trial, gpus_per_trial)
    raise UserError(f"--executor {kind!r}: choose local or ray")


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def describe_param(p) -> str | list:
    if isinstance(p, Choice):
        return list(p.values)
    return f"{p.low:g}..{p.high:g}:{'log' if p.log else 'lin'}" + (f":{p.points}" if p.points else "")


def run_sweep(values: dict, *, out: str | Path, search: str = "random", trials: int | None = None, seed: int = 0,
              metric: str = "val_accuracy", recipe: str = "default", dataset: str = "mnist", data_dir: str | None = None,
              val: int | None = None, train_size: int | None = None, executor: str = "local", device: str = "cpu",
              jobs: int | None = None, threads: int | None = None, address: str | None = None,
              cpus_per_trial: float = 1, gpus_per_trial: float = 0, stop_early: bool = False, reduction_factor: int = 3,
              resume: bool = False, say: Callable[[str], None] = print) -> dict:
    """Search `values` (option name -> value as on the command line, see `space`) and keep the best run.

    Trials are judged on `metric` over a validation split carved off the training set (`val` images,
    default a sixth); the test set only reports the best trial's accuracy at the end.
    """
    from ..data.sources import load_dataset

    if metric not in METRICS:
        raise UserError(f"--metric {metric!r}: choose one of {', '.join(METRICS)} (the test set never chooses)")
    ds = load_dataset(dataset, data_dir)
    n_train = len(ds.train_labels)
    val = n_train // 6 if val is None else val
    if metric.startswith("val") and val < 1:
        raise UserError(f"--val {val}: --metric {metric} needs a validation split; give --val N with N >= 1")
    space = make_space(values, tuple((1, *ds.train_images.shape[1:])), ds.n_classes)
    for spec, reason in space.rejected.items():
        say(f"left out model '{spec}': {reason}")
    check_options(space, recipe)
    out = Path(out)
    data = {"dataset": dataset, "data_dir": data_dir, "val": val, "train_size": train_size}
    defining = {"space": {n: describe_param(p) for n, p in space.params.items()}, "fixed": space.fixed,
                "search": search, "trials": trials, "seed": seed, "metric": metric, "recipe": recipe, "data": data,
                "stop_early": stop_early and reduction_factor}
    settings = {**defining, "key": _key(defining), "rejected_models": space.rejected,
                "source": ds.describe()}
    plan = Search(space, search, trials, seed, metric)  # a space too large is refused here, before the folder is made
    record = SweepRecord(out, settings, resume)
    done = record.done()
    for trial in done.values():
        plan.resume(trial)
    if done:
        say(f"resuming: {len(done)} trial(s) already done are skipped")
    runner = make_executor(executor, data, out, device, jobs, threads, address, cpus_per_trial, gpus_per_trial)
    asha = ASHA(metric, reduction_factor) if stop_early else None
    say(f"sweep: {plan.total} trial(s), {search} search over {', '.join(space.params) or 'nothing'}; "
        f"{executor} executor; metric {metric} on {val} validation images")
    configs: dict[str, dict] = {}
    start = time.perf_counter()

    def on_record(trial: dict) -> None:
        trial = {"id": trial["id"], "config": configs[trial["id"]], **trial}
        record.add(trial)
        plan.tell(trial)
        m = trial["metrics"]
        detail = trial["reason"] if trial["status"] == "failed" else f"{metric} {_fmt(m.get(metric))}"
        say(f"  {trial['id']} {_config_text(trial['config'])}: {trial['status']}, {detail}")

    attempted: set[str] = set()
    try:
        while True:
            batch = [(i, c) for i, c in plan.next(runner.jobs, record.done()) if i not in attempted and i not in record.trials]
            if not batch:
                break
            attempted.update(i for i, _ in batch)
            configs.update(batch)
            runner.run([(i, {"recipe": recipe, **space.fixed, **c}) for i, c in batch], on_record, asha)
        where = runner.info()
    finally:
        runner.close()
    seconds = time.perf_counter() - start
    result = finish(record, metric, out, where, seconds)
    say(table_text(record.trials.values(), list(space.params)))
    best = result["best"]
    if best:
        say(f"best: {best['id']} {_config_text(best['config'])}: {metric} {_fmt(best[metric])}, "
            f"test accuracy {_fmt(best['test_accuracy'])} (reported, not used to choose); run saved to {best['run_dir']}")
    say(f"sweep saved to {out / 'sweep.json'} ({seconds:.1f} s)")
    return result


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
    from ..train.run import load_run

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
        from .figures import draw_figures

        figures = draw_figures(trials, record.settings, metric, out, top["id"] if top else None)
    extra = {"executor": executor, "seconds": round(seconds, 3), "best": best, "figures": figures}
    record.write(extra)
    return {"sweep_dir": str(out), "executor": executor["executor"],
            "trials": [{k: t.get(k) for k in ("id", "config", "status", "reason", "metrics")} for t in trials],
            "best": best, "figures": figures, "seconds": round(seconds, 3)}


def table_text(trials, names: list[str]) -> str:
    from ..experiments.tables import format_table

    rows = [{"id": t["id"], **{n: t["config"].get(n) for n in names}, "params": t.get("params"), "status": t["status"],
             "epochs": len(t["history"]), "val_accuracy": t["metrics"]["val_accuracy"], "val_loss": t["metrics"]["val_loss"],
             "seconds": t["metrics"]["seconds"]} for t in sorted(trials, key=lambda t: t["id"])]
    return format_table(rows)
