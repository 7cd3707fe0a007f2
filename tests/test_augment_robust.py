"""The robust recipe's augmentation: drawn inside the step and graph-safe, seeded, a share of each batch, options."""
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


def test_augmentation_is_seeded_and_keeps_the_rest_of_the_batch_clean(sample):
    splits = make_splits(sample)
    x = splits.x_train[:64]
    first, again = (make_augment(ROBUST_AUGMENT, splits.normalizer, torch.device("cpu"), seed=5)(x) for _ in range(2))
    assert torch.equal(first, again) and first.shape == x.shape and torch.isfinite(first).all()
    k = int(64 * parse_augment(ROBUST_AUGMENT)["share"])
    assert torch.equal(first[k:], x[k:]) and not (first[:k] == x[:k]).flatten(1).all(1).any()
    quarter = make_augment("elastic,share=0.25", splits.normalizer, torch.device("cpu"), seed=5)(x)
    assert torch.equal(quarter[16:], x[16:]) and not torch.equal(quarter[:16], x[:16])
    lo, hi = (float(splits.normalizer(torch.tensor([[[v]]]), "cpu")) for v in (0, 255))
    assert lo - 1e-4 <= float(first.min()) and float(first.max()) <= hi + 1e-4  # still pixels of 0..255


def test_augment_option_lists_and_strengths():
    assert parse_augment("none") == {} and parse_augment("affine") == {"affine": 1.0}
    assert parse_augment("elastic, blur=0.5") == {"elastic": 1.0, "blur": 0.5}
    assert set(parse_augment(ROBUST_AUGMENT)) - {"share", "until"} == set(ROBUST)
    assert parse_augment("noise,share=0.25") == {"noise": 1.0, "share": 0.25}
    assert parse_augment("noise,until=0.85") == {"noise": 1.0, "until": 0.85}
    for bad, message in (("rain", "unknown augmentation 'rain'"), ("blur=3", "strength"), ("blur=x", "strength"), (",", "empty"),
                         ("share=0.5", "empty"), ("blur,share=1.5", "share of each batch"), ("blur,share=0", "share"),
                         ("until=0.8", "empty"), ("blur,until=0", "fraction of the training steps"), ("blur,until=2", "until")):
        with pytest.raises(UserError, match=message):
            parse_augment(bad)


def test_until_keeps_the_last_steps_clean_counted_on_the_host_or_the_device(sample):
    """`until=0.5` of 10 steps augments steps 0-4 and leaves 5-9 clean, the same whether the step number is a host
    int (eager: nothing computed) or the device's step counter (captured: the same ops, the clean batch chosen)."""
    splits = make_splits(sample)
    x = splits.x_train[:64]

    def at(step):
        return make_augment("elastic,noise,until=0.5", splits.normalizer, torch.device("cpu"), seed=5, total_steps=10)(x, step)

    assert not torch.equal(at(4), x) and torch.equal(at(4), at(torch.tensor([4])))
    assert at(5) is x and torch.equal(at(torch.tensor([5])), x) and torch.equal(at(torch.tensor([9])), x)
    assert torch.equal(at(None), at(0))  # no step number: augmented


@pytest.mark.numeric
def test_a_captured_run_keeps_the_same_clean_tail_as_an_eager_one(sample):
    """The engine hands the step's number to the augmentation: the run's global step, on the device when captured.
    A counter that restarted each epoch would augment the second epoch again and its loss would differ."""
    common = dict(device="cpu", precision="fp32", epochs=2, batch_size=128, seed=3, augment="noise=2,lines,share=1,until=0.5")
    eager = train_recipe("robust", sample, capture="off", **common)
    with strict_capture():
        captured = train_recipe("robust", sample, capture="on", **common)
    clean_tail = train_recipe("robust", sample, capture="off", **{**common, "augment": "noise=2,lines,share=1"})
    for a, b in zip(eager.history, captured.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
    assert eager.history[1]["train_loss"] < 0.95 * clean_tail.history[1]["train_loss"]  # epoch 2 clean: easier


def test_cli_refuses_a_bad_augmentation(cli):
    assert_user_error(cli("train", "--dataset", "mnist-sample", "--augment", "elastic,snow"), "unknown augmentation 'snow'")


def test_each_item_changes_only_its_share_and_keeps_pixels_in_range():
    """Items work on fixed slices of the augmented images (a random choice: the batch is shuffled); the rest of
    the images are left exactly as they were, and ink stays in [0, 1]."""
    from mnistlab.train.augment import Draw, share

    u = torch.zeros(40, 1, 28, 28)
    u[:, :, 8:20, 12:16] = 1.0  # a bar of ink
    draw = Draw(torch.Generator().manual_seed(0))
    for name, fn in ROBUST.items():
        out = fn(u.clone(), draw, 1.0)
        assert out.shape == u.shape and float(out.min()) >= 0 and float(out.max()) <= 1, name
        changed = (out != u).flatten(1).any(1)
        assert changed.any(), name
    touched = share(u.clone(), 0.25, 0.5, lambda v: 1 - v)
    assert torch.equal(touched[:10], u[:10]) and torch.equal(touched[20:], u[20:]) and torch.equal(touched[10:20], 1 - u[10:20])


def test_items_draw_on_the_batch_device_from_its_default_generator():
    """With no generator (as on CUDA, where a captured step replays them fresh) the numbers come from the default
    generator of the images' device: seeding it repeats them, and the next call draws new ones."""
    from mnistlab.train.augment import Draw

    u = torch.zeros(32, 1, 28, 28)
    u[:, :, 6:22, 13:15] = 1.0
    def augmented() -> torch.Tensor:
        v = u.clone()
        for fn in ROBUST.values():
            v = fn(v, Draw(None), 1.0)
        return v

    torch.manual_seed(3)
    first, second = augmented(), augmented()
    torch.manual_seed(3)
    assert torch.equal(augmented(), first) and not torch.equal(first, second)


def test_hollow_strokes_and_stripes():
    """The outline item leaves the stroke's middle empty or faint and ink around it; stripes cut gaps into the ink
    at every angle, never erasing a whole side of the image."""
    from mnistlab.data.strokes import grille
    from mnistlab.train.augment import Draw, hollow, stripes

    u = torch.zeros(16, 1, 28, 28)
    u[:, :, 6:22, 11:17] = 1.0  # a 6-pixel-wide bar
    draw = Draw(torch.Generator().manual_seed(1))
    out = hollow(u.clone(), draw, 1.0)
    middle = out[:, :, 14, 14]
    assert float(middle.max()) <= 0.6 + 1e-6 and (middle == 0).any() and float(out[:, :, 14, 10].min()) > 0.99
    cut = stripes(u.clone(), draw, 1.0)
    kept = cut.sum((1, 2, 3)) / u.sum((1, 2, 3))
    assert float(kept.min()) > 0.55 and float(kept.max()) < 0.9
    angles = torch.linspace(0, 3.1, 32).view(-1, 1, 1, 1)  # a negative coordinate across the angle: striped too
    mask = grille(angles, 4.0, torch.zeros_like(angles), 1.0, 28, 28)
    assert torch.allclose(mask.mean((1, 2, 3)), torch.full((32,), 0.75), atol=0.06)


def test_stroke_helpers_match_their_definitions():
    """Dilation by shifted maxima equals a max-pool with zero padding; the coarse field is bicubic upsampling."""
    import torch.nn.functional as F

    from mnistlab.data.strokes import coarse_field, dilate, erode

    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0)) ** 4
    assert torch.equal(dilate(x, 3), F.max_pool2d(x, 3, stride=1, padding=1))
    assert torch.equal(erode(x, 5), -F.max_pool2d(F.pad(-x, (2, 2, 2, 2)), 5, stride=1))
    grid = torch.rand(6, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(coarse_field(grid, 28, 28), F.interpolate(grid, size=(28, 28), mode="bicubic", align_corners=True), atol=1e-5)
