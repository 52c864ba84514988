"""Debian's headless Chromium for the browser tests, started one way: the flags the brief asks for, a private
profile, and a clear failure (never a skip) when chromium-driver is missing."""
from __future__ import annotations

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def start_chromium(profile: Path, *extra: str) -> webdriver.Chrome:
    """A headless Chromium with its own profile folder; ``extra`` flags e.g. ``--window-size=1920,1080``."""
    if not CHROMEDRIVER.exists():
        pytest.fail(f"{CHROMEDRIVER} not found: install Debian's chromium-driver")
    opts = webdriver.ChromeOptions()
    for arg in (*FLAGS, *extra, f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)


def start_wall_screen(profile: Path, *extra: str) -> webdriver.Chrome:
    """A headless Chromium whose page is a 1920x1080 wall screen (the page itself sized, not the window around it)."""
    driver = start_chromium(profile, "--lang=en-US", "--window-size=1920,1080", *extra)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    return driver
