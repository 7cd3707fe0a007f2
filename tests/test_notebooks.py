"""The lecture notebooks run in quick mode and their final cell's checks of the lectures' findings pass.

Each notebook is copied out as `mnistlab notebooks DIR` does, then executed top to bottom in a fresh Jupyter
kernel (nbclient) with MNISTLAB_QUICK=1: an error in any cell, or a finding that leaves its lecture's
direction (the `assert` in the last cell), fails the test.
"""
from __future__ import annotations

import json

import pytest

from mnistlab.cli import main
from mnistlab.notebooks import NOTEBOOKS, copy_notebooks, notebook_paths

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

MAX_BYTES = 2 << 20  # a committed notebook, outputs included


@pytest.mark.parametrize("lecture", sorted(NOTEBOOKS))
def test_the_shipped_notebook_is_small_starts_with_its_parameters_and_checks_its_findings(lecture):
    path = notebook_paths()[lecture]
    assert path.stat().st_size < MAX_BYTES
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and "QUICK" in code[0].source
    assert "MNISTLAB_QUICK" in code[0].source  # CI can force quick mode
    assert "assert " in code[-1].source


@pytest.mark.slow
@pytest.mark.parametrize("lecture", sorted(NOTEBOOKS))
def test_the_notebook_runs_in_quick_mode(lecture, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_QUICK", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = next(p for p in copy_notebooks(tmp_path) if p.name == NOTEBOOKS[lecture])
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when a cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure displayed inline"
    assert any("text/html" in o.get("data", {}) for o in outputs), "no rich (HTML) result displayed"
    assert not any(o.get("output_type") == "error" for o in outputs)


def test_mnistlab_notebooks_copies_all_five_and_keeps_the_users_edits(tmp_path, capsys):
    assert main(["notebooks", str(tmp_path / "nb"), "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert sorted(p.split("/")[-1] for p in files) == sorted(NOTEBOOKS.values())
    edited = tmp_path / "nb" / NOTEBOOKS["L5"]
    edited.write_text("my edits")
    assert main(["notebooks", str(tmp_path / "nb")]) == 2  # refused: it would overwrite the user's notebook
    assert "--replace" in capsys.readouterr().err and edited.read_text() == "my edits"
    assert main(["notebooks", str(tmp_path / "nb"), "--replace"]) == 0
    assert edited.read_bytes() == notebook_paths()["L5"].read_bytes()

