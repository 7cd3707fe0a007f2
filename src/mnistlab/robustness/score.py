"""Score runs on the corruption suite: accuracy raw and through `predict`'s preparation, per corruption and
severity, with a few examples per corruption for the figure."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..train.run import run_accuracy
from .corruptions import CORRUPTIONS, QUICK, SEVERITIES, check_names, corrupt, families, readings


@dataclass(frozen=True)
class Suite:
    """What a benchmark runs: the test images (uint8 (N, 28, 28)) and labels, the corruptions, the seed."""

    images: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    seed: int = 0
    source: str = ""

    @classmethod
    def of(cls, dataset, names=None, quick: bool = False, seed: int = 0) -> Suite:
        """The suite on a data set's test images: all of them, or the first QUICK with `quick`."""
        n = min(QUICK, len(dataset.test_labels)) if quick else len(dataset.test_labels)
        return cls(np.asarray(dataset.test_images[:n]), np.asarray(dataset.test_labels[:n]),
                   tuple(check_names(names or CORRUPTIONS)), seed, f"{dataset.name} test set ({n:,} images)")


def example_index(name: str, n: int) -> int:
    """The test image a corruption's row of the figure shows: fixed per name, different across names."""
    return sum(map(ord, name)) * 7919 % n


def score(run, suite: Suite, on_step: Callable[[int, int, str], None] | None = None) -> dict:
    """Accuracy of `run` on every corruption and severity of `suite`, raw and prepared.

    Returns clean_accuracy (raw clean images), clean_prepared, severities {name: {raw: [a1, a2, a3],
    prepared: [...]}}, corruptions {name: {raw, prepared}} (means over severities), families {family: prepared
    mean}, mean_accuracy (prepared, over every corruption and severity), worst {name, accuracy} and examples
    {name: [{image, raw, prepared} per severity], plus clean and label}. `on_step(i, total, label)` reports progress.
    """
    return score_runs([run], suite, on_step)[0]


def score_runs(runs: list, suite: Suite, on_step: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """`score` for several runs at once: each corrupted set is made and prepared once (the preparation, one image
    at a time, is most of the time) and every run reads it."""
    labels = suite.labels

    def accuracy(run, images: np.ndarray) -> tuple[float, np.ndarray]:
        return run_accuracy(run, images, labels)

    ready = readings(suite.images)
    cleans = [accuracy(run, suite.images) for run in runs]
    results = [{"clean_accuracy": clean, "clean_prepared": accuracy(run, ready.read_by(run))[0], "severities": {}, "examples": {},
                "n_images": len(labels), "source": suite.source, "seed": suite.seed} for run, (clean, _) in zip(runs, cleans)]
    total, step = len(suite.names) * len(SEVERITIES), 0
    for name in suite.names:
        k = example_index(name, len(labels))
        for result, (_, clean_pred) in zip(results, cleans):
            result["severities"][name] = {"raw": [], "prepared": []}
            result["examples"][name] = {"label": int(labels[k]), "clean": suite.images[k].tolist(),
                                        "clean_answer": int(clean_pred[k]), "severities": []}
        for s in SEVERITIES:
            if on_step is not None:
                on_step(step, total, f"{name} {s}")
            step += 1
            images = corrupt(suite.images, name, s, suite.seed)
            ready = readings(images)
            for run, result in zip(runs, results):
                read = ready.read_by(run)
                (raw, raw_pred), (prep, prep_pred) = accuracy(run, images), accuracy(run, read)
                result["severities"][name]["raw"].append(raw)
                result["severities"][name]["prepared"].append(prep)
                result["examples"][name]["severities"].append({"image": images[k].tolist(), "prepared_image": read[k].tolist(),
                                                               "raw": int(raw_pred[k]), "prepared": int(prep_pred[k])})
    return [summarize(result) for result in results]


def summarize(result: dict) -> dict:
    """Add the means the table and the JSON show to a result holding `severities`."""
    sev = result["severities"]
    corruptions = {n: {k: float(np.mean(v[k])) for k in ("raw", "prepared")} for n, v in sev.items()}
    worst = min(corruptions, key=lambda n: corruptions[n]["prepared"])
    fams = {f: float(np.mean([corruptions[n]["prepared"] for n in names if n in corruptions]))
            for f, names in families().items() if any(n in corruptions for n in names)}
    return {**result, "corruptions": corruptions, "families": fams,
            "mean_accuracy": float(np.mean([a for v in sev.values() for a in v["prepared"]])),
            "mean_raw": float(np.mean([a for v in sev.values() for a in v["raw"]])),
            "worst": {"name": worst, "accuracy": corruptions[worst]["prepared"]}}


JSON_KEYS = ("run_dir", "clean_accuracy", "mean_accuracy", "worst", "corruptions")


def json_view(result: dict) -> dict:
    """The object `robustness --json` prints for one run: exactly the documented keys."""
    return {k: result[k] for k in JSON_KEYS}
