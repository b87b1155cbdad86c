"""Bench case: annotation memory is bounded by the chunk, not the cohort (1,000,000 sites).

Inputs (prepare, not timed): the generator of ``annotate`` at 1,000,000 sites
on GRCh38 chr21, sites only (annotation never reads genotypes; ``annotate``
measures the 2,000-sample cohort at 100k), a ClinVar-like VCF for 5 % of the
alleles and a gnomAD-like AF VCF for 90 %, each with same-position decoys.

Timed:
* genorisk 1 job: the whole file as one chunk (table + annotated BCF).
* bcftools annotate: the same ClinVar and AF joins.
* genorisk 10 chunks: plan_chunks, 10 chunk jobs (each its own process, as in
  the workflow, run one after another), gather. Its peak RSS is the largest
  chunk job's: compare it with "genorisk 1 job" and with ``annotate`` (100k
  sites in one job) to see that a job's memory follows its chunk.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DESCRIPTION = "annotate ClinVar + AF for 1,000,000 sites: one job vs 10 chunk jobs vs bcftools annotate"
N_VARIANTS = 1_000_000
UNITS: dict[str, float] = {}

_spec = importlib.util.spec_from_file_location("bench_case_annotate", Path(__file__).with_name("annotate.py"))
_annotate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_annotate)


def prepare(workdir: Path) -> None:
    _annotate.make_inputs(workdir, N_VARIANTS, None)


def commands(workdir: Path) -> dict[str, list[str]]:
    if not UNITS:
        UNITS["variants"] = int((workdir / "n_variants.txt").read_text())
    return {
        "genorisk 1 job": [_annotate.PYTHON, "-c", _annotate.OURS],
        "bcftools annotate": ["sh", "-c", _annotate.BCFTOOLS],
        "genorisk 10 chunks": _annotate.chunked_command(10),
    }
