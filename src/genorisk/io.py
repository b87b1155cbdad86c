"""Small I/O helpers shared by the stages: atomic outputs and JSON."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    A crash or an exception leaves no file at ``path`` (and removes the temporary
    one), so a rerun never trusts a partial output. The temporary name keeps the
    suffixes of ``path`` (``.vcf.gz``, ``.parquet``) because some writers choose
    the format by extension. ``mode`` sets permissions (e.g. ``0o600``);
    by default the file gets the usual umask-derived mode.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    # A writer killed by SIGKILL leaves its temporary file; the next write of
    # the same output sweeps it (one writer per output path, as Snakemake ensures).
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp{glob.escape(suffix)}"):
        stale.unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if mode is None:
            # mkstemp creates 0600; give the final file the usual umask-derived mode.
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: str | os.PathLike, obj: Any, *, mode: int | None = None) -> None:
    """Write ``obj`` as indented, key-sorted JSON, atomically (stable bytes for reruns)."""
    with atomic_output(path, mode=mode) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())
