"""The feature matrix: one row per person, defined once on the cohort.

The cohort defines the features (which variants, in which order, which
covariates); :func:`patient_features` computes exactly those features for new
people from that definition, never a definition of its own. A model variant
that a patient's VCF lacks is counted and reported (coverage), and left
missing (NaN, which XGBoost routes down its learned default branch), never
silently set to zero.

Feature schema (JSON, ``schema_version`` 1)::

    {"schema_version": 1,
     "features": [{"name": "v_chr21_25000148_T_C", "kind": "dosage",
                   "label": "variant chr21:25000148 T>C",
                   "group": "variant chr21:25000148 T>C",
                   "definition": {"chrom": "chr21", "pos": 25000148, "ref": "T",
                                  "alt": "C", "cohort_af": 0.21}},
                  {"name": "age", "kind": "covariate", "label": "age",
                   "group": "age", "definition": {"column": "age"}},
                  ...]}
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import genotypes
from .annotate import SEQUENCE_CLASSES, allele_classes
from .errors import InputError

log = logging.getLogger("genorisk.features")

SCHEMA_VERSION = 1

#: A patient VCF is read through its index when the schema's positions are
#: fewer than this fraction of its records (see genotypes.index_regions:
#: measured break-even about 1% for GT-only files, 15% for WGS FORMAT fields).
INDEX_MAX_FRACTION = 0.02

#: Consequences (bcftools csq) counted as damaging.
DAMAGING_CONSEQUENCES = frozenset({
    "splice_acceptor", "splice_donor", "stop_gained", "frameshift", "stop_lost", "start_lost",
    "inframe_altering", "inframe_insertion", "inframe_deletion", "missense", "splice_region",
})
#: Without a reference FASTA there are no consequences; a coding or splice
#: position is then the (documented, coarser) proxy for "damaging".
DAMAGING_REGION_CLASSES = frozenset({"CDS", "splice_region"})


def is_pathogenic(significance: pd.Series) -> np.ndarray:
    """ClinVar Pathogenic / Likely_pathogenic (not 'Conflicting...' or benign combinations)."""
    sig = significance.fillna("").astype(str).str.lower()
    return (sig.str.contains("pathogenic") & ~sig.str.contains("conflicting") & ~sig.str.contains("benign")).to_numpy()


def rare_damaging(table: pd.DataFrame, *, max_af: float, cohort_af: pd.Series | None = None) -> np.ndarray:
    """Alleles of an annotation table that are rare and predicted damaging, or ClinVar P/LP.

    Rare: population AF (or, where the population resource lacks the allele,
    the cohort AF) below ``max_af``. Damaging: a damaging consequence when
    consequences were computed, else a CDS or splice-region position; only
    sequence alleles (SNV, MNV, indel) qualify, since a ``*`` allele restates
    an upstream deletion and symbolic alleles have no allele-level evidence.
    """
    af = table["population_af"].astype(float)
    if cohort_af is not None:
        af = af.fillna(cohort_af.astype(float))
    rare = (af < max_af).to_numpy()
    if table["consequence"].notna().any():
        damaging = table["consequence"].isin(DAMAGING_CONSEQUENCES).to_numpy()
    else:
        damaging = table["region_class"].isin(DAMAGING_REGION_CLASSES).to_numpy()
    if "allele_class" in table:
        damaging = damaging & table["allele_class"].isin(SEQUENCE_CLASSES).to_numpy()
    return (rare & damaging & table["gene"].notna().to_numpy()) | is_pathogenic(table["clinvar_significance"])


def _variant_name(chrom: str, pos: int, ref: str, alt: str) -> str:
    # XGBoost feature names may not contain [ ] or <; symbolic alleles are not features.
    return f"v_{chrom}_{pos}_{ref}_{alt}"


def select_dosage_variants(
    vcf: str | Path,
    samples: list[str],
    *,
    min_maf: float,
    min_call_rate: float,
    male: np.ndarray | None = None,
    exclude: set[tuple] | None = None,
    chunk_size: int = 20000,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, dict[str, int]]:
    """Stream the cohort VCF and keep SNV/indel ALT alleles that pass MAF and call rate.

    The allele frequency is AC / AN over called alleles, each call counted by
    its ploidy (:meth:`genorisk.genotypes.DosageChunk.alt_allele_frequency`):
    a haploid chrY or MT ``1`` is one ALT allele out of one, so the frequency
    equals :func:`genorisk.qc.run_qc`'s ``alt_af`` on the same file, whatever
    the ploidy (a mean dosage / 2 would halve it on chrY and MT).

    Only SNV and indel alleles (REF and ALT spelled in ``ACGTN``) can be
    dosage features: symbolic alleles (``<DEL>``, ``<NON_REF>``...),
    breakends and the spanning deletion ``*`` stay in the VCF (and in
    ``allele_freqs``) but are excluded here and counted.

    Parameters
    ----------
    vcf : path
        Cohort VCF/BCF (validated beforehand).
    samples : list of str
        Cohort samples, in the order of the phenotype table.
    min_maf : float
        Minimum minor-allele frequency among called genotypes.
    min_call_rate : float
        Minimum fraction of samples with a called genotype.
    male : array of bool, optional
        Aligned with ``samples``; see :mod:`genorisk.genotypes` for chrX.
    exclude : set of (chrom, pos, ref, alt), optional
        Alleles that failed QC; never dosage features.
    chunk_size : int
        ALT rows read per chunk; memory is bounded by the chunk plus the
        kept columns.

    Returns
    -------
    variants : DataFrame
        chrom, pos, ref, alt, cohort_af, call_rate of kept alleles, file order.
    dosages : ndarray
        float32, (n_samples, n_kept), NaN for missing calls.
    allele_freqs : DataFrame
        chrom, pos, ref, alt, af of every ALT allele in the file (the cohort
        frequencies that impute a missing call in a patient's scores; 0 where
        no sample has a call).
    counts : dict of str to int
        ``alt_alleles`` (ALT rows scanned), ``symbolic`` (``<...>`` alleles
        and breakends), ``spanning_deletion`` (``*``), ``other_non_acgtn``
        (other REF/ALT spellings), ``excluded_by_qc``, ``below_min_call_rate``,
        ``below_min_maf`` (each counted under its first failing reason, in
        this order) and ``kept`` (before duplicates are dropped),
        ``duplicates``.
    """
    kept_frames, kept_mats, af_frames = [], [], []
    counts = dict.fromkeys(["alt_alleles", "symbolic", "spanning_deletion", "other_non_acgtn", "excluded_by_qc",
                            "below_min_call_rate", "below_min_maf", "kept", "duplicates"], 0)
    n_seen = 0
    t0 = time.perf_counter()
    for chunk in genotypes.iter_dosage_chunks(vcf, samples=samples, male=male, chunk_size=chunk_size):
        d = chunk.dosages
        n_called = (~np.isnan(d)).sum(axis=1)
        call_rate = n_called / d.shape[1] if d.shape[1] else np.zeros(len(d))
        af = chunk.alt_allele_frequency()
        maf = np.minimum(af, 1 - af)  # NaN (nothing called) fails the MAF filter
        v = chunk.variants
        alt, ref = v["alt"], v["ref"]
        cls = allele_classes(ref, alt)  # the annotation table's classes, so the counts agree with it
        symbolic = (cls == "symbolic") | (cls == "breakend")
        star = cls == "star"
        acgtn = (alt.str.fullmatch(r"[ACGTN]+") & ref.str.fullmatch(r"[ACGTN]+")).to_numpy()
        excluded = np.zeros(len(d), dtype=bool)
        if exclude:
            excluded = np.array([k in exclude for k in zip(v["chrom"], v["pos"], v["ref"], v["alt"])], dtype=bool)
        low_call = call_rate < min_call_rate
        with np.errstate(invalid="ignore"):
            low_maf = ~(maf >= min_maf)
        keep = acgtn & ~excluded & ~low_call & ~low_maf
        counts["alt_alleles"] += len(d)
        counts["symbolic"] += int(symbolic.sum())
        counts["spanning_deletion"] += int(star.sum())
        counts["other_non_acgtn"] += int((~acgtn & ~symbolic & ~star).sum())
        counts["excluded_by_qc"] += int((acgtn & excluded).sum())
        counts["below_min_call_rate"] += int((acgtn & ~excluded & low_call).sum())
        counts["below_min_maf"] += int((acgtn & ~excluded & ~low_call & low_maf).sum())
        counts["kept"] += int(keep.sum())
        af_frames.append(v[["chrom", "pos", "ref", "alt"]].assign(af=np.nan_to_num(af, nan=0.0)))
        n_seen += len(d)
        if keep.any():
            frame = chunk.variants.loc[keep, ["chrom", "pos", "ref", "alt"]].copy()
            frame["cohort_af"] = af[keep]
            frame["call_rate"] = call_rate[keep]
            kept_frames.append(frame)
            kept_mats.append(d[keep].T.copy())
        log.info("%d ALT alleles scanned, %d kept (%.0f/s)", n_seen, sum(len(f) for f in kept_frames), n_seen / max(time.perf_counter() - t0, 1e-9))
    log.info("dosage variant selection: %d ALT alleles; not SNV/indel: %d symbolic, %d '*', %d other; "
             "%d excluded by QC, %d below min_call_rate=%g, %d below min_maf=%g; %d kept",
             counts["alt_alleles"], counts["symbolic"], counts["spanning_deletion"], counts["other_non_acgtn"],
             counts["excluded_by_qc"], counts["below_min_call_rate"], min_call_rate, counts["below_min_maf"],
             min_maf, counts["kept"])
    if not kept_frames:
        raise InputError(vcf, f"no variant passes min_maf={min_maf} and min_call_rate={min_call_rate}")
    variants = pd.concat(kept_frames, ignore_index=True)
    dup = variants.duplicated(["chrom", "pos", "ref", "alt"])
    counts["duplicates"] = int(dup.sum())
    if dup.any():
        log.warning("%d duplicate alleles dropped (first occurrence kept)", int(dup.sum()))
    mat = np.concatenate(kept_mats, axis=1)[:, ~dup.to_numpy()]
    allele_freqs = pd.concat(af_frames, ignore_index=True).drop_duplicates(["chrom", "pos", "ref", "alt"])
    return variants[~dup].reset_index(drop=True), mat, allele_freqs, counts


def covariate_features(phenotypes: pd.DataFrame, covariates: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    """Numeric covariate columns and their schema entries (``sex`` becomes ``sex_male``)."""
    cols, entries = {}, []
    for name in covariates:
        if name not in phenotypes.columns:
            raise InputError(None, f"covariate {name!r} is not a column of the phenotype table")
        if name == "sex":
            cols["sex_male"] = phenotypes["sex"].map({"male": 1.0, "female": 0.0}).astype("float32")
            entries.append({"name": "sex_male", "kind": "covariate", "label": "sex (male)", "group": "sex",
                            "definition": {"column": "sex", "encoding": "male=1, female=0, unknown=missing"}})
        else:
            cols[name] = phenotypes[name].astype("float32")
            entries.append({"name": name, "kind": "covariate", "label": name, "group": name,
                            "definition": {"column": name}})
    return pd.DataFrame(cols, index=phenotypes.index), entries


def cohort_features(
    vcf: str | Path,
    phenotypes: pd.DataFrame,
    *,
    min_maf: float = 0.01,
    min_call_rate: float = 0.95,
    covariates: list[str] = ("age", "sex"),
    score_files: list[str | Path] = (),
    min_match_rate: float = 0.75,
    exclude_variants: pd.DataFrame | None = None,
    annotation: pd.DataFrame | None = None,
    ancestry_panel: str | Path | None = None,
    n_components: int = 5,
    burden_max_af: float = 0.01,
    burden_min_carriers: int = 5,
    chunk_size: int = 20000,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Define and compute the cohort's feature matrix.

    Features, in schema order: genotype dosages of variants passing
    ``min_maf`` and ``min_call_rate``; one polygenic score per scoring file
    (matched once here, the match frozen into the schema); covariates.

    Every phenotype-table sample must be in the VCF (an InputError names the
    first missing one); VCF samples without a phenotype are not used.
    ``exclude_variants`` (chrom, pos, ref, alt: those that failed QC) are
    never dosage features; polygenic scores keep their own matching rules.

    Returns
    -------
    features : DataFrame
        Indexed by ``sample_id``, columns in schema order.
    schema : dict
        The feature schema (see module docstring).
    """
    samples = list(phenotypes.index)
    male = (phenotypes["sex"] == "male").to_numpy() if "sex" in phenotypes else None
    exclude = None
    if exclude_variants is not None and len(exclude_variants):
        ev = exclude_variants
        exclude = set(zip(ev["chrom"].astype(str), ev["pos"].astype(int), ev["ref"], ev["alt"]))
    variants, dos, allele_freqs, selection_counts = select_dosage_variants(
        vcf, samples, min_maf=min_maf, min_call_rate=min_call_rate, male=male, exclude=exclude,
        chunk_size=chunk_size,
    )
    names = [_variant_name(*v) for v in variants[["chrom", "pos", "ref", "alt"]].itertuples(index=False)]
    entries = [
        {
            "name": n,
            "kind": "dosage",
            "label": f"variant {v.chrom}:{v.pos} {v.ref}>{v.alt}",
            "group": f"variant {v.chrom}:{v.pos} {v.ref}>{v.alt}",
            "definition": {"chrom": v.chrom, "pos": int(v.pos), "ref": v.ref, "alt": v.alt,
                           "cohort_af": round(float(v.cohort_af), 6)},
        }
        for n, v in zip(names, variants.itertuples(index=False))
    ]
    pgs, pgs_entries = pgs_features(vcf, phenotypes.index, score_files, allele_freqs, male=male, min_match_rate=min_match_rate)
    if annotation is not None:
        burden, burden_entries = burden_features(vcf, samples, annotation, allele_freqs, max_af=burden_max_af,
                                                 min_carriers=burden_min_carriers, male=male)
    else:
        burden, burden_entries = pd.DataFrame(index=phenotypes.index), []
    pcs, pc_entries, ancestry = ancestry_features(vcf, samples, n_components=n_components, reference_vcf=ancestry_panel)
    cov, cov_entries = covariate_features(phenotypes, list(covariates))
    features = pd.concat([pd.DataFrame(dos, index=phenotypes.index, columns=names), pgs,
                          burden.set_axis(phenotypes.index), pcs.set_axis(phenotypes.index), cov], axis=1)
    schema = {"schema_version": SCHEMA_VERSION,
              "features": entries + pgs_entries + burden_entries + pc_entries + cov_entries,
              # How the cohort's ALT alleles fared in dosage selection (see select_dosage_variants).
              "dosage_selection": {**selection_counts, "min_maf": min_maf, "min_call_rate": min_call_rate}}
    if ancestry is not None:
        schema["ancestry"] = ancestry
    log.info("cohort features: %d people x %d features (%d variants, %d scores, %d gene burden/carrier, %d covariates)",
             len(features), features.shape[1], len(entries), len(pgs_entries), len(burden_entries), len(cov_entries))
    return features, schema


def pgs_features(
    vcf: str | Path,
    samples: pd.Index,
    score_files: list[str | Path],
    allele_freqs: pd.DataFrame,
    *,
    male: np.ndarray | None = None,
    min_match_rate: float = 0.75,
) -> tuple[pd.DataFrame, list[dict]]:
    """Polygenic score features of the cohort, and their frozen definitions.

    Scores are computed by :func:`genorisk.scores.compute_scores` (matching
    audit, plink2-equal sums, missing calls imputed with the cohort mean).
    Each score's match is then frozen into its schema entry as a linear form
    over ALT dosages, ``constant + sum(alt_weight * dosage)``, with each
    variant's cohort allele frequency, so a patient is scored on exactly the
    cohort's matched variants and a missing call is imputed with
    ``2 * cohort_af``, the value mean imputation gives in the cohort.
    """
    from .scores import _is_ref_effect, compute_scores, read_scoring_file

    if not score_files:
        return pd.DataFrame(index=samples), []
    file_of = {read_scoring_file(f).score_id: Path(f).name for f in score_files}
    result = compute_scores(vcf, [str(f) for f in score_files], min_match_rate=min_match_rate,
                            male=male, samples=list(samples))
    af = allele_freqs.set_index(["chrom", "pos", "ref", "alt"])["af"]
    columns, entries = {}, []
    for score_id, audit in result.audit.groupby("score_id", sort=False):
        matched = audit[audit["match_type"].notna()]
        summary = result.summary.loc[score_id]
        weights = matched["effect_weight"].to_numpy(dtype=float)
        ref_effect = np.array([_is_ref_effect(m) for m in matched["match_type"]])
        keys = list(zip(matched["target_chrom"], matched["target_pos"].astype(int), matched["target_ref"], matched["target_alt"]))
        variants = [
            {"chrom": c, "pos": int(p), "ref": r, "alt": a,
             "alt_weight": float(-w if is_ref else w), "cohort_af": round(float(af.get((c, p, r, a), np.nan)), 8)}
            for (c, p, r, a), w, is_ref in zip(keys, weights, ref_effect)
        ]
        name = f"pgs_{score_id}"
        columns[name] = result.sums[score_id].reindex(samples).to_numpy(dtype="float32")
        entries.append({
            "name": name,
            "kind": "pgs",
            "label": f"polygenic score {score_id}",
            "group": f"polygenic score {score_id}",
            "definition": {
                "score_id": score_id,
                "file": file_of.get(score_id, ""),
                "n_variants": int(summary["n_variants"]),
                "n_matched": int(summary["n_matched"]),
                "match_rate": float(summary["match_rate"]),
                # REF effect alleles: w * (2 - d) = 2w - w * d.
                "constant": float(2 * weights[ref_effect].sum()),
                "variants": variants,
            },
        })
        log.info("score %s: %d of %d variants matched (%.1f%%)", score_id, summary["n_matched"],
                 summary["n_variants"], 100 * summary["match_rate"])
    return pd.DataFrame(columns, index=samples), entries


def burden_features(
    vcf: str | Path,
    samples: list[str],
    annotation: pd.DataFrame,
    allele_freqs: pd.DataFrame,
    *,
    max_af: float = 0.01,
    min_carriers: int = 5,
    male: np.ndarray | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Gene-level burden counts and ClinVar carrier flags, with frozen definitions.

    ``burden_<GENE>``: copies of rare damaging ALT alleles (see
    :func:`rare_damaging`) in the gene; ``carrier_<GENE>``: 1 if the person
    carries any ClinVar pathogenic/likely pathogenic ALT allele of the gene.
    Only genes with at least ``min_carriers`` carriers in the cohort become
    features (a tree cannot learn from fewer). Alleles whose ALT is the common
    allele (AF > 0.5) are left out. A missing call counts 0 copies (and is
    counted in the patient's coverage).
    """
    table = annotation.merge(allele_freqs.rename(columns={"af": "cohort_af"}), on=["chrom", "pos", "ref", "alt"], how="left")
    qualifies = rare_damaging(table, max_af=max_af, cohort_af=table["cohort_af"]) & (table["cohort_af"].fillna(0) <= 0.5).to_numpy()
    pathogenic = is_pathogenic(table["clinvar_significance"])
    sel = table[qualifies].assign(pathogenic=pathogenic[qualifies]).reset_index(drop=True)
    if sel.empty:
        return pd.DataFrame(index=samples), []
    _, dos = genotypes.read_dosages(vcf, sel[["chrom", "pos", "ref", "alt"]], samples=samples, male=male)
    dos = np.nan_to_num(dos, nan=0.0)
    columns, entries = {}, []
    for gene, rows in sel.groupby("gene", sort=True):
        idx = rows.index.to_numpy()
        counts = dos[idx].sum(axis=0)
        variants = [{"chrom": r.chrom, "pos": int(r.pos), "ref": r.ref, "alt": r.alt} for r in rows.itertuples()]
        if (counts > 0).sum() >= min_carriers:
            name = f"burden_{gene}"
            columns[name] = counts.astype("float32")
            entries.append({"name": name, "kind": "burden", "label": f"rare damaging variants in {gene}",
                            "group": f"gene {gene}", "definition": {"gene": gene, "max_af": max_af, "variants": variants}})
        path_idx = idx[rows["pathogenic"].to_numpy()]
        carriers = (dos[path_idx] > 0).any(axis=0) if len(path_idx) else np.zeros(dos.shape[1], bool)
        if carriers.sum() >= min_carriers:
            name = f"carrier_{gene}"
            columns[name] = carriers.astype("float32")
            entries.append({"name": name, "kind": "carrier", "label": f"ClinVar pathogenic variant in {gene}",
                            "group": f"gene {gene}",
                            "definition": {"gene": gene, "variants": [variants[i] for i in np.flatnonzero(rows["pathogenic"].to_numpy())]}})
    log.info("%d rare damaging or pathogenic alleles in %d genes; %d burden/carrier features",
             len(sel), sel["gene"].nunique(), len(entries))
    return pd.DataFrame(columns, index=samples), entries


def ancestry_features(
    vcf: str | Path,
    samples: list[str],
    *,
    n_components: int = 5,
    reference_vcf: str | Path | None = None,
) -> tuple[pd.DataFrame, list[dict], dict | None]:
    """Ancestry PCs of the cohort (:func:`genorisk.ancestry.fit_ancestry`).

    With a reference panel of several populations the PCs span between-
    population axes, so a patient from another population is flagged; without
    one they describe variation within the cohort only, and the ancestry
    check is weak (the report says so). Returns the PC columns, their schema
    entries and the fitted model as JSON (stored once, at schema top level).
    """
    from .ancestry import cohort_scores, fit_ancestry

    if n_components <= 0:
        return pd.DataFrame(index=samples), [], None
    model = fit_ancestry(vcf, samples, n_components=n_components, reference_vcf=reference_vcf)
    scores = cohort_scores(model)
    names = model.pc_names
    entries = [{"name": n, "kind": "pc", "label": f"ancestry component {i + 1}", "group": "ancestry (PCs)",
                "definition": {"component": i + 1}} for i, n in enumerate(names)]
    frame = pd.DataFrame(scores.astype("float32"), index=samples, columns=names)
    return frame, entries, model.to_dict(include_cohort_scores=False)


def _pgs_value(definition: dict, dosage: dict[tuple, float]) -> tuple[float, int]:
    """A patient's score from a frozen definition; (value, n variants called)."""
    total, n_called = definition["constant"], 0
    for v in definition["variants"]:
        d = dosage.get((v["chrom"], v["pos"], v["ref"], v["alt"]), np.nan)
        if np.isnan(d):
            d = 2.0 * v["cohort_af"]
        else:
            n_called += 1
        total += v["alt_weight"] * d
    return float(total), n_called


def dosage_variants(schema: dict) -> pd.DataFrame:
    """The schema's dosage features as a variants table (chrom, pos, ref, alt, name), schema order."""
    rows = [dict(f["definition"], name=f["name"]) for f in schema["features"] if f["kind"] == "dosage"]
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "cohort_af", "name"])


def patient_features(
    vcf: str | Path,
    sample: str,
    schema: dict,
    covariate_values: dict[str, Any],
    *,
    male: bool | None = None,
    use_index: bool | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compute one patient's features from the cohort's schema.

    Parameters
    ----------
    vcf : path
        The patient's VCF/BCF (validated; contains ``sample``).
    sample : str
        The sample name inside the VCF.
    schema : dict
        The cohort's feature schema; its order is the output's column order.
    covariate_values : dict
        Patient covariates by phenotype column (``age``, ``sex``); absent ones
        are missing.
    male : bool, optional
        Recorded sex, for the male chrX dosage scale (see
        :mod:`genorisk.genotypes`).
    use_index : bool, optional
        How the schema's variants are read. None (default): through the
        VCF's ``.tbi``/``.csi`` index when it has one and the schema's
        positions are under :data:`INDEX_MAX_FRACTION` of its records (a WGS
        file), else by one pass over the file. True: through the index
        whenever there is one. False: always one full pass. The features are
        the same either way.

    Returns
    -------
    features : DataFrame
        One row indexed by ``sample``, columns exactly the schema's names.
    coverage : dict
        ``n_model_variants``, ``n_missing`` (absent from the VCF),
        ``n_uncalled`` (present but no genotype call), ``coverage`` (called /
        total), ``call_rate`` over the present model variants, and
        ``polygenic_scores`` (value and this patient's match rate per score).
    """
    wanted = dosage_variants(schema)
    pgs_entries = [f for f in schema["features"] if f["kind"] == "pgs"]
    gene_entries = [f for f in schema["features"] if f["kind"] in ("burden", "carrier")]
    extra_rows = [(v["chrom"], v["pos"], v["ref"], v["alt"]) for f in pgs_entries + gene_entries for v in f["definition"]["variants"]]
    ancestry = None
    if schema.get("ancestry"):
        from .ancestry import AncestryModel

        ancestry = AncestryModel.from_dict(schema["ancestry"])
        av = ancestry.variants
        extra_rows += list(zip(av["chrom"], av["pos"].astype(int), av["ref"], av["alt"]))
    keys = list(dict.fromkeys(list(zip(wanted["chrom"], wanted["pos"], wanted["ref"], wanted["alt"])) + extra_rows))
    key_table = pd.DataFrame(keys, columns=["chrom", "pos", "ref", "alt"])
    # A WGS patient VCF has millions of records and the schema needs a few
    # thousand positions: with an index, read only those (merged into
    # regions); without one, one pass over the file for every feature.
    regions = None if use_index is False else genotypes.index_regions(
        vcf, key_table, max_fraction=None if use_index else INDEX_MAX_FRACTION)
    log.info("patient features: %d schema alleles, read %s", len(keys),
             "by a full pass (no index)" if regions is None else f"through the index ({len(regions)} regions)")
    found_tbl, dos = genotypes.read_dosages(
        vcf, key_table, samples=[sample], male=None if male is None else np.array([male]), regions=regions,
    )
    dosage = dict(zip(keys, dos[:, 0].astype(float)))
    found_all = dict(zip(keys, found_tbl["found"].to_numpy()))
    found = np.array([found_all[k] for k in zip(wanted["chrom"], wanted["pos"], wanted["ref"], wanted["alt"])], dtype=bool)
    values = np.array([dosage[k] for k in zip(wanted["chrom"], wanted["pos"], wanted["ref"], wanted["alt"])], dtype=float)
    called = ~np.isnan(values)
    row: dict[str, float] = dict(zip(wanted["name"], values.astype("float32")))
    ancestry_qc = None
    if ancestry is not None:
        from .ancestry import ancestry_distance, project

        av = ancestry.variants
        d = np.array([dosage[k] for k in zip(av["chrom"], av["pos"].astype(int), av["ref"], av["alt"])], dtype=float)
        pcs = project(ancestry, d[None, :])
        distance, outlier = ancestry_distance(ancestry, pcs)
        row.update(dict(zip(ancestry.pc_names, pcs[0].astype(float))))
        ancestry_qc = {"distance": float(distance[0]), "outlier": bool(outlier[0]),
                       "threshold": float(ancestry.distance_threshold),
                       "fraction_missing": float(np.isnan(d).mean()),
                       "reference_panel": bool(ancestry.has_reference_panel)}
    for entry in gene_entries:
        d = [dosage[(v["chrom"], v["pos"], v["ref"], v["alt"])] for v in entry["definition"]["variants"]]
        d = np.nan_to_num(np.array(d, dtype=float), nan=0.0)
        row[entry["name"]] = float(d.sum()) if entry["kind"] == "burden" else float((d > 0).any())
    scores = []
    for entry in pgs_entries:
        value, n_called = _pgs_value(entry["definition"], dosage)
        row[entry["name"]] = value
        d = entry["definition"]
        scores.append({"id": d["score_id"], "value": value, "n_variants": d["n_variants"],
                       "n_matched": n_called, "match_rate": n_called / d["n_variants"] if d["n_variants"] else 0.0,
                       "n_matched_cohort": d["n_matched"]})
    for entry in schema["features"]:
        if entry["kind"] != "covariate":
            continue
        column = entry["definition"]["column"]
        raw = covariate_values.get(column)
        if column == "sex":
            row[entry["name"]] = {"male": 1.0, "female": 0.0}.get(raw, np.nan)
        else:
            row[entry["name"]] = np.nan if raw in (None, "") else float(raw)
    names = [f["name"] for f in schema["features"]]
    unknown = [n for n in names if n not in row]
    if unknown:
        raise InputError(None, f"feature schema has features this version cannot compute for a patient: {unknown[:5]}")
    frame = pd.DataFrame([[row[n] for n in names]], index=pd.Index([sample], name="sample_id"), columns=names)
    n_total = len(wanted)
    coverage = {
        "n_model_variants": n_total,
        "n_missing": int((~found).sum()),
        "n_uncalled": int((found & ~called).sum()),
        "coverage": float(called.sum() / n_total) if n_total else 1.0,
        "call_rate": float(called[found].mean()) if found.any() else 0.0,
        "polygenic_scores": scores,
        "ancestry": ancestry_qc,
    }
    return frame, coverage
