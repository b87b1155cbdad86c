"""Ancestry PCs: fit on a simulated cohort, project held-out people, flag other ancestries."""

from __future__ import annotations

import json

import allel
import numpy as np
import pandas as pd
import pytest

from genorisk.ancestry import (
    AncestryModel,
    ancestry_distance,
    cohort_scores,
    fit_ancestry,
    fit_ancestry_dosages,
    project,
    project_vcf,
)
from genorisk.genotypes import read_dosages
from genorisk.ld_pruning import LDPruner
from genorisk.simulate import write_vcf

START = 25_000_001
# People in the one simulated VCF (stdpopsim HomSap OutOfAfrica_3G09).
N_COHORT, N_HELD_CEU, N_YRI_PATIENTS, N_YRI_REF, N_CHB_REF = 400, 30, 15, 80, 60


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """One VCF with cohort CEU, held-out CEU, YRI patients and a YRI+CHB reference panel."""
    import msprime
    import stdpopsim

    demography = stdpopsim.get_species("HomSap").get_demographic_model("OutOfAfrica_3G09").model
    ts = msprime.sim_ancestry(
        samples={"CEU": N_COHORT + N_HELD_CEU, "YRI": N_YRI_PATIENTS + N_YRI_REF, "CHB": N_CHB_REF},
        demography=demography,
        sequence_length=6_000_000,
        recombination_rate=1e-8,
        random_seed=11,
    )
    ts = msprime.sim_mutations(ts, rate=1.29e-8, model=msprime.HKY(kappa=4.0), random_seed=12)
    calls, pos, ref, alt = [], [], [], []
    for var in ts.variants():
        if len(var.alleles) == 2 and var.alleles[1] is not None:  # biallelic sites only
            calls.append(var.genotypes.astype(np.int8))
            pos.append(int(var.site.position) + START)
            ref.append(var.alleles[0])
            alt.append(var.alleles[1])
    calls = np.array(calls).reshape(len(pos), -1, 2)
    names = (
        [f"COH{i}" for i in range(N_COHORT)]
        + [f"CEU{i}" for i in range(N_HELD_CEU)]
        + [f"YRI{i}" for i in range(N_YRI_PATIENTS)]
        + [f"REFYRI{i}" for i in range(N_YRI_REF)]
        + [f"REFCHB{i}" for i in range(N_CHB_REF)]
    )
    out = tmp_path_factory.mktemp("ancestry")
    vcf = out / "all.vcf.gz"
    write_vcf(vcf, np.array(pos), np.array(ref), np.array(alt), calls=calls, samples=names)
    groups = {
        "cohort": names[:N_COHORT],
        "held_ceu": [n for n in names if n.startswith("CEU")],
        "yri": [n for n in names if n.startswith("YRI")],
        "reference": [n for n in names if n.startswith("REF")],
        "ref_yri": [n for n in names if n.startswith("REFYRI")],
    }
    sites = dict(pos=np.array(pos), ref=np.array(ref), alt=np.array(alt), calls=calls, names=names)
    return out, vcf, groups, sites


@pytest.fixture(scope="module")
def cohort_only(sim):
    _, vcf, groups, _ = sim
    return fit_ancestry(vcf, groups["cohort"], n_components=6)


@pytest.fixture(scope="module")
def with_reference(sim):
    _, vcf, groups, _ = sim
    return fit_ancestry(
        vcf, groups["cohort"], n_components=6, distance_pcs=3, reference_vcf=vcf, reference_samples=groups["reference"]
    )


def test_model_variants_are_common_pruned_snvs(sim, cohort_only):
    _, vcf, groups, _ = sim
    m = cohort_only
    info = m.fit_info
    assert info["n_common_snvs"] > info["n_after_ld_pruning"] == m.n_variants > 100
    assert m.variants["ref"].isin(list("ACGT")).all() and m.variants["alt"].isin(list("ACGT")).all()
    pairs = set(zip(m.variants["ref"], m.variants["alt"], strict=False))
    assert not pairs & {("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")}
    _, dos = read_dosages(vcf, m.variants, samples=groups["cohort"])
    af = np.nanmean(dos, axis=1) / 2
    assert (np.minimum(af, 1 - af) >= 0.05).all()
    np.testing.assert_allclose(m.mean, 2 * af, rtol=1e-6)
    # The pruning is scikit-allel's: oracle = locate_unlinked on every candidate at once,
    # and the selection does not depend on how the file is streamed.
    allv, alld = read_dosages(vcf, samples=groups["cohort"])
    aaf = np.nanmean(alld, axis=1) / 2
    ambiguous = np.array(
        [
            (r, a) in {("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")}
            for r, a in zip(allv["ref"], allv["alt"], strict=False)
        ]
    )
    cand = (np.minimum(aaf, 1 - aaf) >= 0.05) & ~ambiguous
    oracle = allel.locate_unlinked(alld[cand].astype("i1"), size=100, step=20, threshold=0.1)
    expected = list(allv["pos"][cand][oracle])
    assert list(m.variants["pos"]) == expected
    chunked = fit_ancestry(vcf, groups["cohort"], n_components=2, chunk_size=1000)
    assert list(chunked.variants["pos"]) == expected


def test_cohort_members_reprojected_get_their_fit_scores(sim, cohort_only):
    _, vcf, groups, _ = sim
    m = cohort_only
    fitted = cohort_scores(m)
    assert fitted.shape == (N_COHORT, 6)
    # Independently from the VCF, through the public per-person path.
    again = project_vcf(m, vcf, samples=groups["cohort"][:25])
    np.testing.assert_allclose(again[m.pc_names].to_numpy(), fitted[:25], rtol=1e-5, atol=1e-5)
    # And scikit-allel's own fit agrees (up to each PC's arbitrary sign).
    _, dos = read_dosages(vcf, m.variants, samples=groups["cohort"])
    coords, _ = allel.pca(dos.astype(float), n_components=6, scaler="patterson")
    signs = np.sign((coords * fitted).sum(axis=0))
    np.testing.assert_allclose(coords * signs, fitted, atol=1e-3 * np.abs(fitted).max())
    np.testing.assert_allclose(fitted.mean(axis=0), 0, atol=1e-3)


def test_homogeneous_cohort_pcs_do_not_see_yri(sim, cohort_only):
    # The documented limit: within-CEU PCs do not contain the CEU-YRI axis,
    # so YRI people project near the centre. This is why fit_ancestry takes a reference panel.
    _, vcf, groups, _ = sim
    yri = project_vcf(cohort_only, vcf, samples=groups["yri"])
    assert yri["ancestry_distance"].median() < cohort_only.distance_threshold
    assert not cohort_only.has_reference_panel


def test_reference_panel_flags_yri_and_not_held_out_ceu(sim, with_reference):
    _, vcf, groups, _ = sim
    m = with_reference
    assert m.fit_info["n_reference"] == N_YRI_REF + N_CHB_REF and m.has_reference_panel
    assert len(cohort_scores(m)) == N_COHORT  # the distance summary is the cohort's alone
    held = project_vcf(m, vcf, samples=groups["held_ceu"])
    yri = project_vcf(m, vcf, samples=groups["yri"])
    assert not held["ancestry_outlier"].any(), held["ancestry_distance"].max()
    assert yri["ancestry_outlier"].all()
    assert yri["ancestry_distance"].min() > 1.5 * m.distance_threshold  # measured: 1.9x
    assert (held["fraction_missing"] == 0).all()


def test_pc1_separates_populations_in_a_mixed_cohort(sim):
    _, vcf, groups, _ = sim
    cohort = groups["cohort"][:200] + groups["ref_yri"]
    m = fit_ancestry(vcf, cohort, n_components=4)
    pc1 = cohort_scores(m)[:, 0]
    is_yri = np.array([s.startswith("REFYRI") for s in cohort])
    assert pc1[is_yri].min() > pc1[~is_yri].max() or pc1[is_yri].max() < pc1[~is_yri].min()
    # Held-out people of each population land on their side.
    split = (pc1[is_yri].mean() + pc1[~is_yri].mean()) / 2
    side = np.sign(pc1[is_yri].mean() - split)
    assert (np.sign(project_vcf(m, vcf, samples=groups["yri"])["pc1"] - split) == side).all()
    assert (np.sign(project_vcf(m, vcf, samples=groups["held_ceu"])["pc1"] - split) == -side).all()


def test_patient_missing_a_fifth_of_model_variants(sim, with_reference):
    out, vcf, groups, sites = sim
    m = with_reference
    person = groups["yri"][0]
    j = sites["names"].index(person)
    model_pos = set(m.variants["pos"])
    rng = np.random.default_rng(5)
    dropped = set(rng.choice(sorted(model_pos), size=len(model_pos) // 5, replace=False))
    keep = np.array([p not in dropped for p in sites["pos"]])
    patient = out / "patient.vcf.gz"
    write_vcf(
        patient,
        sites["pos"][keep],
        sites["ref"][keep],
        sites["alt"][keep],
        calls=sites["calls"][keep][:, [j]],
        samples=[person],
    )
    partial = project_vcf(m, patient).iloc[0]
    full = project_vcf(m, vcf, samples=[person]).iloc[0]
    assert partial["fraction_missing"] == pytest.approx(len(dropped) / m.n_variants)
    # Mean imputation shrinks the scores toward the cohort centre by about the missing fraction.
    ratio = np.linalg.norm(partial[m.pc_names] - m.score_mean) / np.linalg.norm(full[m.pc_names] - m.score_mean)
    assert 0.6 < ratio < 1.0
    assert partial["ancestry_outlier"]  # still far beyond the threshold


def test_json_round_trip_projects_identically(sim, with_reference):
    _, vcf, groups, _ = sim
    m = with_reference
    text = json.dumps(m.to_dict())
    back = AncestryModel.from_dict(json.loads(text))
    pd.testing.assert_frame_equal(back.variants, m.variants)
    _, dos = read_dosages(vcf, m.variants, samples=groups["held_ceu"] + groups["yri"])
    dos[:, :3] = np.nan
    np.testing.assert_array_equal(project(back, dos.T), project(m, dos.T))
    np.testing.assert_array_equal(
        ancestry_distance(back, project(back, dos.T))[0], ancestry_distance(m, project(m, dos.T))[0]
    )
    np.testing.assert_array_equal(cohort_scores(back), cohort_scores(m))
    lean = m.to_dict(include_cohort_scores=False)
    assert "cohort_scores_f32" not in lean
    with pytest.raises(ValueError, match="no cohort scores"):
        cohort_scores(AncestryModel.from_dict(lean))
    with pytest.raises(ValueError, match="format"):
        AncestryModel.from_dict({"format": "pickle"})
    with pytest.raises(ValueError, match="variants"):
        project(m, np.zeros((1, m.n_variants + 1)))


@pytest.mark.parametrize(
    ("n_samples", "n_variants", "size", "step"), [(20000, 1500, 10, 3), (5000, 777, 10, 4), (300, 4000, 100, 20)]
)
def test_streamed_pruning_is_locate_unlinked(n_samples, n_variants, size, step):
    """LDPruner fed in any chunk sizes keeps exactly allel.locate_unlinked's variants (several blocks, LD runs)."""
    rng = np.random.default_rng(n_variants)
    fresh = rng.integers(0, 3, size=(n_variants, n_samples)).astype(np.int8)
    gn = fresh.copy()
    for i in range(1, n_variants):  # runs of copies of the previous variant, 10% of calls redrawn: strong LD
        if rng.random() < 0.7:
            gn[i] = np.where(rng.random(n_samples) < 0.1, fresh[i], gn[i - 1])
    gn[rng.random(gn.shape) < 0.01] = -1
    expected = np.flatnonzero(allel.locate_unlinked(gn, size=size, step=step, threshold=0.1))
    assert 0 < len(expected) < n_variants
    keys = pd.DataFrame({"row": np.arange(n_variants)})
    for feed in (1, 37, n_variants):
        pruner = LDPruner(n_samples, size=size, step=step, threshold=0.1)
        assert pruner.blen < n_variants  # several of allel's blocks
        for a in range(0, n_variants, feed):
            pruner.add(keys.iloc[a : a + feed], gn[a : a + feed])
        assert pruner.finish()["row"].tolist() == expected.tolist()


def test_subsample_before_reading_equals_the_fit_on_every_pruned_variant(sim, cohort_only):
    """max_variants below the pruned count: the same columns and model as fitting every pruned variant's dosages."""
    _, vcf, groups, _ = sim
    pruned = cohort_only.fit_info["n_after_ld_pruning"]
    small = fit_ancestry(vcf, groups["cohort"], n_components=3, max_variants=pruned // 2, seed=3)
    whole = fit_ancestry(vcf, groups["cohort"], n_components=3, max_variants=10**6)
    _, dos = read_dosages(vcf, whole.variants, samples=groups["cohort"])
    oracle = fit_ancestry_dosages(whole.variants, dos.T, n_components=3, max_variants=pruned // 2, seed=3)
    pd.testing.assert_frame_equal(small.variants, oracle.variants)
    np.testing.assert_array_equal(small.loadings, oracle.loadings)
    assert small.n_variants == pruned // 2


def test_cell_limit_bounds_the_fit_and_still_separates_populations(sim):
    """max_cells lowers the variant limit to cells // people; PC1 still splits CEU from YRI."""
    _, vcf, groups, _ = sim
    cohort = groups["cohort"][:200] + groups["ref_yri"]
    limit = 150 * len(cohort)  # room for 150 variants
    m = fit_ancestry(vcf, cohort, n_components=4, max_cells=limit)
    assert m.n_variants == 150 and m.fit_info["max_variants"] == 150, m.fit_info
    assert m.fit_info["n_after_ld_pruning"] > 150
    pc1 = cohort_scores(m)[:, 0]
    is_yri = np.array([s.startswith("REFYRI") for s in cohort])
    assert pc1[is_yri].min() > pc1[~is_yri].max() or pc1[is_yri].max() < pc1[~is_yri].min()
    # Without the limit every pruned variant is used and fit_info says nothing about a limit.
    whole = fit_ancestry(vcf, cohort, n_components=4)
    assert whole.n_variants == whole.fit_info["n_after_ld_pruning"] and "max_variants" not in whole.fit_info


def test_heldout_limit_flags_the_intended_share_of_new_people_from_the_cohort_population():
    """ancestry.outlier_rate 0.5 %: measured on 10,000 simulated new people of the cohort's own population.

    Balding-Nichols populations (F = 0.1): the cohort, new people drawn like
    it, and a reference panel of another population in the fit. The in-sample
    99.5th percentile flags far fewer new people than intended (projection
    shrinks them towards the centre); the held-out limit flags about 0.5 %.
    """
    rng = np.random.default_rng(3)
    m, f = 300, 0.1
    p0 = rng.uniform(0.1, 0.9, m)
    pa, pb = (rng.beta(p0 * (1 - f) / f, (1 - p0) * (1 - f) / f) for _ in range(2))
    cohort, new, panel = (
        rng.binomial(2, p, size=(n, m)).astype(float) for n, p in ((2000, pa), (10000, pa), (200, pb))
    )
    variants = pd.DataFrame({"chrom": "chr1", "pos": np.arange(1, m + 1), "ref": "A", "alt": "G"})
    model = fit_ancestry_dosages(variants, cohort, n_components=6, distance_pcs=5, reference_dosages=panel)
    limit = model.limit_info
    assert limit["outlier_rate"] == pytest.approx(0.005) and limit["heldout_folds"] == 5
    assert model.distance_threshold < limit["in_sample_threshold"]
    distance, flagged = ancestry_distance(model, project(model, new))
    in_sample_rate = (distance > limit["in_sample_threshold"]).mean()
    # Measured: 0.24 % held out, 0.01 % in sample (0.51 % and 0.05 % with a 3,000-person cohort, 600
    # variants and 20,000 new people; a 2,000-person cohort pins the 99.5th percentile down loosely).
    assert 0.001 < flagged.mean() < 0.01, flagged.mean()
    assert in_sample_rate < flagged.mean() / 2
    # The stored limit round-trips and carries the held-out quantiles (aggregates only).
    again = AncestryModel.from_dict(model.to_dict())
    assert again.limit_info == limit and again.distance_threshold == model.distance_threshold
