"""The README's Python examples run as written (a README that lies is a bug)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", [i for i, block in enumerate(BLOCKS) if "def test_" not in block])
def test_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # an example may write files (a data dir)
    exec(compile(BLOCKS[index], f"README.md example {index}", "exec"), {})


@pytest.mark.parametrize("index", [i for i, block in enumerate(BLOCKS) if "def test_" in block])
def test_pytest_example_passes_with_the_plugin(index: int, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_from_readme=BLOCKS[index])
    pytester.runpytest("-p", "amqpmodel", "-q").assert_outcomes(passed=1)
