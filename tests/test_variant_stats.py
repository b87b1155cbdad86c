"""Dosage selection by genome part: per-part summaries and their gather select exactly what one pass selects.

A small simulated cohort is cut into three chromosomes (chr20/chr21/chr22,
by position), given an INFO R2, converted to a genotype store by plink2, and
summarised part by part (:mod:`genorisk.features.variant_stats`); the gather
is compared with ``select_dosage_variants(..., labels=...)`` on the whole
store: same alleles, order, frequencies, counts and dosages.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import simulate_small_cohort

from genorisk import genotypes
from genorisk.errors import InputError
from genorisk.features import cohort_features
from genorisk.features.variant_stats import (
    AlleleFrequencies,
    chunk_rows,
    gather_dosage_selection,
    part_variant_stats,
    read_part_variant_stats,
    store_part_source,
    write_part_variant_stats,
)
from genorisk.features.variants import select_dosage_variants
from genorisk.store import convert_to_store, write_manifest

KEYS = ["chrom", "pos", "ref", "alt"]
PARTS = [["chr20"], ["chr21", "chr22"]]


@pytest.fixture(scope="module")
def three_chrom_store(tmp_path_factory):
    """The simulated cohort as a chr20/chr21/chr22 store with INFO R2 (uniform 0-1, seed 5); its phenotypes."""
    if shutil.which("plink2") is None or shutil.which("bcftools") is None:
        pytest.skip("plink2 and bcftools needed")
    out = tmp_path_factory.mktemp("parts")
    vcf = simulate_small_cohort(out)
    rng = np.random.default_rng(5)
    lines = []
    with gzip.open(vcf, "rt") as fh:
        for line in fh:
            if line.startswith("##contig=<ID=chr21"):
                lines += [line.replace("chr21", c) for c in ("chr20", "chr21", "chr22")]
            elif line.startswith("#CHROM"):
                lines.append('##INFO=<ID=R2,Number=1,Type=Float,Description="imputation r2">\n')
                lines.append(line)
            elif line.startswith("#"):
                lines.append(line)
            else:
                fields = line.split("\t", 8)
                pos = int(fields[1])
                fields[0] = "chr20" if pos < 25_330_000 else "chr21" if pos < 25_660_000 else "chr22"
                fields[7] = f"R2={rng.uniform():.3f}"
                lines.append("\t".join(fields))
    plain = out / "three.vcf"
    plain.write_text("".join(lines))
    three = out / "three.vcf.gz"
    subprocess.run(["bcftools", "view", "-Oz", "-o", str(three), str(plain)], check=True)
    subprocess.run(["bcftools", "index", str(three)], check=True)
    phenotypes = pd.read_csv(out / "phenotypes.tsv", sep="\t", dtype={"sample_id": str}).set_index("sample_id")
    sex = {s: 1 if x == "male" else 2 for s, x in phenotypes["sex"].items()}
    prefixes = convert_to_store(three, out / "store", sex=sex, build="GRCh38")
    assert set(prefixes) == {"chr20", "chr21", "chr22"}
    manifest = write_manifest(out / "store" / "store.json", prefixes, sex=sex, contig_order=["chr20", "chr21", "chr22"])
    return manifest, phenotypes


def _arguments(phenotypes, n_folds=5, keep_per_fold=40, **kw):
    return {
        "labels": phenotypes["status"].to_numpy().astype(int),
        "n_folds": n_folds,
        "seed": 7,
        "keep_per_fold": keep_per_fold,
        "min_maf": 0.01,
        "min_call_rate": 0.95,
        "male": (phenotypes["sex"] == "male").to_numpy(),
        **kw,
    }


def _single_pass(manifest, phenotypes, **kw):
    return select_dosage_variants(manifest, list(phenotypes.index), chunk_size=300, **_arguments(phenotypes, **kw))


def _by_parts(manifest, phenotypes, folder, *, chunk_bytes=4 * 400 * 170, parts=PARTS, reverse=False, **kw):
    written = []
    for i, chroms in enumerate(parts):
        stats = write_part_variant_stats(
            store_part_source(manifest, chroms),
            folder / f"part{i}",
            list(phenotypes.index),
            chunk_bytes=chunk_bytes,
            **_arguments(phenotypes, **kw),
        )
        assert (folder / f"part{i}" / "candidates.parquet").exists() and not list(folder.glob(".part*"))
        written.append(stats)
    read = [read_part_variant_stats(folder / f"part{i}") for i in range(len(parts))]
    for a, b in zip(written, read, strict=True):
        pd.testing.assert_frame_equal(a.candidates, b.candidates)
        assert a.counts == b.counts and a.folds == b.folds
    if reverse:
        read = read[::-1]
    return read, gather_dosage_selection(
        read, chrom_order=["chr20", "chr21", "chr22"], min_info=kw.get("min_info"), source=manifest
    )


@pytest.mark.parametrize(
    ("n_folds", "keep_per_fold", "min_info", "n_excluded"),
    [(5, 40, None, 0), (3, 1, None, 0), (5, 12, 0.3, 0), (2, 25, None, 60), (5, 0, None, 0), (4, 100000, 0.5, 30)],
)
def test_parts_gather_equals_single_pass(three_chrom_store, tmp_path, n_folds, keep_per_fold, min_info, n_excluded):
    """Same alleles in the same order, same frequencies, counts and dosages; any part order and chunking."""
    manifest, phenotypes = three_chrom_store
    exclude = None
    if n_excluded:  # QC-excluded alleles, picked among passing ones so that they matter
        every, _, _, _ = _single_pass(manifest, phenotypes, n_folds=n_folds, keep_per_fold=100000)
        picked = every.sample(n_excluded, random_state=1)
        exclude = set(zip(picked["chrom"], picked["pos"].astype(int), picked["ref"], picked["alt"], strict=True))
    kw = {"n_folds": n_folds, "keep_per_fold": keep_per_fold, "min_info": min_info, "exclude": exclude}
    variants, dosages, allele_freqs, counts = _single_pass(manifest, phenotypes, **kw)
    parts, (gathered, gathered_counts) = _by_parts(manifest, phenotypes, tmp_path, reverse=True, **kw)
    pd.testing.assert_frame_equal(
        gathered.astype({"chrom": str, "ref": str, "alt": str}),
        variants.reset_index(drop=True).astype({"chrom": str, "ref": str, "alt": str}),
        check_exact=True,
    )
    assert list(gathered_counts.items()) == list(counts.items())  # the schema lists them in this order
    found, read = genotypes.read_dosages(
        manifest, gathered[KEYS], samples=list(phenotypes.index), male=_arguments(phenotypes)["male"], min_info=min_info
    )
    assert found["found"].all()
    np.testing.assert_array_equal(read.T, dosages)  # NaN where missing, bitwise otherwise
    merged = AlleleFrequencies(files=[f for p in parts for f in p.allele_freqs.files])
    np.testing.assert_array_equal(merged.lookup(allele_freqs[KEYS]), allele_freqs["af"].to_numpy())
    assert np.isnan(merged.lookup(pd.DataFrame({"chrom": ["chr1"], "pos": [5], "ref": ["A"], "alt": ["C"]}))).all()
    if keep_per_fold and keep_per_fold < counts["passed_filters"]:
        # Fewer candidates than passing alleles: the gather did not see the whole genome.
        assert sum(len(p.candidates) for p in parts) < counts["passed_filters"]


def test_ties_at_the_kth_place_are_kept_as_in_one_pass(three_chrom_store, tmp_path):
    """Identical genotype columns tie exactly; every k where a tie straddles the k-th place selects the same."""
    manifest, phenotypes = three_chrom_store
    part = part_variant_stats(
        store_part_source(manifest, ["chr20", "chr21", "chr22"]), list(phenotypes.index),
        **_arguments(phenotypes, keep_per_fold=100000),
    )  # fmt: skip
    final = part.candidates["stat_5"].to_numpy()
    ranked = np.sort(final)[::-1]
    tied_at = [k for k in range(1, 200) if ranked[k - 1] == ranked[k] and ranked[k] > 0]
    assert tied_at, "the simulated cohort has tied statistics near the top"
    for k in tied_at[:3]:
        variants, _, _, counts = _single_pass(manifest, phenotypes, keep_per_fold=k)
        _, (gathered, gathered_counts) = _by_parts(manifest, phenotypes, tmp_path / f"k{k}", keep_per_fold=k)
        assert gathered[KEYS].astype(str).equals(variants[KEYS].astype(str))
        assert gathered_counts == counts


def test_chunking_and_part_layout_do_not_change_the_statistics(three_chrom_store, tmp_path):
    """Candidates' statistics are bitwise equal for 7-row and 20,000-row chunks and for one or three parts."""
    manifest, phenotypes = three_chrom_store
    kw = _arguments(phenotypes, keep_per_fold=100000)
    samples = list(phenotypes.index)
    small = part_variant_stats(store_part_source(manifest, ["chr21"]), samples, chunk_bytes=4 * 400 * 7, **kw)
    whole = part_variant_stats(store_part_source(manifest, ["chr20", "chr21", "chr22"]), samples, **kw)
    in_whole = whole.candidates[whole.candidates["chrom"] == "chr21"].reset_index(drop=True)
    pd.testing.assert_frame_equal(small.candidates, in_whole, check_exact=True)
    assert chunk_rows(20000, 10_000) == 1677 and chunk_rows(20000, 400) == 20000 and chunk_rows(5, 10**9) == 1


def test_parts_of_other_labels_are_refused(three_chrom_store, tmp_path):
    manifest, phenotypes = three_chrom_store
    samples = list(phenotypes.index)
    a = part_variant_stats(store_part_source(manifest, ["chr20"]), samples, **_arguments(phenotypes))
    flipped = phenotypes.assign(status=1 - phenotypes["status"])
    b = part_variant_stats(store_part_source(manifest, ["chr21"]), samples, **_arguments(flipped))
    with pytest.raises(InputError, match="different samples, labels or folds"):
        gather_dosage_selection([a, b])
    with pytest.raises(InputError, match="not in the store"):
        store_part_source(manifest, ["chr9"])
    with pytest.raises(InputError, match="does not list"):
        gather_dosage_selection([a], chrom_order=["chr21"])


def test_cohort_features_from_part_folders_equals_one_pass(three_chrom_store, tmp_path):
    """cohort_features gathering part folders gives the features and schema of the one-pass selection."""
    manifest, phenotypes = three_chrom_store
    in_fold = {"n_folds": 5, "seed": 7, "keep_per_fold": 30}
    common = {"n_components": 2, "chunk_size": 300, "in_fold_selection": in_fold, "min_info": 0.2}
    parts, _ = _by_parts(manifest, phenotypes, tmp_path, **_arguments(phenotypes, keep_per_fold=30, min_info=0.2))
    folders = [tmp_path / f"part{i}" for i in range(len(PARTS))]
    features, schema = cohort_features(manifest, phenotypes, variant_stats=folders, **common)
    in_process, in_process_schema = cohort_features(manifest, phenotypes, **common)
    pd.testing.assert_frame_equal(features, in_process, check_exact=True)
    assert schema == in_process_schema
    variants, dosages, _, counts = _single_pass(manifest, phenotypes, keep_per_fold=30, min_info=0.2)
    dosage_names = [f["name"] for f in schema["features"] if f["kind"] == "dosage"]
    assert dosage_names == [f"v_{c}_{p}_{r}_{a}" for c, p, r, a in variants[KEYS].itertuples(index=False)]
    np.testing.assert_array_equal(features[dosage_names].to_numpy(), dosages)
    assert list(schema["dosage_selection"].items())[: len(counts)] == list(counts.items())


def test_part_statistics_of_a_fold_do_not_see_its_test_labels(three_chrom_store, tmp_path):
    """Swapping labels inside fold f's test rows leaves fold f's statistics and gathered candidates unchanged."""
    from genorisk.features.variants import within_allowance_of_top_k
    from genorisk.model.fold_stats import outer_folds

    manifest, phenotypes = three_chrom_store
    y = phenotypes["status"].to_numpy().astype(int)
    fold_of = outer_folds(y.astype(np.int8), 5, 7)
    f = 2
    swapped, i, n_swapped = y.copy(), 0, 0
    while i < len(y) - 1:  # adjacent test rows of fold f with different labels: the stratified folds stay
        if fold_of[i] == f and fold_of[i + 1] == f and y[i] != y[i + 1]:
            swapped[i], swapped[i + 1] = y[i + 1], y[i]
            n_swapped, i = n_swapped + 1, i + 2
        else:
            i += 1
    assert n_swapped >= 5
    np.testing.assert_array_equal(outer_folds(swapped.astype(np.int8), 5, 7), fold_of)

    def fold_selection(labels, name):
        parts, _ = _by_parts(manifest, phenotypes.assign(status=labels), tmp_path / name)
        table = pd.concat([p.candidates for p in parts], ignore_index=True)
        chosen = within_allowance_of_top_k(table[[f"stat_{f}"]].to_numpy(), 40)[:, 0]
        return table.loc[chosen, [*KEYS, f"stat_{f}"]].sort_values(KEYS).reset_index(drop=True), table

    before, all_before = fold_selection(y, "before")
    after, all_after = fold_selection(swapped, "after")
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    assert not all_after["stat_5"].equals(all_before["stat_5"])  # the all-rows ranking does see them


def test_stale_part_summaries_are_refused(three_chrom_store, tmp_path):
    """Summaries of other labels or another keep_per_fold than the features' are an error, not a silent mix."""
    manifest, phenotypes = three_chrom_store
    _by_parts(manifest, phenotypes, tmp_path, **_arguments(phenotypes, keep_per_fold=30))
    folders = [tmp_path / f"part{i}" for i in range(len(PARTS))]
    common = {"n_components": 0, "variant_stats": folders}
    with pytest.raises(InputError, match="stale summaries"):
        cohort_features(
            manifest, phenotypes, in_fold_selection={"n_folds": 5, "seed": 7, "keep_per_fold": 31}, **common
        )
    flipped = phenotypes.assign(status=1 - phenotypes["status"])
    with pytest.raises(InputError, match="stale summaries"):
        cohort_features(manifest, flipped, in_fold_selection={"n_folds": 5, "seed": 7, "keep_per_fold": 30}, **common)
