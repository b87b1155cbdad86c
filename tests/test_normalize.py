"""Normalisation (bcftools norm): split, left-align against a FASTA, drop duplicates, count."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from genorisk.errors import InputError
from genorisk.vcf import normalize_vcf, validate_vcf

FASTA = Path(__file__).parent / "data/annotation/bcftools/ENST00000341065.fa"


def sequence() -> str:
    return "".join(FASTA.read_text().splitlines()[1:])


def write_vcf(path: Path, records: list[str]) -> Path:
    header = ["##fileformat=VCFv4.2", "##contig=<ID=1,length=19696>",
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"]
    path.write_text("\n".join(header + records) + "\n")
    return path


def records(path: Path) -> list[str]:
    out = subprocess.run(["bcftools", "view", "-H", str(path)], capture_output=True, text=True, check=True).stdout
    return ["\t".join(line.split("\t")[:5] + [line.split("\t")[9]]) for line in out.splitlines()]


def test_split_leftalign_dedup_and_counts(tmp_path):
    seq = sequence()

    def alts(pos: int) -> list[str]:  # bases other than the reference at 1-based pos
        return [b for b in "ACGT" if b != seq[pos - 1]]

    # A homopolymer run: a one-base deletion written at its right end must move left.
    run = next(i for i in range(1, len(seq) - 4) if seq[i] == seq[i + 1] == seq[i + 2] and seq[i - 1] != seq[i])
    base, before = seq[run], seq[run - 1]
    right = run + 2  # 1-based position of the base before the run's last base
    m = right + 40
    recs = [
        f"1\t{right}\t.\t{seq[right - 1]}{base}\t{seq[right - 1]}\t.\t.\t.\tGT\t0/1",
        f"1\t{m}\t.\t{seq[m - 1]}\t{alts(m)[0]},{alts(m)[1]}\t.\t.\t.\tGT\t1/2",
        # The same first ALT again as a biallelic record: a duplicate once the site above is split.
        f"1\t{m}\t.\t{seq[m - 1]}\t{alts(m)[0]}\t.\t.\t.\tGT\t0/1",
        f"1\t{right + 60}\t.\t{seq[right + 59]}\t<DEL>\t.\t.\t.\tGT\t0/1",
        f"1\t{right + 80}\t.\t{seq[right + 79]}\t*\t.\t.\t.\tGT\t0/1",
    ]
    vcf = write_vcf(tmp_path / "in.vcf", recs)
    validate_vcf(vcf, genome_build=None)
    out = tmp_path / "norm.vcf.gz"
    counts = normalize_vcf(vcf, out, fasta=FASTA)
    assert counts == {"records_in": 5, "multiallelic_split": 1, "realigned": 1, "skipped": 0,
                      "records_out": 5, "duplicates_removed": 1}
    got = records(out)
    # The deletion now sits at the base before the run, as left-alignment requires.
    assert got[0].split("\t")[1] == str(run) and got[0].split("\t")[3] == before + base
    # The multiallelic site became one record per ALT with per-ALT genotypes.
    site = [r for r in got if r.split("\t")[1] == str(m)]
    assert [(r.split("\t")[4], r.split("\t")[5]) for r in site] == [(alts(m)[0], "1/0"), (alts(m)[1], "0/1")]
    # Symbolic and * alleles are kept (features leave them out).
    assert any("<DEL>" in r for r in got) and any("\t*\t" in r for r in got)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf", "norm.vcf.gz", "norm.vcf.gz.tbi"]


def test_ref_mismatch_against_the_fasta_is_an_error_and_writes_nothing(tmp_path):
    seq = sequence()
    wrong_ref, alt = [b for b in "ACGT" if b != seq[99]][:2]
    vcf = write_vcf(tmp_path / "in.vcf", [f"1\t100\t.\t{wrong_ref}\t{alt}\t.\t.\t.\tGT\t0/1"])
    with pytest.raises(InputError, match="bcftools norm failed"):
        normalize_vcf(vcf, tmp_path / "norm.vcf.gz", fasta=FASTA)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf"]
