"""Normalisation (bcftools norm): split, left-align against a FASTA, drop duplicates, count."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from test_vcf_validation import DATA, POLICY, ROWS

from genorisk.errors import InputError
from genorisk.genotypes import read_dosages
from genorisk.vcf import normalize_vcf, validate_vcf

FASTA = Path(__file__).parent / "data/annotation/bcftools/ENST00000341065.fa"


def sequence() -> str:
    return "".join(FASTA.read_text().splitlines()[1:])


def write_vcf(path: Path, records: list[str]) -> Path:
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=19696>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
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
    assert counts == {
        "records_in": 5,
        "multiallelic_split": 1,
        "records_after_split": 6,
        "realigned": 1,
        "skipped": 0,
        "records_out": 5,
        "duplicates_removed": 1,
        "malformed_tag_records": 0,
        "undeclared_keys": 0,
        "sites_only_rows": 0,
        "repeated_format_keys": 0,
        "assembly_contigs_renamed": 0,
        "phasing_prefix_records": 0,
        "empty_sample_records": 0,
    }
    got = records(out)
    # The deletion now sits at the base before the run, as left-alignment requires.
    assert got[0].split("\t")[1] == str(run) and got[0].split("\t")[3] == before + base
    # The multiallelic site became one record per ALT with per-ALT genotypes.
    site = [r for r in got if r.split("\t")[1] == str(m)]
    assert [(r.split("\t")[4], r.split("\t")[5]) for r in site] == [(alts(m)[0], "1/0"), (alts(m)[1], "0/1")]
    # Symbolic and * alleles are kept (features leave them out).
    assert any("<DEL>" in r for r in got) and any("\t*\t" in r for r in got)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf", "norm.vcf.gz", "norm.vcf.gz.csi"]


def test_gvcf_variant_sites_become_biallelic_and_blocks_are_kept(tmp_path):
    """GATK (<NON_REF>) and DeepVariant/bcftools (<*>) gVCF records through validation and normalisation."""
    from genorisk.callable import gvcf_reference_blocks

    seq = sequence()
    alt = {p: next(b for b in "ACGT" if b != seq[p - 1]) for p in (150, 160)}
    vcf = tmp_path / "in.g.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=19696>\n"
        '##ALT=<ID=NON_REF,Description="any other allele">\n'
        '##INFO=<ID=END,Number=1,Type=Integer,Description="end">\n'
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="GQ">\n'
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="AD">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        f"1\t100\t.\t{seq[99]}\t<NON_REF>\t.\t.\tEND=149\tGT:GQ\t0/0:40\n"
        f"1\t150\t.\t{seq[149]}\t{alt[150]},<NON_REF>\t50\t.\t.\tGT:GQ:AD\t0/1:60:7,5,0\n"
        f"1\t151\t.\t{seq[150]}\t<*>\t.\t.\tEND=159\tGT:GQ\t0/0:40\n"
        f"1\t160\t.\t{seq[159]}\t{alt[160]},<*>\t50\t.\t.\tGT:GQ:AD\t1/1:60:0,9,0\n"
    )
    report = validate_vcf(vcf, genome_build=None)
    assert report.counts["reference_blocks"] == 4
    out = tmp_path / "norm.vcf.gz"
    counts = normalize_vcf(vcf, out, fasta=FASTA, validation=report)
    assert counts["records_in"] == 4 and counts["multiallelic_split"] == 2 and counts["records_out"] == 6
    got = records(out)
    # The real allele is a plain biallelic record with its own genotype and per-allele tags.
    assert f"1\t150\t.\t{seq[149]}\t{alt[150]}\t0/1:60:7,5" in got
    assert f"1\t160\t.\t{seq[159]}\t{alt[160]}\t1/1:60:0,9" in got
    # Blocks keep END (read back from the normalised file); the <NON_REF> left by splitting 150 is no block.
    blocks = gvcf_reference_blocks(out, "S1")
    assert blocks is not None and blocks.n_regions == 2 and blocks.n_bp == 50 + 9  # 100..149, 151..159
    assert blocks.contains("1", np.array([149, 150, 151])).tolist() == [True, False, True]
    dosages = read_dosages(out, variants=None, samples=["S1"])
    table = dosages[0]
    at = table["alt"].isin([alt[150], alt[160]]).to_numpy()
    assert table["pos"][at].tolist() == [150, 160] and dosages[1][at, 0].tolist() == [1.0, 2.0]


def test_ref_mismatch_against_the_fasta_is_an_error_and_writes_nothing(tmp_path):
    seq = sequence()
    wrong_ref, alt = [b for b in "ACGT" if b != seq[99]][:2]
    vcf = write_vcf(tmp_path / "in.vcf", [f"1\t100\t.\t{wrong_ref}\t{alt}\t.\t.\t.\tGT\t0/1"])
    with pytest.raises(InputError, match="bcftools norm failed"):
        normalize_vcf(vcf, tmp_path / "norm.vcf.gz", fasta=FASTA)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf"]


def test_undeclared_keys_are_declared_not_dropped(tmp_path, caplog):
    # htslib adds undeclared keys to its header on the fly, after the BCF header
    # of the split pass is written: the dedup pass used to drop these records and exit 0.
    vcf = tmp_path / "undecl.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
        "chr1\t1000\t.\tA\tG\t.\t.\t.\tGT\t0/1\n"
        "chr1\t2000\t.\tA\tG\t.\t.\tFOO=3\tGT\t1/1\n"
        "chr1\t3000\t.\tA\tG,T\t.\t.\tDP=3\tGT\t1/2\n"
        "chr1\t4000\t.\tA\tG\t.\tq10\t.\tGT:XX\t1/1:5\n"
    )
    out = tmp_path / "norm.vcf.gz"
    counts = normalize_vcf(vcf, out)  # without a validation report: found from htslib's warnings
    assert (counts["records_in"], counts["records_after_split"], counts["records_out"]) == (4, 5, 5)
    assert counts["undeclared_keys"] == 4  # INFO FOO, DP; FILTER q10; FORMAT XX
    assert [r.split("\t")[1] for r in records(out)] == ["1000", "2000", "3000", "3000", "4000"]
    assert "declared before splitting" in caplog.text
    # The same through the validation report (careful path chosen up front).
    counts2 = normalize_vcf(vcf, tmp_path / "n2.vcf.gz", validation=validate_vcf(vcf, genome_build=None))
    assert counts2 == counts


def test_malformed_per_allele_tags_are_dropped_and_counted(tmp_path):
    src = DATA / "files/PharmCAT/VcfReaderTest-AD-invalid.vcf"
    out = tmp_path / "norm.vcf.gz"
    counts = normalize_vcf(src, out)
    # Two multiallelic records carry AC (Number=A) with one value: split with --force, AC removed there.
    assert counts["malformed_tag_records"] == 2
    assert counts["records_out"] == counts["records_after_split"] == 9
    text = subprocess.run(["bcftools", "view", "-H", str(out)], capture_output=True, text=True, check=True).stdout
    split_rows = [ln for ln in text.splitlines() if ln.split("\t")[1] in ("94942234", "94942249")]
    assert len(split_rows) == 4 and not any("AC=" in ln for ln in split_rows)


def test_chr_named_vcf_against_plain_named_fasta_keeps_its_names(tmp_path):
    seq = sequence()
    wrong = [b for b in "ACGT" if b != seq[99]][0]
    vcf = tmp_path / "chr.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=19696>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        f"chr1\t100\t.\t{seq[99]}\t{wrong}\t.\t.\t.\tGT\t0/1\n"
    )
    out = tmp_path / "norm.vcf.gz"
    counts = normalize_vcf(vcf, out, fasta=FASTA)  # the FASTA names its sequence "1"
    assert counts["records_out"] == 1
    assert records(out)[0].split("\t")[:2] == ["chr1", "100"]
    header = subprocess.run(["bcftools", "view", "-h", str(out)], capture_output=True, text=True).stdout
    assert "##contig=<ID=chr1," in header
    # The FASTA is really consulted under the renamed contig: a wrong REF still fails.
    vcf.write_text(vcf.read_text().replace(f"\t{seq[99]}\t{wrong}\t", f"\t{wrong}\t{seq[99]}\t"))
    with pytest.raises(InputError, match="bcftools norm failed"):
        normalize_vcf(vcf, tmp_path / "bad.vcf.gz", fasta=FASTA)


def test_same_key_duplicates_warned_and_first_kept(tmp_path):
    vcf = write_vcf(tmp_path / "dup.vcf", ["1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1", "1\t100\t.\tA\tG\t.\t.\t.\tGT\t1/1"])
    report = validate_vcf(vcf, genome_build=None)
    assert report.counts["same_key_duplicates"] == 1
    assert any("normalisation keeps the first" in w for w in report.warnings)
    counts = normalize_vcf(vcf, tmp_path / "n.vcf.gz", validation=report)
    assert (counts["records_out"], counts["duplicates_removed"]) == (1, 1)
    assert records(tmp_path / "n.vcf.gz")[0].endswith("\t0/1")


CORPUS = [
    r
    for r in ROWS
    if r["expected"] in ("ACCEPT", "ACCEPT-WARN")
    and not r["path"].endswith((".tbi", ".csi"))
    and r["path"] not in POLICY
]


def test_every_accepted_corpus_file_normalises_and_loads(tmp_path):
    t0, ok, failures, careful = time.perf_counter(), 0, [], 0
    for i, row in enumerate(CORPUS):
        path = DATA / row["path"]
        out = tmp_path / f"{i}.vcf.gz"
        try:
            report = validate_vcf(path, genome_build=None)
            counts = normalize_vcf(path, out, validation=report)
            assert counts["records_out"] + counts["duplicates_removed"] == counts["records_after_split"]
            assert counts["records_after_split"] >= counts["records_in"] == report.n_records, counts
            variants, dosages = read_dosages(out)
            assert dosages.shape[1] == len(report.samples) or report.samples == []
            careful += any(
                counts[k]
                for k in (
                    "malformed_tag_records",
                    "undeclared_keys",
                    "sites_only_rows",
                    "repeated_format_keys",
                    "assembly_contigs_renamed",
                    "phasing_prefix_records",
                    "empty_sample_records",
                )
            )
            ok += 1
        except Exception as err:  # collect all, fail once with the list
            failures.append(f"{row['path']}: {type(err).__name__}: {str(err)[:200]}")
    print(
        f"\n{ok}/{len(CORPUS)} accepted corpus files normalised and loaded "
        f"({careful} through the careful path; {len(POLICY)} policy rows excluded; "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    assert not failures, "\n".join(failures)


def test_vcf44_phasing_prefixes_are_read_through_the_careful_path(tmp_path):
    """htslib 1.16 cannot parse ``|0/1``: the prefix is dropped, every record kept, dosages unchanged."""
    path = DATA / "files/htslib/vcf44_1.vcf"
    report = validate_vcf(path, genome_build=None)
    counts = normalize_vcf(path, tmp_path / "n.vcf.gz", validation=report)
    assert counts["records_out"] == report.n_records == 28 and counts["phasing_prefix_records"] > 0
    _, d_before = read_dosages(path)  # genorisk's own reader parses the prefixes
    _, d_after = read_dosages(tmp_path / "n.vcf.gz")
    assert np.array_equal(d_before, d_after, equal_nan=True)
