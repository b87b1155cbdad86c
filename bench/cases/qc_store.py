"""Bench case: genorisk.qc.store (shard_qc per shard + gather_qc) next to plink2 on the same pgen store.

The cohort is the validate_vcf case's msprime simulation (2,000 diploid
samples, about 20,000 biallelic SNPs on GRCh38 chr21 coordinates), converted
to a pgen store by plink2 (half the samples recorded male). genorisk runs
:func:`genorisk.qc.shard_qc` on two region shards and gathers them into the
run_qc tables (per-variant counts and exact HWE p, per-sample counts, Ti/Tv,
het rate, chrX F). The reference is ``plink2 --hardy --het --missing`` on the
same store, single-threaded as genorisk's shard jobs are (issue #12 target:
at most 2x).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

DESCRIPTION = "QC from a pgen store (2 shards + gather) of 2,000 samples x ~20k SNPs vs plink2 --hardy --het --missing"

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
STORE = "store"
UNITS: dict[str, float] = {}


def _cohort_case():
    spec = importlib.util.spec_from_file_location(
        "bench_case_validate_vcf", Path(__file__).with_name("validate_vcf.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(workdir: Path) -> None:
    case = _cohort_case()
    case.prepare(workdir)
    UNITS["records"] = int((workdir / "n_records.txt").read_text())
    sex = "#IID\tSEX\n" + "".join(f"S{i:04d}\t{1 + i % 2}\n" for i in range(case.N_SAMPLES))
    (workdir / "sex.tsv").write_text(sex)
    subprocess.run(
        ["plink2", "--vcf", case.VCF, "--update-sex", "sex.tsv", "--vcf-half-call", "missing", "--max-alleles", "2",
         "--output-chr", "chrM", "--threads", "1", "--memory", "1000", "--make-pgen", "--out", STORE],
        cwd=workdir, check=True, capture_output=True,
    )  # fmt: skip


def commands(workdir: Path) -> dict[str, list[str]]:
    if not UNITS:
        UNITS["records"] = int((workdir / "n_records.txt").read_text())
    ours = (
        "from genorisk.qc import shard_qc, gather_qc; "
        f"r = gather_qc([shard_qc({STORE!r}, region=x) for x in ('chr21:1-27750000', 'chr21:27750001-')]); "
        "print(len(r.variants), len(r.samples), r.cohort['titv'])"
    )
    return {
        "genorisk shard_qc x2 + gather_qc": [PYTHON, "-c", ours],
        "plink2 --hardy --het --missing": (
            ["plink2", "--pfile", STORE, "--hardy", "--het", "--missing"]
            + ["--threads", "1", "--memory", "1000", "--out", "plink"]
        ),
    }
