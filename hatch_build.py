"""The package's build: the hot modules compiled with mypyc when a C compiler is present.

`pip install .` (and `make demo`) build a wheel through this hook. It copies ``hotline/``
to a scratch directory, compiles the modules listed under
``[tool.hatch.build.targets.wheel.hooks.custom] modules`` in pyproject.toml there, and
puts the extension modules in the wheel beside the sources: Python imports an extension
before a source file of the same name, and the sources stay for tracebacks and reading.
The wheel is then tagged for this interpreter and platform.

It installs pure Python instead, and says why, when there is no C compiler, when
``HOTLINE_PURE=1`` is set, or when mypyc fails. Editable installs (``pip install -e``)
are always pure: a compiled module beside its source would hide every later edit.
``hotline --version`` says which build is running.

Run as a script, it compiles the same modules into a directory of its own, which is how
the test suite gets its compiled tree (``make compile``)::

    python hatch_build.py DEST
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from pathlib import Path
from typing import Any

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script, outside a build
    BuildHookInterface = object  # type: ignore[assignment,misc]

ROOT = Path(__file__).resolve().parent
PACKAGE = "hotline"


class CompileFailed(Exception):
    """mypyc or the C compiler failed; the message ends with the log's last lines."""


def hot_modules(root: Path = ROOT) -> list[str]:
    """The modules to compile, as pyproject.toml lists them (paths from the root)."""
    with (root / "pyproject.toml").open("rb") as file:
        document = tomllib.load(file)
    hooks = document["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]
    modules: list[str] = hooks["custom"]["modules"]
    return modules


def why_pure() -> str | None:
    """Why this build cannot be compiled, or None if it can."""
    if os.environ.get("HOTLINE_PURE") == "1":
        return "HOTLINE_PURE=1 is set"
    command = (sysconfig.get_config_var("CC") or "cc").split()
    if not command or shutil.which(command[0]) is None:
        return f"no C compiler ({command[0] if command else 'CC is empty'} is not on PATH)"
    return None


def compile_tree(dest: Path, root: Path = ROOT) -> list[Path]:
    """Copy the package into ``dest`` and compile its hot modules there; the extension
    modules made, mypyc's shared library among them. The log is ``dest/mypyc.log``."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    shutil.copytree(root / PACKAGE, dest / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    log = dest / "mypyc.log"
    with log.open("w") as output:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypyc",
                "--config-file",
                str(root / "pyproject.toml"),
                *hot_modules(root),
            ],
            cwd=dest,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise CompileFailed(f"mypyc exited {done.returncode}:\n{tail}")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = sorted(  # mypyc's own build/ holds copies of the same modules
        path for path in dest.rglob(f"*{suffix}") if path.relative_to(dest).parts[0] != "build"
    )
    if not built:
        raise CompileFailed("mypyc made no extension modules")
    return built


class CompiledBuild(BuildHookInterface):  # type: ignore[type-arg]
    """hatchling's custom build hook: a compiled wheel when it can be."""

    PLUGIN_NAME = "custom"
    _scratch: Path | None = None  # where this build compiles, removed when it ends

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        reason = why_pure()
        if reason is None:
            self.app.display_info("hotline: compiling the hot modules with mypyc (about a minute)")
            self._scratch = Path(tempfile.mkdtemp(prefix="hotline-mypyc-"))
            try:
                built = compile_tree(self._scratch, Path(self.root))
            except CompileFailed as exc:
                reason = str(exc)
            else:
                for path in built:
                    build_data["force_include"][str(path)] = str(path.relative_to(self._scratch))
                build_data["pure_python"] = False
                build_data["infer_tag"] = True
                return
        self.app.display_warning(f"hotline: installing pure Python: {reason}")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python hatch_build.py DEST", file=sys.stderr)
        return 2
    try:
        built = compile_tree(Path(sys.argv[1]))
    except CompileFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"compiled {len(built)} extension modules into {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
