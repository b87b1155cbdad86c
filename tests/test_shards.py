"""Genome shards: a single VCF split by chromosome through its index, PLINK/BGEN inputs per chromosome,
region chunks (cohort.shard_mb), and that the gathers give the same results from chunks as from whole
chromosomes. Real files: bgzip/tabix, bcftools and plink2; no mocks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.config import VcfPart, cohort_vcf_parts
from genorisk.errors import InputError
from genorisk.features.variant_stats import gather_dosage_selection, open_store_part, part_variant_stats
from genorisk.store import convert_to_store
from genorisk.store.shards import GenomeShard, cohort_shards, plan_shards, write_shard
from genorisk.vcf import normalize_vcf, validate_vcf

PLINK2 = shutil.which("plink2")
# The per-shard rules' wildcard constraint (workflow/rules/common.smk).
PART_RE = re.compile(r"cohort(\.[A-Za-z0-9_]+)?")
GRCH38 = {"chr21": 46709983, "chr22": 50818468}


def write_vcf(path: Path, records: list[tuple[str, int]], *, n_samples: int = 60, seed: int = 1,
              declared: tuple[str, ...] = ("chr21", "chr22")) -> Path:  # fmt: skip
    """A bgzipped, indexed VCF with random GT at ``records`` (CHROM, POS), contigs ``declared`` in the header."""
    rng = np.random.default_rng(seed)
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines += [f"##contig=<ID={c},length={GRCH38[c]}>" for c in declared]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
                           + [f"S{i:03d}" for i in range(n_samples)]))  # fmt: skip
    for chrom, pos in records:
        af = rng.uniform(0.05, 0.5)
        gts = rng.binomial(1, af, size=(n_samples, 2))
        cells = [f"{a}/{b}" for a, b in gts]
        lines.append("\t".join([chrom, str(pos), ".", "A", "G", ".", "PASS", ".", "GT", *cells]))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return path


def spread(chrom: str, n: int, first: int, last: int) -> list[tuple[str, int]]:
    return [(chrom, int(p)) for p in np.linspace(first, last, n).astype(int)]


@pytest.fixture(scope="module")
def two_chrom_vcf(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    records = spread("chr21", 300, 12_000_000, 46_000_000) + spread("chr22", 200, 16_000_000, 50_000_000)
    return write_vcf(out / "cohort.vcf.gz", records)


def test_a_single_indexed_vcf_is_one_part_per_contig_with_records(two_chrom_vcf, tmp_path):
    parts = cohort_vcf_parts({"vcf": str(two_chrom_vcf)})
    assert parts == {
        "cohort.chr21": VcfPart(str(two_chrom_vcf), "chr21"),
        "cohort.chr22": VcfPart(str(two_chrom_vcf), "chr22"),
    }
    # A contig declared in the header but without records is no part.
    only21 = write_vcf(tmp_path / "only21.vcf.gz", spread("chr21", 5, 1_000, 5_000))
    assert list(cohort_vcf_parts({"vcf": str(only21)})) == ["cohort.chr21"]
    # Without an index the file is one part (validated and normalised as a whole).
    unindexed = tmp_path / "unindexed.vcf.gz"
    shutil.copy(two_chrom_vcf, unindexed)
    assert cohort_vcf_parts({"vcf": str(unindexed)}) == {"cohort": VcfPart(str(unindexed))}
    # The demo's simulated VCF: its contigs come from the simulation, before the file exists.
    sim = cohort_vcf_parts({"vcf": "sim/cohort.vcf.gz"}, simulated_chroms=["chr21", "chrX"])
    assert sim == {"cohort.chr21": VcfPart("sim/cohort.vcf.gz", "chr21"),
                   "cohort.chrX": VcfPart("sim/cohort.vcf.gz", "chrX")}  # fmt: skip
    assert all(PART_RE.fullmatch(p) for p in [*parts, *sim])


def test_validation_and_normalisation_of_a_region_see_the_header_and_only_its_records(two_chrom_vcf, tmp_path):
    whole = validate_vcf(two_chrom_vcf, genome_build="GRCh38", require_records=True)
    regions = {c: validate_vcf(two_chrom_vcf, genome_build="GRCh38", require_records=True, region=c)
               for c in ("chr21", "chr22")}  # fmt: skip
    assert {c: r.n_records for c, r in regions.items()} == {"chr21": 300, "chr22": 200}
    assert all(r.samples == whole.samples for r in regions.values())  # the header was read
    assert sum(r.n_records for r in regions.values()) == whole.n_records
    outs = []
    for chrom, report in regions.items():
        out = tmp_path / f"{chrom}.vcf.gz"
        counts = normalize_vcf(two_chrom_vcf, out, validation=report.to_dict(), region=chrom)
        assert counts["records_in"] == counts["records_out"] == report.n_records
        outs.append(out)
    full = tmp_path / "full.vcf.gz"
    normalize_vcf(two_chrom_vcf, full, validation=whole.to_dict())

    def body(paths):
        return [ln for p in paths for ln in subprocess.run(["bcftools", "view", "-H", str(p)], capture_output=True,
                                                           text=True, check=True).stdout.splitlines()]  # fmt: skip

    assert body(outs) == body([full])


def test_a_region_of_a_contig_the_header_does_not_declare_is_named(tmp_path):
    vcf = write_vcf(tmp_path / "undeclared.vcf.gz", spread("chr21", 5, 1_000, 5_000) + spread("chr22", 3, 1_000, 3_000),
                    declared=("chr21",))  # fmt: skip
    assert list(cohort_vcf_parts({"vcf": str(vcf)})) == ["cohort.chr21", "cohort.chr22"]
    assert validate_vcf(vcf, genome_build="GRCh38", region="chr21").n_records == 5
    # The region's validation read the header: its first record is refused, named by region and position.
    with pytest.raises(InputError, match=r"record 1 of chr22 \(chr22:1000\).*not among the 1 ##contig lines"):
        validate_vcf(vcf, genome_build="GRCh38", region="chr22")
    # A region of a file without an index is refused, naming the file.
    plain = tmp_path / "plain.vcf"
    subprocess.run(f"bgzip -dc {vcf} > {plain}", shell=True, check=True)
    with pytest.raises(InputError, match="plain.vcf.*index"):
        validate_vcf(plain, genome_build="GRCh38", region="chr21")


def test_two_inputs_with_the_same_chromosome_are_still_refused(two_chrom_vcf, tmp_path):
    other = write_vcf(tmp_path / "again21.vcf.gz", spread("chr21", 5, 1_000, 5_000))
    parts = cohort_vcf_parts({"vcfs": [str(two_chrom_vcf), str(other)]})
    with pytest.raises(InputError, match="chromosome chr21 is also in part cohort.part01"):
        cohort_shards("vcfs", parts, {}, build="GRCh38", shard_mb=None)
    with pytest.raises(InputError, match="chromosome 21 is also in part a"):
        plan_shards({"a": ["chr21"], "b": ["21"]})


def test_chunks_follow_the_build_length_and_skip_empty_regions(two_chrom_vcf):
    parts = cohort_vcf_parts({"vcf": str(two_chrom_vcf)})
    whole = cohort_shards("vcf", parts, {}, build="GRCh38", shard_mb=None)
    assert whole == [GenomeShard("cohort.chr21", "cohort.chr21", "chr21"),
                     GenomeShard("cohort.chr22", "cohort.chr22", "chr22")]  # fmt: skip
    chunks = cohort_shards("vcf", parts, {}, build="GRCh38", shard_mb=10)
    assert all(PART_RE.fullmatch(s.name) for s in chunks)
    by_chrom = {c: [(s.start, s.end) for s in chunks if s.chrom == c] for c in ("chr21", "chr22")}
    # chr21: records from 12 Mb, so 0-10 Mb (empty) joins the first full chunk; chr22 from 16 Mb.
    assert by_chrom["chr21"] == [(1, 20_000_000), (20_000_001, 30_000_000), (30_000_001, 40_000_000),
                                 (40_000_001, 2**31 - 2)]  # fmt: skip
    assert by_chrom["chr22"] == [(1, 20_000_000), (20_000_001, 30_000_000), (30_000_001, 40_000_000),
                                 (40_000_001, 2**31 - 2)]  # fmt: skip
    # The demo's simulated segment: chunks over the segment only (known before the file exists).
    sim = cohort_shards("vcf", {"cohort.chr21": ("s.vcf.gz", "chr21")}, {}, build="GRCh38", shard_mb=2,
                        simulated={"chr21": (25_000_001, 33_000_000)})  # fmt: skip
    assert [(s.name, s.start) for s in sim][:2] == [("cohort.chr21_c000", 1), ("cohort.chr21_c001", 27_000_001)]
    assert len(sim) == 4 and sim[-1].end == 2**31 - 2


@pytest.mark.skipif(PLINK2 is None, reason="plink2 is needed")
def test_chunks_give_the_same_genotypes_and_dosage_selection_as_whole_chromosomes(two_chrom_vcf, tmp_path):
    prefixes = convert_to_store(two_chrom_vcf, tmp_path / "part", build="GRCh38")
    (tmp_path / "part/part.json").write_text(json.dumps({"chromosomes": {c: p.name for c, p in prefixes.items()}}))
    parts = cohort_vcf_parts({"vcf": str(two_chrom_vcf)})
    chunks = cohort_shards("vcf", parts, {}, build="GRCh38", shard_mb=10)
    folders = []
    for shard in chunks:
        folders.append(write_shard(tmp_path / "part", tmp_path / shard.name, shard.chrom, shard.start, shard.end))
    views = [write_shard(tmp_path / "part", tmp_path / f"whole.{c}", c) for c in ("chr21", "chr22")]
    samples = [f"S{i:03d}" for i in range(60)]
    status = {s: int(i % 3 == 0) for i, s in enumerate(samples)}

    def read(folders):
        chunks = [c for f in folders for c in open_store_part(f).iter_chunks(samples=samples, chunk_size=50)]
        variants = pd.concat([c.variants for c in chunks], ignore_index=True)
        return variants, np.concatenate([c.dosages for c in chunks])

    # The chunks hold every variant of the chromosomes once, in order, with the same genotypes.
    (v_chunks, d_chunks), (v_whole, d_whole) = read(folders), read(views)
    pd.testing.assert_frame_equal(v_chunks, v_whole)
    np.testing.assert_array_equal(d_chunks, d_whole)
    assert len(v_whole) == 500

    labels = np.array([int(status[s]) for s in samples])
    kw = dict(labels=labels, n_folds=3, seed=1, keep_per_fold=25, min_maf=0.01, min_call_rate=0.9)

    def selection(folders):
        stats = [part_variant_stats(open_store_part(f), samples, **kw) for f in folders]
        return gather_dosage_selection(stats, chrom_order=["chr21", "chr22"])

    (sel_chunks, counts_chunks), (sel_whole, counts_whole) = selection(folders), selection(views)
    pd.testing.assert_frame_equal(sel_chunks, sel_whole)
    assert counts_chunks == counts_whole
    # A whole-chromosome view copies nothing: it links to the part's fileset.
    assert all(f.is_symlink() and f.resolve().parent == (tmp_path / "part").resolve() for f in views[0].glob("chr21.*"))


@pytest.mark.skipif(PLINK2 is None, reason="plink2 is needed")
def test_a_pfile_or_bgen_input_is_shared_out_per_chromosome(two_chrom_vcf, tmp_path):
    common = ["--threads", "1", "--memory", "700", "--silent"]
    subprocess.run([PLINK2, "--vcf", str(two_chrom_vcf), "--output-chr", "chrM", "--make-pgen",
                    "--out", str(tmp_path / "c"), *common], check=True)  # fmt: skip
    shards = cohort_shards("pfile", {}, {"pfile": str(tmp_path / "c")}, build="GRCh38", shard_mb=None)
    assert shards == [GenomeShard("cohort.chr21", "cohort", "chr21"), GenomeShard("cohort.chr22", "cohort", "chr22")]
    subprocess.run([PLINK2, "--pfile", str(tmp_path / "c"), "--make-bed", "--out", str(tmp_path / "c"), *common],
                   check=True)  # fmt: skip
    assert [s.name for s in cohort_shards("bfile", {}, {"bfile": str(tmp_path / "c")}, build=None, shard_mb=None)] \
        == ["cohort.21", "cohort.22"]  # PLINK 1 codes; the store spells them chr21 (GRCh38)  # fmt: skip
    # BGEN without a .bgi index: its chromosomes are not known before conversion, one shard.
    assert cohort_shards("bgen", {}, {"bgen": str(tmp_path / "none.bgen")}, build=None, shard_mb=5) == [
        GenomeShard("cohort", "cohort")
    ]
    chunks = cohort_shards("pfile", {}, {"pfile": str(tmp_path / "c")}, build="GRCh38", shard_mb=10)
    assert [s.name for s in chunks][:2] == ["cohort.chr21_c000", "cohort.chr21_c001"]
    assert {s.part for s in chunks} == {"cohort"}
