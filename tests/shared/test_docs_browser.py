"""Every service's /docs and /redoc in headless Chromium that cannot resolve any host but the
service's own address: the operations are listed, and every file the page loaded came from the service."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.orders.browser import CHROMEDRIVER, CHROMIUM, FLAGS, ensure_chromium
from tests.shared.service_apps import SERVICES, TOKEN
from tests.support.processes import flask_app, free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Any name but the service's address resolves to nothing: a page that needed the internet stays blank.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, OFFLINE, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for policy violations
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(params=SERVICES)
def service(request, live_process, migrated_database_for, tmp_path, redis_url):
    name = request.param
    env = {f"{name.upper()}_DATABASE_URL": migrated_database_for(name), "REDIS_URL": redis_url,
           "SERVICE_TOKEN": TOKEN, "VAR_DIR": str(tmp_path), "LOG_DIR": str(tmp_path / "log"),
           "COLLECTOR_NAMESPACE": f"docs-browser-{tmp_path.name}"}
    port = free_port()
    return live_process(flask_app(f"services.{name}", port), env=env, port=port, name=name,
                        health_path="/health/live")


def loaded_from_elsewhere(browser, origin: str) -> list[str]:
    """Every resource the page asked for (scripts, styles, images, the spec) not from `origin` and not
    refused by the page's Content-Security-Policy (ReDoc's sidebar asks for its vendor's logo: refused)."""
    names = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])")
    refusals = [entry["message"] for entry in browser.get_log("browser")
                if "violates the following Content Security Policy" in entry["message"]]
    return [name for name in names
            if not name.startswith(origin + "/") and not any(f"'{name}'" in refusal for refusal in refusals)]


def test_swagger_ui_lists_the_operations_offline(browser, service):
    browser.get(f"{service.url}/docs")
    operations = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock"), timeout=30,
                          what="Swagger UI to list the operations")
    assert len(operations) > 3
    summaries = " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    assert "/health" in summaries
    assert loaded_from_elsewhere(browser, service.url) == []


def test_redoc_lists_the_operations_offline(browser, service):
    browser.get(f"{service.url}/redoc")
    operations = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "[data-section-id*='/paths/']"),
                          timeout=30, what="ReDoc to list the operations")
    assert len(operations) > 3
    assert "/health" in browser.find_element(By.TAG_NAME, "body").text
    assert loaded_from_elsewhere(browser, service.url) == []
