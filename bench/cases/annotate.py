"""Bench case: ClinVar + allele-frequency annotation of a cohort, genorisk vs bcftools annotate.

Inputs (prepare, not timed): a 2,000-sample x 100,000-variant GT VCF on GRCh38
chr21 coordinates (random sorted positions, SNVs plus 3% deletions; genotypes
drawn from a pool of random rows, since annotation never reads them), a
ClinVar-like VCF (CLNSIG, CLNREVSTAT, GENEINFO) for 5% of the alleles plus as
many same-position decoy alleles, and a gnomAD-like AF VCF for 90% of the
alleles plus decoys. Annotation needs only the sites, so both sides work on the
sites-only view ``bcftools view -G`` of the cohort (made in prepare; its time is
printed there).

Timed:
* genorisk: ``annotate_table`` (ClinVar + AF, exact allele match) -> Parquet
  table + ``write_annotated`` -> indexed annotated BCF, one process, one chunk.
* bcftools annotate: ``-a clinvar -c INFO/CLNSIG,INFO/CLNREVSTAT,INFO/GENEINFO``
  then ``-a popfreq -c INFO/AF`` -> indexed BCF (same joins, no table; an
  indexed intermediate BCF between them, as bcftools annotate cannot read a
  pipe when -a is a VCF).
* genorisk 8 chunks: plan_chunks, then 8 chunk jobs, each its own process as
  in the workflow (run one after another here), then gather: peak RSS is that
  of the largest chunk job, the unit a cluster has to fit.

``make_inputs`` is shared with ``annotate_scale`` (1M sites, memory bound).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DESCRIPTION = "annotate ClinVar + AF for a 2,000-sample x 100k-variant cohort (sites-only view), table + BCF"
N_SAMPLES = 2000
N_VARIANTS = 100_000
CHR21_LENGTH = 46_709_983

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
UNITS: dict[str, float] = {}


def _bgzip_vcf(path: Path, header: list[str], lines) -> None:
    with open(path, "wb") as out:
        proc = subprocess.Popen(["bgzip", "-@", "2", "-c"], stdin=subprocess.PIPE, stdout=out)
        proc.stdin.write(("\n".join(header) + "\n").encode())
        for line in lines:
            proc.stdin.write(line)
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError("bgzip failed")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)


def prepare(workdir: Path) -> None:
    make_inputs(workdir, N_VARIANTS, N_SAMPLES)


def make_inputs(workdir: Path, n_variants: int, n_samples: int | None) -> None:
    """sites.bcf (+ cohort.vcf.gz with ``n_samples`` GT columns when not None),
    clinvar.vcf.gz, popfreq.vcf.gz, n_variants.txt and the chunk job scripts."""
    rng = np.random.default_rng(2024)
    pos = np.sort(rng.choice(np.arange(5_100_000, 46_600_000), size=n_variants, replace=False))
    bases = np.array(list("ACGT"))
    ref = rng.choice(bases, size=n_variants).astype(object)
    alt = np.array([bases[(bases != r)][rng.integers(0, 3)] for r in ref], dtype=object)
    dels = rng.random(n_variants) < 0.03
    for i in np.flatnonzero(dels):
        ref[i] = ref[i] + "".join(rng.choice(bases, size=int(rng.integers(1, 6))))
        alt[i] = ref[i][0]
    contig = f"##contig=<ID=chr21,length={CHR21_LENGTH},assembly=GRCh38>"

    if n_samples is not None:
        # Cohort genotypes: a pool of 64 random rows of "a|b\t" cells reused across sites.
        pool = []
        for _ in range(64):
            g = rng.integers(0, 2, size=(n_samples, 2))
            cells = "\t".join(f"{a}|{b}" for a, b in g)
            pool.append(cells.encode() + b"\n")
        samples = "\t".join(f"S{i:04d}" for i in range(n_samples))
        header = [
            "##fileformat=VCFv4.2",
            contig,
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{samples}",
        ]
        t0 = time.perf_counter()
        _bgzip_vcf(
            workdir / "cohort.vcf.gz",
            header,
            (
                f"chr21\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t".encode() + pool[i % 64]
                for i, (p, r, a) in enumerate(zip(pos, ref, alt, strict=True))
            ),
        )
        print(f"[prepare] cohort VCF written in {time.perf_counter() - t0:.1f}s", flush=True)
        t0 = time.perf_counter()
        subprocess.run(
            ["bcftools", "view", "-G", "-Ob", "-o", str(workdir / "sites.bcf"), str(workdir / "cohort.vcf.gz")],
            check=True,
        )
        print(f"[prepare] sites-only view (bcftools view -G) in {time.perf_counter() - t0:.1f}s", flush=True)
    else:
        header = ["##fileformat=VCFv4.2", contig, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
        _bgzip_vcf(
            workdir / "sites.vcf.gz",
            header,
            (f"chr21\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n".encode() for p, r, a in zip(pos, ref, alt, strict=True)),
        )
        subprocess.run(
            ["bcftools", "view", "-Ob", "-o", str(workdir / "sites.bcf"), str(workdir / "sites.vcf.gz")], check=True
        )
    subprocess.run(["bcftools", "index", "-f", str(workdir / "sites.bcf")], check=True)
    (workdir / "chunk_job.py").write_text(CHUNK_JOB)

    def decoy(i):
        return next(b for b in "ACGT" if b not in (ref[i][0], alt[i][0]))

    sig = np.array(["Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Likely_benign", "Benign"])
    rev = np.array(
        [
            "criteria_provided,_single_submitter",
            "reviewed_by_expert_panel",
            "criteria_provided,_multiple_submitters,_no_conflicts",
        ]
    )
    clin = np.sort(rng.choice(n_variants, size=n_variants // 20, replace=False))
    clin_lines = []
    for k, i in enumerate(clin):
        info = f"CLNSIG={sig[k % 5]};CLNREVSTAT={rev[k % 3]};GENEINFO=GENE{k % 700}:{k % 700 + 1000}"
        clin_lines.append(f"chr21\t{pos[i]}\t{100000 + k}\t{ref[i]}\t{alt[i]}\t.\t.\t{info}\n".encode())
        clin_lines.append(
            f"chr21\t{pos[i]}\t{900000 + k}\t{ref[i][0]}\t{decoy(i)}\t.\t.\tCLNSIG=Benign;"
            f"CLNREVSTAT={rev[0]}\n".encode()
        )
    _bgzip_vcf(
        workdir / "clinvar.vcf.gz",
        [
            "##fileformat=VCFv4.1",
            "##source=ClinVar-like (simulated)",
            contig,
            '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">',
            '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="Review status">',
            '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene:ID">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
        ],
        clin_lines,
    )

    freq = np.flatnonzero(rng.random(n_variants) < 0.9)
    af = rng.beta(0.3, 3, size=n_variants)
    freq_lines = []
    for i in freq:
        freq_lines.append(f"chr21\t{pos[i]}\t.\t{ref[i]}\t{alt[i]}\t.\tPASS\tAF={af[i]:.5g}\n".encode())
        if i % 10 == 0:
            freq_lines.append(f"chr21\t{pos[i]}\t.\t{ref[i][0]}\t{decoy(i)}\t.\tPASS\tAF=0.5\n".encode())
    _bgzip_vcf(
        workdir / "popfreq.vcf.gz",
        [
            "##fileformat=VCFv4.2",
            contig,
            '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
        ],
        freq_lines,
    )
    (workdir / "n_variants.txt").write_text(f"{n_variants}\n")


OURS = """
import logging
from genorisk.annotate import annotate_table, write_table, write_annotated
logging.basicConfig(level=logging.INFO)
t = annotate_table("sites.bcf", clinvar="clinvar.vcf.gz", population_af="popfreq.vcf.gz")
write_table(t, "ours.parquet")
write_annotated("sites.bcf", t, "ours.bcf")
print(len(t), t["clinvar_significance"].notna().sum(), t["population_af"].notna().sum())
"""

# One scatter job, as scripts/annotate_chunk.py runs it: `python chunk_job.py plan N`
# prints the regions, `python chunk_job.py run I REGION` annotates one,
# `python chunk_job.py gather N` joins them.
CHUNK_JOB = """
import logging, sys
from genorisk.annotate import annotate_table, gather, plan_chunks, write_annotated, write_table
logging.basicConfig(level=logging.INFO)
if sys.argv[1] == "plan":
    print("\\n".join(plan_chunks("sites.bcf", n_chunks=int(sys.argv[2]))))
elif sys.argv[1] == "run":
    i, region = sys.argv[2], sys.argv[3]
    t = annotate_table("sites.bcf", region=region, clinvar="clinvar.vcf.gz", population_af="popfreq.vcf.gz")
    write_table(t, f"chunk{i}.parquet")
    write_annotated("sites.bcf", t, f"chunk{i}.bcf", region=region)
else:
    n = int(sys.argv[2])
    gather([f"chunk{i}.parquet" for i in range(n)], [f"chunk{i}.bcf" for i in range(n)],
           "ours_chunked.parquet", "ours_chunked.bcf")
"""


def chunked_command(n_chunks: int) -> list[str]:
    """plan, one process per chunk (one after another), gather: peak RSS is the largest job's."""
    script = (
        f"set -e; {PYTHON} chunk_job.py plan {n_chunks} > regions.txt; i=0; "
        f'while read -r region; do {PYTHON} chunk_job.py run $i "$region"; i=$((i+1)); done < regions.txt; '
        f"{PYTHON} chunk_job.py gather $i"
    )
    return ["sh", "-c", script]


# bcftools annotate with a VCF -a needs an indexed input (it cannot read a pipe),
# so the two joins go through an indexed intermediate BCF.
BCFTOOLS = (
    "bcftools annotate --no-version -a clinvar.vcf.gz -c INFO/CLNSIG,INFO/CLNREVSTAT,INFO/GENEINFO"
    " -Ob -o ref_step1.bcf sites.bcf && bcftools index -f ref_step1.bcf"
    " && bcftools annotate --no-version -a popfreq.vcf.gz -c INFO/AF -Ob -o ref.bcf ref_step1.bcf"
    " && bcftools index -f ref.bcf"
)


def commands(workdir: Path) -> dict[str, list[str]]:
    if not UNITS:
        UNITS["variants"] = int((workdir / "n_variants.txt").read_text())
    return {
        "genorisk": [PYTHON, "-c", OURS],
        "bcftools annotate": ["sh", "-c", BCFTOOLS],
        "genorisk 8 chunks": chunked_command(8),
    }
