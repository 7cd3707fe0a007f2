"""Does a run know when it is unsure? Its probabilities' reliability on the test set before and after its
temperature, and how often `predict` marks digits, and things that are not digits, unsure.

Both digits and non-digits go through `predict`'s preparation, as a user's file would; the threshold is the one
`predict` uses (calibration.UNSURE_BELOW), chosen from digits alone: the non-digits never tuned it.
"""
from __future__ import annotations

import numpy as np

from ..calibration import UNSURE_BELOW, before_after, unsure
from ..train.metrics import to_logits
from .corruptions import prepared
from .nondigits import nondigits

NONDIGITS = 3000  # drawings measured: a rate near 50% is then known to about +-1 point (one standard error)


def reliability_numbers(run, images: np.ndarray, labels: np.ndarray) -> dict:
    """Reliability bins and ECE of `run`'s probabilities on `images` without its temperature and with it."""
    logits = to_logits(run.outputs(images), run.model.config.head).cpu().numpy()
    return before_after(logits, np.asarray(labels), run.temperature)


def unsure_rates(run, digits: np.ndarray, labels: np.ndarray, n_nondigits: int = NONDIGITS, seed: int = 0) -> dict:
    """How often `run` answers below UNSURE_BELOW: on `digits` (uint8 (N, 28, 28), right and wrong answers apart)
    and on `n_nondigits` drawings of letters, doodles and faces (each kind apart), all through the preparation;
    with each one's top probability, for the figure."""
    classes, probs = run.predict(prepared(digits, run))
    top, marked, right = probs.max(1), unsure(probs), classes == np.asarray(labels)
    drawings, kinds = nondigits(n_nondigits, seed)
    other = run.predict(prepared(drawings, run))[1]
    other_marked, kinds = unsure(other), np.asarray(kinds)
    rate = lambda m: float(m.mean()) if m.size else None  # noqa: E731
    return {"unsure_below": UNSURE_BELOW, "seed": seed,
            "digits": {"n": int(len(top)), "unsure": rate(marked), "unsure_right": rate(marked[right]),
                       "unsure_wrong": rate(marked[~right]), "wrong": int((~right).sum()), "top": top.tolist()},
            "nondigits": {"n": int(len(other)), "unsure": rate(other_marked), "top": other.max(1).tolist(),
                          "by_kind": {k: rate(other_marked[kinds == k]) for k in dict.fromkeys(kinds.tolist())}}}


def calibration_numbers(run, images: np.ndarray, labels: np.ndarray, n_nondigits: int = NONDIGITS, seed: int = 0) -> dict:
    """Everything the calibration figure and docs show for one run."""
    return {**reliability_numbers(run, images, labels), "unsure": unsure_rates(run, images, labels, n_nondigits, seed)}


def answers_on_drawings(run, n: int = 16, seed: int = 0) -> dict:
    """The first `n` drawings of `nondigits(seed)` and `run`'s answer to each through the preparation: the figure's."""
    images, kinds = nondigits(n, seed)
    classes, probs = run.predict(prepared(images, run))
    return {"images": images, "kinds": kinds, "answers": [run.classes[c] for c in classes],
            "probability": probs.max(1).tolist(), "unsure": unsure(probs).tolist()}
