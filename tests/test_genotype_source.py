"""The genotype store as a genotype source: every cohort consumer gives the same result from the VCF and the store."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk import genotypes
from genorisk.errors import InputError
from genorisk.store import GenotypeStore, convert_to_store, open_store, write_manifest

pytestmark = pytest.mark.skipif(
    shutil.which("plink2") is None or shutil.which("bcftools") is None, reason="needs plink2 and bcftools"
)

N = 90
SAMPLES = [f"IND{i:03d}" for i in range(N)]
MALE = np.arange(N) % 3 == 0
SEX = {s: 1 if m else 2 for s, m in zip(SAMPLES, MALE, strict=True)}
BASES = "ACGT"


def _write_cohort(path: Path, seed: int = 11) -> pd.DataFrame:
    """chr21 (two populations, rare and common variants, missing and half-calls) and chrX (PAR1; haploid males).

    Returns the variant table (chrom, pos, ref, alt, id).
    """
    rng = np.random.default_rng(seed)
    pop = np.arange(N) % 2
    records = [("chr21", 9_000_000 + 97 * i) for i in range(500)]
    records += [("chrX", 100_000 + 11 * i) for i in range(8)]  # GRCh38 PAR1
    records += [("chrX", 5_000_000 + 13 * i) for i in range(40)]
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr21,length=46709983>",
        "##contig=<ID=chrX,length=156040895>",
        '##INFO=<ID=R2,Number=1,Type=Float,Description="Imputation r2">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES),
    ]
    table = []
    for i, (chrom, pos) in enumerate(records):
        ref = BASES[i % 4]
        alt = BASES[(i + 1 + i // 4 % 3) % 4]
        # Population-specific frequencies give the PCA something to find; a few rare variants feed the burden.
        if i % 10 == 0:
            p = np.full(N, 0.02)
        else:
            base = rng.uniform(0.05, 0.5)
            p = np.clip(base + (rng.uniform(-0.3, 0.3) if i % 2 else 0) * (2 * pop - 1), 0.01, 0.99)
        haploid_x = chrom == "chrX" and pos > 2_781_479
        cells = []
        for j in range(N):
            u = rng.random()
            if u < 0.02:
                cells.append("." if haploid_x and MALE[j] else "./.")
            elif u < 0.025 and not (haploid_x and MALE[j]):
                cells.append("0/.")
            elif haploid_x and MALE[j]:
                cells.append(str(int(rng.random() < p[j])))
            else:
                a, b = (rng.random(2) < p[j]).astype(int)
                cells.append(f"{a}/{b}")
        vid = f"rs{1000 + i}" if i % 3 == 0 else "."
        r2 = f"R2={rng.uniform(0, 1):.3f}"
        lines.append(f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t{r2}\tGT\t" + "\t".join(cells))
        table.append((chrom, pos, ref, alt, None if vid == "." else vid))
    plain = path.with_name(path.name.removesuffix(".gz"))
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["bcftools", "index", "-f", str(path)], check=True)
    return pd.DataFrame(table, columns=["chrom", "pos", "ref", "alt", "id"])


def _write_pgs(path: Path, variants: pd.DataFrame) -> Path:
    rng = np.random.default_rng(3)
    pick = variants.iloc[::7]
    lines = [
        "#pgs_id=PGS_TEST",
        "#genome_build=GRCh38",
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight",
    ]
    for k, v in enumerate(pick.itertuples(index=False)):
        effect, other = (v.alt, v.ref) if k % 3 else (v.ref, v.alt)  # REF effect alleles too
        lines.append(f"{v.chrom.removeprefix('chr')}\t{v.pos}\t{effect}\t{other}\t{rng.normal(0, 0.1):.5f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    d = tmp_path_factory.mktemp("source")
    vcf = d / "cohort.vcf.gz"
    variants = _write_cohort(vcf)
    prefixes = convert_to_store(vcf, d / "store", sex=SEX, build="GRCh38")
    manifest = write_manifest(d / "store" / "store.json", prefixes, info_key="R2")
    return d, vcf, manifest, variants


def _chunks(source, **kw):
    chunks = list(genotypes.iter_dosage_chunks(source, **kw))
    return (
        pd.concat([c.variants for c in chunks], ignore_index=True),
        np.concatenate([c.dosages for c in chunks]),
        np.concatenate([c.alt_allele_count for c in chunks]),
        np.concatenate([c.allele_number for c in chunks]),
        chunks,
    )


def test_manifest_format_and_order(cohort):
    d, _, manifest, _ = cohort
    data = json.loads(manifest.read_text())
    assert data["format"] == "genorisk.store/1"
    assert [c["chrom"] for c in data["chromosomes"]] == ["chr21", "chrX"]
    assert [c["prefix"] for c in data["chromosomes"]] == ["chr21", "chrX"]  # relative to the manifest's folder
    assert data["samples"] == SAMPLES and data["sex"] == [SEX[s] for s in SAMPLES] and data["info_key"] == "R2"
    store = open_store(manifest)
    assert isinstance(store, GenotypeStore) and store.prefix_of("21") == d / "store" / "chr21"
    assert genotypes.source_samples(manifest) == SAMPLES
    # Karyotypic order whatever order the mapping comes in; the input's contig order wins when given.
    prefixes = {"chrX": d / "store" / "chrX", "chr21": d / "store" / "chr21"}
    other = write_manifest(d / "b.store.json", prefixes)
    assert list(open_store(other).chroms) == ["chr21", "chrX"]
    other = write_manifest(d / "c.store.json", prefixes, contig_order=["chrX", "chr21"])
    assert list(open_store(other).chroms) == ["chrX", "chr21"]


def test_bad_manifest(tmp_path):
    bad = tmp_path / "store.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a store manifest"):
        open_store(bad)
    bad.write_text(
        json.dumps(
            {"format": "genorisk.store/1", "chromosomes": [{"chrom": "1", "prefix": "x"}], "samples": [], "sex": []}
        ).replace("}]", '}], "info_key": "R2"')
    )
    with pytest.raises(InputError, match=r"x\.pgen not found"):
        open_store(bad)


@pytest.mark.parametrize("male", [MALE, None], ids=["male", "no-male"])
def test_chunks_equal(cohort, male):
    _, vcf, manifest, _ = cohort
    want = _chunks(vcf, male=male, chunk_size=64)
    for source in (manifest, open_store(manifest)):
        got = _chunks(source, male=male, chunk_size=64)
        pd.testing.assert_frame_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])
        np.testing.assert_array_equal(got[3], want[3])
        # Chunks are cut across the chromosome boundary exactly as the VCF reader cuts them.
        assert [len(c.variants) for c in got[4]] == [len(c.variants) for c in want[4]]


def test_subset_regions_and_read_dosages(cohort):
    _, vcf, manifest, variants = cohort
    wanted = [SAMPLES[7], SAMPLES[0], SAMPLES[33], SAMPLES[3]]
    male = MALE[[7, 0, 33, 3]]
    regions = ["chrX:5000100-5000300", "chr21:9000500-9003000", "chr21:9002000-9004000"]  # overlap read twice
    want = _chunks(vcf, samples=wanted, male=male, regions=regions, chunk_size=5)
    got = _chunks(manifest, samples=wanted, male=male, regions=regions, chunk_size=5)
    pd.testing.assert_frame_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    keys = variants.iloc[[400, 3, 3, 520, 10]][["chrom", "pos", "ref", "alt"]].copy()
    keys.iloc[1, 0] = "21"  # either spelling matches
    absent = pd.DataFrame({"chrom": ["chr21", "chr2"], "pos": [1, 5], "ref": ["A", "C"], "alt": ["G", "T"]})
    keys = pd.concat([keys, absent], ignore_index=True)
    for kw in ({"samples": wanted, "male": male}, {}):
        want_found, want_dos = genotypes.read_dosages(vcf, keys, **kw)
        got_found, got_dos = genotypes.read_dosages(manifest, keys, **kw)
        pd.testing.assert_frame_equal(got_found, want_found)
        np.testing.assert_array_equal(got_dos, want_dos)
        assert got_dos.dtype == np.float32
    whole_v, whole_d = genotypes.read_dosages(manifest)
    np.testing.assert_array_equal(whole_d, genotypes.read_dosages(vcf)[1])


def test_min_info_filter_counts(cohort):
    _, vcf, manifest, _ = cohort
    counts_vcf: dict[str, int] = {}
    counts_store: dict[str, int] = {}
    want = _chunks(vcf, male=MALE, min_info=0.4, counts=counts_vcf, chunk_size=50)
    got = _chunks(manifest, male=MALE, min_info=0.4, counts=counts_store, chunk_size=50)
    pd.testing.assert_frame_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert counts_vcf == counts_store and 0 < counts_store["below_min_info"] < 548
    assert len(got[0]) + counts_store["below_min_info"] == 548
    keys = want[0][["chrom", "pos", "ref", "alt"]]
    found, _ = genotypes.read_dosages(manifest, keys, min_info=0.4)
    assert found["found"].all()
    with pytest.raises(ValueError, match="min_info"):
        next(genotypes.iter_dosage_chunks(vcf, min_info=0.4, engine="text"))


def test_select_dosage_variants_equal(cohort):
    from genorisk.features.variants import select_dosage_variants

    _, vcf, manifest, _ = cohort
    want = select_dosage_variants(vcf, SAMPLES, min_maf=0.05, min_call_rate=0.9, male=MALE, chunk_size=100)
    got = select_dosage_variants(manifest, SAMPLES, min_maf=0.05, min_call_rate=0.9, male=MALE, chunk_size=100)
    assert len(want) == len(got)
    for a, b in zip(got, want, strict=True):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


def test_compute_scores_equal(cohort, tmp_path):
    from genorisk.scores import compute_scores

    _, vcf, manifest, variants = cohort
    pgs = _write_pgs(tmp_path / "score.txt", variants)
    for male in (MALE, None):
        want = compute_scores(vcf, [pgs], male=male, chunk_size=33, min_match_rate=0.5)
        got = compute_scores(manifest, [pgs], male=male, chunk_size=33, min_match_rate=0.5)
        pd.testing.assert_frame_equal(got.sums, want.sums)
        pd.testing.assert_frame_equal(got.audit, want.audit)
        pd.testing.assert_frame_equal(got.summary, want.summary)
        assert want.summary["n_matched"].iat[0] > 50


def _annotation(variants: pd.DataFrame) -> pd.DataFrame:
    table = variants[["chrom", "pos", "ref", "alt"]].copy()
    n = len(table)
    table["gene"] = np.where(np.arange(n) % 2, "GENE_A", "GENE_B")
    table["population_af"] = np.nan
    table["consequence"] = np.where(np.arange(n) % 5 == 0, "missense", "synonymous")
    table["clinvar_significance"] = np.where(np.arange(n) % 20 == 0, "Pathogenic", None)
    return table


def test_burden_features_equal(cohort):
    from genorisk.features.cohort import burden_features

    _, vcf, manifest, variants = cohort
    table, _, ac, an, _ = _chunks(vcf, male=MALE)
    freqs = table[["chrom", "pos", "ref", "alt"]].assign(af=ac / an)
    annotation = _annotation(variants)
    want = burden_features(vcf, SAMPLES, annotation, freqs, max_af=0.05, min_carriers=1, male=MALE)
    got = burden_features(manifest, SAMPLES, annotation, freqs, max_af=0.05, min_carriers=1, male=MALE)
    assert want[1], "the cohort should give burden features"
    pd.testing.assert_frame_equal(got[0], want[0])
    assert got[1] == want[1]


@pytest.mark.integration
def test_fit_ancestry_equal(cohort):
    from genorisk.ancestry import cohort_scores, fit_ancestry, project_vcf

    _, vcf, manifest, _ = cohort
    kw = {"n_components": 3, "min_maf": 0.05, "ld_threshold": 0.5, "chunk_size": 128, "distance_pcs": 3}
    want = fit_ancestry(vcf, SAMPLES, **kw)
    got = fit_ancestry(manifest, SAMPLES, **kw)
    pd.testing.assert_frame_equal(got.variants, want.variants)
    np.testing.assert_allclose(cohort_scores(got), cohort_scores(want), atol=1e-6)
    np.testing.assert_allclose(got.loadings, want.loadings, atol=1e-6)
    assert got.fit_info == want.fit_info
    pd.testing.assert_frame_equal(project_vcf(got, manifest), project_vcf(want, vcf), atol=1e-6)


@pytest.mark.integration
def test_cohort_features_equal(cohort, tmp_path):
    from genorisk.features.cohort import cohort_features

    _, vcf, manifest, variants = cohort
    pgs = _write_pgs(tmp_path / "score.txt", variants)
    rng = np.random.default_rng(5)
    phenotypes = pd.DataFrame(
        {"sex": np.where(MALE, "male", "female"), "age": rng.uniform(30, 70, N).round(1)},
        index=pd.Index(SAMPLES, name="sample_id"),
    )
    kw = {
        "min_maf": 0.05,
        "min_call_rate": 0.9,
        "score_files": [pgs],
        "min_match_rate": 0.5,
        "annotation": _annotation(variants),
        "n_components": 3,
        "burden_max_af": 0.05,
        "burden_min_carriers": 1,
        "chunk_size": 100,
    }
    want_features, want_schema = cohort_features(vcf, phenotypes, **kw)
    got_features, got_schema = cohort_features(manifest, phenotypes, **kw)
    pd.testing.assert_frame_equal(got_features, want_features, atol=1e-6)
    kinds = {e["kind"] for e in got_schema["features"]}
    assert {"dosage", "pgs", "burden", "pc", "covariate"} <= kinds
    # PCs may differ in the last float32 bits; everything else is equal.
    assert json.dumps(got_schema, sort_keys=True, default=str) == json.dumps(want_schema, sort_keys=True, default=str)


@pytest.mark.integration
def test_imputation_filter_reaches_every_feature_kind(cohort, tmp_path):
    """features.min_info: no dosage, burden or score variant below R2 0.4; the count is in the schema."""
    from genorisk.features.cohort import cohort_features

    _, _, manifest, variants = cohort
    pgs = _write_pgs(tmp_path / "score.txt", variants)
    phenotypes = pd.DataFrame(
        {"sex": np.where(MALE, "male", "female"), "age": np.linspace(30, 70, N).round(1)},
        index=pd.Index(SAMPLES, name="sample_id"),
    )
    r2 = read_store_r2(manifest)
    kw = {
        "min_maf": 0.05,
        "min_call_rate": 0.9,
        "score_files": [pgs],
        "min_match_rate": 0.0,
        "annotation": _annotation(variants),
        "n_components": 0,
        "burden_max_af": 0.05,
        "burden_min_carriers": 1,
        "chunk_size": 100,
    }
    _, plain = cohort_features(manifest, phenotypes, **kw)
    _, filtered = cohort_features(manifest, phenotypes, min_info=0.4, info_key="R2", **kw)
    below = {k for k, v in r2.items() if v < 0.4}
    assert filtered["dosage_selection"]["below_min_info"] == len(below) > 0
    assert filtered["dosage_selection"]["min_info"] == 0.4
    for entry in filtered["features"]:
        d = entry["definition"]
        if entry["kind"] == "dosage":
            assert (d["chrom"], d["pos"], d["ref"], d["alt"]) not in below
        elif entry["kind"] == "pgs" or entry["kind"] in ("burden", "carrier"):
            assert not {(v["chrom"], v["pos"], v["ref"], v["alt"]) for v in d["variants"]} & below
    n_dosage = [sum(e["kind"] == "dosage" for e in s["features"]) for s in (plain, filtered)]
    assert n_dosage[1] < n_dosage[0]


def read_store_r2(manifest) -> dict[tuple, float]:
    """(chrom, pos, ref, alt) -> R2 of every store variant."""
    from genorisk.store import open_store, read_store_variants

    out = {}
    for prefix in open_store(manifest).chroms.values():
        t = read_store_variants(prefix, info_key="R2")
        out.update(
            {
                (c, int(p), r, a): float(i)
                for c, p, r, a, i in t[["chrom", "pos", "ref", "alt", "info"]].itertuples(index=False)
            }
        )
    return out
