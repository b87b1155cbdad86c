"""Patient VCF files: each one validated and normalised once, and cut into one file per batch of patients.

:func:`prepare_patient_vcf` is the workflow's per-file job: it validates one
patient VCF for the sample-sheet rows naming it, checks each row's sample,
normalises the file once and records every refusal (:func:`refusal`) instead
of raising it; :func:`split_by_batch` cuts a shared (batch) VCF, in the same
job, into one file per batch of patients, which
:func:`genorisk.intake.batch_patient_inputs` reads all at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genorisk.errors import InputError
from genorisk.vcf import normalize_vcf, validate_vcf

log = logging.getLogger("genorisk.intake")


def patient_vcf_key(vcf: str | os.PathLike) -> str:
    """A stable, path-safe name for one patient VCF path (its prepared files' folder).

    The file's base name (letters, digits, ``.``, ``_``, ``-`` kept) and 8
    hex digits of the SHA-1 of its normalised path: readable in logs, and two
    files of the same name in different folders get different keys.
    """
    path = os.path.normpath(str(vcf))
    base = re.sub(r"(\.vcf|\.bcf)?(\.gz|\.bgz|\.bz2)?$", "", Path(path).name)
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base)[:40] or "vcf"
    return f"{base}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def refusal(patient: Mapping[str, Any], *, file: str, record: str | None, problem: str, stage: str) -> dict[str, Any]:
    """The error record of a refused patient (``patients/<id>/error.json``).

    Keys: ``patient_id``, ``sheet_line`` (the row's line in the sample sheet),
    ``sample``, ``file``, ``record`` (line, position or ``header``; None
    when the problem is the whole file), ``problem`` and ``stage``
    (``intake``: the VCF or its sample was refused; ``features``: reading the
    patient's genotypes failed).
    """
    return {
        "patient_id": patient["patient_id"],
        "sheet_line": patient.get("sheet_line"),
        "sample": patient["sample"],
        "file": str(file),
        "record": record,
        "problem": problem,
        "stage": stage,
    }


def prepare_patient_vcf(
    vcf: str | os.PathLike,
    out: str | os.PathLike,
    patients: Sequence[Mapping[str, Any]],
    *,
    genome_build: str | None = "GRCh38",
    fasta: str | os.PathLike | None = None,
    batch_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Validate one patient VCF for the sheet rows naming it, and normalise it once.

    The file is validated (:func:`genorisk.vcf.validate_vcf`, against
    ``genome_build``), each row's ``sample`` is looked up in its header, and
    when at least one row is accepted the file is normalised as the cohort
    was (:func:`genorisk.vcf.normalize_vcf`) into ``out`` (bgzipped, with a
    ``.csi`` index, written atomically). Problems are recorded, not raised:

    * the file is refused (broken or hostile, wrong build, normalisation
      failed): every row naming it is refused with the file's error;
    * a row's sample is not in the file: that row alone is refused.

    When no row is accepted, ``out`` and its index are written empty, so the
    job's outputs exist; the status says they hold nothing, and nothing
    downstream reads them.

    A file of several samples whose rows carry a ``batch`` is also cut, in
    the same job and in one pass (``bcftools +split -G``), into one file per
    batch holding that batch's accepted samples, ``<batch_dir>/<batch>.bcf``
    (indexed): each batch's job then reads its own samples only, and a
    10,000-sample VCF is read once here, not once per batch. The batch files
    are BCF: their readers decode them several times.

    Parameters
    ----------
    vcf : path
        The patient VCF as the sheet names it.
    out : path
        The normalised VCF to write (``.vcf.gz``).
    patients : sequence of mapping
        The sheet rows naming ``vcf``: ``patient_id``, ``sample``, ``sheet_line``.
    genome_build : str, optional
        Build the file must match (None: not checked).
    fasta : path, optional
        Reference for left-alignment.
    batch_dir : path, optional
        Folder of the per-batch files (created, possibly empty). None: no
        per-batch files.

    Returns
    -------
    dict
        ``file``, ``normalized`` (``out``, or None when nothing was
        accepted), ``n_samples`` (in the file; None if unreadable),
        ``validation`` (the report without its sample list; None if refused),
        ``normalization`` (counts; None if not run), ``error`` (the file's
        ``{"record", "problem"}``, or None), ``batch_files`` (batch -> its
        file, ``{}`` when not cut) and ``patients``: per patient ID
        ``{"status": "accepted"|"refused", "sample", "sheet_line", "error"}``
        (``error``: a :func:`refusal` record, or None).
    """
    out = Path(out)
    index = out.with_name(out.name + ".csi")
    status: dict[str, Any] = {
        "file": str(vcf),
        "normalized": None,
        "n_samples": None,
        "validation": None,
        "normalization": None,
        "error": None,
        "batch_files": {},
        "patients": {},
    }
    file_error: tuple[str | None, str] | None = None
    accepted: list[Mapping[str, Any]] = []
    missing: dict[str, str] = {}
    start = time.monotonic()
    try:
        report = validate_vcf(vcf, genome_build=genome_build)
        present = set(report.samples)
        status["n_samples"] = len(report.samples)
        shown = ", ".join(repr(s) for s in report.samples[:5]) + (", ..." if len(report.samples) > 5 else "")
        for p in patients:
            if p["sample"] in present:
                accepted.append(p)
            else:
                missing[p["patient_id"]] = (
                    f"sample {p['sample']!r} (sample sheet line {p.get('sheet_line')}) is not in this file; "
                    f"its {len(report.samples)} sample(s): {shown or 'none'}"
                )
        validation = report.to_dict()
        validation["samples"] = len(report.samples)  # the names are in the file; keep the status small
        status["validation"] = validation
        log.info(
            "%s: validated, %d records, %d samples (%.1f s)",
            vcf,
            report.n_records,
            len(report.samples),
            time.monotonic() - start,
        )
        if accepted:
            status["normalization"] = normalize_vcf(vcf, out, fasta=fasta, validation=report)
            status["normalized"] = str(out)
            log.info("%s: normalised (%.1f s)", vcf, time.monotonic() - start)
            if batch_dir is not None and len(report.samples) > 1:
                status["batch_files"] = split_by_batch(out, accepted, Path(batch_dir))
                log.info(
                    "%s: cut into %d batch files (%.1f s)", vcf, len(status["batch_files"]), time.monotonic() - start
                )
    except InputError as err:
        file_error = (err.record, err.problem)
    except Exception as err:  # a file that breaks a reader in an unforeseen way is refused, not fatal
        log.exception("%s: unexpected error while reading", vcf)
        file_error = (None, f"could not be read ({type(err).__name__}: {err})")
    if file_error is not None:
        status["error"] = {"record": file_error[0], "problem": file_error[1]}
        status["normalized"] = status["normalization"] = None
        accepted = []
    if status["normalized"] is None:
        for path in (out, index):
            path.unlink(missing_ok=True)
            path.touch()
        status["batch_files"] = {}
    if batch_dir is not None:
        Path(batch_dir).mkdir(parents=True, exist_ok=True)
    for p in patients:
        pid = p["patient_id"]
        error = None
        if file_error is not None:
            error = refusal(p, file=str(vcf), record=file_error[0], problem=file_error[1], stage="intake")
        elif pid in missing:
            error = refusal(p, file=str(vcf), record="header (#CHROM line)", problem=missing[pid], stage="intake")
        if error:
            log.warning("patient %s refused: %s", pid, error["problem"])
        status["patients"][pid] = {
            "status": "refused" if error else "accepted",
            "sample": p["sample"],
            "sheet_line": p.get("sheet_line"),
            "error": error,
        }
    return status


def split_by_batch(vcf: Path, patients: Sequence[Mapping[str, Any]], outdir: Path) -> dict[str, str]:
    """Cut ``vcf`` into one file per ``batch`` of ``patients`` (their samples), in one pass.

    ``bcftools +split -G``: a sample named in several batches goes to each.
    Batches with a sample name that the plugin's list cannot carry (a comma
    or white space) are left out: their jobs read ``vcf`` itself.

    Returns
    -------
    dict
        Batch -> its file (``<outdir>/<batch>.bcf``, with a ``.csi``).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[str]] = {}
    odd: set[str] = set()
    for p in patients:
        if "batch" not in p:
            continue
        groups.setdefault(p["sample"], [])
        if p["batch"] not in groups[p["sample"]]:
            groups[p["sample"]].append(p["batch"])
        if re.search(r"[,\s]", p["sample"]):
            odd.add(p["batch"])
    lines = [
        f"{sample}\t-\t{','.join(b for b in batches if b not in odd)}\n"
        for sample, batches in groups.items()
        if any(b not in odd for b in batches)
    ]
    if not lines:
        return {}
    listing = outdir / "groups.tsv"
    listing.write_text("".join(lines))
    proc = subprocess.run(
        # BCF at compression level 1: the batch's job decodes it three times or so (bcftools
        # stats, the schema's and chrX's records), which BCF makes about 4x cheaper than VCF
        # text, and writing it costs about 1 CPU s less than VCF on a 1,000-sample demo file.
        ["bcftools", "+split", "-G", str(listing), "-Ob1", "-o", str(outdir), str(vcf)],
        capture_output=True,
        text=True,
    )
    listing.unlink()
    if proc.returncode != 0:
        raise InputError(vcf, f"could not cut the file into batches: {proc.stderr.strip()}")
    files = {}
    for batch in sorted({b for bs in groups.values() for b in bs} - odd):
        path = outdir / f"{batch}.bcf"
        subprocess.run(["bcftools", "index", "-f", "-c", str(path)], check=True, capture_output=True)
        files[batch] = str(path)
    return files
