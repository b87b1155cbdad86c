"""Bench case: genorisk.vcf.validate_vcf next to htslib readers on a cohort VCF.

The cohort is simulated with msprime (2,000 diploid samples, one coalescent on
5.5 Mb of GRCh38 chr21 coordinates, about 20,000 biallelic SNPs after masking
multiallelic sites and repeated positions), written as a GT-only bgzipped VCF.

genorisk checks every record and every GT cell (syntax, allele index against the
ALT count, ploidy, phasing prefixes) in its own pass. The references read the
same file through htslib: ``bcftools view -Ou`` (parses every record into BCF,
checks far less), and cyvcf2's fast genotype path over all records.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

DESCRIPTION = "validate a 2,000-sample x ~20k-SNP bgzipped GT-only VCF (every GT cell checked)"
N_SAMPLES = 2000
SEQ_LEN = 5_500_000
CHR21_LENGTH = 46_709_983

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
VCF = "cohort.vcf.gz"
UNITS: dict[str, float] = {}


def prepare(workdir: Path) -> None:
    import msprime

    ts = msprime.sim_ancestry(
        samples=N_SAMPLES,
        population_size=10_000,
        sequence_length=SEQ_LEN,
        recombination_rate=1e-8,
        random_seed=21,
    )
    ts = msprime.sim_mutations(ts, rate=1.13e-8, random_seed=21)
    header = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID=chr21,length={CHR21_LENGTH}>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(f"S{i:04d}" for i in range(N_SAMPLES)),
    ]
    n = 0
    last = 0
    with open(workdir / VCF, "wb") as out:
        bgzip = subprocess.Popen(["bgzip", "-c"], stdin=subprocess.PIPE, stdout=out)
        bgzip.stdin.write(("\n".join(header) + "\n").encode())
        cell = np.empty((N_SAMPLES, 4), dtype=np.uint8)
        cell[:, 1] = ord("|")
        cell[:, 3] = ord("\t")
        cell[-1, 3] = ord("\n")
        for var in ts.variants():
            pos = int(var.site.position) + 1
            if len(var.alleles) != 2 or pos == last:
                continue
            last = pos
            g = var.genotypes.astype(np.uint8)
            cell[:, 0] = g[0::2] + ord("0")
            cell[:, 2] = g[1::2] + ord("0")
            ref, alt = var.alleles
            bgzip.stdin.write(f"chr21\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t".encode())
            bgzip.stdin.write(cell.tobytes())
            n += 1
        bgzip.stdin.close()
        if bgzip.wait() != 0:
            raise RuntimeError("bgzip failed")
    UNITS["records"] = n
    (workdir / "n_records.txt").write_text(f"{n}\n")


def commands(workdir: Path) -> dict[str, list[str]]:
    if not UNITS:
        UNITS["records"] = int((workdir / "n_records.txt").read_text())
    ours = (
        "from genorisk.vcf import validate_vcf; "
        f"r = validate_vcf({VCF!r}, genome_build='GRCh38'); "
        "print(r.n_records, len(r.samples), r.warnings)"
    )
    cyvcf2_loop = f"import cyvcf2; n = 0\nfor v in cyvcf2.VCF({VCF!r}):\n    v.genotype.array(); n += 1\nprint(n)"
    return {
        "genorisk": [PYTHON, "-c", ours],
        "bcftools view": ["bcftools", "view", "-Ou", "-o", "/dev/null", VCF],
        "cyvcf2 GT": [PYTHON, "-c", cyvcf2_loop],
    }
