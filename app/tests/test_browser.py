"""Headless Chromium through the real UI (gunicorn, CSRF on): log in, create an item, ship stock."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import new_sku
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from stockroom.extensions import db
from stockroom.services import users

SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with tempfile.TemporaryDirectory(prefix="sr-chromium-") as profile:
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for flag in (
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={profile}", "--window-size=1280,900",
        ):  # fmt: skip
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to read CSP reports
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        driver.implicitly_wait(15)
        try:
            yield driver
        finally:
            driver.quit()


def _left(page: WebElement) -> Callable[[Any], bool]:
    """Like expected_conditions.staleness_of, but also takes chromedriver's "Node with given id
    does not belong to the document" (seen under load when the page went while it asked) as gone."""

    def gone(_driver: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:
            return True
        return False

    return gone


def _submit(driver: webdriver.Chrome, selector: str) -> None:
    """Click a submit button and wait until the browser has left the current page."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(driver, 30).until(_left(page))


def _fill(driver: webdriver.Chrome, field_id: str, value: str) -> None:
    el = driver.find_element(By.ID, field_id)
    el.clear()
    el.send_keys(value)


def _confirm_delete(driver: webdriver.Chrome, accept: bool) -> bool:
    driver.find_element(By.CSS_SELECTOR, "form.danger-zone button[type=submit]").click()
    alert = WebDriverWait(driver, 10).until(expected_conditions.alert_is_present())
    asked = "Delete" in alert.text
    alert.accept() if accept else alert.dismiss()
    return asked


def test_login_create_item_and_ship(app: Flask, live_server: dict[str, Any], browser: Any) -> None:
    with app.app_context():
        users.create_user(db.session, "clerk", "editor", "clerk-password-1")
        db.session.remove()
    base = live_server["url"]
    browser.get(base + "/")
    assert "/login" in browser.current_url  # not signed in yet
    _fill(browser, "username", "clerk")
    _fill(browser, "password", "wrong-password")
    _submit(browser, "button[type=submit]")
    assert "wrong password" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    _fill(browser, "username", "clerk")
    _fill(browser, "password", "clerk-password-1")
    _submit(browser, "button[type=submit]")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dashboard"
    assert browser.find_element(By.ID, "dashboard-node").text == "live-node"
    assert browser.find_element(By.ID, "served-by").text == "live-node"
    assert browser.find_element(By.ID, "dashboard-ip").text.count(".") == 3

    browser.get(base + "/items/new")
    sku = new_sku()
    _fill(browser, "f-sku", sku)
    _fill(browser, "f-name", "Browser widget")
    _fill(browser, "f-category", "Browser")
    _fill(browser, "f-quantity", "10")
    _fill(browser, "f-reorder_level", "3")
    _submit(browser, "form.grid-form button[type=submit]")
    assert sku in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_element(By.ID, "quantity").text == "10"

    Select(browser.find_element(By.ID, "m-reason")).select_by_value("ship")
    _fill(browser, "m-amount", "4")
    _fill(browser, "m-note", "order 42")
    _submit(browser, "form.move-form button[type=submit]")
    assert browser.find_element(By.ID, "quantity").text == "6"
    first = browser.find_element(By.CSS_SELECTOR, "#movements tbody tr")
    assert "-4" in first.text and "order 42" in first.text and "clerk" in first.text

    # Shipping more than is on hand is refused and changes nothing.
    Select(browser.find_element(By.ID, "m-reason")).select_by_value("ship")
    _fill(browser, "m-amount", "7")
    _submit(browser, "form.move-form button[type=submit]")
    assert "only 6 in stock" in browser.find_element(By.CSS_SELECTOR, ".move-form .error").text
    assert browser.find_element(By.ID, "quantity").text == "6"

    browser.get(base + "/items?q=" + sku)
    assert sku in browser.find_element(By.CSS_SELECTOR, "table.items tbody").text

    # Deleting asks first. The question comes from static/app.js (the Content-Security-Policy
    # allows no inline handler); cancelling keeps the item.
    browser.find_element(By.LINK_TEXT, sku).click()
    assert _confirm_delete(browser, accept=False)
    assert browser.find_element(By.ID, "quantity").text == "6"
    page = browser.find_element(By.TAG_NAME, "html")
    assert _confirm_delete(browser, accept=True)
    WebDriverWait(browser, 30).until(_left(page))
    assert "Item deleted." in browser.find_element(By.CSS_SELECTOR, ".flash").text

    browser.get(base + "/")
    refused = [
        e["message"] for e in browser.get_log("browser") if "Content Security" in e["message"]
    ]
    assert not refused, refused  # nothing on our pages breaks the policy
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "dashboard.png"))
