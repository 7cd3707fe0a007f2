"""The lectures' settings as plain data: models, training options and data sizes, one place for each.

Models are `build_model` keyword arguments, training settings are `fit` keyword arguments; `QUICK_*`
values are the --quick run's (a minute on a 2-core CPU). Experiments read these and add only what is
particular to them (their conditions, search grids, epoch counts of one figure).
"""
from __future__ import annotations

from ..train.config import PLAIN

# Every lecture trains plainly (train.config.PLAIN: a constant learning rate, torch's optimizer defaults, the plain
# loss), so the default recipe (fit's defaults) never leaks into a lecture's settings.
LECTURE_TRAIN = PLAIN

# L1: c10k5s2 c20k7s2 f5, tanh, Adam, batch 100, MNIST 50k/10k/10k.
L1_MODEL = dict(spec="c10k5s2 c20k7s2 f5", activation="tanh", head="logits")
L1_TRAIN = dict(batch_size=100, optimizer="adam", lr=1e-3)
L1_VAL = 10_000

# L2: full MNIST train/test, SGD, cross entropy, 3 epochs unless stated.
L2_TRAIN = dict(batch_size=64, optimizer="sgd", lr=0.001)  # the rate that gives L2's ~80% / ~70% at 3 epochs
L2_TWO_CONV = dict(spec="c10k7 c55k2", activation="relu", head="logits")

# L1/L2 with --quick: the first 5,000 training images, evaluated on 2,000 test (and validation) images.
QUICK_TRAIN_IMAGES, QUICK_TEST_IMAGES = 5_000, 2_000

# L5: a 20,000-image MNIST sample split 90/10, batch 32, SGD lr 0.01, 784-64-32-10, log-softmax + NLL.
L5_MODEL = dict(spec="f64 f32", activation="relu", head="log_softmax")
L5_TRAIN = dict(epochs=60, batch_size=32, optimizer="sgd", lr=0.01, drop_last=True)
L5_SAMPLE, L5_QUICK_SAMPLE, L5_SAMPLE_SEED, L5_TRAIN_FRACTION = 20_000, 5_000, 0, 0.9
L5_QUICK_EPOCHS = 15
# Precision is fit's "auto": fp32 for every FFN (as in the lectures); bf16 autocast for CNNs only where the
# device computes bf16 natively. Each configuration records the precision it used.

# The CNN the lectures only announce for scrambled/shifted MNIST: two conv blocks and a global max-pool
# (m7 over the 7x7 maps), so where a feature appears matters little. Trained like L5's FFN but for fewer
# epochs: it converges in far fewer passes and costs ~10x more per pass.
L5_CNN = dict(spec="c16k5p2 m2 c32k5p2 m2 m7", activation="relu", head="log_softmax")
L5_CNN_EPOCHS, L5_CNN_QUICK_EPOCHS = 10, 5
