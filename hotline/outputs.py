"""Writing a command's output file without losing anything: never over one of the
command's inputs, never over an existing file unless told, and atomically (a reader
sees the old file or the new one, never half of one)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_output(
    path: Path,
    data: bytes,
    *,
    force: bool = False,
    inputs: Iterable[Path] = (),
    mode: int = 0o644,
) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, then a rename),
    readable by all (``mode``): what is written this way is meant to be shared.

    Raises:
        FileExistsError: ``path`` is one of ``inputs``, or exists and ``force`` is false.
        OSError: the file cannot be written.
    """
    for source in inputs:
        if path.exists() and source.exists() and path.samefile(source):
            raise FileExistsError(f"{path}: is an input of this command; write elsewhere")
    if path.exists() and not force:
        raise FileExistsError(f"{path}: exists (use --force to replace it)")
    directory = path.parent if str(path.parent) else Path()
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)  # the temporary file is its owner's only
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
