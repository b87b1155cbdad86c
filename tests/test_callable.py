"""Callable regions: gVCF reference blocks and callable-regions BEDs make absent sites homozygous reference."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.callable import (
    CallableRegions,
    gvcf_reference_blocks,
    non_reference_sites,
    patient_callable_regions,
    read_callable_bed,
)
from genorisk.errors import InputError
from genorisk.features import patient_features
from genorisk.vcf import normalize_vcf, validate_vcf

PEER = Path(__file__).parent / "data/peer-data/files"
HAIL_GVCF = PEER / "hail/HG00187.hg38.g.vcf.gz"
PHARMCAT_GVCF = PEER / "PharmCAT/test_gvcf_block.vcf"

HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=chr1,length=248956422>",
    "##contig=<ID=chr2,length=242193529>",
    '##ALT=<ID=NON_REF,Description="Represents any possible alternative allele at this location">',
    '##INFO=<ID=END,Number=1,Type=Integer,Description="Stop position of the interval">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the GVCF block">',
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
]


def write_vcf(path: Path, records: list[str], *, index: bool = True) -> Path:
    """Write records under HEADER, bgzipped (and indexed) when path ends in .gz."""
    text = "\n".join(HEADER + records) + "\n"
    if path.suffix != ".gz":
        path.write_text(text)
        return path
    plain = path.with_suffix("")
    plain.write_text(text)
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    if index:
        subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return path


def write_bed(path: Path, lines: list[str]) -> Path:
    text = "".join(line + "\n" for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def dosage_schema(sites: list[tuple[str, int, str, str]], *, pgs: bool = False, burden: bool = False) -> dict:
    """A feature schema with one dosage feature per site, optionally a score and a gene burden over them."""
    features = [
        {
            "name": f"v{i}",
            "kind": "dosage",
            "label": "",
            "group": "",
            "definition": {"chrom": c, "pos": p, "ref": r, "alt": a, "cohort_af": 0.25},
        }
        for i, (c, p, r, a) in enumerate(sites)
    ]
    variants = [{"chrom": c, "pos": p, "ref": r, "alt": a} for c, p, r, a in sites]
    if pgs:
        features.append(
            {
                "name": "pgs_T1",
                "kind": "pgs",
                "label": "",
                "group": "",
                "definition": {
                    "score_id": "T1",
                    "file": "t1.txt",
                    "n_variants": len(sites),
                    "n_matched": len(sites),
                    "match_rate": 1.0,
                    "constant": 0.0,
                    "variants": [dict(v, alt_weight=0.1 * (i + 1), cohort_af=0.25) for i, v in enumerate(variants)],
                },
            }
        )
    if burden:
        features.append(
            {
                "name": "burden_G1",
                "kind": "burden",
                "label": "",
                "group": "",
                "definition": {"gene": "G1", "max_af": 0.01, "variants": variants},
            }
        )
    return {"schema_version": 1, "features": features}


# ---------------------------------------------------------------------------
# CallableRegions and BED
# ---------------------------------------------------------------------------


def test_regions_are_half_open_merged_and_contig_spelling_free():
    regions = CallableRegions(
        {"chr1": (np.array([100, 150, 300]), np.array([200, 250, 301])), "1": (np.array([250]), np.array([260]))},
        "bed",
    )
    # [100,200) + [150,250) + [250,260) touch or overlap: one region 100..260; [300,301) is position 301.
    assert regions.n_regions == 2 and regions.n_bp == 160 + 1
    pos = np.array([100, 101, 260, 261, 300, 301, 302])
    expected = [False, True, True, False, False, True, False]
    assert regions.contains("chr1", pos).tolist() == expected
    assert regions.contains("1", pos).tolist() == expected
    assert not regions.contains("chr2", pos).any()
    both = regions.contains_sites(["chr1", "2", "1"], np.array([101, 101, 301]))
    assert both.tolist() == [True, False, True]


def test_bed_plain_and_gzipped_with_header_lines(tmp_path):
    lines = [
        "browser position chr1:1-1000",
        'track name="callable"',
        "# mosdepth callable regions",
        "",
        "chr1\t1000\t2000\tCALLABLE",
        "chr1 1500 2500",  # space-separated and overlapping: merged
        "2\t10\t20",
        "chrX\t5\t6\tCALLABLE\t0\t+",
    ]
    for name in ("c.bed", "c.bed.gz"):
        regions = read_callable_bed(write_bed(tmp_path / name, lines), genome_build="GRCh38")
        assert regions.source == "bed" and regions.path == str(tmp_path / name)
        assert regions.n_regions == 3 and regions.n_bp == 1500 + 10 + 1
        assert regions.contains("1", np.array([1000, 1001, 2500, 2501])).tolist() == [False, True, True, False]
        assert regions.contains("chr2", np.array([11, 20, 21])).tolist() == [True, True, False]
        assert regions.contains("X", np.array([6])).tolist() == [True]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("chrUn_nowhere\t1\t10", "contig 'chrUn_nowhere' is not a GRCh38 sequence name"),
        ("chr1\t10\t10", "end 10 is not after start 10"),
        ("chr1\t20\t10", "end 10 is not after start 20"),
        ("chr21\t46709000\t46709984", "end 46709984 is beyond the end of chr21 in GRCh38 (46709983 bp)"),
        ("chr1\t1.5\t10", "must be non-negative integers"),
        ("chr1\t-1\t10", "must be non-negative integers"),
        ("chr1\t1\tten", "must be non-negative integers"),
        ("chr1\t100", "2 columns; a BED line needs chrom, start and end"),
    ],
)
def test_bed_errors_name_file_line_and_problem(tmp_path, line, problem):
    bed = write_bed(tmp_path / "bad.bed", ["track name=x", "chr1\t1\t100", line])
    with pytest.raises(InputError, match="line 3: ") as err:
        read_callable_bed(bed, genome_build="GRCh38")
    assert str(bed) in str(err.value) and problem in str(err.value)


def test_bed_contigs_unchecked_without_a_build_and_empty_bed_refused(tmp_path):
    bed = write_bed(tmp_path / "fly.bed", ["2L\t0\t100"])
    assert read_callable_bed(bed, genome_build=None).contains("2L", np.array([1, 100, 101])).tolist() == [
        True,
        True,
        False,
    ]
    with pytest.raises(InputError, match="no intervals"):
        read_callable_bed(write_bed(tmp_path / "empty.bed", ["track name=x"]), genome_build=None)
    with pytest.raises(InputError, match="does not exist"):
        read_callable_bed(tmp_path / "absent.bed", genome_build=None)


# ---------------------------------------------------------------------------
# gVCF reference blocks
# ---------------------------------------------------------------------------

GVCF_RECORDS = [
    "chr1\t100\t.\tA\t<NON_REF>\t.\t.\tEND=199\tGT:DP:GQ:MIN_DP\t0/0:30:50:25",  # good
    "chr1\t200\t.\tC\tG,<NON_REF>\t50\t.\t.\tGT:DP:GQ\t0/1:30:60",  # a variant site
    "chr1\t201\t.\tA\t<NON_REF>\t.\t.\tEND=250\tGT:DP:GQ:MIN_DP\t0/0:8:15:6",  # GQ 15
    "chr1\t251\t.\tA\t<NON_REF>\t.\t.\tEND=300\tGT:DP:GQ:MIN_DP\t0/0:12:40:9",  # MIN_DP 9, DP 12
    "chr1\t301\t.\tA\t<NON_REF>\t.\t.\tEND=310\tGT:DP:GQ\t0/0:12:40",  # no MIN_DP: DP 12
    "chr1\t311\t.\tA\t<NON_REF>\t.\t.\tEND=320\tGT:DP\t0/0:30",  # no GQ
    "chr1\t321\t.\tA\t<*>\t.\t.\tEND=330\tGT:GQ\t0|0:99",  # <*>, phased
    "chr1\t331\t.\tA\t<NON_REF>\t.\t.\tEND=340\tGT:GQ\t./.:0",  # no call
    "chr1\t341\t.\tA\t<NON_REF>\t.\t.\t.\tGT:GQ\t0/0:99",  # no END: one position
    "chr2\t5\t.\tA\t<NON_REF>\t.\t.\tEND=9\tGT:GQ\t0:30",  # haploid
]


def covered(regions: CallableRegions, chrom: str, first: int, last: int) -> bool:
    return bool(regions.contains(chrom, np.arange(first, last + 1)).all())


def test_gvcf_blocks_with_gq_and_depth_thresholds(tmp_path):
    gvcf = write_vcf(tmp_path / "p.g.vcf.gz", GVCF_RECORDS)
    blocks = gvcf_reference_blocks(gvcf, "S1")  # GQ >= 20, depth not checked
    assert blocks is not None and blocks.source == "gvcf"
    assert covered(blocks, "chr1", 100, 199) and covered(blocks, "1", 251, 310) and covered(blocks, "chr1", 321, 330)
    assert blocks.contains("chr1", np.array([99, 200, 201, 250, 311, 320, 331, 340, 342])).tolist() == [False] * 9
    assert blocks.contains("chr1", np.array([341])).tolist() == [True]
    assert covered(blocks, "chr2", 5, 9) and not blocks.contains("chr2", np.array([10]))[0]
    assert blocks.n_bp == 100 + 60 + 10 + 1 + 5
    # MIN_DP when present, else DP: 251-300 (MIN_DP 9) fails depth 10, 301-310 (DP 12) passes.
    deep = gvcf_reference_blocks(gvcf, "S1", min_dp=10)
    assert deep is not None and covered(deep, "chr1", 100, 199) and covered(deep, "chr1", 301, 310)
    assert not deep.contains("chr1", np.array([251, 300])).any()
    assert not deep.contains("chr1", np.array([321, 341])).any()  # no depth at all: fails a positive minimum
    # min_gq 0: every hom-ref block counts, also without GQ; the no-call block never does.
    loose = gvcf_reference_blocks(gvcf, "S1", min_gq=0)
    assert loose is not None and covered(loose, "chr1", 201, 250) and covered(loose, "chr1", 311, 320)
    assert not loose.contains("chr1", np.array([331, 340])).any()
    # GQ 99 and above only: two blocks.
    strict = gvcf_reference_blocks(gvcf, "S1", min_gq=99)
    assert strict is not None and strict.n_bp == 10 + 1


def test_variants_only_vcf_has_no_blocks(tmp_path):
    vcf = write_vcf(tmp_path / "v.vcf.gz", ["chr1\t200\t.\tC\tG\t50\t.\t.\tGT:GQ\t0/1:60"])
    assert gvcf_reference_blocks(vcf, "S1") is None
    assert patient_callable_regions(vcf, "S1") is None


def test_block_end_before_pos_is_refused(tmp_path):
    records = [GVCF_RECORDS[0], "chr1\t500\t.\tA\t<NON_REF>\t.\t.\tEND=450\tGT:GQ\t0/0:50"]
    gvcf = write_vcf(tmp_path / "bad.g.vcf", records)
    message = "chr1:500.*gVCF reference block END 450 is before its POS 500"
    with pytest.raises(InputError, match=message) as err:
        gvcf_reference_blocks(gvcf, "S1")
    assert str(gvcf) in str(err.value)
    with pytest.raises(InputError, match=r"line 12 \(chr1:500\): gVCF reference block END 450 is before its POS 500"):
        validate_vcf(gvcf, genome_build="GRCh38")


def test_block_beyond_the_build_is_refused(tmp_path):
    gvcf = write_vcf(tmp_path / "p.g.vcf", ["chr2\t242193000\t.\tA\t<NON_REF>\t.\t.\tEND=242193600\tGT:GQ\t0/0:50"])
    with pytest.raises(InputError, match="beyond the end of chr2 in GRCh38"):
        gvcf_reference_blocks(gvcf, "S1", genome_build="GRCh38")
    assert gvcf_reference_blocks(gvcf, "S1") is not None


def test_gvcf_wins_over_a_bed(tmp_path, caplog):
    gvcf = write_vcf(tmp_path / "p.g.vcf.gz", GVCF_RECORDS)
    bed = write_bed(tmp_path / "c.bed", ["chr1\t0\t100000"])
    with caplog.at_level("INFO", logger="genorisk.callable"):
        regions = patient_callable_regions(gvcf, "S1", bed=bed)
    assert regions is not None and regions.source == "gvcf" and not regions.contains("chr1", np.array([5]))[0]
    assert any("is ignored" in r.getMessage() for r in caplog.records)
    variants_only = write_vcf(tmp_path / "v.vcf.gz", ["chr1\t200\t.\tC\tG\t50\t.\t.\tGT:GQ\t0/1:60"])
    from_bed = patient_callable_regions(variants_only, "S1", bed=bed, genome_build="GRCh38")
    assert from_bed is not None and from_bed.source == "bed" and from_bed.contains("chr1", np.array([5]))[0]


def test_non_reference_sites_with_and_without_index(tmp_path, caplog):
    records = [
        "chr1\t100\t.\tA\t<NON_REF>\t.\t.\tEND=199\tGT:GQ\t0/0:50",
        "chr1\t200\t.\tCTT\tC,<NON_REF>\t50\t.\t.\tGT:GQ\t0/1:60",  # deletion over 201, 202
        "chr1\t210\t.\tA\t.\t.\t.\t.\tGT\t0/0",  # hom-ref record: reference
        "chr1\t211\t.\tA\t.\t.\t.\t.\tGT\t./.",  # no call
        "chr1\t220\t.\tA\t<NON_REF>\t.\t.\tEND=230\tGT:GQ\t./.:0",  # no-call block
    ]
    # Enough other records that region queries pay (under one site per 2,000 records).
    records += [f"chr2\t{1000 + i}\t.\tA\tG\t.\t.\t.\tGT\t0/1" for i in range(20_000)]
    sites = np.array([150, 200, 202, 203, 210, 211, 225, 240])
    expected = [False, True, True, False, False, True, True, False]
    for index, how in ((True, "by region queries"), (False, "in one pass")):
        vcf = write_vcf(tmp_path / f"p{index}.g.vcf.gz", records, index=index)
        caplog.clear()
        with caplog.at_level("DEBUG", logger="genorisk.callable"):
            got = non_reference_sites(vcf, "S1", ["1"] * len(sites), sites)
        assert got.tolist() == expected
        assert any(how in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------
# Patient features
# ---------------------------------------------------------------------------

SITES = [
    ("chr1", 1000, "A", "G"),  # het
    ("chr1", 2000, "C", "T"),  # hom-ref
    ("chr1", 3000, "G", "A"),  # hom-alt
    ("chr1", 4000, "T", "C"),  # hom-ref
    ("chr1", 5000, "A", "C"),  # not sequenced
    ("chr2", 6000, "G", "T"),  # hom-ref
    ("chr2", 7000, "G", "C"),  # het
]
CALLS = ["0/1", "0/0", "1/1", "0/0", None, "0/0", "0/1"]
EXPECTED = [1.0, 0.0, 2.0, 0.0, np.nan, 0.0, 1.0]


def full_calls(path: Path) -> Path:
    return write_vcf(
        path,
        [
            f"{c}\t{p}\t.\t{r}\t{a}\t50\t.\t.\tGT:GQ\t{gt}:60"
            for (c, p, r, a), gt in zip(SITES, CALLS, strict=True)
            if gt
        ],
    )


def variants_only(path: Path) -> Path:
    return write_vcf(
        path,
        [
            f"{c}\t{p}\t.\t{r}\t{a}\t50\t.\t.\tGT:GQ\t{gt}:60"
            for (c, p, r, a), gt in zip(SITES, CALLS, strict=True)
            if gt and gt != "0/0"
        ],
    )


def gvcf_of_the_same_patient(path: Path) -> Path:
    """GATK style: variant sites with <NON_REF>, reference blocks with END between them, a gap at 5000."""
    records = []
    start = {"chr1": 500, "chr2": 5500}
    for (c, p, r, a), gt in zip(SITES, CALLS, strict=True):
        if gt is None:  # not sequenced: the block stops before it and restarts after
            records.append(f"{c}\t{start[c]}\t.\tN\t<NON_REF>\t.\t.\tEND={p - 1}\tGT:DP:GQ:MIN_DP\t0/0:30:45:22")
            start[c] = p + 1
        elif gt != "0/0":
            if start[c] < p:
                records.append(f"{c}\t{start[c]}\t.\tN\t<NON_REF>\t.\t.\tEND={p - 1}\tGT:DP:GQ:MIN_DP\t0/0:30:45:22")
            records.append(f"{c}\t{p}\t.\t{r}\t{a},<NON_REF>\t50\t.\t.\tGT:DP:GQ\t{gt}:30:60")
            start[c] = p + 1
    for c in start:
        records.append(f"{c}\t{start[c]}\t.\tN\t<NON_REF>\t.\t.\tEND={start[c] + 500}\tGT:DP:GQ:MIN_DP\t0/0:30:45:22")
    records.sort(key=lambda rec: (rec.split("\t")[0], int(rec.split("\t")[1])))
    return write_vcf(path, records)


def lab_bed(path: Path) -> Path:
    # Sequenced around every schema site but position 5000 ([500, 4999) ends at 4999, [5000, 5500) starts at 5001).
    return write_bed(path, ["chr1\t500\t4999", "chr1\t5000\t5500", "chr2\t5500\t8000"])


def through_intake(vcf: Path, out: Path, sample: str = "S1") -> Path:
    """Validate and normalise as genorisk.intake does."""
    report = validate_vcf(vcf, genome_build="GRCh38", require_samples=[sample])
    normalize_vcf(vcf, out, validation=report)
    return out


def values(frame: pd.DataFrame) -> list[float]:
    return frame.iloc[0, : len(SITES)].astype(float).tolist()


def test_variants_only_vcf_alone_reads_absent_sites_as_missing(tmp_path):
    vcf = variants_only(tmp_path / "v.vcf.gz")
    schema = dosage_schema(SITES)
    frame, coverage = patient_features(vcf, "S1", schema, {})
    assert np.array_equal(values(frame), [1.0, np.nan, 2.0, np.nan, np.nan, np.nan, 1.0], equal_nan=True)
    assert coverage["n_missing"] == 4 and coverage["n_reference_filled"] == 0
    assert coverage["reference_source"] is None
    # callable_regions=None is the same call as before the parameter existed.
    again, coverage_again = patient_features(vcf, "S1", schema, {}, callable_regions=None)
    pd.testing.assert_frame_equal(frame, again)
    assert coverage == coverage_again


def test_variants_only_vcf_with_a_bed(tmp_path):
    vcf = variants_only(tmp_path / "v.vcf.gz")
    regions = read_callable_bed(lab_bed(tmp_path / "c.bed"), genome_build="GRCh38")
    frame, coverage = patient_features(vcf, "S1", dosage_schema(SITES), {}, callable_regions=regions)
    assert np.array_equal(values(frame), EXPECTED, equal_nan=True)  # hom-ref inside, missing at 5000
    assert coverage["n_reference_filled"] == 3 and coverage["n_missing"] == 1
    assert coverage["reference_source"] == "bed" and coverage["coverage"] == pytest.approx(6 / 7)
    assert coverage["call_rate"] == 1.0


def test_gvcf_fills_only_over_passing_blocks(tmp_path):
    gvcf = through_intake(gvcf_of_the_same_patient(tmp_path / "p.g.vcf.gz"), tmp_path / "norm.vcf.gz")
    regions = patient_callable_regions(gvcf, "S1", genome_build="GRCh38")
    assert regions is not None and regions.source == "gvcf"
    frame, coverage = patient_features(gvcf, "S1", dosage_schema(SITES), {}, callable_regions=regions)
    assert np.array_equal(values(frame), EXPECTED, equal_nan=True)
    assert coverage["n_reference_filled"] == 3 and coverage["reference_source"] == "gvcf"
    # Blocks of GQ 45 fail a minimum of 50: the hom-ref sites are missing again.
    strict = patient_callable_regions(gvcf, "S1", min_gq=50)
    frame, coverage = patient_features(gvcf, "S1", dosage_schema(SITES), {}, callable_regions=strict)
    assert np.array_equal(values(frame), [1.0, np.nan, 2.0, np.nan, np.nan, np.nan, 1.0], equal_nan=True)
    assert coverage["n_reference_filled"] == 0 and coverage["n_missing"] == 4


def test_full_calls_variants_only_with_bed_and_gvcf_agree(tmp_path):
    """The same patient three ways: the same dosages, score and burden, and the same coverage."""
    schema = dosage_schema(SITES, pgs=True, burden=True)
    full = through_intake(full_calls(tmp_path / "full.vcf.gz"), tmp_path / "full.norm.vcf.gz")
    v_only = through_intake(variants_only(tmp_path / "v.vcf.gz"), tmp_path / "v.norm.vcf.gz")
    gvcf = through_intake(gvcf_of_the_same_patient(tmp_path / "p.g.vcf.gz"), tmp_path / "g.norm.vcf.gz")
    bed = lab_bed(tmp_path / "c.bed")
    runs = {
        "full": patient_features(
            full, "S1", schema, {}, callable_regions=patient_callable_regions(full, "S1", genome_build="GRCh38")
        ),
        "bed": patient_features(
            v_only,
            "S1",
            schema,
            {},
            callable_regions=patient_callable_regions(v_only, "S1", bed=bed, genome_build="GRCh38"),
        ),
        "gvcf": patient_features(
            gvcf, "S1", schema, {}, callable_regions=patient_callable_regions(gvcf, "S1", genome_build="GRCh38")
        ),
    }
    assert runs["full"][1]["reference_source"] is None  # no blocks, no BED
    frame = runs["full"][0]
    assert np.array_equal(values(frame), EXPECTED, equal_nan=True)
    # PGS: the missing site gets 2 * cohort_af; burden sums the called dosages.
    weights = 0.1 * np.arange(1, len(SITES) + 1)
    assert frame["pgs_T1"].iloc[0] == pytest.approx(np.nansum(weights * np.nan_to_num(EXPECTED, nan=0.5)))
    assert frame["burden_G1"].iloc[0] == 4.0
    for name in ("bed", "gvcf"):
        pd.testing.assert_frame_equal(runs[name][0], frame)
        for key in ("n_missing", "coverage", "call_rate", "polygenic_scores"):
            assert runs[name][1][key] == runs["full"][1][key], (name, key)


def test_another_allele_or_a_no_call_inside_the_regions_stays_as_the_vcf_says(tmp_path):
    vcf = write_vcf(
        tmp_path / "v.vcf.gz",
        [
            "chr1\t1000\t.\tA\tT\t50\t.\t.\tGT\t0/1",  # the schema wants A>G here
            "chr1\t1998\t.\tGACC\tG\t50\t.\t.\tGT\t1/1",  # deletion over 2000
            "chr1\t3000\t.\tG\tA\t50\t.\t.\tGT\t./.",  # the schema allele, uncalled
        ],
    )
    regions = read_callable_bed(lab_bed(tmp_path / "c.bed"), genome_build="GRCh38")
    frame, coverage = patient_features(vcf, "S1", dosage_schema(SITES[:4]), {}, callable_regions=regions)
    assert np.array_equal(frame.iloc[0].tolist(), [np.nan, np.nan, np.nan, 0.0], equal_nan=True)
    assert coverage["n_reference_filled"] == 1 and coverage["n_missing"] == 2 and coverage["n_uncalled"] == 1


# ---------------------------------------------------------------------------
# Real gVCFs from the peer corpus
# ---------------------------------------------------------------------------


def test_real_gatk_gvcf_through_validation_normalisation_and_features(tmp_path):
    """HG00187 (hail's GATK HaplotypeCaller chr22 excerpt): 960 blocks, 40 variant sites with <NON_REF>."""
    norm = through_intake(HAIL_GVCF, tmp_path / "norm.vcf.gz", "HG00187")
    lines = subprocess.run(
        ["bcftools", "view", "-H", str(norm)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # A G,<NON_REF> 0/1 -> a biallelic A G 0/1 record (plus the split-off <NON_REF> record); blocks kept with END.
    assert any(
        ln.split("\t")[1:5] == ["10678964", ".", "A", "G"] and ln.endswith("\t0/1:14,3:17:34:34,0,384:6,8,2,1")
        for ln in lines
    )
    assert sum("\t<NON_REF>\t" in ln and "END=" in ln for ln in lines) == 960
    blocks = patient_callable_regions(norm, "HG00187", genome_build="GRCh38")
    original = gvcf_reference_blocks(HAIL_GVCF, "HG00187", genome_build="GRCh38")
    assert blocks is not None and original is not None and blocks.n_bp == original.n_bp == 983
    sites = [
        ("chr22", 10678964, "A", "G"),  # variant 0/1
        ("chr22", 10685603, "T", "C"),  # T C,G,<NON_REF> 0/2: C absent from the genotype
        ("chr22", 10685603, "T", "G"),  # ... and G once
        ("chr22", 10678964, "A", "T"),  # another allele at a variant site: the VCF's word stands
        ("chr22", 10571580, "A", "G"),  # inside a GQ 3 block: missing
        ("chr22", 10510001, "G", "A"),  # GQ 0 block: missing
    ]
    passing = subprocess.run(
        ["bcftools", "query", "-i", 'ALT="<NON_REF>" && FMT/GQ>=20', "-f", "%POS\t%END\t%REF\n", str(HAIL_GVCF)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    block_pos, block_end, block_ref = int(passing[0]), int(passing[1]), passing[2]
    sites.append(("chr22", block_pos, block_ref, "C" if block_ref != "C" else "T"))  # first base of a good block
    sites.append(("22", block_end, "A", "C"))  # last base of that block, other contig spelling
    frame, coverage = patient_features(norm, "HG00187", dosage_schema(sites), {}, callable_regions=blocks)
    assert np.array_equal(frame.iloc[0].tolist(), [1.0, 0.0, 1.0, np.nan, np.nan, np.nan, 0.0, 0.0], equal_nan=True)
    assert coverage["n_reference_filled"] == 2 and coverage["n_missing"] == 3
    assert coverage["reference_source"] == "gvcf"


def test_pharmcat_block_without_gq(tmp_path):
    report = validate_vcf(PHARMCAT_GVCF, genome_build="GRCh38")
    assert report.counts["reference_blocks"] == 1
    norm = tmp_path / "norm.vcf.gz"
    normalize_vcf(PHARMCAT_GVCF, norm, validation=report)  # declares the undeclared INFO/END
    for path in (PHARMCAT_GVCF, norm):
        no_gq = gvcf_reference_blocks(path, "Sample_1")
        assert no_gq is not None and no_gq.n_regions == 0  # a gVCF, but no GQ: nothing passes GQ >= 20
        loose = gvcf_reference_blocks(path, "Sample_1", min_gq=0)
        assert loose is not None and loose.n_bp == 223456 - 123456 + 1
        assert loose.contains("chr1", np.array([123455, 123456, 223456, 223457])).tolist() == [
            False,
            True,
            True,
            False,
        ]


# ---------------------------------------------------------------------------
# Several samples of one file
# ---------------------------------------------------------------------------


def test_many_samples_read_together_equal_each_sample_alone(tmp_path):
    """A two-sample gVCF (as ``bcftools merge -g`` writes): sites, blocks and features per sample as if alone."""
    from genorisk.callable import non_reference_sites_many, samples_callable_regions
    from genorisk.features.patient import batch_patient_features

    records = [
        "chr1\t500\t.\tN\t<NON_REF>\t.\t.\tEND=999\tGT:GQ\t0/0:50\t0/0:50",
        "chr1\t1000\t.\tA\tG,<NON_REF>\t50\t.\t.\tGT:GQ\t0/1:60\t0/0:60",  # S2 hom-ref at a variant site
        "chr1\t1001\t.\tN\t<NON_REF>\t.\t.\tEND=2999\tGT:GQ\t0/0:50\t./.:0",  # S2: no call over 2000
        "chr1\t3000\t.\tGTT\tG,<NON_REF>\t50\t.\t.\tGT:GQ\t0/0:60\t0/1:60",  # S2's deletion covers 3001, 3002
        "chr1\t3003\t.\tN\t<NON_REF>\t.\t.\tEND=4999\tGT:GQ\t0/0:10\t0/0:50",  # S1's block fails GQ 20
    ]
    plain = tmp_path / "two.g.vcf"
    plain.write_text("\n".join([*HEADER[:-1], HEADER[-1] + "\tS2", *records]) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    two = tmp_path / "two.g.vcf.gz"
    subprocess.run(["tabix", "-f", "-p", "vcf", str(two)], check=True)
    norm = through_intake(two, tmp_path / "two.norm.vcf.gz", sample="S2")
    sites = np.array([800, 1000, 2000, 3001, 3002, 3500, 4500, 6000])
    together = non_reference_sites_many(norm, ["S1", "S2"], ["chr1"] * len(sites), sites)
    for j, sample in enumerate(["S1", "S2"]):
        assert together[:, j].tolist() == non_reference_sites(norm, sample, ["chr1"] * len(sites), sites).tolist()
    assert together[:, 0].tolist() != together[:, 1].tolist()
    regions = samples_callable_regions(norm, ["S1", "S2", "S1"], [None, None, None], genome_build="GRCh38")
    for got, sample in zip(regions, ["S1", "S2", "S1"], strict=True):
        alone = patient_callable_regions(norm, sample, genome_build="GRCh38")
        assert got is not None and alone is not None and repr(got) == repr(alone)
    schema = dosage_schema([("chr1", int(p), "A", "G") for p in sites], pgs=True, burden=True)
    frame, coverage = batch_patient_features(norm, ["S1", "S2"], schema, [{}, {}], callable_regions=regions[:2])
    for j, sample in enumerate(["S1", "S2"]):
        alone, alone_coverage = patient_features(norm, sample, schema, {}, callable_regions=regions[j])
        pd.testing.assert_frame_equal(frame.iloc[[j]], alone, check_exact=True)
        assert coverage[j] == alone_coverage
    assert coverage[0]["n_reference_filled"] != coverage[1]["n_reference_filled"]


def test_a_file_without_reference_blocks_is_not_read_for_callable_regions(tmp_path):
    from genorisk.callable import samples_callable_regions

    bed = write_bed(tmp_path / "lab.bed", ["chr1\t0\t10000"])
    other = write_bed(tmp_path / "other.bed", ["chr2\t0\t10000"])
    # reference_blocks=0 (the validation report's count): the VCF is not opened, so a missing path does not matter.
    regions = samples_callable_regions(
        tmp_path / "absent.vcf.gz", ["A", "B", "C", "D"], [bed, None, bed, other], reference_blocks=0
    )
    assert regions[0] is regions[2] and regions[1] is None and regions[3] is not regions[0]
    assert regions[0].source == "bed" and regions[3].contains("chr2", np.array([5]))[0]
    with pytest.raises(InputError, match="cannot read the header"):  # None: unknown, so the file is read
        samples_callable_regions(tmp_path / "absent.vcf.gz", ["A"], [bed])
