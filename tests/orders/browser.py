"""Headless Debian chromium driven by Selenium, with the chromedriver path given explicitly
(Selenium Manager never downloads anything). Installs chromium when missing and root."""
from __future__ import annotations

import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SETUP_SCRIPT = Path(__file__).with_name("setup_chromium.sh")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000")


def ensure_chromium() -> None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
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
