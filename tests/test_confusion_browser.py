"""The clickable confusion matrix in headless Chromium: in the self-contained report and in the web app's run tab."""
from __future__ import annotations

import numpy as np
import pytest

from browser import browser, console_errors, open_page, wait_for
from mnistlab.inspect import predict_test_set
from mnistlab.report import write_report

pytestmark = pytest.mark.slow  # headless Chromium

OPEN_CELL = """
    const cell = document.querySelector(`td.cm-cell[data-true="${arguments[0]}"][data-pred="${arguments[1]}"]`);
    cell.click();
    return {count: +cell.dataset.count, title: document.querySelector('.cm-title').textContent,
            indices: [...document.querySelectorAll('.cm-tile')].map(t => +t.dataset.index),
            captions: [...document.querySelectorAll('.cm-tile figcaption')].map(f => f.textContent),
            painted: [...document.querySelectorAll('.cm-tile canvas')].every(c => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++; return dark > 10; })};
"""


def expected_cells(pred) -> tuple[tuple[int, int], list[int], tuple[int, int]]:
    """The busiest mistake cell with the images behind it (most confident first), and a diagonal cell."""
    matrix = np.zeros((10, 10), int)
    np.add.at(matrix, (pred.labels, pred.predicted), 1)
    off = matrix - np.diag(np.diag(matrix))
    t, p = np.unravel_index(off.argmax(), off.shape)
    members = np.flatnonzero((pred.labels == t) & (pred.predicted == p))
    order = members[np.argsort(-pred.probs[members, p], kind="stable")]
    return (int(t), int(p)), order.tolist(), (int(pred.labels[0]), int(pred.labels[0]))


def check_cells(driver, pred) -> None:
    (t, p), indices, diagonal = expected_cells(pred)
    shown = driver.execute_script(OPEN_CELL, t, p)
    assert shown["count"] == len(indices) and shown["indices"] == indices[:24], shown
    assert shown["painted"]
    first = shown["captions"][0]
    assert first.startswith(f"#{indices[0]}") and f"{p}: {100 * pred.probs[indices[0], p]:.1f}%" in first
    shown = driver.execute_script(OPEN_CELL, *diagonal)
    n = int(((pred.labels == diagonal[0]) & (pred.predicted == diagonal[0])).sum())
    assert shown["count"] == n and len(shown["indices"]) == min(24, n)
    assert all(pred.labels[i] == diagonal[0] == pred.predicted[i] for i in shown["indices"])
    assert "most confident" in shown["title"] or n <= 24


def test_report_cells_open_the_right_images(tiny_run, tmp_path):
    pred = predict_test_set(tiny_run)
    path = write_report(tiny_run, tmp_path / "report.html", predictions=pred)
    with browser() as driver:
        open_page(driver, path.as_uri())
        check_cells(driver, pred)
        assert console_errors(driver) == []


def test_web_app_run_tab_cells_open_the_right_images(tiny_run):
    pytest.importorskip("fastapi")
    from mnistlab.serve.app import create_app
    from serve_support import live_server

    pred = predict_test_set(tiny_run)
    with browser() as driver, live_server(create_app(tiny_run)) as url:
        driver.get(url + "/")
        driver.find_element("id", "tab-run").click()
        wait_for(driver, "return document.querySelectorAll('#run-confusion td.cm-cell').length === 100")
        check_cells(driver, pred)
        assert console_errors(driver) == []
