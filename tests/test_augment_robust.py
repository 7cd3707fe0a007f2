"""The robust recipe's augmentation: drawn inside the step and graph-safe, seeded, half of each batch, options."""
import pytest
import torch

from conftest import assert_user_error
from mnistlab import make_splits
from mnistlab.errors import UserError
from mnistlab.train.augment import ROBUST, make_augment, parse_augment
from mnistlab.train.graphcheck import strict_capture
from mnistlab.train.loop import train_recipe
from mnistlab.train.recipes import ROBUST_AUGMENT


def test_the_robust_step_is_graph_safe(sample):
    """The captured step with every augmentation passes the strict CPU check: no host read, same ops each replay."""
    with strict_capture() as graphs:
        run = train_recipe("robust", sample, device="cpu", precision="bf16", capture="on", max_steps=7, batch_size=64)
    assert run.train["capture"] == "on" and run.train["augment"] == ROBUST_AUGMENT and graphs[0].replays == 4


def test_augmentation_is_seeded_and_keeps_half_the_batch_clean(sample):
    splits = make_splits(sample)
    x = splits.x_train[:64]
    first, again = (make_augment(ROBUST_AUGMENT, splits.normalizer, torch.device("cpu"), seed=5)(x) for _ in range(2))
    assert torch.equal(first, again) and first.shape == x.shape and torch.isfinite(first).all()
    assert torch.equal(first[32:], x[32:]) and not torch.equal(first[:32], x[:32])
    lo, hi = (float(splits.normalizer(torch.tensor([[[v]]]), "cpu")) for v in (0, 255))
    assert lo - 1e-4 <= float(first.min()) and float(first.max()) <= hi + 1e-4  # still pixels of 0..255


def test_augment_option_lists_and_strengths():
    assert parse_augment("none") == {} and parse_augment("affine") == {"affine": 1.0}
    assert parse_augment("elastic, blur=0.5") == {"elastic": 1.0, "blur": 0.5}
    assert set(parse_augment(ROBUST_AUGMENT)) == set(ROBUST)
    for bad, message in (("rain", "unknown augmentation 'rain'"), ("blur=3", "strength"), ("blur=x", "strength"), (",", "empty")):
        with pytest.raises(UserError, match=message):
            parse_augment(bad)


def test_cli_refuses_a_bad_augmentation(cli):
    assert_user_error(cli("train", "--dataset", "mnist-sample", "--augment", "elastic,snow"), "unknown augmentation 'snow'")
