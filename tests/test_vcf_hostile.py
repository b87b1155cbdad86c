"""Hostile and broken input, made at test time: each case gets a clear InputError
(naming file, line or record, and problem) or a safe, documented handling.

Documented handling of sample names: ``validate_vcf`` accepts any name the VCF
specification allows except control characters (names with spaces, ``/``,
``..`` or ``<script>`` occur in real files, e.g. SnpEff's BAM-path sample names)
and counts the ones unusable as folder names in
``counts["path_unsafe_sample_names"]``; ``safe_sample_name`` refuses them, so a
stage that turns a sample name into a path must go through it.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pysam
import pytest

from genorisk.errors import InputError
from genorisk.vcf import safe_sample_name, validate_index, validate_vcf

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr21,length=46709983>\n"
    "##contig=<ID=chr22,length=50818468>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
)


def _vcf(path: Path, samples: list[str], rows: list[str], header: str = HEADER) -> Path:
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + ("\tFORMAT\t" + "\t".join(samples) if samples else "")
    path.write_text(header + cols + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(n: int, n_samples: int, chrom: str = "chr21", start: int = 10_000) -> list[str]:
    gts = ["0|0", "0|1", "1|0", "1|1"]
    return [
        f"{chrom}\t{start + 100 * i}\t.\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(gts[(i + j) % 4] for j in range(n_samples))
        for i in range(n)
    ]


def _bgzip_and_index(path: Path) -> Path:
    gz = Path(str(path) + ".gz")
    pysam.tabix_compress(str(path), str(gz), force=True)
    pysam.tabix_index(str(gz), preset="vcf", force=True)
    return gz


# ---------------------------------------------------------------------------
# Sample names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "a/b", "..", ".", "<script>alert(1)</script>", "P 01", "S²", "-rf", ".hidden", ""]
)
def test_unsafe_sample_names_never_become_paths(tmp_path, name):
    with pytest.raises(InputError) as err:
        safe_sample_name(name)
    assert repr(name) in str(err.value)
    if name:  # an empty name is refused by validate_vcf itself (see below)
        report = validate_vcf(_vcf(tmp_path / "x.vcf", ["OK1", name], _rows(2, 2)), genome_build="GRCh38")
        assert report.samples == ["OK1", name]
        assert report.counts["path_unsafe_sample_names"] == 1


@pytest.mark.parametrize("name", ["HG00096", "NA12878", "patient_01.v2", "P-7", "0042"])
def test_safe_sample_names_pass_unchanged(name):
    assert safe_sample_name(name) == name


def test_sample_name_with_control_character_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"x\.vcf: line 5: sample name 'A\\x1b\[31m' contains a control character"):
        validate_vcf(_vcf(tmp_path / "x.vcf", ["A\x1b[31m", "B"], _rows(1, 2)), genome_build="GRCh38")


def test_non_utf8_sample_name_is_refused_with_line_and_byte(tmp_path):
    path = tmp_path / "latin1.vcf"
    text = HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tJos\xe9\tB\n" + _rows(1, 2)[0] + "\n"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError) as err:
        validate_vcf(path, genome_build="GRCh38")
    assert "latin1.vcf: line 5: byte 50 is not valid utf-8 text (b'\\xe9')" in str(err.value)


def test_declared_non_utf8_encoding_is_read_with_a_warning(tmp_path):
    path = tmp_path / "cp1252.vcf"
    text = (
        HEADER
        + "##fileEncoding=windows-1252\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tJos\xe9\n"
        + _rows(1, 1)[0]
        + "\n"
    )
    path.write_bytes(text.encode("cp1252"))
    report = validate_vcf(path, genome_build="GRCh38")
    assert report.samples == ["José"]
    assert any("fileEncoding" in w for w in report.warnings)


def test_duplicate_sample_names_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"dup\.vcf: line 5: sample name 'P1' appears twice"):
        validate_vcf(_vcf(tmp_path / "dup.vcf", ["P1", "P2", "P1"], _rows(1, 3)), genome_build="GRCh38")


def test_empty_sample_name_from_trailing_tab_is_refused(tmp_path):
    with pytest.raises(InputError, match="sample column 3 has an empty name"):
        validate_vcf(_vcf(tmp_path / "t.vcf", ["P1", "P2", ""], _rows(1, 3)), genome_build="GRCh38")


def test_patient_vcf_lacking_the_sheet_sample(tmp_path):
    path = _vcf(tmp_path / "patient.vcf", ["PATIENT_A"], _rows(3, 1))
    assert validate_vcf(path, require_samples=["PATIENT_A"]).samples == ["PATIENT_A"]
    with pytest.raises(InputError) as err:
        validate_vcf(path, require_samples=["PATIENT_B"])
    assert str(err.value) == (
        f"{path}: line 5: sample 'PATIENT_B' named in the sample sheet is not in this VCF (samples: PATIENT_A)"
    )


# ---------------------------------------------------------------------------
# Truncated and mislabelled compression
# ---------------------------------------------------------------------------


def test_bgzip_cut_in_the_middle_is_refused(tmp_path):
    import random

    rng = random.Random(7)
    rows = [
        f"chr21\t{10_000 + i}\t.\tA\tG\t.\tPASS\t.\tGT\t"
        + "\t".join(rng.choice(["0|0", "0|1", "1|0", "1|1"]) for _ in range(200))
        for i in range(400)
    ]
    gz = _bgzip_and_index(_vcf(tmp_path / "c.vcf", [f"P{i}" for i in range(200)], rows))
    data = gz.read_bytes()
    assert len(data) > 20_000
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.vcf\.gz: BGZF end-of-file block missing"):
        validate_vcf(cut, genome_build="GRCh38", check_index=False)


def test_bgzip_missing_only_its_eof_block_is_refused(tmp_path):
    gz = _bgzip_and_index(_vcf(tmp_path / "c.vcf", ["P1"], _rows(10, 1)))
    cut = tmp_path / "noeof.vcf.gz"
    cut.write_bytes(gz.read_bytes()[:-28])  # whole blocks survive: a silent loss of records
    with pytest.raises(InputError, match="end-of-file block missing"):
        validate_vcf(cut, genome_build="GRCh38")


def test_plain_gzip_cut_short_is_refused(tmp_path):
    src = _vcf(tmp_path / "c.vcf", [f"P{i}" for i in range(100)], _rows(300, 100))
    gz = tmp_path / "plain.vcf.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    assert validate_vcf(gz, genome_build="GRCh38").compression == "gzip"
    cut = tmp_path / "plaincut.vcf.gz"
    cut.write_bytes(gz.read_bytes()[: gz.stat().st_size * 2 // 3])
    with pytest.raises(InputError, match=r"plaincut\.vcf\.gz: line \d+: compressed data is truncated or corrupt"):
        validate_vcf(cut, genome_build="GRCh38")


def test_truncated_bcf_is_refused(tmp_path):
    src = _vcf(tmp_path / "c.vcf", [f"P{i}" for i in range(100)], _rows(300, 100))
    bcf = tmp_path / "c.bcf"
    subprocess.run(["bcftools", "view", "-Ob", "-o", str(bcf), str(src)], check=True)
    assert validate_vcf(bcf, genome_build="GRCh38").n_records == 300
    cut = tmp_path / "cut.bcf"
    cut.write_bytes(bcf.read_bytes()[: bcf.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.bcf: BGZF end-of-file block missing"):
        validate_vcf(cut, genome_build="GRCh38")


def test_truncated_text_vcf_last_line_is_checked(tmp_path):
    path = _vcf(tmp_path / "c.vcf", ["P1", "P2"], _rows(3, 2))
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # "...\t1|1\n" -> "...\t1"
    report = validate_vcf(path, genome_build="GRCh38")  # "1" is a valid haploid call: a warning says why
    assert any("no newline" in w for w in report.warnings)
    path.write_bytes(data[:-2])  # "...\t1|"
    with pytest.raises(InputError, match=r"line 8 \(chr21:10200\): sample 'P2': GT '1\|' is not alleles"):
        validate_vcf(path, genome_build="GRCh38")


def test_zlib_stream_and_garbage_are_refused(tmp_path):
    import zlib

    z = tmp_path / "x.vcf.z"
    z.write_bytes(zlib.compress(b"##fileformat=VCFv4.2\n"))
    with pytest.raises(InputError, match="raw zlib stream"):
        validate_vcf(z)
    junk = tmp_path / "junk.vcf"
    junk.write_bytes(
        os.urandom(64).replace(b"\x1f", b"\x00").replace(b"BZh", b"xxx").replace(b"BCF", b"xxx").replace(b"x", b"y", 1)
        + b"\n"
    )
    with pytest.raises(InputError):
        validate_vcf(junk)


def test_bzip2_loads_with_a_warning(tmp_path):
    import bz2

    src = _vcf(tmp_path / "c.vcf", ["P1"], _rows(5, 1))
    b = tmp_path / "c.vcf.bz2"
    b.write_bytes(bz2.compress(src.read_bytes()))
    report = validate_vcf(b, genome_build="GRCh38")
    assert report.compression == "bzip2" and report.n_records == 5
    assert any("bgzip" in w for w in report.warnings)


def test_crlf_line_ends_load_with_a_warning(tmp_path):
    src = _vcf(tmp_path / "c.vcf", ["P1"], _rows(5, 1))
    src.write_bytes(src.read_bytes().replace(b"\n", b"\r\n"))
    report = validate_vcf(src, genome_build="GRCh38")
    assert report.n_records == 5 and any("CRLF" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("compress", "encode", "kind"),
    [
        (False, lambda text: b"\xef\xbb\xbf" + text.encode(), "UTF-8 byte-order mark"),
        (True, lambda text: b"\xef\xbb\xbf" + text.encode(), "UTF-8 byte-order mark"),
        (False, lambda text: text.encode("utf-16"), "UTF-16 byte-order mark"),  # "utf-16" writes FF FE first
    ],
)
def test_byte_order_mark_is_refused_by_name(tmp_path, compress, encode, kind):
    # htslib reads neither ("unknown file type"), so the file is refused, with words a person can act on.
    src = _vcf(tmp_path / "c.vcf", ["P1"], _rows(5, 1))
    data = encode(src.read_text())
    path = tmp_path / ("bom.vcf.gz" if compress else "bom.vcf")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(InputError, match=f"line 1: the file starts with a {kind}") as err:
        validate_vcf(path, genome_build="GRCh38")
    assert "byte-order mark" in str(err.value) and str(path) in str(err.value)


# ---------------------------------------------------------------------------
# Index files
# ---------------------------------------------------------------------------


def test_index_of_another_file_is_refused(tmp_path):
    a = _bgzip_and_index(_vcf(tmp_path / "a.vcf", ["P1"], _rows(50, 1, "chr21")))
    b = _bgzip_and_index(_vcf(tmp_path / "b.vcf", ["P1"], _rows(50, 1, "chr22")))
    assert validate_vcf(a, genome_build="GRCh38").index == str(a) + ".tbi"
    shutil.copy(str(a) + ".tbi", str(b) + ".tbi")  # a's index beside b
    with pytest.raises(
        InputError, match=r"b\.vcf\.gz\.tbi: index does not belong to b\.vcf\.gz: it has no entry for contig 'chr22'"
    ):
        validate_vcf(b, genome_build="GRCh38")


def test_index_of_same_contigs_but_other_records_is_refused(tmp_path):
    a = _bgzip_and_index(_vcf(tmp_path / "a.vcf", ["P1"], _rows(50, 1)))
    b = _bgzip_and_index(_vcf(tmp_path / "b.vcf", ["P1"], _rows(80, 1, start=20_000)))
    shutil.copy(str(a) + ".tbi", str(b) + ".tbi")
    with pytest.raises(
        InputError, match=r"index does not belong to b\.vcf\.gz: it finds 50 records on chr21, the file has 80"
    ):
        validate_index(str(b) + ".tbi")


def test_index_of_same_contigs_and_record_count_but_other_positions_is_refused(tmp_path):
    a = _bgzip_and_index(_vcf(tmp_path / "a.vcf", ["P1"], _rows(50, 1)))
    b = _bgzip_and_index(_vcf(tmp_path / "b.vcf", ["P1"], _rows(50, 1, start=9_000_000)))
    shutil.copy(str(a) + ".tbi", str(b) + ".tbi")
    with pytest.raises(
        InputError,
        match=r"b\.vcf\.gz\.tbi: index does not belong to b\.vcf\.gz: a region query for chr21:9000000 misses",
    ):
        validate_vcf(b, genome_build="GRCh38")


def test_index_older_than_its_file_warns_and_is_still_checked(tmp_path):
    a = _bgzip_and_index(_vcf(tmp_path / "a.vcf", ["P1"], _rows(50, 1)))
    idx = Path(str(a) + ".tbi")
    old = idx.stat().st_mtime - 3600
    os.utime(idx, (old, old))
    warnings = validate_index(idx)
    assert warnings == [f"{idx}: index is older than a.vcf.gz; checked it against the data anyway"]
    report = validate_vcf(a, genome_build="GRCh38")
    assert any("older" in w for w in report.warnings)


def test_index_that_is_not_an_index_is_refused(tmp_path):
    a = _bgzip_and_index(_vcf(tmp_path / "a.vcf", ["P1"], _rows(5, 1)))
    idx = Path(str(a) + ".tbi")
    idx.write_bytes(gzip.compress(b"not an index at all"))
    with pytest.raises(InputError, match=r"a\.vcf\.gz\.tbi: not a tabix or CSI index"):
        validate_vcf(a, genome_build="GRCh38")
    idx.write_bytes(b"plain bytes")
    with pytest.raises(InputError, match="not a BGZF-compressed index"):
        validate_index(idx)


def test_csi_named_tbi_is_refused(tmp_path):
    src = _vcf(tmp_path / "a.vcf", ["P1"], _rows(5, 1))
    gz = Path(str(src) + ".gz")
    pysam.tabix_compress(str(src), str(gz), force=True)
    pysam.tabix_index(str(gz), preset="vcf", force=True, csi=True)
    os.rename(str(gz) + ".csi", str(gz) + ".tbi")
    with pytest.raises(InputError, match="content is CSI but the name ends in .tbi"):
        validate_index(str(gz) + ".tbi")


# ---------------------------------------------------------------------------
# Contigs, empty and header-only files
# ---------------------------------------------------------------------------


def test_record_on_a_contig_missing_from_the_header(tmp_path):
    rows = _rows(2, 1) + _rows(1, 1, chrom="chr7")
    with pytest.raises(InputError, match=r"line 8 \(chr7:10000\): CHROM 'chr7' is not among the 2 ##contig lines"):
        validate_vcf(_vcf(tmp_path / "x.vcf", ["P1"], rows), genome_build="GRCh38")


def test_records_without_any_contig_lines_are_accepted(tmp_path):
    header = "##fileformat=VCFv4.2\n"
    report = validate_vcf(
        _vcf(tmp_path / "x.vcf", ["P1"], _rows(2, 1, chrom="chr3"), header=header), genome_build="GRCh38"
    )
    assert report.contigs == ["chr3"] and report.header_contigs == 0


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.vcf"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.vcf: file is empty \(0 bytes\)"):
        validate_vcf(empty)
    empty_gz = tmp_path / "empty.vcf.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    with pytest.raises(InputError, match="no VCF header"):
        validate_vcf(empty_gz)


def test_header_only_file_is_valid_but_not_a_cohort(tmp_path):
    """Decision: a header-only VCF is valid (n_records == 0; tools write them for
    empty regions); a stage that needs variants passes require_records=True."""
    path = _vcf(tmp_path / "h.vcf", ["P1", "P2"], [])
    report = validate_vcf(path, genome_build="GRCh38")
    assert report.n_records == 0 and report.samples == ["P1", "P2"] and report.warnings == []
    with pytest.raises(InputError, match=r"h\.vcf: the file has a header but no records"):
        validate_vcf(path, genome_build="GRCh38", require_records=True)


def test_header_without_chrom_line_is_refused(tmp_path):
    path = tmp_path / "h.vcf"
    path.write_text(HEADER)
    with pytest.raises(InputError, match="header ends without a #CHROM line"):
        validate_vcf(path)


def test_directory_and_missing_paths(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        validate_vcf(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        validate_vcf(tmp_path / "nope.vcf")


def test_chromosome_spelled_out_is_refused_in_any_mode(tmp_path):
    header = "##fileformat=VCFv4.2\n"
    path = _vcf(tmp_path / "x.vcf", ["P1"], _rows(1, 1, chrom="chromosome7"), header=header)
    for build in ("GRCh38", None):
        with pytest.raises(InputError, match="CHROM 'chromosome7' is neither chrN nor N"):
            validate_vcf(path, genome_build=build)


def test_records_are_checked_in_every_column(tmp_path):
    base = "chr21\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1"
    cases = {
        "chr21\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/1": "2 sample columns, the header declares 1",
        "chr21\t1e5\t.\tA\tG\t.\tPASS\t.\tGT\t0/1": "POS '1e5' is not a positive integer",
        "chr21\t0\t.\tA\tG\t.\tPASS\t.\tGT\t0/1": "POS 0 is allowed only for telomeric breakends",
        "chr21\t100\t.\tA\tG,\t.\tPASS\t.\tGT\t0/1": "empty or whitespace-containing allele",
        "chr21\t100\t.\tA\t<DEL\t.\tPASS\t.\tGT\t0/1": "not a valid symbolic allele",
        "chr21\t100\t.\tA\tG\t.\tPASS\tDP=1 2\tGT\t0/1": "INFO contains a space",
        "chr21\t100\t.\tA\tG\t.\tPASS\tDP=x\tGT\t0/1": "INFO DP value 'x' is not an Integer",
        "chr21\t100\t.\tA\tG\t.\t\t.\tGT\t0/1": "FILTER '' has an empty",
        "chr21\t100\trs 1\tA\tG\t.\tPASS\t.\tGT\t0/1": "ID 'rs 1' is empty or contains whitespace",
        "chr21 100 . A G . PASS . GT 0/1": (
            "1 tab-separated columns, a record needs at least 8 (spaces instead of tabs?)"
        ),
        base + "\n" + base: "duplicate record: identical to line 6",
        "chr21\t100\t.\tA\tG\t.\tPASS\t.\t.\t0/1": "FORMAT is '.' but sample columns hold values",
    }
    for i, (row, problem) in enumerate(cases.items()):
        path = _vcf(tmp_path / f"r{i}.vcf", ["P1"], row.split("\n"))
        with pytest.raises(InputError) as err:
            validate_vcf(path, genome_build="GRCh38")
        assert problem in str(err.value) and f"r{i}.vcf: line" in str(err.value), (row, str(err.value))


def test_more_sample_values_than_format_keys(tmp_path):
    row = "chr21\t100\t.\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(["0/1"] * 5 + ["0/1:35"] + ["1/1"] * 5)
    with pytest.raises(InputError, match=r"line 6 \(chr21:100\): sample 'P5' has 2 values for 1 FORMAT keys"):
        validate_vcf(_vcf(tmp_path / "x.vcf", [f"P{i}" for i in range(11)], [row]), genome_build="GRCh38")
