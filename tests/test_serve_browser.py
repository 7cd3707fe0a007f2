"""The page in a real headless Chromium: draw digits with pointer events, read what the page shows."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from browser import browser, console_errors, wait_for
from serve_support import full_mnist_dir, live_server, trained_run_dir

pytestmark = pytest.mark.slow  # headless Chromium

# Set MNISTLAB_SCREENSHOTS=docs/img/serve to refresh the screenshots in the docs.
SHOTS = os.environ.get("MNISTLAB_SCREENSHOTS")


def stroke(driver, canvas, points: list[tuple[float, float]]) -> None:
    """One pen-down..pen-up stroke through `points`, given as fractions of the canvas (0..1, 0..1)."""
    from selenium.webdriver.common.action_chains import ActionChains

    box = canvas.rect
    at = [(box["width"] * (x - 0.5), box["height"] * (y - 0.5)) for x, y in points]  # offsets from the centre
    actions = ActionChains(driver, duration=10)
    actions.move_to_element_with_offset(canvas, round(at[0][0]), round(at[0][1])).click_and_hold()
    for (x0, y0), (x1, y1) in zip(at, at[1:]):
        actions.move_by_offset(round(x1) - round(x0), round(y1) - round(y0))
    actions.release().perform()


def touch_stroke(driver, canvas, points: list[tuple[float, float]]) -> None:
    """The same stroke with a finger: touch events through the DevTools protocol (the page sees pointerType touch)."""
    box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height];", canvas)
    at = [{"x": box[0] + box[2] * x, "y": box[1] + box[3] * y} for x, y in points]
    driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [at[0]]})
    for point in at[1:]:
        driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def shown(driver) -> dict:
    """What the page displays: the prediction, the bars, and how many feature maps hold a picture."""
    return driver.execute_script("""
        const painted = (c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                                 for (let i = 0; i < d.length; i += 4) if (d[i] || d[i+1] || d[i+2]) return true; return false; };
        const maps = [...document.querySelectorAll('#feature-maps canvas.fmap')];
        return {prediction: document.getElementById('prediction').textContent,
                bars: [...document.querySelectorAll('#bars .bar')].map(b => parseFloat(b.style.width)),
                top: [...document.querySelectorAll('#bars .bar-row')].findIndex(r => r.classList.contains('top')),
                maps: maps.length, painted: maps.filter(painted).length,
                filters: document.querySelectorAll('#filters canvas').length,
                input28: painted(document.getElementById('input28')),
                predictions: +document.body.dataset.predictions};
    """)


def settle(driver, before: int) -> dict:
    """Wait until a prediction arrived after the last stroke and nothing is pending."""
    wait_for(driver, f"return +document.body.dataset.predictions > {before} && document.body.dataset.busy === '0'")
    return shown(driver)


def test_drawing_a_one_and_a_zero(tmp_path):
    from mnistlab import load_run
    from mnistlab.serve.app import create_app

    run = load_run(trained_run_dir("cnn"))
    with browser() as driver, live_server(create_app(run, data_dir=full_mnist_dir())) as url:
        driver.set_window_size(1280, 1400)
        driver.get(url + "/")
        wait_for(driver, "return document.querySelectorAll('#filters canvas').length > 0")
        canvas = driver.find_element("id", "pad")

        stroke(driver, canvas, [(0.5, 0.15 + 0.7 * i / 12) for i in range(13)])  # a "1": one vertical stroke
        one = settle(driver, 0)
        assert one["prediction"] == "1", one
        assert driver.execute_script("return document.getElementById('pad').dataset.pointer") == "mouse"
        assert len(one["bars"]) == 10 and one["top"] == 1 and one["bars"][1] > 50
        assert abs(sum(one["bars"]) - 100) < 1
        assert one["filters"] == 8 and one["maps"] == 8 + 16 and one["painted"] >= 12 and one["input28"]
        if SHOTS:
            driver.save_screenshot(str(Path(SHOTS) / "draw-1.png"))

        driver.find_element("id", "clear").click()
        wait_for(driver, "return document.getElementById('prediction').textContent === '?'")
        before = shown(driver)["predictions"]
        loop = [(0.5 + 0.24 * math.sin(2 * math.pi * i / 40), 0.5 - 0.33 * math.cos(2 * math.pi * i / 40)) for i in range(42)]
        stroke(driver, canvas, loop)  # a "0": a closed loop
        zero = settle(driver, before)
        assert zero["prediction"] == "0", zero
        assert zero["top"] == 0 and zero["bars"][0] > 50 and zero["painted"] >= 12
        path = Path(SHOTS or tmp_path) / "draw-0.png"
        driver.save_screenshot(str(path))
        assert path.stat().st_size > 10_000

        driver.find_element("id", "tab-run").click()
        wait_for(driver, "return !document.getElementById('panel-run').hidden")
        # The report's figures, drawn by the server: curves, confusion matrix, most confident mistakes.
        wait_for(driver, "return [...document.querySelectorAll('#run-figures img')].filter(i => i.naturalWidth > 300).length === 3", 120)
        assert driver.execute_script("return document.querySelectorAll('#run-history tbody tr').length") == len(run.history)
        if SHOTS:
            driver.save_screenshot(str(Path(SHOTS) / "run.png"))
        assert console_errors(driver) == []


def test_an_ffn_drawn_with_a_finger_shows_its_most_responsible_first_layer_units():
    from mnistlab import load_run
    from mnistlab.serve.app import create_app

    with browser() as driver, live_server(create_app(load_run(trained_run_dir("ffn")))) as url:
        driver.set_window_size(1280, 1100)
        driver.get(url + "/")
        wait_for(driver, "return !document.getElementById('ffn-views').hidden")
        touch_stroke(driver, driver.find_element("id", "pad"), [(0.5, 0.15 + 0.7 * i / 12) for i in range(13)])
        one = settle(driver, 0)
        assert one["prediction"] == "1" and one["maps"] == 0, one
        assert driver.execute_script("return document.getElementById('pad').dataset.pointer") == "touch"
        units = driver.execute_script("return [...document.querySelectorAll('#units figure')].map(f => f.textContent)")
        assert len(units) == 8 and all(u.startswith("unit ") and u.endswith(" to 1") for u in units), units
        if SHOTS:
            driver.save_screenshot(str(Path(SHOTS) / "draw-ffn.png"))
        assert console_errors(driver) == []
