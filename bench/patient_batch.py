#!/usr/bin/env python3
"""Patients sharing one batch VCF: intake + features of all of them against one pass over the file.

Usage::

    .venv/bin/python bench/patient_batch.py [--samples 1000] [--batch-size 50] [--workdir DIR]

Makes a ``--samples``-sample VCF of the demo's variants (the first samples of
``resources/demo/cohort.vcf.gz``, cut with ``bcftools view -S``; not timed)
and uses the demo run's feature schema and cohort QC (``results/``: run the
demo first). Then times, in this order:

* ``bcftools view`` over the file (one full decode, ``-Ou`` to /dev/null): the
  reference for one pass;
* **one pass**: :func:`genorisk.patient_files.prepare_patient_vcf` (validation +
  normalisation) and one patient's :func:`genorisk.intake.patient_inputs`
  reading the normalised file: what the bound is stated against;
* **all patients**: ``prepare_patient_vcf`` once for every sheet row naming
  the file (the workflow's one job per distinct VCF; it also cuts the file
  into one file per batch of patients, in one pass), then
  :func:`genorisk.intake.batch_patient_inputs` for each batch of
  ``--batch-size`` patients, with the genotype QC against the cohort (the
  workflow's ``patient_features`` jobs, run one after the other here; each
  reads its batch's patients together);
* before this change, each patient validated and normalised the whole file
  itself (``patient_inputs`` from the raw VCF): timed for a few patients and
  multiplied out.

Annotation (notable variants) is off: it needs the annotation resources, and
its cost follows the carried sites of the batch (annotated once per batch),
not the file.

Writes ``bench/results/patient_batch.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import genorisk.ancestry  # noqa: E402, F401  (imported lazily by the features; ~0.7 CPU s, kept out of the first timing)
from genorisk.intake import batch_patient_inputs, patient_inputs  # noqa: E402
from genorisk.patient_files import prepare_patient_vcf  # noqa: E402

RESULTS = REPO / "bench" / "results"

NOTES = """\
The shared file is validated and normalised once (`prepare_patient_vcf`), and in the same job cut
into one BCF per batch of patients (`bcftools +split -G -Ob1`: BCF is about 4x cheaper than VCF
text to decode, and cheaper to write). Each batch's job then reads its own file a fixed number of
times, whatever the number of patients in it: the schema's records cut out (`bcftools view -T`)
and read as one dosage matrix for all its patients (`features.patient.batch_patient_features`:
PGS, burden and carrier features as matrices, the ancestry projection person by person so that a
patient's PCs do not depend on who shares the file), its chrX once for every patient's sex
(`patient_checks.infer_sex_many`), one `bcftools stats` for the rates against the cohort, and,
with annotation, the sites any patient carries annotated once (`intake.batch_notable_variants`).
Callable regions: a file whose validation counted no gVCF reference block is not read for them; a
shared BED is read once. Each patient's features and QC record are identical to reading that
patient alone (tests/test_patient_intake.py). What remains above one pass is the batch cut (about
one decode of the file) and, per batch of 50, about 0.2 CPU s."""

#: The same benchmark before the batch's patients were read together (per-patient single-sample cuts
#: and reads; 2026-12-01T05:59, same machine): CPU seconds.
BEFORE_BATCH_READ = {"all": 149.1, "batches": 137.2, "one_pass": 9.7, "bcftools_view": 1.2, "per_patient_ms": 137}


def make_batch_vcf(cohort: Path, n_samples: int, out: Path) -> list[str]:
    """The first ``n_samples`` samples of ``cohort`` into ``out`` (bgzipped + index); their names."""
    names = subprocess.run(["bcftools", "query", "-l", str(cohort)], capture_output=True, text=True, check=True)
    samples = names.stdout.split()[:n_samples]
    listing = out.with_suffix(".samples.txt")
    listing.write_text("".join(s + "\n" for s in samples))
    subprocess.run(["bcftools", "view", "-S", str(listing), "-Oz", "-o", str(out), str(cohort)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True)
    return samples


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (bcftools)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, fn, times: dict[str, float], cpu: dict[str, float]):
    start, start_cpu = time.perf_counter(), cpu_seconds()
    value = fn()
    times[label] = time.perf_counter() - start
    cpu[label] = cpu_seconds() - start_cpu
    print(f"{label}: {times[label]:.1f} s wall, {cpu[label]:.1f} s CPU", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--old-patients", type=int, default=3, help="patients timed the old way (multiplied out)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--results", type=Path, default=REPO / "results", help="the demo run's outdir")
    parser.add_argument("--trait", default="demo_disease", help="bundle results/model/<trait>/ to read")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="genorisk-bench-batch-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # Everything from the cohort comes from the trait's bundle, as in the workflow.
    bundle = args.results / "model" / args.trait
    schema = {args.trait: json.loads((bundle / "features.schema.json").read_text())}
    sites = pd.read_parquet(bundle / "cohort_variants.parquet", columns=["chrom", "pos", "ref", "alt"])
    ranges = json.loads((bundle / "cohort_reference.json").read_text())["sample_ranges"]
    vcf = workdir / "batch.vcf.gz"
    samples = make_batch_vcf(REPO / "resources/demo/cohort.vcf.gz", args.samples, vcf)
    rows = [
        {
            "patient_id": f"P{i:05d}",
            "vcf": str(vcf),
            "sample": s,
            "sheet_line": i + 2,
            "vcf_key": "batch",
            "batch": f"b{i // args.batch_size:05d}",
        }
        for i, s in enumerate(samples)
    ]
    n_records = int(subprocess.run(["bcftools", "index", "-n", str(vcf)], capture_output=True, text=True).stdout)
    options = {"genome_build": "GRCh38"}
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    view = "bcftools view (one full pass)"
    one = "one pass: validate + normalise + one patient's features"
    prepare = "all: prepare_patient_vcf (once, every row)"
    batches = f"all: batch_patient_inputs ({-(-len(rows) // args.batch_size)} batches)"
    total = "all patients: prepare + every batch"
    before = f"before: {args.old_patients} patients each validating + normalising the file"

    timed(view, lambda: subprocess.run(["bcftools", "view", "-Ou", "-o", os.devnull, str(vcf)], check=True), times, cpu)

    def one_pass():
        status = prepare_patient_vcf(vcf, workdir / "one.vcf.gz", rows[:1], genome_build="GRCh38")
        patient_inputs(
            rows[0],
            schema,
            normalized=status["normalized"],
            validation=status["validation"],
            normalization=status["normalization"],
            **options,
        )

    timed(one, one_pass, times, cpu)

    def every_batch(status):
        n = 0
        for b in range(0, len(rows), args.batch_size):
            features, _, refused = batch_patient_inputs(
                rows[b : b + args.batch_size],
                {"batch": status},
                schema,
                cohort_sites=sites,
                cohort_ranges=ranges,
                **options,
            )
            assert not refused and features is not None
            n += len(features[args.trait])
        return n

    def all_patients():
        status = timed(
            prepare,
            lambda: prepare_patient_vcf(
                vcf, workdir / "all.vcf.gz", rows, genome_build="GRCh38", batch_dir=workdir / "batches"
            ),
            times,
            cpu,
        )
        return timed(batches, lambda: every_batch(status), times, cpu)

    assert timed(total, all_patients, times, cpu) == len(rows)

    def old_way():
        for row in rows[: args.old_patients]:
            patient_inputs(row, schema, **options)

    timed(before, old_way, times, cpu)
    scale = len(rows) / args.old_patients
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "samples": len(rows),
        "records": n_records,
        "batch_size": args.batch_size,
        "wall_s": times,
        "cpu_s": cpu,
        "before_extrapolated_cpu_s": cpu[before] * scale,
        "ratio_all_to_one_pass_cpu": cpu[total] / cpu[one],
        "ratio_all_to_bcftools_view_cpu": cpu[total] / cpu[view],
        "per_patient_cpu_ms": 1000 * cpu[batches] / len(rows),
    }
    b = BEFORE_BATCH_READ
    result["before_batch_read_cpu_s"] = b
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "patient_batch.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"## patient_batch: {len(rows):,} patients in one {len(rows):,}-sample VCF of the demo's "
        f"{n_records:,} variants, batches of {args.batch_size}",
        "",
        f"{result['date']}, {result['cpus']} CPUs shared with other work (load average "
        f"{result['load_average_1min']:.1f}), so CPU seconds (this process and its bcftools children) are "
        "the figures to compare; one process (the workflow runs the batches as parallel jobs). "
        "Modules imported before timing. Annotation off. Made by `bench/patient_batch.py`.",
        "",
        "| step | CPU s | wall s |",
        "|---|---|---|",
        *(f"| {label} | {cpu[label]:.1f} | {times[label]:.1f} |" for label in times),
        f"| before, all {len(rows):,} patients (extrapolated from {args.old_patients}) | "
        f"{result['before_extrapolated_cpu_s']:.0f} | |",
        "",
        f"All patients / one pass: **{result['ratio_all_to_one_pass_cpu']:.2f}x** CPU (the issue's bound: 2x). "
        f"All patients / `bcftools view`: {result['ratio_all_to_bcftools_view_cpu']:.0f}x. "
        f"Before / now: {result['before_extrapolated_cpu_s'] / cpu[total]:.0f}x. "
        f"Per patient after the file's one preparation: {result['per_patient_cpu_ms']:.0f} ms CPU.",
        "",
        "Before and after reading a batch's patients together (CPU s; each row's ratios against its own run's "
        "one pass and `bcftools view`):",
        "",
        "| | all patients | batch jobs | per patient (ms) | / one pass | / `bcftools view` |",
        "|---|---|---|---|---|---|",
        f"| before: each patient cut out and read alone | {b['all']:.1f} | {b['batches']:.1f} | "
        f"{b['per_patient_ms']} | {b['all'] / b['one_pass']:.1f}x | {b['all'] / b['bcftools_view']:.0f}x |",
        f"| after: one read per batch | {cpu[total]:.1f} | {cpu[batches]:.1f} | "
        f"{result['per_patient_cpu_ms']:.0f} | {result['ratio_all_to_one_pass_cpu']:.2f}x | "
        f"{result['ratio_all_to_bcftools_view_cpu']:.0f}x |",
        "",
        NOTES,
    ]
    (RESULTS / "patient_batch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
