"""Headless Chromium for browser tests, driven by Selenium with the system browser.

Tests call `browser_missing()` to skip with a clear reason where no browser is
installed (CI installs Debian's `chromium` and `chromium-driver`), and
`chromium()` for a fresh, isolated browser that is always closed.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator

BINARIES = {"chromium": ("chromium", "chromium-browser", "google-chrome"), "chromedriver": ("chromedriver",)}
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def find(kind: str) -> str | None:
    return next((path for name in BINARIES[kind] if (path := shutil.which(name))), None)


def browser_missing() -> str | None:
    """Why no browser test can run here, or None when one can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'mnistlab[test]')"
    for kind in BINARIES:
        if find(kind) is None:
            return f"no {kind} on PATH (Debian: apt-get install -y chromium chromium-driver)"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator["selenium.webdriver.Chrome"]:  # noqa: F821
    """A headless Chromium with its own throwaway profile, at a fixed window size."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mnistlab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = find("chromium")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(find("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
