"""Headless Chromium for the browser tests, from Debian's chromium and chromium-driver only.

Selenium is given both paths and SE_AVOID_STATS/SE_OFFLINE, so Selenium Manager neither downloads
anything nor reports usage. Missing binaries fail the test: `make test` installs them
(`make browser-deps`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path(os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver"))
SELENIUM_OFFLINE = {"SE_AVOID_STATS": "true", "SE_OFFLINE": "true"}
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def headless_chromium(profile_dir: Path) -> Iterator[Any]:
    """A WebDriver for headless Chromium with its own profile in `profile_dir`; quit on exit."""
    os.environ.update(SELENIUM_OFFLINE)
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make browser-deps` (Debian's chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
