"""Shared fixtures: the package-shipped sample, full MNIST when present, a tiny trained run, the CLI."""
from __future__ import annotations

import io
import os
import signal
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from mnistlab.data.idx import write_idx

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def full_mnist_dir() -> Path | None:
    """The folder holding full MNIST, from $MNISTLAB_DATA or the checkout's ../shared/data."""
    for root in (os.environ.get("MNISTLAB_DATA"), SHARED):
        if root and (Path(root) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return Path(root) / "mnist"
    return None


needs_full_mnist = pytest.mark.skipif(full_mnist_dir() is None, reason="full MNIST not found ($MNISTLAB_DATA or ../shared/data)")


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_as_on_a_terminal():
    """Ctrl+C raises KeyboardInterrupt in the tests and in the commands they start, as on a terminal, even when
    pytest itself was started with it ignored (`bash .ci/run &` from a script); tests that need it ignored say so."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real cache, and none reaches a public mirror."""
    monkeypatch.setenv("MNISTLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("MNISTLAB_MIRROR", "http://127.0.0.1:9/")  # discard port: connection refused at once


@pytest.fixture(scope="session")
def sample():
    from mnistlab import load_dataset

    return load_dataset("mnist-sample")


@pytest.fixture(scope="session")
def tiny_idx_dir(tmp_path_factory, sample) -> Path:
    """A folder of real IDX files (gzip) holding 600 train / 200 test images of the sample."""
    folder = tmp_path_factory.mktemp("idx")
    write_tiny_set(folder, sample)
    return folder


def write_tiny_set(folder: Path, sample, n_train: int = 600, n_test: int = 200, gz: bool = True) -> dict[str, Path]:
    ext = ".gz" if gz else ""
    arrays = {"train-images-idx3-ubyte": sample.train_images[:n_train],
              "train-labels-idx1-ubyte": sample.train_labels[:n_train].astype(np.uint8),
              "t10k-images-idx3-ubyte": sample.test_images[:n_test],
              "t10k-labels-idx1-ubyte": sample.test_labels[:n_test].astype(np.uint8)}
    paths = {}
    for stem, array in arrays.items():
        paths[stem] = folder / f"{stem}{ext}"
        write_idx(paths[stem], array)
    return paths


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, sample):
    """A small CNN trained for real on the sample and saved; shared by read-only tests."""
    from mnistlab import fit, make_splits

    run = fit("c8k5s2 f32", make_splits(sample), epochs=2, batch_size=64, lr=3e-3, seed=0)
    run.save(tmp_path_factory.mktemp("runs") / "tiny")
    return run


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json

        return json.loads(self.out)


@pytest.fixture
def cli():
    """Run `mnistlab ARGS...` in-process; returns exit code, stdout and stderr."""
    from mnistlab.cli import main

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


# float32's unit roundoff (half the spacing of floats in [1, 2)): one rounding moves a value by at most this much
UNIT_ROUNDOFF = 2.0 ** -24


def rounding_tolerance(n_terms: int, steps: int = 1) -> float:
    """How far two float32 computations of the same training can drift apart, relative to the size of what
    they compute, when they add the same terms in another order (GEMM blocking of another CPU kind or thread
    count, a batched matmul against single ones, padded zero columns).

    A sum of n float32 terms carries a rounding error of about sqrt(n) * u relative to the sum of the terms'
    sizes (the statistical bound, Higham 2.8; the worst case n * u is never approached), and two orders of
    summation are each that far from the exact sum, so twice that apart. `n_terms` is the longest sum one step
    computes (a layer's fan-in, or batch x positions for a weight gradient). Over `steps` optimizer steps these
    differences add (no cancellation assumed), and every later quantity inherits them.
    """
    return steps * 2 * n_terms ** 0.5 * UNIT_ROUNDOFF


def correlation(a, b) -> float:
    """Pearson correlation of two images' pixels: how alike a prepared digit is to another preparation of it."""
    return float(np.corrcoef(np.asarray(a, float).ravel(), np.asarray(b, float).ravel())[0, 1])


def assert_user_error(result: CliResult, *fragments: str) -> None:
    """Exit 2, exactly one line on stderr naming the problem, no traceback, nothing on stdout."""
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(autouse=True)
def _small_tsne(monkeypatch):
    """t-SNE of 300 points (not 2,000) keeps every test that draws the embedding figure fast."""
    monkeypatch.setattr("mnistlab.inspect.embedding.TSNE_POINTS", 300)
