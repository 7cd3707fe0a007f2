"""benchmarks/targets.py reads what run.sh wrote and says, per target, met / not met / not measured."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def targets(where: str, folder: Path) -> list[str]:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "targets.py"), where, str(folder)], capture_output=True,
                         text=True, check=True).stdout
    return out.splitlines()[2:]


def test_missing_results_are_not_measured(tmp_path):
    rows = targets("gpu", tmp_path)
    assert len(rows) == 8 and all(row.endswith("| not measured |") for row in rows)


@pytest.mark.parametrize("ratio, verdict", [(0.2, "| met |"), (0.3, "| **not met** |")])
def test_the_cpu_ratio_target(tmp_path, ratio, verdict):
    summary = {"mnistlab-fast": {"time_ratio_to_fast_reference": ratio, "mean_accuracy": 0.9915}}
    (tmp_path / "cpu.json").write_text(json.dumps({"summary": summary}))
    suite = {"experiments": [{"name": "epochs", "seconds": 100.0}], "wall_seconds": 800.0, "jobs": 2}
    (tmp_path / "cpu-experiments.json").write_text(json.dumps(suite))
    ratio_row, suite_row = targets("cpu", tmp_path)
    assert ratio_row.endswith(verdict) and f"{ratio}x (99.15%)" in ratio_row
    assert suite_row.endswith("| met |") and "800 s (2 job(s))" in suite_row
