"""The package's build (hatch_build.py): a wheel built where a C compiler is found carries
the hot modules compiled, and says so; without one, or when asked, it is pure Python."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import hatch_build
from tests.conftest import REPO


def test_every_listed_module_is_a_source_file_of_the_package() -> None:
    modules = hatch_build.hot_modules()
    assert modules, "pyproject.toml lists the modules to compile"
    for module in modules:
        assert (REPO / module).is_file(), module
        assert module.startswith("hotline/")
        assert module.endswith(".py")
    assert "hotline/core/verifier.py" in modules  # the verifier is the hot path's core


def test_a_build_asked_to_be_pure_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_PURE", "1")
    assert hatch_build.why_pure() == "HOTLINE_PURE=1 is set"


def test_a_build_without_a_compiler_is_pure_and_names_the_compiler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOTLINE_PURE", raising=False)
    real = sysconfig.get_config_var
    monkeypatch.setattr(
        sysconfig,
        "get_config_var",
        lambda name: "no-such-cc -pthread" if name == "CC" else real(name),
    )
    assert hatch_build.why_pure() == "no C compiler (no-such-cc is not on PATH)"


def test_a_failed_compile_names_the_failure(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "hotline").mkdir(parents=True)
    (root / "hotline" / "__init__.py").write_text("")
    (root / "hotline" / "broken.py").write_text("def f() -> int:\n    return 'text'\n")
    (root / "pyproject.toml").write_text(
        '[tool.hatch.build.targets.wheel.hooks.custom]\nmodules = ["hotline/broken.py"]\n'
    )
    with pytest.raises(hatch_build.CompileFailed, match="Incompatible return value"):
        hatch_build.compile_tree(tmp_path / "out", root)


def _wheel(tmp_path: Path, pure: bool) -> zipfile.ZipFile:
    env = {"HOTLINE_PURE": "1"} if pure else {}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), "."],
        cwd=REPO,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("hotline-*.whl")
    return zipfile.ZipFile(wheel)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a whole wheel build, compiler included
def test_pip_builds_a_compiled_wheel_here(tmp_path: Path) -> None:
    reason = hatch_build.why_pure()
    if reason is not None:
        pytest.skip(f"this machine builds pure wheels: {reason}")
    wheel = _wheel(tmp_path, pure=False)
    assert wheel.filename is not None
    assert "py3-none-any" not in wheel.filename
    names = set(wheel.namelist())
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    for module in hatch_build.hot_modules():
        assert module.removesuffix(".py") + suffix in names, module
        assert module in names, "the sources stay beside the extensions"


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a whole wheel build, compiler included
def test_pip_builds_a_pure_wheel_when_asked(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, pure=True)
    assert wheel.filename is not None
    assert wheel.filename.endswith("py3-none-any.whl")
    assert not [name for name in wheel.namelist() if name.endswith(".so")]
