"""The lecture notebooks run in quick mode and their final cell's checks of the lectures' findings pass.

Each notebook is copied out as `mnistlab notebooks DIR` does, then executed top to bottom in a fresh Jupyter
kernel (nbclient) with MNISTLAB_QUICK=1 on full MNIST: an error in any cell, or a finding that leaves its
lecture's direction (the `assert` in the last cell), fails that notebook's test. The findings are measured on
full MNIST's images, so without it (no $MNISTLAB_DATA, no ../shared/data) these runs are skipped; offline, a
notebook's quick mode reads the shipped sample instead and says in its last cell which findings hold there.
The five run two at a time, L5 (the longest) beside the other four, so they add about two minutes to CI on two
cores.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import full_mnist_dir, needs_full_mnist
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


def execute(path) -> tuple:
    """Run one notebook in its folder; (the executed notebook, None) or (None, the error)."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except Exception as exc:  # CellExecutionError names the cell and carries its traceback
        return None, exc
    return nb, None


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every notebook executed in quick mode, two at a time (one torch thread each)."""
    saved = {k: os.environ.get(k) for k in ("MNISTLAB_QUICK", "OMP_NUM_THREADS", "MNISTLAB_DATA")}
    # the kernels inherit this environment: full MNIST wherever the tests found it (../shared/data too)
    os.environ.update(MNISTLAB_QUICK="1", OMP_NUM_THREADS="1", MNISTLAB_DATA=str(full_mnist_dir().parent))
    try:
        folder = tmp_path_factory.mktemp("notebooks")
        paths = {p.name: p for p in copy_notebooks(folder)}
        order = ["L5", *[k for k in sorted(NOTEBOOKS) if k != "L5"]]  # the longest first, beside the rest
        for lecture in order:  # each notebook in a folder of its own: what one writes cannot help another
            (folder / lecture).mkdir()
            paths[NOTEBOOKS[lecture]].rename(folder / lecture / NOTEBOOKS[lecture])
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {k: pool.submit(execute, folder / k / NOTEBOOKS[k]) for k in order}
            yield {k: f.result() for k, f in futures.items()}
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.update({key: value})


@pytest.mark.slow
@needs_full_mnist
@pytest.mark.parametrize("lecture", sorted(NOTEBOOKS))
def test_the_notebook_runs_in_quick_mode_and_its_findings_hold(lecture, executed):
    nb, error = executed[lecture]
    if error is not None:
        pytest.fail(f"{NOTEBOOKS[lecture]} failed in quick mode:\n{error}", pytrace=False)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    html = [o.get("data", {}).get("text/html", "") for o in outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs) or any("data:image/png" in h or "<svg" in h for h in html), \
        "no figure or curve displayed inline"
    assert any("text/html" in o.get("data", {}) for o in outputs), "no rich (HTML) result displayed"
    assert "mode: QUICK" in "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


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


def test_a_folder_with_a_notebooks_name_and_a_failing_write_are_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "nb" / NOTEBOOKS["L2"]).mkdir(parents=True)  # was IsADirectoryError under --replace
    assert main(["notebooks", str(tmp_path / "nb"), "--replace"]) == 2
    err = capsys.readouterr().err
    assert f"{NOTEBOOKS['L2']}: is a folder, not a notebook" in err and len(err.strip().splitlines()) == 1
    # the disk fills at the third notebook: the two written are removed, and the message names the one that failed
    import mnistlab.notebooks as notebooks

    real, calls = notebooks.write_bytes, []

    def fills_up(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(notebooks, "write_bytes", fills_up)
    assert main(["notebooks", str(tmp_path / "fresh")]) == 2
    err = capsys.readouterr().err
    assert f"{calls[2]}: cannot be written (No space left on device)" in err and len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "fresh").glob("*.ipynb"))  # a retry needs no --replace
