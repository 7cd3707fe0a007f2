"""Experiments keep the data set they ran on: its class names, its splits, a deliberate normalization mismatch."""
import pytest
import torch

from mnistlab import make_splits
from mnistlab.data.sources import REGISTRY
from mnistlab.experiments import run_experiment


@pytest.mark.parametrize("name, dataset", [("missing-class", "fashion-mnist"), ("softmax", "kmnist")])
def test_experiments_on_other_sets_record_their_class_names(name, dataset, tiny_idx_dir, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_experiment(name, quick=True, out=tmp_path, device="cpu", dataset=dataset, data_dir=str(tiny_idx_dir))
    finally:
        torch.set_num_threads(threads)
    classes = list(REGISTRY[dataset].classes)
    assert classes[0] != "0"
    assert [c["classes"] for c in result["configurations"]] == [classes] * len(result["configurations"])
    assert {c["data"]["name"] for c in result["configurations"]} == {dataset}


def test_make_splits_test_normalize_mismatches_on_purpose(sample):
    same = make_splits(sample, "unit")
    mixed = make_splits(sample, "unit", test_normalize="raw")
    assert torch.equal(mixed.x_train, same.x_train)
    assert float(same.x_test.max()) == 1.0 and float(mixed.x_test.max()) == 255.0
    assert mixed.info["normalize_test"]["mode"] == "raw" and "normalize_test" not in same.info
    assert make_splits(sample, "unit", test_normalize="unit").x_test.equal(same.x_test)


def test_quiet_by_default_a_library_run_prints_nothing(tiny_idx_dir, tmp_path, capsys):
    run_experiment("softmax", quick=True, out=tmp_path, device="cpu", data_dir=str(tiny_idx_dir))
    assert capsys.readouterr() == ("", "")


