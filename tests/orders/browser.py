"""Headless Debian chromium driven by Selenium, with the chromedriver path given explicitly
(Selenium Manager never downloads anything). Installs chromium when missing and root."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SETUP_SCRIPT = Path(__file__).with_name("setup_chromium.sh")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000")


def ensure_chromium() -> None:
    """Install Debian's chromium and chromedriver when missing (as root, like CI does); a
    user's machine where that cannot happen runs the rest of the suite and says why not this."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("the browser test needs /usr/bin/chromium and /usr/bin/chromedriver: "
                    "apt-get install chromium chromium-driver (as root), or run make test as root on Debian")
    subprocess.run(["sh", str(SETUP_SCRIPT)], check=True)


def chromium(user_data_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
