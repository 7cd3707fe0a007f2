"""docs/architecture.md's "To add X" rows, each done here exactly as the row says, so a row cannot go stale.

Every toy is added where the row says (a class under `@token`, a `Format` through `register`, a `run(ctx)` under
`@experiment`, a class under `@executor`, a module beside the commands in `cli/`), used through the public entry
point a user would reach it by (a model spec, `--data PATH`, `experiment run`, `sweep --executor`, `mnistlab
<command>`), and taken out of its registry again afterwards.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from torch import nn

import mnistlab.cli
from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.cli import main
from mnistlab.data.dataset import Dataset
from mnistlab.data.formats import FORMATS, Format, register
from mnistlab.errors import UserError
from mnistlab.experiments.registry import EXPERIMENTS, experiment
from mnistlab.models.assembly import Assembly
from mnistlab.models.layers import TOKENS, Token, token
from mnistlab.sweep.executors import EXECUTORS, executor
from mnistlab.sweep.runner import run_sweep
from mnistlab.sweep.trial import Prepared, run_task


@pytest.fixture
def registries():
    """Whatever a test registers is gone after it."""
    saved = [(r, dict(r)) for r in (TOKENS, FORMATS, EXPERIMENTS, EXECUTORS)]
    yield
    for registry, before in saved:
        registry.clear()
        registry.update(before)


def test_a_layer_token(registries, sample):
    """Row "a layer token": one class in models/layers.py style (pattern, parse, check, build)."""
    @token(r"gap", "gap")
    @dataclass(frozen=True)
    class GlobalAveragePool(Token):
        def __str__(self) -> str:
            return "gap"

        @classmethod
        def parse(cls, m: re.Match) -> GlobalAveragePool:
            return cls()

        def build(self, net: Assembly, i: int) -> None:
            if net.features is not None:
                raise UserError(f"{net.where(i)}: pools feature maps, so it comes before the dense layers")
            net.height = net.width = 1
            net.add("gap", nn.AdaptiveAvgPool2d(1), str(self))

    model = build_model("c8k3 gap f16", seed=0)
    assert [row["token"] for row in model.rows][:3] == ["c8k3", "relu", "gap"]
    assert [row["output_shape"] for row in model.rows if row["token"] == "gap"] == [[8, 1, 1]]
    run = fit(model, sample, epochs=1, max_steps=2, device="cpu")
    assert run.model.config.spec == "c8k3 gap f16" and np.isfinite(run.final["test_loss"])


def test_a_data_format(registries, tmp_path, sample):
    """Row "a data format": a module that calls `register` (here: one .npz file holding the four arrays)."""
    def read(path: Path, options) -> Dataset:
        arrays = np.load(path)
        return Dataset(path.stem, "data-dir", str(path), arrays["x_train"], arrays["y_train"], arrays["x_test"],
                       arrays["y_test"])

    register(Format("npz-arrays", lambda path: path.suffix == ".npz", read, "digits.npz (x_train, y_train, x_test, y_test)"))
    np.savez(tmp_path / "digits.npz", x_train=sample.train_images[:300], y_train=sample.train_labels[:300],
             x_test=sample.test_images[:100], y_test=sample.test_labels[:100])
    ds = load_dataset(data_dir=tmp_path / "digits.npz")
    assert ds.read["format"] == "npz-arrays" and len(ds.train_labels) == 300 and ds.shape == (1, 28, 28)
    assert main(["data", "info", "--data", str(tmp_path / "digits.npz"), "--json"]) == 0  # the command reads it too


def test_an_experiment(registries, tmp_path, capsys):
    """Row "an experiment": a module in experiments/ with `@experiment` on `run(ctx)`."""
    @experiment("toy", "a toy: one small FFN for two steps", cpu_seconds=1)
    def run(ctx) -> None:
        splits = make_splits(ctx.load(), val=0, train_size=ctx.pick(4000, 500))
        trained = ctx.fit("f16", {"spec": "f16"}, splits, epochs=1, max_steps=2, batch_size=64)
        ctx.summary["f16"] = trained.final["test_accuracy"]
        ctx.table.append({"model": "f16", "test_accuracy": trained.final["test_accuracy"]})

    assert main(["experiment", "list", "--json"]) == 0
    assert "toy" in capsys.readouterr().out
    assert main(["experiment", "run", "toy", "--quick", "--dataset", "mnist-sample", "--device", "cpu",
                 "--out", str(tmp_path / "toy"), "--json"]) == 0
    result = json.loads((tmp_path / "toy" / "results.json").read_text())
    assert result["name"] == "toy" and 0 <= result["summary"]["f16"] <= 1


def test_a_sweep_executor(registries, tmp_path):
    """Row "a sweep executor": a class under `@executor(name, Options)` that places tasks and passes records on;
    `trial.run_task` runs any task (trial, batch, fit job) and builds its records."""
    @dataclass(frozen=True)
    class InlineOptions:
        pass

    @executor("inline", InlineOptions)
    class InlineExecutor:
        """Every task in this process, one after the other."""

        jobs = 1

        def __init__(self, data: dict, out, device: str = "cpu", options: InlineOptions = InlineOptions()):
            self.data, self.out, self.device = data, out, device

        def run(self, tasks, on_record, asha=None, splits=None) -> None:
            prepared = Prepared(self.data, shared=(splits or {}).__getitem__)
            for task in tasks:
                for record in run_task(task, prepared, self.out, self.device):
                    on_record(record)

        def info(self) -> dict:
            return {"executor": self.name, "jobs": self.jobs}

        def close(self) -> None:
            pass

    result = run_sweep({"model": "f16", "lr": "0.001,0.01", "epochs": "1", "max_steps": "2"}, out=tmp_path / "sweep",
                       search="grid", dataset="mnist-sample", executor="inline", say=lambda line: None)
    assert [t["status"] for t in result["trials"]] == ["finished", "finished"]
    assert result["executor"] == "inline" and Path(result["best"]["run_dir"], "run.json").exists()


def test_the_sweep_command_offers_a_registered_executor(registries, capsys):
    @dataclass(frozen=True)
    class Options:
        pass

    @executor("inline", Options)
    class Inline:
        pass

    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "inline" in capsys.readouterr().out


def test_a_command(tmp_path, monkeypatch, capsys):
    """Row "a command": `cli/<command>.py` with `register(subparsers, common)`, found by being there."""
    folder = tmp_path / "commands"
    folder.mkdir()
    (folder / "hello.py").write_text(
        "def cmd_hello(args):\n"
        "    return {'hello': args.name}\n\n\n"
        "def register(subparsers, common):\n"
        "    p = subparsers.add_parser('hello', parents=[common], help='say hello')\n"
        "    p.add_argument('name')\n"
        "    p.set_defaults(handler=cmd_hello)\n")
    monkeypatch.setattr(mnistlab.cli, "__path__", [*mnistlab.cli.__path__, str(folder)])
    assert "mnistlab.cli.hello" in mnistlab.cli.command_modules()
    assert main(["hello", "world", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"hello": "world"}
