"""Headless Chromium for the view tests (Debian's chromium and chromium-driver, driven by Selenium).

``chromium()`` skips the test when the browser, its driver or Selenium is
missing, except in CI (``CI=true``), where that is a failure: ``.ci/run``
installs them. ``overlaps`` and ``text_outside_boxes`` read the geometry the
browser gives the SVG's text, the proof that no label covers another.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

# every <text> of the picture with its box in page pixels, and the box of the
# node or label it belongs to (its <g>'s <rect>)
TEXT_BOXES_JS = """
const svg = arguments[0] ? document.querySelector(arguments[0]) : document.querySelector('svg');
const out = [];
for (const text of svg.querySelectorAll('text')) {
  const r = text.getBoundingClientRect();
  const group = text.parentElement.tagName.toLowerCase() === 'g' ? text.parentElement : null;
  const rect = group ? group.querySelector('rect') : null;
  const own = (group && rect && (group.classList.contains('node') || group.classList.contains('edge-label')))
    ? rect.getBoundingClientRect() : null;
  out.push({text: text.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom,
            box: own ? [own.left, own.top, own.right, own.bottom] : null,
            group: group ? group.getAttribute('class') : ''});
}
return out;
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A Selenium driver for a fresh headless Chromium, closed afterwards."""
    missing = _missing()
    if missing is not None:
        if in_ci():
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="amqpmodel-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def text_boxes(driver: Any, selector: str = "") -> list[dict[str, Any]]:
    return list(driver.execute_script(TEXT_BOXES_JS, selector))


def overlaps(boxes: list[dict[str, Any]], slack: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap (by more than ``slack`` pixels each way)."""
    found = []
    ordered = sorted(boxes, key=lambda b: b["top"])
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b["top"] >= a["bottom"] - slack:
                break
            if min(a["right"], b["right"]) - max(a["left"], b["left"]) > slack and (
                min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > slack
            ):
                found.append((a["text"], b["text"]))
    return found


def text_outside_boxes(boxes: list[dict[str, Any]], slack: float = 0.5) -> list[str]:
    """Texts of a node or label that run out of their own box."""
    return [
        b["text"]
        for b in boxes
        if b["box"] is not None
        and (
            b["left"] < b["box"][0] - slack
            or b["top"] < b["box"][1] - slack
            or b["right"] > b["box"][2] + slack
            or b["bottom"] > b["box"][3] + slack
        )
    ]
