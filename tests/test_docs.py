"""Docs that run: the README's Python examples execute as written."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    assert PYTHON_BLOCKS, "the README shows the library in use"


@pytest.mark.parametrize(
    "block", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))]
)
def test_readme_python_example_runs(
    block: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block runs (from the repository root); where a line says ``# -> text``, its
    output starts with that text."""
    monkeypatch.chdir(REPO)
    exec(compile(block, "README.md", "exec"), {})
    output = capsys.readouterr().out.splitlines()
    assert output
    promised = [
        re.sub(r" \(.*\)$", "", line.split("# -> ", 1)[1]).strip()
        for line in block.splitlines()
        if "# -> " in line
    ]
    printed = [line for line in output if any(line.startswith(p) for p in promised)]
    assert len(printed) == len(promised), (promised, output)
