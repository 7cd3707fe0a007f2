"""Figures, the CLI and the HTML report, for an FFN and a CNN run."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser import browser, console_errors, open_page
from conftest import assert_user_error
from mnistlab import fit, make_splits
from mnistlab.inspect import WHAT, predict_test_set
from mnistlab.plots import png_bytes, render


@pytest.fixture(scope="module")
def ffn_dir(tmp_path_factory, sample):
    run = fit("f24", make_splits(sample, "unit"), epochs=1, batch_size=64, lr=3e-3, seed=0)
    return run.save(tmp_path_factory.mktemp("runs") / "ffn")


def _png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


@pytest.mark.parametrize("what", WHAT)
def test_every_figure_renders_for_a_cnn(tiny_run, what, request):
    pred = request.getfixturevalue("cnn_pred")
    fig = render(tiny_run, what, predictions=pred, sample=[2], n=5)
    assert fig.get_suptitle()
    width, height = _png_size(png_bytes(fig))
    assert width > 300 and height > 100


@pytest.fixture(scope="module")
def cnn_pred(tiny_run):
    return predict_test_set(tiny_run)


@pytest.mark.slow  # every figure through the command
def test_inspect_all_writes_every_figure_and_its_numbers(cli, ffn_dir, tmp_path):
    result = cli("inspect", ffn_dir, "--what", "all", "--out", tmp_path, "--n", "4", "--sample", "1", "2", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert [p.rsplit("/", 1)[-1] for p in out["figures"]] == [f"{w}.png" for w in WHAT]
    for path in out["figures"]:
        _png_size(Path(path).read_bytes())
    probs = json.loads((tmp_path / "probs.json").read_text())
    assert probs["indices"] == [1, 2]
    np.testing.assert_allclose(np.sum(probs["probs"], 1), 1.0, atol=1e-5)
    confusion = json.loads((tmp_path / "confusion.json").read_text())
    assert np.sum(confusion["matrix"]) == confusion["n_test"]
    errors = json.loads((tmp_path / "errors.json").read_text())
    assert len(errors["indices"]) == min(4, errors["n_errors"])
    weights = json.loads((tmp_path / "weights.json").read_text())
    assert weights["initial"] is None and weights["epochs"] is None  # fit() alone records no weight history
    trained = weights["trained"]
    assert sum(trained["counts"]) + trained["below"] + trained["above"] == weights["n_parameters"] == 784 * 24 + 24 + 24 * 10 + 10


def test_inspect_prints_paths_and_refuses_bad_input(cli, tiny_run, tmp_path):
    result = cli("inspect", tiny_run.run_dir, "--what", "filters", "--out", tmp_path)
    said, path = result.out.splitlines()  # what it is about to do, then the figure's path
    assert result.code == 0 and said.startswith("drawing the filters figure") and path == str(tmp_path / "filters.png")
    assert_user_error(cli("inspect", tiny_run.run_dir, "--what", "probs", "--sample", "99999", "--out", tmp_path),
                      "--sample 99999", "out of range")
    assert_user_error(cli("inspect", tmp_path / "missing", "--out", tmp_path), "does not exist")


def test_train_record_weights_reaches_the_weights_figure(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("train", "--dataset", "mnist-sample", "--model", "f16", "--epochs", "2", "--train-size", "500",
                 "--record-weights", "--out", run_dir, "--json")
    assert result.code == 0, result.err
    record = json.loads((run_dir / "run.json").read_text())["extras"]["weight_histograms"]
    assert record["epochs"] == [0, 1, 2]
    n = sum(r["params"] for r in json.loads((run_dir / "run.json").read_text())["summary"])
    assert all(sum(c) + b + a == n for c, b, a in zip(record["counts"], record["below"], record["above"]))
    plain = tmp_path / "plain"
    assert cli("train", "--dataset", "mnist-sample", "--model", "f16", "--epochs", "1", "--train-size", "500",
               "--out", plain, "--json").code == 0
    assert json.loads((plain / "run.json").read_text())["extras"]["weight_histograms"]["epochs"] == [0]  # init always


@pytest.mark.slow  # pairwise correlations and five figures
def test_data_explore_writes_its_figures(cli, tmp_path):
    result = cli("data", "explore", "--dataset", "mnist-sample", "--digit", "3", "--out", tmp_path, "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert len(out["figures"]) == 5 and out["digit"] == 3 and 0 < out["mean_correlation"] < 1
    for path in out["figures"]:
        _png_size(Path(path).read_bytes())
    assert_user_error(cli("data", "explore", "--dataset", "mnist-sample", "--digit", "12", "--out", tmp_path), "--digit 12")


@pytest.mark.slow  # headless Chromium
def test_report_is_self_contained_and_displays_in_a_real_browser(cli, ffn_dir, tmp_path):
    path = tmp_path / "report.html"
    result = cli("report", ffn_dir, "--out", path, "--json")
    assert result.code == 0, result.err
    assert result.json()["report"] == str(path)
    page = path.read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(WHAT)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained: nothing fetched from the network
    with browser() as driver:
        open_page(driver, path.as_uri())
        state = driver.execute_script("""
            return {sections: [...document.querySelectorAll('section')].map(s => s.id),
                    images: [...document.querySelectorAll('figure img')].map(i => ({
                        id: i.closest('figure').id, complete: i.complete, width: i.naturalWidth,
                        shown: i.getBoundingClientRect().width})),
                    title: document.title, tables: document.querySelectorAll('table').length};""")
        errors = console_errors(driver)
    assert state["sections"] == ["data", "options", "metrics", "layers", "figures"]
    assert [i["id"] for i in state["images"]] == [f"fig-{w}" for w in WHAT]
    for image in state["images"]:
        assert image["complete"] and image["width"] > 0 and image["shown"] > 100, image
    assert state["title"].startswith("mnistlab report") and state["tables"] >= 4
    assert errors == []
