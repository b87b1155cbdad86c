"""Streaming dosages: conventions, both engines, regions, variant lookup, bad input."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pysam
import pytest

from genorisk.errors import InputError
from genorisk.genotypes import iter_dosage_chunks, read_dosages

NAN = np.nan
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000000>\n##contig=<ID=X,length=2000000>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tm1\tm2\tf1\tf2\n"
)
BODY = [
    "1\t100\tv1\tA\tG\t.\t.\t.\tGT\t0/1\t1|1\t./.\t0/0",
    "1\t200\t.\tA\tG,T\t.\t.\t.\tGT\t0/2\t1/2\t2/2\t./1",
    "1\t300\tv3\tC\tT\t.\t.\t.\tGT:DS\t0/1:0.9\t1/1:.\t0/0:0.1\t0/1:1.2",
    "X\t500000\tx1\tA\tG\t.\t.\t.\tGT\t1\t0\t0/1\t1/1",
    "X\t500100\tx2\tA\tC\t.\t.\t.\tGT\t.\t1\t0/1/1\t1|0",
]
# Expected GT dosages (use_ds=False), rows per ALT, samples m1 m2 f1 f2.
EXPECTED_GT = np.array(
    [
        [1, 2, NAN, 0],
        [0, 1, 0, NAN],  # G of A>G,T
        [1, 1, 2, NAN],  # T of A>G,T; "./1" is missing
        [1, 2, 0, 1],
        [1, 0, 1, 2],  # haploid 1 -> 1 without male
        [NAN, 1, 2, 1],  # triploid 0/1/1 -> 2
    ],
    dtype=np.float32,
)


@pytest.fixture()
def small_vcf(tmp_path):
    plain = tmp_path / "small.vcf"
    plain.write_text(HEADER + "\n".join(BODY) + "\n")
    gz = tmp_path / "small.vcf.gz"
    pysam.tabix_index(str(plain), preset="vcf", keep_original=True)
    return plain, gz


@pytest.mark.parametrize("engine", ["text", "cyvcf2"])
def test_gt_dosages_per_alt(small_vcf, engine):
    plain, gz = small_vcf
    for path in (plain, gz):
        variants, dos = read_dosages(path, use_ds=False, engine=engine, chunk_size=2)
        assert variants[["pos", "alt", "allele_index", "n_alt"]].values.tolist() == [
            [100, "G", 1, 1],
            [200, "G", 1, 2],
            [200, "T", 2, 2],
            [300, "T", 1, 1],
            [500000, "G", 1, 1],
            [500100, "C", 1, 1],
        ]
        assert variants["id"].isna().tolist() == [False, True, True, False, False, False]
        np.testing.assert_array_equal(dos, EXPECTED_GT)
        assert dos.dtype == np.float32


def test_male_haploid_chrx_counts_two_and_ds_is_used(small_vcf):
    plain, _ = small_vcf
    variants, dos = read_dosages(plain, male=[True, True, False, False])
    np.testing.assert_array_equal(dos[4], [2, 0, 1, 2])  # male haploid "1" -> 2 (plink2 --xchr-model 2)
    np.testing.assert_array_equal(dos[5], [NAN, 2, 2, 1])
    np.testing.assert_allclose(dos[3], [0.9, NAN, 0.1, 1.2], rtol=1e-6)  # DS wins over GT; "." -> NaN
    np.testing.assert_array_equal(dos[0], EXPECTED_GT[0])  # autosomes unchanged


def test_samples_subset_and_order(small_vcf):
    plain, _ = small_vcf
    for engine in ("text", "cyvcf2"):
        chunks = list(iter_dosage_chunks(plain, samples=["f2", "m1"], male=[False, True], use_ds=False, engine=engine))
        assert chunks[0].samples == ["f2", "m1"]
        dos = np.concatenate([c.dosages for c in chunks])
        expected = EXPECTED_GT[:, [3, 0]].copy()
        expected[4, 1] = 2  # m1 is male: haploid chrX "1" -> 2
        np.testing.assert_array_equal(dos, expected)


def test_chunks_are_bounded(small_vcf):
    plain, _ = small_vcf
    sizes = [len(c.variants) for c in iter_dosage_chunks(plain, chunk_size=4, use_ds=False)]
    assert sizes == [4, 2]


def test_regions_use_the_index(small_vcf):
    plain, gz = small_vcf
    for path in (gz, plain):  # indexed, then a filtered scan
        variants, dos = read_dosages(path, regions=["1:150-300", "X"], use_ds=False)
        assert variants["pos"].tolist() == [200, 200, 300, 500000, 500100]
        np.testing.assert_array_equal(dos, EXPECTED_GT[1:])


def test_region_start_without_end_runs_to_the_contig_end(small_vcf):
    """``1:150`` means 150 to the end of chr1 with and without an index (htslib's rule).

    Intended difference: the unindexed scan used to read ``CHROM:START`` as the single
    position START, while the indexed path (htslib) read to the contig end.
    """
    plain, gz = small_vcf
    for path in (gz, plain):
        variants, _ = read_dosages(path, regions=["1:150"], use_ds=False)
        assert variants["pos"].tolist() == [200, 200, 300]


def test_plink_chrx_code_gets_the_male_convention(tmp_path):
    """Contig ``23`` (plink's chrX code) is chrX for the male haploid rule, as ``X``/``chrX``."""
    path = tmp_path / "plink.vcf"
    header = HEADER.replace("##contig=<ID=X", "##contig=<ID=23")
    path.write_text(header + "23\t500000\tx1\tA\tG\t.\t.\t.\tGT\t1\t0\t0/1\t1/1\n")
    _, dos = read_dosages(path, male=[True, True, False, False], use_ds=False)
    np.testing.assert_array_equal(dos[0], [2, 0, 1, 2])


def test_read_dosages_reports_absent_variants(small_vcf):
    plain, _ = small_vcf
    wanted = pd.DataFrame(
        {"chrom": ["chrX", "1", "1"], "pos": [500000, 999, 200], "ref": ["A", "A", "A"], "alt": ["G", "C", "T"]}
    )
    table, dos = read_dosages(plain, wanted, use_ds=False)
    assert table["found"].tolist() == [True, False, True]
    np.testing.assert_array_equal(dos[0], EXPECTED_GT[4])
    assert np.isnan(dos[1]).all()  # absent: NaN, never zero
    np.testing.assert_array_equal(dos[2], EXPECTED_GT[2])


def test_text_engine_agrees_with_bcftools(tmp_path):
    """bcftools is the oracle for the fixed-width fast path on a larger file."""
    rng = np.random.default_rng(3)
    n_s, n_v = 50, 300
    lines = [
        HEADER.rsplit("#CHROM", 1)[0]
        + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
        + "\t".join(f"s{i}" for i in range(n_s))
    ]
    for v in range(n_v):
        gts = rng.choice(
            ["0/0", "0/1", "1|1", "1|0", "./.", "0|.", "1"], size=n_s, p=[0.3, 0.3, 0.2, 0.1, 0.04, 0.03, 0.03]
        )
        lines.append(f"1\t{1000 + v}\t.\tA\tG\t.\t.\t.\tGT\t" + "\t".join(gts))
    vcf = tmp_path / "r.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    _, dos = read_dosages(vcf, engine="text")
    out = subprocess.run(
        ["bcftools", "query", "-f", "[%GT\\t]\\n", str(vcf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    for row, line in zip(dos, out, strict=False):
        for d, gt in zip(row, line.rstrip("\t").split("\t"), strict=False):
            alleles = gt.replace("|", "/").split("/")
            expect = NAN if "." in alleles else sum(a == "1" for a in alleles)
            assert (np.isnan(d) and np.isnan(expect)) or d == expect, (gt, d)


@pytest.mark.parametrize("engine", ["text", "cyvcf2"])
def test_allele_index_beyond_alt_is_refused(tmp_path, engine):
    bad = tmp_path / "bad.vcf"
    bad.write_text(HEADER + "1\t100\tv1\tA\tG\t.\t.\t.\tGT\t0/1\t0/2\t0/0\t0/0\n")
    with pytest.raises(InputError, match=r"bad.vcf: .*1:100.*GT allele index 2 > 1 ALT"):
        read_dosages(bad, engine=engine)


def test_text_engine_names_line_of_bad_pos(tmp_path):
    bad = tmp_path / "bad.vcf"
    bad.write_text(
        HEADER + "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/0\t0/0\n1\t.\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/0\t0/0\n"
    )
    with pytest.raises(InputError, match=r"bad.vcf: line 8: POS '.' is not an integer"):
        read_dosages(bad, engine="text")


def test_text_engine_block_edges_and_newline_scan(tmp_path, monkeypatch):
    """Tiny read blocks (lines cut at every place, the buffer grown for long
    lines) and both newline scanners give what cyvcf2 gives."""
    from genorisk.genotypes import text_engine

    rng = np.random.default_rng(5)
    n_s = 40
    lines = [
        HEADER.rsplit("#CHROM", 1)[0]
        + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
        + "\t".join(f"s{i}" for i in range(n_s))
    ]
    for v in range(120):
        gts = rng.choice(["0/0", "0/1", "1|1", "1|0", "./.", "1"], size=n_s, p=[0.4, 0.3, 0.15, 0.1, 0.03, 0.02])
        alt = "G,T" if v % 17 == 0 else "G"
        if v % 17 == 0:
            gts[0] = "2/2"
        lines.append(f"{1 + v // 60}\t{1000 + v}\tid{v}\tA\t{alt}\t.\t.\t.\tGT\t" + "\t".join(gts))
    vcf = tmp_path / "e.vcf"
    vcf.write_text("\n".join(lines))  # no final newline
    ref_v, ref_d = read_dosages(vcf, engine="cyvcf2", use_ds=False)
    assert np.isnan(ref_d).any() and (ref_v["n_alt"] == 2).any()
    for block, find_width in ((1 << 24, 1 << 30), (64, 0), (1000, 0), (333, 1 << 30)):
        monkeypatch.setattr(text_engine, "BLOCK_BYTES", block)
        monkeypatch.setattr(text_engine, "FIND_LOOP_WIDTH", find_width)
        v, d = read_dosages(vcf, engine="text", use_ds=False)
        np.testing.assert_array_equal(d, ref_d)
        assert v[["chrom", "pos", "id", "ref", "alt", "allele_index", "n_alt"]].equals(
            ref_v[["chrom", "pos", "id", "ref", "alt", "allele_index", "n_alt"]]
        )
