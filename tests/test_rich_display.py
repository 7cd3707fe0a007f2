"""What a notebook shows: runs, models, experiment and sweep results as HTML; figures as images."""
from __future__ import annotations

import re

import numpy as np
import pytest

from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.display import Record, curve_svg, table
from mnistlab.plots import png_bytes
from mnistlab.plots.style import new_figure


@pytest.fixture(scope="module")
def run():
    splits = make_splits(load_dataset("mnist-sample"), "unit", val=300, train_size=600)
    return fit(build_model("f16", seed=0), splits, epochs=3, batch_size=64, device="cpu")


def test_a_run_shows_its_settings_metrics_and_curves(run):
    html = run._repr_html_()
    assert "mnist-sample" in html and "f16" in html and "600 train / 300 val" in html
    assert f"{100 * run.final['test_accuracy']:.2f}%" in html  # the final test accuracy, as the tables print it
    # two panels (loss, accuracy), one line per split, three points each (three epochs)
    assert html.count("<svg") == 2 and html.count("<polyline") == 6
    line = re.search(r"<polyline points='([^']*)'", html).group(1)
    assert len(line.split()) == 3
    assert "f16" in repr(run) and "epoch" in repr(run)


def test_a_curve_follows_the_values():
    svg = curve_svg([{"train_loss": 1.0, "train_accuracy": 0.5}, {"train_loss": 0.5, "train_accuracy": 0.9}])
    loss_line = re.findall(r"<polyline points='([^']*)'", svg)[0]
    (x0, y0), (x1, y1) = [tuple(map(float, p.split(","))) for p in loss_line.split()]
    assert x1 > x0 and y1 > y0  # the loss falls: the later point lies lower on the screen
    assert "90.0%" in svg and "50.0%" in svg  # the accuracy axis is labelled with its range


def test_the_model_table_shows_l1s_180_wide_flatten():
    html = build_model("c10k5s2 c20k7s2 f5", activation="tanh")._repr_html_()
    assert re.search(r"<td[^>]*>flatten</td><td[^>]*></td><td[^>]*>180</td>", html)
    assert "11,045" in html and "activation tanh" in html


def test_results_show_their_table_and_figures(tmp_path):
    fig = new_figure(2, 2)
    fig.subplots().plot([0, 1], [1, 0])
    (tmp_path / "fig.png").write_bytes(png_bytes(fig))
    result = Record({"name": "shifted", "title": "FFNs are not translation invariant", "seconds": 1.5,
                     "summary": {"shifted": 0.3282},
                     "table": [{"condition": "ffn-shifted", "test_accuracy": 0.3282}], "figures": [str(tmp_path / "fig.png")]})
    html = result._repr_html_()
    assert "FFNs are not translation invariant" in html and "32.82%" in html and "QUICK" not in html
    assert html.count("data:image/png;base64,") == 1
    assert dict(result)["name"] == "shifted"  # still a plain dict to every other reader
    assert "QUICK settings" in Record({**result, "quick": True})._repr_html_()  # a small version says so
    pretty = pytest.importorskip("IPython.lib.pretty")
    assert pretty.pretty(result).startswith("Record('shifted'") and "ffn-shifted" not in pretty.pretty(result)


def test_sweep_results_list_their_trials():
    result = Record({"sweep_dir": "s", "trials": [{"id": "t000", "config": {"lr": 0.01}, "status": "finished",
                                                   "metrics": {"val_accuracy": 0.97, "val_loss": 0.1}}],
                     "best": {"id": "t000", "config": {"lr": 0.01}, "val_accuracy": 0.97, "test_accuracy": 0.96}})
    html = result._repr_html_()
    assert "t000" in html and "97.00%" in html and "96.00%" in html and "best trial" in html


def test_tables_escape_their_cells():
    assert "&lt;b&gt;" in table([{"name": "<b>"}])


def test_a_returned_figure_displays_as_png_in_ipython():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    from mnistlab.mpl import show_figures_inline

    shell = InteractiveShell.instance()
    show_figures_inline(shell)
    fig = new_figure(2, 2)
    fig.subplots().imshow(np.eye(4))
    data, _ = shell.display_formatter.format(fig)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_cross_validation_shows_every_fold_and_the_spread():
    from mnistlab import cross_validate

    splits = make_splits(load_dataset("mnist-sample"), "unit", train_size=600)
    cv = cross_validate("f8", splits, folds=3, epochs=1, batch_size=64, device="cpu")
    html = cv._repr_html_()
    assert "3-fold stratified cross-validation" in html and html.count("<tr>") == 1 + 3
    assert f"{100 * cv.val_accuracies[0]:.2f}%" in html and repr(cv).startswith("CrossValidation(3 folds")
