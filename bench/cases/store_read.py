"""Bench case: read every dosage of a pgen store through genorisk.store.iter_store_chunks, next to plink2 --freq.

Three stores of 3,000 samples (50k, 100k and 200k variants on one chromosome)
are written with pgenlib's PgenWriter: 10,000 random biallelic variants (allele
frequency 0.01-0.5, 1% missing) tiled with the samples resampled per tile, and
an INFO/R2 column. genorisk streams all dosages in chunks of 1,024 variants
(float32, NaN = missing, with the per-variant ALT allele count and allele
number, i.e. the allele frequencies) and sums the allele counts; plink2
computes allele frequencies (``--freq``) from the same store with one thread.
The .pvar is parsed once per fileset (Arrow); peak RSS grows with the variant
table (tens of bytes per variant), not with the dosages (one chunk at a time).
The first figure includes Python's start-up and imports (about 0.35 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DESCRIPTION = "all dosages of a pgen store via pgenlib (chunks of 1,024) vs plink2 --freq, 3,000 x 50k/100k/200k"
N_SAMPLES = 3000
SIZES = {"50k": 50_000, "100k": 100_000, "200k": 200_000}
BASE = 10_000
UNITS = {"variants": SIZES["50k"]}  # throughput of the first pair; the .md gives every size's wall and RSS

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable

READ_ALL = """
import sys, numpy as np
from genorisk.store import iter_store_chunks
ac, an, rows = 0.0, 0, 0
for chunk in iter_store_chunks(sys.argv[1], chunk_size=1024):
    ac += float(chunk.alt_allele_count.sum())
    an += int(chunk.allele_number.sum())
    rows += len(chunk.variants)
print(rows, ac / an)
"""


def _write_store(prefix: Path, n_variants: int, base: np.ndarray, rng: np.random.Generator) -> None:
    import pgenlib

    writer = pgenlib.PgenWriter(f"{prefix}.pgen".encode(), N_SAMPLES, n_variants, False)
    with open(f"{prefix}.pvar", "w") as pvar:
        pvar.write('##INFO=<ID=R2,Number=1,Type=Float,Description="Imputation r2">\n')
        pvar.write("#CHROM\tPOS\tID\tREF\tALT\tINFO\n")
        for tile in range(n_variants // BASE):
            cols = rng.integers(0, N_SAMPLES, N_SAMPLES)
            for b0 in range(0, BASE, 2048):
                block = np.ascontiguousarray(base[b0 : b0 + 2048][:, cols])
                writer.append_biallelic_batch(block)
            r2 = rng.uniform(0, 1, BASE)
            pvar.writelines(
                f"chr21\t{p}\tchr21:{p}:C:T\tC\tT\tR2={r:.3f}\n"
                for p, r in zip(range(1 + tile * 10 * BASE, 1 + (tile + 1) * 10 * BASE, 10), r2, strict=True)
            )
    writer.close()
    with open(f"{prefix}.psam", "w") as psam:
        psam.write("#IID\tSEX\n" + "".join(f"S{i:05d}\t{1 + i % 2}\n" for i in range(N_SAMPLES)))


def prepare(workdir: Path) -> None:
    rng = np.random.default_rng(12)
    freq = rng.uniform(0.01, 0.5, BASE)
    base = rng.binomial(2, freq[:, None], (BASE, N_SAMPLES)).astype(np.int8)
    base[rng.random(base.shape) < 0.01] = -9
    for label, m in SIZES.items():
        if not (workdir / f"store_{label}.pgen").exists():
            _write_store(workdir / f"store_{label}", m, base, rng)


def commands(workdir: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label in SIZES:
        prefix = str(workdir / f"store_{label}")
        out[f"genorisk {label}"] = [PYTHON, "-c", READ_ALL, prefix]
        out[f"plink2 {label}"] = [
            "plink2",
            "--pfile",
            prefix,
            "--freq",
            "--threads",
            "1",
            "--memory",
            "700",
            "--out",
            str(workdir / f"freq_{label}"),
        ]
    return out
