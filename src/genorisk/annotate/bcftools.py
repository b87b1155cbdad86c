"""Running bcftools: one command, a shell-free pipeline, and ``bcftools query`` into pandas."""

from __future__ import annotations

import csv
import subprocess
import tempfile
from collections.abc import Sequence
from typing import Any

import pandas as pd

from genorisk.errors import InputError


def run_checked(argv: Sequence[str], what: str, path) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError(path, f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc


def run_pipeline(steps: list[list[str]], path) -> None:
    """Run ``steps`` as a shell-free pipe; raise InputError with the failing stage's stderr."""
    procs = []
    errs = []
    prev = None
    for i, argv in enumerate(steps):
        err = tempfile.TemporaryFile()  # noqa: SIM115 - closed after the pipeline ends
        errs.append(err)
        last = i == len(steps) - 1
        p = subprocess.Popen(argv, stdin=prev, stdout=None if last else subprocess.PIPE, stderr=err)
        if prev is not None:
            prev.close()
        prev = p.stdout
        procs.append(p)
    for argv, p, err in zip(steps, procs, errs, strict=False):
        rc = p.wait()
        err.seek(0)
        msg = err.read().decode(errors="replace").strip()
        err.close()
        if rc != 0:
            raise InputError(path, f"{' '.join(argv[:2])} failed (exit {rc}): {msg[-2000:]}")


def bcftools_query(
    path, fmt_columns: Sequence[tuple[str, str]], *, region: str | None = None, what: str = "VCF", keep=None
) -> pd.DataFrame:
    """Run ``bcftools query`` with one ``%FIELD`` per column; return all columns as ``str``.

    ``fmt_columns`` is ``[(column name, bcftools field), ...]``. Missing values
    stay as bcftools prints them (``.``). ``region`` is a ``-r`` region: records
    that overlap it are returned. ``keep``, a function of a frame returning a
    boolean mask, filters the output in blocks of 200,000 rows as it
    streams, so memory follows the rows kept, not the rows read. stderr goes
    to a file, so a chatty bcftools cannot fill a pipe and stall.
    """
    names = [name for name, _ in fmt_columns]
    fmt = "\t".join(field for _, field in fmt_columns) + "\n"
    argv = ["bcftools", "query", "-f", fmt, *(["-r", region] if region else []), str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None  # stdout=PIPE
        read: dict[str, Any] = dict(
            sep="\t",
            header=None,
            names=names,
            dtype=str,
            quoting=csv.QUOTE_NONE,
            na_filter=False,
            encoding_errors="replace",
        )
        try:
            if keep is None:
                frame = pd.read_csv(proc.stdout, **read)
            else:
                parts = [part.loc[keep(part)] for part in pd.read_csv(proc.stdout, chunksize=200_000, **read)]
                frame = pd.concat(parts, ignore_index=True)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame({n: pd.array([], dtype="str") for n in names})
        finally:
            proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            msg = err.read().decode(errors="replace").strip()
            raise InputError(path, f"cannot read {what} ({' '.join(argv[:2])} exit {rc}): {msg[-2000:]}")
    return frame
