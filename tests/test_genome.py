"""The genome vocabulary (genorisk.genome): contig names, classes, PARs, regions, opening files."""

import gzip
import shutil
import subprocess

import pytest

from genorisk.errors import InputError
from genorisk.genome import (
    NON_AUTOSOMES,
    ContigMap,
    Region,
    canonical_contig,
    chromosome_class,
    contig_length,
    contig_lengths,
    in_par,
    is_autosome,
    normalize_build,
    open_text,
    par_regions,
    parse_region,
)


@pytest.mark.parametrize(
    "name, key",
    [
        ("chr1", "1"),
        ("1", "1"),
        ("CHR1", "1"),
        ("chr22", "22"),
        ("chrX", "X"),
        ("X", "X"),
        ("23", "X"),
        ("chr23", "X"),
        ("chrx", "X"),
        ("chrY", "Y"),
        ("24", "Y"),
        ("XY", "XY"),
        ("25", "XY"),
        ("chrXY", "XY"),
        ("chrM", "MT"),
        ("MT", "MT"),
        ("M", "MT"),
        ("26", "MT"),
        ("chrMT", "MT"),
        ("chrUn_GL000195v1", "Un_GL000195v1"),
        ("GL000207.1", "GL000207.1"),
        ("2L", "2L"),
    ],
)
def test_canonical_contig(name, key):
    assert canonical_contig(name) == key


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_contig_classes_for_both_builds(build):
    """Every contig of the build's table gets the class its name says."""
    lengths = contig_lengths(build)
    for n in range(1, 23):
        for name in (f"chr{n}", str(n)):
            assert chromosome_class(name) == "autosome" and is_autosome(name)
            assert name in lengths
    expected = {"chrX": "X", "X": "X", "chrY": "Y", "Y": "Y"}
    for name, cls in expected.items():
        assert chromosome_class(name) == cls and not is_autosome(name)
        assert name in lengths
    mito = [n for n in ("chrM", "MT") if n in lengths]
    assert mito and all(chromosome_class(n) == "MT" for n in mito)
    # Unplaced and decoy contigs hold diploid sequence: counted as autosomal.
    for name in lengths:
        if canonical_contig(name) not in NON_AUTOSOMES:
            assert chromosome_class(name) == "autosome"


def test_non_autosomes_and_plink_codes():
    assert {"X", "Y", "XY", "MT", "W", "Z"} == NON_AUTOSOMES
    assert [chromosome_class(c) for c in ("23", "24", "25", "26")] == ["X", "Y", "XY", "MT"]
    assert chromosome_class("W") == chromosome_class("chrZ") == "other"
    assert not is_autosome("Z")


def test_par_regions_both_builds():
    assert par_regions("GRCh37") == ((60_001, 2_699_520), (154_931_044, 155_260_560))
    assert par_regions("GRCh38") == ((10_001, 2_781_479), (155_701_383, 156_030_895))
    assert par_regions("hg19") == par_regions("b37") == par_regions("GRCh37")
    assert par_regions("hg38") == par_regions("GRCh38")
    assert par_regions(None) == par_regions("GRCh37") + par_regions("GRCh38")
    # The PARs end inside each build's chrX.
    for build in ("GRCh37", "GRCh38"):
        assert par_regions(build)[-1][1] <= contig_lengths(build)["chrX"]
    # Boundaries, 1-based inclusive.
    assert in_par(10_001, "GRCh38") and not in_par(10_000, "GRCh38")
    assert in_par(2_781_479, "GRCh38") and not in_par(2_781_480, "GRCh38")
    assert in_par(60_001, "GRCh37") and not in_par(60_000, "GRCh37")
    assert in_par(2_699_520, "GRCh37") and not in_par(2_699_521, "GRCh37")
    assert in_par(155_701_383, "GRCh38") and in_par(156_030_895, "GRCh38")
    assert in_par(154_931_044, "GRCh37") and in_par(155_260_560, "GRCh37")
    assert in_par(2_750_000) and not in_par(2_750_000, "GRCh37")  # unknown build: either build's PARs
    with pytest.raises(ValueError, match="unknown genome build"):
        par_regions("GRCh36")
    assert normalize_build("") is None


def test_contig_length_prefers_own_spelling():
    assert contig_length("GRCh37", "MT") == 16569  # b37 rCRS
    assert contig_length("GRCh37", "chrM") == 16571  # hg19 Yoruba mitogenome
    assert contig_length("GRCh38", "1") == contig_length("GRCh38", "chr1") == 248_956_422
    assert contig_length("GRCh38", "nope") is None


def test_contig_map():
    ref = ContigMap(["chr1", "chrX", "chrM", "chrUn_GL000195v1"])
    assert ref("1") == "chr1" and ref("chr1") == "chr1"
    assert ref("MT") == "chrM" and ref("M") == "chrM"
    assert ref("X") == "chrX" and ref("23") == "chrX"
    assert ref("2") is None
    assert ref.renaming(["1", "chrX", "MT"]) == {"1": "chr1", "MT": "chrM"}


@pytest.mark.parametrize(
    "text, region",
    [
        ("chr21", Region("chr21", 1, None)),
        ("21", Region("21", 1, None)),
        ("chr21:1,000-2,000", Region("chr21", 1000, 2000)),
        ("chr21:5-5", Region("chr21", 5, 5)),
        ("chr21:100", Region("chr21", 100, None)),  # htslib: START to the end of the contig
        (" chrX:10001-2781479 ", Region("chrX", 10001, 2781479)),
    ],
)
def test_parse_region(text, region):
    if region is None:
        with pytest.raises(ValueError):
            parse_region(text)
    else:
        assert parse_region(text) == region


@pytest.mark.parametrize("bad", ["", "chr1:", "chr1:a-b", "chr1:0-5", "chr1:10-5", "chr1:1-2-3", "chr 1"])
def test_parse_region_refuses(bad):
    with pytest.raises(ValueError, match="region"):
        parse_region(bad)


def test_region_contains_and_str():
    r = parse_region("chr2:10-20")
    assert r.contains("chr2", 10) and r.contains("chr2", 20)
    assert not r.contains("chr2", 21) and not r.contains("2", 15)
    assert str(r) == "chr2:10-20" and str(parse_region("chr2")) == "chr2"
    assert str(parse_region("chr2:7")) == "chr2:7-"
    assert parse_region(str(parse_region("chr2:7"))) == parse_region("chr2:7")


TEXT = "##fileformat=VCFv4.2\n#CHROM\tPOS\nchr1\t5\n"


def _variants(tmp_path):
    plain = tmp_path / "plain.vcf"
    plain.write_text(TEXT)
    gz = tmp_path / "plain_gzip.vcf.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(TEXT)
    files = [plain, gz]
    if shutil.which("bgzip"):
        bgz = tmp_path / "bgzf.vcf.gz"
        with open(bgz, "wb") as out:
            subprocess.run(["bgzip", "-c", str(plain)], stdout=out, check=True)
        files.append(bgz)
    return files


def test_open_text_plain_gzip_bgzip(tmp_path):
    files = _variants(tmp_path)
    assert len(files) == 3, "bgzip is part of the environment"
    for path in files:
        with open_text(path) as fh:
            assert fh.read() == TEXT
        with open_text(path, "rb") as fh:
            assert fh.read() == TEXT.encode()
        with open_text(path, "rb", threads=2) as fh:
            assert b"".join(fh) == TEXT.encode()
    with pytest.raises(ValueError):
        open_text(files[0], "w")


def test_open_text_reports_bgzip_failure(tmp_path):
    bad = tmp_path / "cut.vcf.gz"
    data = gzip.compress(TEXT.encode() * 1000)
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="bgzip -d failed"), open_text(bad, "rb", threads=1) as fh:
        fh.read()
