"""The management web page in a real browser (Debian's headless Chromium driven by
Selenium): log in, declare a queue, publish and get a message with the forms,
see ready and held messages with their headers, the clients and the picture."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from amqpmodel import Broker
from amqpmodel.server import ServeURL

pytestmark = pytest.mark.timeout(120)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[Any]:
    missing = next(
        (f"{p} is not installed" for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()), None
    )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing = missing or "selenium is not installed"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)
    profile = tempfile.mkdtemp(prefix="amqpmodel-web-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver: Any, predicate: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15).until(lambda d: predicate(d))


def _text(driver: Any, selector: str) -> str:
    """The rendered text of the first match, read in one step (the page re-renders)."""
    return str(
        driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            selector,
        )
    )


def _fill(driver: Any, form: str, **values: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in values.items():
        element = driver.find_element(By.CSS_SELECTOR, f"#{form} [name={name}]")
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, f"#{form} button[type=submit]").click()


def test_declare_publish_get_and_look_in_the_browser(
    browser: Any, served: ServeURL, broker: Broker
) -> None:
    # a worker that holds one message unacknowledged, for the queue page to show
    connection = pika.BlockingConnection(pika.URLParameters(served))
    channel = connection.channel()
    channel.queue_declare("jobs")
    channel.basic_publish("", "jobs", b"resize", pika.BasicProperties(headers={"size": "xl"}))
    channel.basic_consume("jobs", lambda *args: None, consumer_tag="worker-1")
    connection.process_data_events(time_limit=0.2)
    assert served.management_url is not None
    browser.get(served.management_url + "/")
    _fill(browser, "login", username="guest", password="guest")
    _wait(browser, lambda d: "amqpmodel" in _text(d, "#view") and _text(d, "#totals"))
    assert "guest" in _text(browser, "#who")

    browser.get(served.management_url + "/#/queues")
    _wait(browser, lambda d: "jobs" in _text(d, "#queues"))
    _fill(
        browser,
        "declare-queue",
        name="web-orders",
        durable="true",
        arguments='{"x-max-length": 10}',
    )
    _wait(browser, lambda d: "Queue web-orders" in _text(d, "#view h2"))
    assert broker.queues["web-orders"].durable
    assert broker.queues["web-orders"].arguments["x-max-length"] == 10

    _fill(browser, "publish", headers='{"attempt": 3}', payload="order 42", delivery_mode="2")
    _wait(browser, lambda d: "order 42" in _text(d, "#ready-messages"))
    ready = _text(browser, "#ready-messages")
    assert '"attempt": 3' in ready and '"delivery_mode": 2' in ready
    assert broker.queues["web-orders"].messages_ready == 1

    _fill(browser, "get", ackmode="ack_requeue_false", count="1")
    _wait(browser, lambda d: "order 42" in _text(d, "#got-messages"))
    assert broker.queues["web-orders"].messages == 0
    assert "order 42" not in _text(browser, "#ready-messages")

    browser.get(served.management_url + "/#/queue/%2F/jobs")
    _wait(browser, lambda d: "resize" in _text(d, "#unacked-messages"))
    held = _text(browser, "#unacked-messages")
    assert "worker-1 on 127.0.0.1:" in held and '"size": "xl"' in held
    assert "worker-1" in _text(browser, "#queue-consumers")

    browser.get(served.management_url + "/#/connections")
    _wait(browser, lambda d: "Pika Python Client Library" in _text(d, "#connections"))
    browser.get(served.management_url + "/#/consumers")
    _wait(browser, lambda d: "worker-1" in _text(d, "#consumers"))
    browser.get(served.management_url + "/#/topology")
    _wait(browser, lambda d: "web-orders" in _text(d, ".topology"))
    connection.close()


def test_a_wrong_password_stays_on_the_login_form(browser: Any, served: ServeURL) -> None:
    assert served.management_url is not None
    browser.get(served.management_url + "/")
    _fill(browser, "login", username="guest", password="nope")
    _wait(browser, lambda d: "Login failed" in _text(d, "#login-error"))
    assert _text(browser, "#totals") == ""
