"""`train --tensorboard`: event files that TensorBoard's own reader reads back with the run's numbers."""
from __future__ import annotations

import pytest

from conftest import assert_user_error

pytest.importorskip("tensorboard")


@pytest.mark.slow  # trains and draws every epoch
def test_event_files_hold_scalars_histograms_predictions_and_graph(cli, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = cli("train", "--dataset", "mnist-sample", "--model", "c4k5s2 f16", "--epochs", "2", "--eval-every", "8",
                 "--out", tmp_path / "run", "--tensorboard", tmp_path / "tb", "--json")
    assert result.code == 0, result.err
    run = result.json()
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    for metric in ("loss", "accuracy"):
        for split in ("train", "val", "test"):  # the recipe holds a twelfth of the training images aside (val)
            values = events.Scalars(f"{metric}/{split}")
            assert [v.step for v in values] == [1, 2]
            assert [v.value for v in values] == pytest.approx([row[f"{split}_{metric}"] for row in run["history"]], rel=1e-6)
    # 15 steps per epoch (3,667 images of 256): an evaluation 8 steps into each epoch and one at its end
    evaluations = events.Scalars("evaluation/test_accuracy")
    assert [e.step for e in evaluations] == [8, 15, 23, 30]
    assert evaluations[-1].value == pytest.approx(run["final"]["test_accuracy"], rel=1e-6)
    assert "parameters/conv1.weight" in tags["histograms"] and "parameters/output.bias" in tags["histograms"]
    assert [h.step for h in events.Histograms("parameters/conv1.weight")] == [0, 1, 2]  # initial, then each epoch
    images = events.Images("test predictions")
    assert [i.step for i in images] == [1, 2] and images[0].width > 300
    assert tags["graph"] is True


def test_without_tensorboard_a_one_line_error(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    result = cli("train", "--dataset", "mnist-sample", "--model", "f8", "--epochs", "1", "--out", tmp_path / "run",
                 "--tensorboard", tmp_path / "tb")
    assert_user_error(result, 'pip install "mnistlab[tensorboard]"')
    assert not (tmp_path / "run").exists()
