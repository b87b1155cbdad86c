"""Bench case: VCF -> polygenic score sums, genorisk next to plink2 --score.

The cohort is simulated with msprime (2,000 diploid samples, one 2,000-haplotype
coalescent per chromosome 1..4, about 88,000 biallelic SNPs after masking
multiallelic sites), written as a GT-only bgzipped VCF with a tabix index.
The weight file scores every variant; genorisk reads it as a user weight file
(chr_name, chr_position, effect_allele, other_allele, effect_weight) and plink2
reads the same weights keyed by variant ID.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

DESCRIPTION = "polygenic score sums, 2,000 samples x ~88k SNPs (bgzipped VCF, GT only)"
N_SAMPLES = 2000
N_CHROMS = 4
SEQ_LEN = 5_500_000  # per chromosome; ~22k segregating biallelic sites each
UNITS = {"variants": 88000}

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def _write_vcf(path: Path, n_samples: int, blocks) -> int:
    """Write GT-only VCF text through ``bgzip``; ``blocks`` yields (chrom, pos, ref, alt, haps)."""
    header = [
        "##fileformat=VCFv4.2",
        *[f"##contig=<ID={c},length={SEQ_LEN + 1}>" for c in range(1, N_CHROMS + 1)],
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(f"S{i:04d}" for i in range(n_samples)),
    ]
    n = 0
    with open(path, "wb") as out:
        bgzip = subprocess.Popen(["bgzip", "-@2", "-c"], stdin=subprocess.PIPE, stdout=out)
        bgzip.stdin.write(("\n".join(header) + "\n").encode())
        for chrom, pos, ref, alt, haps in blocks:
            m = len(pos)
            # Fixed-width sample text "a|b\t" per sample, built as a byte matrix.
            text = np.empty((m, n_samples, 4), dtype=np.uint8)
            text[:, :, 0] = haps[:, 0::2] + ord("0")
            text[:, :, 1] = ord("|")
            text[:, :, 2] = haps[:, 1::2] + ord("0")
            text[:, :, 3] = ord("\t")
            text[:, -1, 3] = ord("\n")
            body = text.reshape(m, -1)
            for i in range(m):
                prefix = f"{chrom}\t{pos[i]}\t{chrom}:{pos[i]}:{ref[i]}:{alt[i]}\t{ref[i]}\t{alt[i]}\t.\tPASS\t.\tGT\t"
                bgzip.stdin.write(prefix.encode())
                bgzip.stdin.write(body[i].tobytes())
            n += m
        bgzip.stdin.close()
        if bgzip.wait() != 0:
            raise RuntimeError("bgzip failed")
    return n


def _simulate_blocks(seed: int):
    import msprime

    for chrom in range(1, N_CHROMS + 1):
        ts = msprime.sim_ancestry(
            samples=N_SAMPLES,
            population_size=10_000,
            sequence_length=SEQ_LEN,
            recombination_rate=1e-8,
            random_seed=seed + chrom,
        )
        ts = msprime.sim_mutations(ts, rate=1.13e-8, random_seed=seed + chrom)
        pos, ref, alt, rows = [], [], [], []
        last = 0
        for var in ts.variants():
            p = int(var.site.position) + 1  # 1-based, never 0
            if len(var.alleles) != 2 or p == last:
                continue  # biallelic SNPs at distinct positions only
            last = p
            pos.append(p)
            ref.append(var.alleles[0])
            alt.append(var.alleles[1])
            rows.append(var.genotypes.astype(np.uint8))
        yield str(chrom), pos, ref, alt, np.asarray(rows)


def prepare(workdir: Path) -> None:
    vcf = workdir / "cohort.vcf.gz"
    if not vcf.exists():
        tmp = workdir / "cohort.tmp.vcf.gz"
        blocks = list(_simulate_blocks(seed=20240601))
        n = _write_vcf(tmp, N_SAMPLES, blocks)
        tmp.rename(vcf)
        subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], check=True)
        rng = np.random.default_rng(7)
        with open(workdir / "weights.txt", "w") as w, open(workdir / "weights.plink.txt", "w") as wp:
            w.write("#pgs_id=BENCH\nchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n")
            wp.write("ID\tA1\tBENCH\n")
            for chrom, pos, ref, alt, _ in blocks:
                beta = rng.normal(0, 0.01, len(pos))
                # Half the weights on REF, half on ALT, so both match types run.
                on_ref = rng.random(len(pos)) < 0.5
                for p, r, a, b, flip in zip(pos, ref, alt, beta, on_ref, strict=True):
                    ea, oa = (r, a) if flip else (a, r)
                    w.write(f"{chrom}\t{p}\t{ea}\t{oa}\t{b:.6g}\n")
                    wp.write(f"{chrom}:{p}:{r}:{a}\t{ea}\t{b:.6g}\n")
        print(f"[pgs_score] wrote {n} variants x {N_SAMPLES} samples", flush=True)


def commands(workdir: Path) -> dict[str, list[str]]:
    return {
        "genorisk": [
            PYTHON,
            "-c",
            "import sys; from genorisk.scores import compute_scores; "
            "r = compute_scores(sys.argv[1], [sys.argv[2]], keep_ambiguous=True); "
            "r.sums.to_csv(sys.argv[3], sep='\\t')",
            str(workdir / "cohort.vcf.gz"),
            str(workdir / "weights.txt"),
            str(workdir / "genorisk.sscore.tsv"),
        ],
        "plink2": [
            "plink2",
            "--vcf",
            str(workdir / "cohort.vcf.gz"),
            "--score",
            str(workdir / "weights.plink.txt"),
            "header-read",
            "cols=+scoresums",
            "--memory",
            "2000",
            "--threads",
            "2",
            "--out",
            str(workdir / "plink2"),
        ],
    }
