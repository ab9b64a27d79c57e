"""The scenario that defines the task, in a real headless browser: log in to B's admin,
create an order, change it; A's admin shows the change (the integration runs beside A)."""
from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.orders.browser import chromium
from tests.orders.live import ADMIN_PASSWORD, eventually, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


@pytest.fixture
def stack(live_process, migrated_database_for, tmp_path):
    stack = start_stack(live_process, migrated_database_for, tmp_path)
    stack.start_integration()
    yield stack
    stack.proxy.stop()


def log_in(browser, base: str, password: str = ADMIN_PASSWORD) -> None:
    browser.get(f"{base}/admin/")
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys(password)
    button = browser.find_element(By.ID, "login")
    button.click()
    # The click returns before the next page loads: wait until the login page is replaced.
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))


def fill(browser, field: str, value: str) -> None:
    element = browser.find_element(By.ID, field)
    element.clear()
    element.send_keys(value)


def save(browser) -> None:
    """Submit the form and wait for Flask-Admin's redirect back to the list."""
    form_url = browser.current_url
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value=Save]").click()
    eventually(lambda: browser.current_url != form_url, message="the form to be saved")


def test_an_order_made_and_changed_in_b_admin_shows_up_in_a_admin(stack, browser):
    log_in(browser, stack.b)
    assert "/admin/order/" in browser.current_url
    browser.get(f"{stack.b}/admin/order/new/")
    fill(browser, "customer_name", "Browser Customer")
    fill(browser, "customer_email", "browser@example.com")
    fill(browser, "items", '[{"sku": "TEA-1", "name": "Tea", "qty": 3, "unit_price": "4.20"}]')
    fill(browser, "currency", "EUR")
    save(browser)
    assert "Browser Customer" in browser.find_element(By.TAG_NAME, "body").text

    made = requests.get(f"{stack.b}/orders", params={"customer": "browser@example.com"}, timeout=10).json()["data"]
    assert len(made) == 1 and made[0]["total"] == "12.60"
    browser.get(f"{stack.b}/admin/order/edit/?id={made[0]['uuid']}")
    Select(browser.find_element(By.ID, "status")).select_by_value("paid")
    fill(browser, "note", "Paid by card, changed in B's admin")
    save(browser)
    assert requests.get(f"{stack.b}/orders/{made[0]['uuid']}", timeout=10).json()["status"] == "paid"

    log_in(browser, stack.a)

    def a_admin_shows_the_change():
        browser.get(f"{stack.a}/admin/order/?search=Browser")
        text = browser.find_element(By.TAG_NAME, "body").text
        return "Paid by card, changed in B's admin" in text and "paid" in text and "12.60" in text

    eventually(a_admin_shows_the_change, message="A's admin showing B's change")
    row = browser.find_element(By.XPATH, "//td[contains(., 'Paid by card')]/ancestor::tr").text
    assert "OK" in row  # the sync state column


def test_admin_refuses_a_wrong_password_and_anonymous_visits(stack, browser):
    browser.get(f"{stack.a}/admin/order/")
    assert "/admin/login" in browser.current_url
    log_in(browser, stack.a, password="wrong")
    assert "Wrong user or password" in browser.find_element(By.ID, "login-error").text
    assert requests.get(f"{stack.a}/admin/order/", allow_redirects=False, timeout=10).status_code == 302
