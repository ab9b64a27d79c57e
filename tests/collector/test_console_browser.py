"""The console in a real headless Chromium, against a collector API process, a worker process, the
sandbox and the trials service, with COLLECTOR_AUTH=required: log in, then for every source's form
start a task, watch it on its page and in the list, and cancel it; one community run is watched
while its progress moves and cancelled while it runs. Screenshots of each page go to var/screenshots/."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.orders.browser import chromium
from tests.support.collector_keys import create_key
from tests.support.processes import REPO_ROOT, collector_worker, flask_app, free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SHOTS = REPO_ROOT / "var" / "screenshots"
DAY = (date.today() - timedelta(days=3)).isoformat()


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile")
    driver.set_window_size(1440, 1700)
    yield driver
    driver.quit()


@pytest.fixture
def console(app, collector_config, sandbox, trials_service, live_process):
    env = {"COLLECTOR_DATABASE_URL": collector_config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": collector_config["REDIS_URL"], "COLLECTOR_NAMESPACE": collector_config["COLLECTOR_NAMESPACE"],
           "SERVICE_TOKEN": collector_config["SERVICE_TOKEN"], "ODCLOUD_BASE_URL": sandbox.url + "/api",
           "ODCLOUD_SERVICE_KEY": "sandbox-key", "TRIALS_URL": trials_service.url, "COLLECTOR_AUTH": "required",
           "SANDBOX_PORT": sandbox.url.rsplit(":", 1)[1], "COLLECTOR_PACING_BABITALK": 1.0,
           "LOG_DIR": str(collector_config["LOG_DIR"]), "VAR_DIR": str(collector_config["VAR_DIR"])}
    (collector_config["VAR_DIR"] / "dumps").mkdir(exist_ok=True)
    port = free_port()
    api = live_process(flask_app("services.collector", port), env=env, port=port, name="collector")
    live_process(collector_worker(4), env=env, name="worker")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return api.url, create_key(app, "operator", "console-operator")


def shot(browser, name: str) -> None:
    browser.save_screenshot(str(SHOTS / f"console-{name}.png"))


def text(browser, css: str) -> str:
    """An element's text, read in one step: htmx replaces the polled parts of the page under Selenium."""
    return browser.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css)


def click(browser, css: str) -> None:
    """Click a button inside a polled part of the page (found and clicked in one step)."""
    assert browser.execute_script("const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e", css)


def native_click(browser, css: str) -> bool:
    """A real click (one that may open the confirm dialog); False when htmx replaced the element meanwhile."""
    try:
        browser.find_element(By.CSS_SELECTOR, css).click()
    except StaleElementReferenceException:
        return False
    return True


def set_value(browser, element_id: str, value: str) -> None:
    """Type into a field; date pickers take their value as the page would get it from the picker."""
    element = browser.find_element(By.ID, element_id)
    if element.get_attribute("type") in ("date", "datetime-local"):
        browser.execute_script("arguments[0].value = arguments[1]", element, value)
    else:
        element.clear()
        element.send_keys(value)


def log_in(browser, base: str, key: str) -> None:
    browser.get(base + "/")
    assert "/login" in browser.current_url  # behind the login
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait_for(lambda: "/login" not in browser.current_url, 15, what="the login to land on the tasks page")


def start_from_form(browser, base: str, source: str, fields: dict, countdown: str | None = "600") -> str:
    browser.get(f"{base}/start/{source}")
    for field, value in fields.items():
        element_id = f"{source}-{field.replace('.', '-')}"
        if isinstance(value, list):
            select = Select(browser.find_element(By.ID, element_id))
            select.deselect_all()
            for choice in value:
                select.select_by_visible_text(choice)
        else:
            set_value(browser, element_id, value)
    if countdown is not None:
        browser.find_element(By.CSS_SELECTOR, f"#form-{source} details.advanced summary").click()
        set_value(browser, f"{source}-countdown", countdown)
    browser.find_element(By.CSS_SELECTOR, f"#form-{source} button.start-button").click()
    wait_for(lambda: "/tasks/" in browser.current_url, 15, what=f"the {source} task page")
    return browser.current_url.rsplit("/", 1)[1]


def badge(browser) -> str:
    return text(browser, "#panel .badge")


def cancel_on_task_page(browser, task_id: str) -> None:
    click(browser, "#cancel")
    wait_for(lambda: badge(browser) in ("cancelled", "cancelling"), 15, what=f"task {task_id} cancelled")
    wait_for(lambda: badge(browser) == "cancelled", 30, what=f"task {task_id} to stop")
    assert "console-operator" in text(browser, "#cancelled-by")


def sqlite_url(collector_config) -> str:
    return f"sqlite:///{collector_config['VAR_DIR'] / 'dumps' / 'posts.sqlite3'}"


def test_every_source_form_starts_a_task_that_is_watched_and_cancelled(console, browser, collector_config):
    base, operator = console
    log_in(browser, base, operator.key)
    shot(browser, "01-tasks-empty")
    forms = {
        "trials": {"per_page": "50"},
        "grader": {"target_date": DAY},
        "babitalk": {"target_date": DAY, "categories": ["reviews", "talks"], "limit": "5"},
        "gangnamunni": {"target_date": DAY, "limit": "5"},
        "naver": {"cafe_id": "1234", "target_date": DAY, "menu_id": "288,289"},
        "label_table": {"input.database_url": sqlite_url(collector_config), "input.table": "posts",
                        "input.text_column": "body", "input.id_column": "id", "input.time_column": "posted_at",
                        "start": f"{DAY}T00:00", "end": f"{DAY}T23:59", "output.table": "posts_labeled",
                        "rules": '{"model": "keyword", "labels": {"price": ["가격"]}}'},
    }
    started = {}
    for source, fields in forms.items():
        task_id = start_from_form(browser, base, source, fields)
        started[source] = task_id
        assert badge(browser) == "pending"
        assert "console-operator" in text(browser, "#audit")
        if source == "label_table":
            params = text(browser, "#params")
            assert '"sealed_job": "***"' in params and "posts.sqlite3" in params  # the job sealed, the URL as given
            shot(browser, "03-task-pending-label-table")
        browser.get(base + "/")
        assert browser.find_elements(By.CSS_SELECTOR, f'tr[data-id="{task_id}"]')
        browser.get(f"{base}/tasks/{task_id}")
        cancel_on_task_page(browser, task_id)
    shot(browser, "04-task-cancelled")

    browser.get(base + "/?status=cancelled")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "tr.task-row")) == len(forms), 15,
             what="every cancelled task in the filtered list")
    shot(browser, "05-tasks-filtered-cancelled")


def test_a_running_task_moves_and_is_cancelled_from_the_list(console, browser):
    base, operator = console
    log_in(browser, base, operator.key)
    task_id = start_from_form(browser, base, "babitalk", {"target_date": "2020-01-01", "categories": ["talks"]},
                              countdown=None)
    wait_for(lambda: badge(browser) == "running", 30, what="the babitalk task to run")
    first = text(browser, "#panel .big-progress small")
    wait_for(lambda: text(browser, "#panel .big-progress small") != first, 30,
             what="the progress to move without a reload")
    wait_for(lambda: browser.execute_script("return document.querySelectorAll('#log .line').length") >= 3, 30,
             what="the log to follow")
    shot(browser, "06-task-running")

    browser.get(base + "/workers")
    wait_for(lambda: task_id[:8] in text(browser, "#cap"), 15, what="the task holding a slot")
    assert "1 of 10" in text(browser, "#slots-used")
    assert "default" in text(browser, "#queues")
    wait_for(lambda: "idle" not in text(browser, "#workers") or task_id[:8] in text(browser, "#workers"), 15,
             what="the worker running the task")
    shot(browser, "07-workers-queues-cap")

    browser.get(base + "/")
    row = f'tr[data-id="{task_id}"]'
    wait_for(lambda: text(browser, f"{row} .badge") == "running", 15, what="the running task in the list")
    wait_for(lambda: native_click(browser, f"{row} button.cancel"), 15, what="the list's cancel button")
    browser.switch_to.alert.accept()  # hx-confirm asks first
    wait_for(lambda: text(browser, f"{row} .badge") in ("cancelling", "cancelled"), 15, what="the cancel from the list")
    wait_for(lambda: text(browser, f"{row} .badge") == "cancelled", 30, what="the task to stop at its checkpoint")
    shot(browser, "08-tasks-after-cancel")


def test_field_errors_sit_next_to_their_fields_and_schedules_pause(console, browser):
    base, operator = console
    log_in(browser, base, operator.key)
    browser.get(f"{base}/start/label_table")
    set_value(browser, "label_table-rules", '{"model": "nope", "labels": {}}')
    wait_for(lambda: "✗" in text(browser, "#label_table-rules-check"), 15, what="the rules editor's check")
    browser.find_element(By.CSS_SELECTOR, "#form-label_table button.start-button").click()
    wait_for(lambda: browser.find_elements(By.ID, "label_table-input-table-error"), 15, what="field errors")
    assert "Missing data" in text(browser, "#label_table-input-table-error")
    assert text(browser, "#label_table-start-error") and text(browser, "#label_table-rules-error")
    shot(browser, "02-start-form-errors")

    browser.get(base + "/schedules")
    row = 'tr[data-schedule="trials"]'
    click(browser, f"{row} button.secondary")  # Pause
    wait_for(lambda: "paused" in text(browser, row), 15, what="the trials schedule paused")
    shot(browser, "09-schedules-paused")
    click(browser, f"{row} button.outline")  # Resume
    wait_for(lambda: "active" in text(browser, row), 15, what="the trials schedule resumed")
    wait_for(lambda: native_click(browser, f"{row} button.run-now"), 15, what="the run-now button")
    wait_for(lambda: "/tasks/" in browser.current_url, 15, what="the run-now task page")
    browser.get(base + "/schedules")
    assert text(browser, f"{row} td:nth-of-type(3) .badge")  # its last run, with an outcome
    shot(browser, "10-schedules")
