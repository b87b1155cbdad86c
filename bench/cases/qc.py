"""Bench case: genorisk.qc (run_qc + write_qc) next to bcftools stats and plink2.

The cohort is simulated with msprime (2,000 diploid samples, one coalescent on
5.5 Mb of GRCh38 chr21 coordinates, about 20,000 biallelic SNPs after masking
multiallelic sites and repeated positions), written as a GT-only bgzipped VCF
(the same generator as the validate_vcf case).

genorisk makes one pass computing per-variant call rate, AF, genotype counts
and exact HWE p, per-sample counts, Ti/Tv, het rate and chrX F, and writes the
QC tables. The references cover parts of that: ``bcftools stats -s -`` (per-
sample counts and Ti/Tv) and ``plink2 --hardy --missing`` (exact HWE and call
rates; it first converts the VCF, single-threaded here as genorisk is).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DESCRIPTION = "QC (variant + sample stats, exact HWE) of a 2,000-sample x ~20k-SNP bgzipped GT-only VCF"

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
VCF = "cohort.vcf.gz"
UNITS: dict[str, float] = {}


def _cohort_case():
    spec = importlib.util.spec_from_file_location(
        "bench_case_validate_vcf", Path(__file__).with_name("validate_vcf.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(workdir: Path) -> None:
    _cohort_case().prepare(workdir)
    UNITS["records"] = int((workdir / "n_records.txt").read_text())


def commands(workdir: Path) -> dict[str, list[str]]:
    if not UNITS:
        UNITS["records"] = int((workdir / "n_records.txt").read_text())
    ours = (
        "from genorisk.qc import run_qc, write_qc; "
        f"s = write_qc(run_qc({VCF!r}), 'qc'); "
        "print(s['n_variant_rows'], s['n_samples'], s['cohort_titv'])"
    )
    return {
        "genorisk": [PYTHON, "-c", ours],
        "bcftools stats -s -": ["sh", "-c", f"bcftools stats -s - {VCF} > stats.txt"],
        "plink2 --hardy --missing": [
            "plink2",
            "--vcf",
            VCF,
            "--hardy",
            "--missing",
            "--threads",
            "1",
            "--memory",
            "2000",
            "--out",
            "plink",
        ],
    }
