"""examples/tutorials.ipynb: executed with nbclient, rendered to HTML with nbconvert, looked at in Chromium.

The notebook runs the six tutorials on a VirtualClock in one kernel; the
test checks what its cells print, then renders the executed notebook as a
reader would see it and measures the topology picture's text in headless
Chromium: no label overlaps another or runs out of its box. The screenshot
of the picture is what docs/images/notebook-topology.png shows (set
AMQPMODEL_WRITE_SCREENSHOTS=1 to write it there).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import _view_browser as browser
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "tutorials.ipynb"
SCREENSHOT = ROOT / "docs" / "images" / "notebook-topology.png"


@pytest.fixture(scope="module")
def executed() -> Any:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    return notebook


def _outputs(notebook: Any) -> list[tuple[str, dict[str, Any]]]:
    """(source, output) of every output, in order."""
    return [
        (cell.source, output)
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    ]


def _printed(notebook: Any) -> str:
    return "".join(o.get("text", "") for _, o in _outputs(notebook) if o["output_type"] == "stream")


def _result(notebook: Any, source: str) -> dict[str, Any]:
    for cell_source, output in _outputs(notebook):
        if cell_source.strip() == source and output["output_type"] == "execute_result":
            return dict(output["data"])
    raise AssertionError(f"no result for {source!r}")


def test_the_notebook_runs_the_six_tutorials(executed: Any) -> None:
    errors = [o for _, o in _outputs(executed) if o["output_type"] == "error"]
    assert errors == []
    printed = _printed(executed)
    assert " [x] Received [b'Hello World!']" in printed  # tutorial 1
    # tutorial 2: fair dispatch with prefetch 1 (spec 7.5), on virtual time
    assert "worker.py 1 did ['First message.', 'Third message...', 'Fifth message.....']" in printed
    assert "worker.py 2 did ['Second message..', 'Fourth message....']" in printed
    assert "9 seconds of virtual time" in printed
    results = [
        o["data"].get("text/plain", "")
        for _, o in _outputs(executed)
        if o["output_type"] == "execute_result"
    ]
    assert "[['info: Hello World!'], ['info: Hello World!']]" in results  # 3: fanout
    assert any("['error: disk full'],\n ['info: starting'" in r for r in results)  # 4: direct
    assert "[1, 55, 832040]" in results  # 6: RPC
    # spec 4.4: the retried job came back once through retry.5s
    assert "attempts: [1, 2] | left in retry.5s: 0" in printed


def test_the_notebook_shows_tables_and_the_held_messages(executed: Any) -> None:
    queues = _result(executed, "broker.queues")
    assert queues["text/plain"].splitlines()[0] == "queues (1)"
    assert "<td>hello</td>" in queues["text/html"]
    task_queue = _result(executed, 'broker.queues["task_queue"]')["text/html"]
    # spec 7.11: each worker holds one unacknowledged task, named by its connection
    assert "unacknowledged messages (2)" in task_queue
    assert "<td>worker.py 1 (1)</td>" in task_queue and "<td>worker.py 2 (1)</td>" in task_queue
    retry = _result(executed, 'broker.queues["retry.5s"]')["text/html"]
    assert "<b>x-death</b>: <table>" in retry and "<td>rejected</td>" in retry
    assert "<b>content_type</b>: application/json" in retry
    picture = _result(executed, "broker.topology()")
    assert picture["text/html"].count('class="node queue"') == 15
    assert picture["image/svg+xml"].startswith("<svg")


def test_the_rendered_notebook_picture_has_no_overlapping_labels(
    executed: Any, tmp_path: Path
) -> None:
    html, _ = nbconvert.HTMLExporter().from_notebook_node(executed)
    page = tmp_path / "tutorials.html"
    page.write_text(html, "utf-8")
    with browser.chromium(width=1500, height=1200) as driver:
        driver.get(page.as_uri())
        pictures = driver.find_elements("css selector", "svg.amqpmodel-topology")
        assert len(pictures) == 1
        picture = pictures[0]
        driver.execute_script("arguments[0].scrollIntoView()", picture)
        boxes = browser.text_boxes(driver, "svg.amqpmodel-topology")
        assert len(boxes) > 90
        assert browser.overlaps(boxes) == []
        assert browser.text_outside_boxes(boxes) == []
        # names are shortened to fit, and whole on hover
        titles = driver.execute_script(
            "return Array.from(arguments[0].querySelectorAll('g.node > title')).map(t => t.textContent)",
            picture,
        )
        assert any(title.startswith("queue amq.gen-") for title in titles)
        shot = tmp_path / "notebook-topology.png"
        assert picture.screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("AMQPMODEL_WRITE_SCREENSHOTS"):
        shutil.copyfile(shot, SCREENSHOT)
