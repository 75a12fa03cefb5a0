"""The topology picture in a real browser: the text as Chromium draws it overlaps nothing and fits its boxes.

The SVG's sizes come from estimated text widths; here headless Chromium
measures every text (``getBoundingClientRect``) at the tutorials' size and at
50 exchanges and 200 queues. Skipped without Chromium, except in CI.
"""

from __future__ import annotations

from pathlib import Path

import _view_browser as browser
import _view_scenes as scenes
import pytest

from amqpmodel import Broker, VirtualClock

pytestmark = pytest.mark.timeout(180)


def _measure(svg: str, tmp_path: Path) -> list[dict[str, object]]:
    page = tmp_path / "topology.html"
    page.write_text(f"<!doctype html><html><body style='margin:0'>{svg}</body></html>", "utf-8")
    with browser.chromium() as driver:
        driver.get(page.as_uri())
        return browser.text_boxes(driver, "svg.amqpmodel-topology")


def test_tutorial_picture_text_overlaps_nothing_in_chromium(tmp_path: Path) -> None:
    broker = Broker(clock=VirtualClock())
    scenes.tutorials(broker)
    boxes = _measure(broker.topology()._repr_svg_(), tmp_path)
    assert len(boxes) > 90
    assert browser.overlaps(boxes) == []
    assert browser.text_outside_boxes(boxes) == []


def test_large_picture_text_overlaps_nothing_in_chromium(tmp_path: Path) -> None:
    broker = Broker()
    scenes.large(broker)
    boxes = _measure(broker.topology()._repr_svg_(), tmp_path)
    assert len(boxes) > 1000
    assert browser.overlaps(boxes) == []
    assert browser.text_outside_boxes(boxes) == []


def test_the_checks_catch_overlapping_and_overflowing_text() -> None:
    a = {"text": "a", "left": 0, "top": 0, "right": 50, "bottom": 14, "box": [0, 0, 40, 20]}
    b = {"text": "b", "left": 45, "top": 10, "right": 90, "bottom": 24, "box": None}
    c = {"text": "c", "left": 100, "top": 0, "right": 120, "bottom": 14, "box": None}
    assert browser.overlaps([a, b, c]) == [("a", "b")]
    assert browser.text_outside_boxes([a, b, c]) == ["a"]
