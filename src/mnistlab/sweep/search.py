"""Search strategies: which configurations to try, and ASHA, which trials to stop early.

Grid and random fix every configuration from the space and the seed alone (so a resumed
sweep and another executor see the same list), generated lazily: the grid is counted, never
built, and a plan over MAX_TRIALS is refused before any work. TPE asks Optuna for a few
configurations at a time and tells it each result.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

from ..errors import UserError
from .space import Choice, Range, Space

SEARCHES = ("grid", "random", "tpe")
MAX_TRIALS = 100_000  # trials one sweep may plan: at a second each, more than a day of training


def maximize(metric: str) -> bool:
    return "accuracy" in metric


def trial_id(index: int) -> str:
    return f"t{index:03d}"


def plan_size(space: Space, kind: str, trials: int | None) -> int:
    """How many trials the search plans, counted without building them; over MAX_TRIALS is refused."""
    if kind not in SEARCHES:
        raise UserError(f"--search {kind!r}: choose one of {', '.join(SEARCHES)}")
    if kind == "grid":
        sizes = [len(p.grid()) for p in space.params.values()]
        if min(math.prod(sizes), trials or math.inf) > MAX_TRIALS:
            raise UserError(f"--search grid: the space holds {math.prod(sizes):,} configurations "
                            f"({' x '.join(map(str, sizes))}); at most {MAX_TRIALS:,} can be planned: use fewer points, "
                            f"--trials N for the first N, or --search random --trials N")
        return min(math.prod(sizes), trials or math.prod(sizes))
    if not trials or trials < 1:
        raise UserError(f"--search {kind} needs --trials N (N >= 1)")
    if trials > MAX_TRIALS:
        raise UserError(f"--trials {trials:,}: at most {MAX_TRIALS:,} trials can be planned; give fewer")
    return trials


class Search:
    """Yields (id, config) batches; `tell` feeds a finished trial's metric back."""

    def __init__(self, space: Space, kind: str, trials: int | None, seed: int, metric: str):
        self.space, self.kind, self.metric, self.seed = space, kind, metric, seed
        self.total = plan_size(space, kind, trials)
        if kind == "tpe":
            self.study = _optuna_study(seed, metric)
            self.asked: dict[str, object] = {}

    def planned(self) -> Iterator[tuple[str, dict]]:
        """Every grid or random trial, generated afresh each time from the space and the seed."""
        names = list(self.space.params)
        if self.kind == "grid":
            configs = (dict(zip(names, combo)) for combo in itertools.product(*(self.space.params[n].grid() for n in names)))
        else:
            rng = np.random.default_rng(self.seed)
            configs = ({n: self.space.params[n].sample(rng) for n in names} for _ in itertools.count())
        return ((trial_id(i), c) for i, c in enumerate(itertools.islice(configs, self.total)))

    def next(self, n: int, done: dict[str, dict]) -> list[tuple[str, dict]]:
        """Up to `n` trials not yet done (all remaining ones for grid/random)."""
        if self.kind != "tpe":
            return [(i, c) for i, c in self.planned() if i not in done]
        batch, index = [], 0
        while len(batch) < n and len(done) + len(self.asked) < self.total:
            while trial_id(index) in done or trial_id(index) in self.asked:
                index += 1
            ask = self.study.ask(_distributions(self.space))
            self.asked[trial_id(index)] = ask
            batch.append((trial_id(index), dict(ask.params)))
        return batch

    def resume(self, record: dict) -> None:
        """Teach TPE a trial finished in an earlier run of the sweep."""
        if self.kind == "tpe" and record["metrics"].get(self.metric) is not None:
            # optuna: the optional tpe extra
            import optuna

            self.study.add_trial(optuna.trial.create_trial(params=record["config"], distributions=_distributions(self.space),
                                                           value=record["metrics"][self.metric]))

    def tell(self, record: dict) -> None:
        if self.kind != "tpe" or record["id"] not in self.asked:
            return
        ask = self.asked.pop(record["id"])
        value = record["metrics"].get(self.metric)
        if value is None:
            # optuna: the optional tpe extra
            import optuna

            self.study.tell(ask, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(ask, value)


def _optuna_study(seed: int, metric: str):
    try:
        # optuna: the optional tpe extra
        import optuna
    except ModuleNotFoundError:
        raise UserError("--search tpe needs Optuna: pip install 'mnistlab[tpe]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize" if maximize(metric) else "minimize",
                               sampler=optuna.samplers.TPESampler(seed=seed))


def _distributions(space: Space) -> dict:
    # optuna: the optional tpe extra
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, p in space.params.items():
        if isinstance(p, Choice):
            out[name] = CategoricalDistribution(p.values)
        elif isinstance(p, Range) and p.integer:
            out[name] = IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            out[name] = FloatDistribution(p.low, p.high, log=p.log)
    return out


class ASHA:
    """Asynchronous successive halving on epochs: at each rung (grace, grace * eta, ...) below a trial's last
    epoch, the trial goes on only if its metric is in the best 1/eta of all values reported at that rung."""

    def __init__(self, metric: str, eta: int = 3, grace: int = 1):
        if eta < 2 or grace < 1:
            raise UserError(f"--reduction-factor {eta} / --grace {grace}: need a factor of at least 2 and a grace of at least 1 epoch")
        self.metric, self.eta, self.grace, self.max = metric, eta, grace, maximize(metric)
        self.seen: dict[int, list[float]] = {}

    def is_rung(self, epoch: int) -> bool:
        r = self.grace
        while r < epoch:
            r *= self.eta
        return r == epoch

    def keep(self, epoch: int, value: float | None) -> bool:
        if not self.is_rung(epoch):
            return True
        if value is None:
            return False
        values = self.seen.setdefault(epoch, [])
        values.append(value)
        q = 1 - 1 / self.eta if self.max else 1 / self.eta
        cutoff = float(np.quantile(values, q))
        return value >= cutoff if self.max else value <= cutoff
