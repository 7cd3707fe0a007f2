"""Learn a user's own digits without forgetting MNIST: fine-tune a run (`--init`) on the digits saved from the
web app (an image folder, `<dir>/<class>/*.png`) mixed with MNIST training images, and report both accuracies
before and after."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.dataset import Dataset
from ..data.folder import class_names, read_folder_whole
from ..data.splits import make_splits
from ..errors import UserError
from ..models import build_model
from .choices import FineTune
from .loop import fit
from .run import Run, load_run, run_accuracy


def user_digits(folder: str | Path, classes: tuple[str, ...], size: tuple[int, int] = (28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Every image of an image folder (`<dir>/<class>/*`), gray uint8 (N, H, W) at the run's input `size`, with its
    label as an index into the run's `classes`: any subset of them, any number of images a class (none is held
    out). A class the run does not know is refused from the listing, before an image is decoded."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder; give the folder `mnistlab serve --digits` saves into (<dir>/<class>/*.png)")
    unknown = [name for name in class_names(folder) if name not in classes]
    if unknown:
        raise UserError(f"{folder}: a class folder {unknown[0]!r} that the run does not know; its classes are {', '.join(classes)}")
    images, labels, names = read_folder_whole(folder, size)
    if images.ndim == 4:  # (N, 3, H, W): a gray run would read each colour channel as an image of its own
        raise UserError(f"{folder}: colour images; the run reads gray ones (save digits from `mnistlab serve`, or "
                        f"convert them to grayscale)")
    return images, np.array([classes.index(names[k]) for k in labels], dtype=np.int64)


def finetune(run_dir: str | Path, folder: str | Path, base: Dataset, options: FineTune | None = None) -> tuple[Run, dict]:
    """The run fine-tuned on the folder's digits (repeated to `share` of the mix) and `mix` MNIST training
    images; with the MNIST test accuracy and the accuracy on the user's digits, before and after (`options`:
    FineTune's defaults when None)."""
    options = options or FineTune()
    run = load_run(run_dir)
    images, labels = user_digits(folder, run.classes, tuple(base.train_images.shape[-2:]))
    rng = np.random.default_rng(options.seed)
    pick = rng.choice(len(base.train_labels), min(options.mix, len(base.train_labels)), replace=False)
    repeat = max(1, round(options.share * len(pick) / ((1 - options.share) * len(labels))))
    mixed = Dataset(f"{base.name}+{Path(folder).name}", base.source, base.path,
                    np.concatenate([base.train_images[pick], np.tile(images, (repeat, 1, 1))]),
                    np.concatenate([base.train_labels[pick], np.tile(labels, repeat)]),
                    base.test_images, base.test_labels, run.classes)

    def scores(r: Run) -> dict:
        return {"mnist": run_accuracy(r, base.test_images, base.test_labels)[0], "digits": run_accuracy(r, images, labels)[0]}

    before = scores(run)
    config = run.model.config
    model = build_model(config.spec, config.activation, config.head, tuple(config.input_shape), config.n_classes, options.seed)
    tuned = fit(model, make_splits(mixed, run.normalizer.mode), init=str(run_dir), epochs=options.epochs, lr=options.lr,
                seed=options.seed, device=options.device)
    return tuned, {"n_digits": int(len(labels)), "repeat": repeat, "mixed_with": int(len(pick)), "before": before,
                   "after": scores(tuned)}
