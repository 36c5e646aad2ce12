"""The protocol core stays pure: no IO, clocks or randomness, checked on its source."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import hotline
import hotline.core

FORBIDDEN = {
    "asyncio",
    "time",
    "random",
    "datetime",
    "socket",
    "os",
    "pathlib",
    "secrets",
    "uuid",
    "threading",
    "subprocess",
    "select",
    "selectors",
    "io",
    "sqlite3",
    "aiomqtt",
    "paho",
}
CORE = Path(hotline.core.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_no_io_clock_or_randomness() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 6
    for module in modules:
        bad = imported_roots(module) & FORBIDDEN
        assert not bad, f"{module.name} imports {sorted(bad)}"


def test_core_imports_nothing_from_outside_the_core() -> None:
    for module in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("hotline")
            ):
                assert node.module.startswith("hotline.core"), f"{module.name}: {node.module}"


def _public_names(module: object) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }


def test_all_lists_the_public_api() -> None:
    lazy = {hotline: hotline.LIVE_NAMES, hotline.core: frozenset()}
    for package in (hotline, hotline.core):
        assert all(hasattr(package, name) for name in package.__all__)
        assert _public_names(package) == set(package.__all__) - {"__version__"}
        assert lazy[package] <= set(package.__all__)
