"""Cohort features: the feature matrix and the schema that defines it, built once on the cohort."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from genorisk import genotypes
from genorisk.errors import InputError
from genorisk.features.variant_stats import (
    CHUNK_BYTES,
    AlleleFrequencies,
    chunk_rows,
    gather_dosage_selection,
    labels_digest,
    merged_allele_frequencies,
    part_variant_stats,
    read_part_variant_stats,
)
from genorisk.features.variants import is_pathogenic, rare_damaging, select_dosage_variants

log = logging.getLogger("genorisk.features")

SCHEMA_VERSION = 1


def _variant_name(chrom: str, pos: int, ref: str, alt: str) -> str:
    # XGBoost feature names may not contain [ ] or <; symbolic alleles are not features.
    return f"v_{chrom}_{pos}_{ref}_{alt}"


def covariate_features(phenotypes: pd.DataFrame, covariates: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    """Numeric covariate columns and their schema entries (``sex`` becomes ``sex_male``)."""
    cols, entries = {}, []
    for name in covariates:
        if name not in phenotypes.columns:
            raise InputError(None, f"covariate {name!r} is not a column of the phenotype table")
        if name == "sex":
            cols["sex_male"] = phenotypes["sex"].map({"male": 1.0, "female": 0.0}).astype("float32")
            entries.append(
                {
                    "name": "sex_male",
                    "kind": "covariate",
                    "label": "sex (male)",
                    "group": "sex",
                    "definition": {"column": "sex", "encoding": "male=1, female=0, unknown=missing"},
                }
            )
        else:
            cols[name] = phenotypes[name].astype("float32")
            entries.append(
                {"name": name, "kind": "covariate", "label": name, "group": name, "definition": {"column": name}}
            )
    return pd.DataFrame(cols, index=phenotypes.index), entries


def cohort_features(
    vcf: str | Path,
    phenotypes: pd.DataFrame,
    *,
    min_maf: float = 0.01,
    min_call_rate: float = 0.95,
    covariates: Sequence[str] = ("age", "sex"),
    score_files: Sequence[str | Path] = (),
    min_match_rate: float = 0.75,
    exclude_variants: pd.DataFrame | None = None,
    annotation: pd.DataFrame | None = None,
    consequences_computed: bool | None = None,
    ancestry_panel: str | Path | None = None,
    n_components: int = 5,
    outlier_rate: float = 0.005,
    burden_max_af: float = 0.01,
    burden_min_carriers: int = 5,
    chunk_size: int = 20000,
    min_info: float | None = None,
    info_key: str = "R2",
    in_fold_selection: Mapping[str, int] | None = None,
    variant_stats: Sequence[str | Path] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    label_column: str = "status",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Define and compute the cohort's feature matrix.

    Features, in schema order: genotype dosages of variants passing
    ``min_maf`` and ``min_call_rate``; one polygenic score per entry of
    ``score_files`` (a matched table of rule ``match_score``, summed as
    matched there, or a scoring file, matched here; the match frozen into the
    schema, :func:`pgs_features`); covariates.

    Rows are every person of ``phenotypes`` (the QC-passed cohort), whatever
    their value in the trait's column ``label_column``: ancestry PCs, burden,
    polygenic scores, covariates and every allele frequency (the dosage
    filter's, the definitions' ``cohort_af``) depend on the genotypes and
    covariates only, so two traits of one cohort define every shared
    non-dosage feature identically (same name, same definition). Only the
    in-fold dosage selection reads ``label_column``, and only its 0/1 values
    (an empty value, NaN, is in no ranking); the training rows are the
    people with a 0/1 value, in this order.

    Every phenotype-table sample must be in the VCF (an InputError names the
    first missing one); VCF samples without a phenotype are not used.
    ``exclude_variants`` (chrom, pos, ref, alt: those that failed QC) are
    never dosage features; polygenic scores keep their own matching rules.
    ``min_info`` (with ``info_key``) is the imputation-quality filter: a
    variant below it is never a dosage, burden or polygenic-score feature.

    ``in_fold_selection`` (``n_folds``, ``seed``, ``keep_per_fold``: the
    model's outer folds and ``max_dosage_features``) keeps only the dosage
    variants that training's in-fold rankings can pick, computed from the
    ``label_column`` without the dense matrix of every passing variant (see
    :func:`~genorisk.features.select_dosage_variants`); training then selects
    exactly what it would select from every passing variant. The selection is
    gathered from per-part summaries (:mod:`genorisk.features.variant_stats`):
    ``variant_stats`` names their folders (rule ``cohort_variant_stats``, one
    per store part); without it the whole ``vcf`` is summarised here as one
    part. Either way only the selected alleles' dosages are read afterwards,
    and allele frequencies are looked up, never held genome-wide. Without
    ``in_fold_selection`` every passing variant is a column (one pass,
    :func:`~genorisk.features.select_dosage_variants`).

    ``chunk_size`` rows per dosage chunk, fewer when ``chunk_size x people``
    float32 would exceed ``chunk_bytes``; results do not depend on either.

    ``label_column`` is the trait's phenotype column (``traits[].column``):
    0/1, NaN = unknown.

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
        exclude = set(zip(ev["chrom"].astype(str), ev["pos"].astype(int), ev["ref"], ev["alt"], strict=False))
    if in_fold_selection:
        variants, dos, allele_freqs, selection_counts = _gathered_dosage_selection(
            vcf,
            phenotypes,
            in_fold_selection,
            variant_stats,
            label_column=label_column,
            min_maf=min_maf,
            min_call_rate=min_call_rate,
            male=male,
            exclude=exclude,
            chunk_size=chunk_size,
            chunk_bytes=chunk_bytes,
            min_info=min_info,
            info_key=info_key,
        )
    else:
        if variant_stats is not None:
            raise ValueError("variant_stats are in-fold summaries: they need in_fold_selection")
        variants, dos, af_table, selection_counts = select_dosage_variants(
            vcf,
            samples,
            min_maf=min_maf,
            min_call_rate=min_call_rate,
            male=male,
            exclude=exclude,
            chunk_size=chunk_size,
            min_info=min_info,
            info_key=info_key,
        )
        allele_freqs = AlleleFrequencies(table=af_table)
    names = [_variant_name(*v) for v in variants[["chrom", "pos", "ref", "alt"]].itertuples(index=False)]
    variant_rows: Iterator[Any] = variants.itertuples(index=False)  # Any: pandas-stubs type each field as any scalar
    entries = [
        {
            "name": n,
            "kind": "dosage",
            "label": f"variant {v.chrom}:{v.pos} {v.ref}>{v.alt}",
            "group": f"variant {v.chrom}:{v.pos} {v.ref}>{v.alt}",
            "definition": {
                "chrom": v.chrom,
                "pos": int(v.pos),
                "ref": v.ref,
                "alt": v.alt,
                "cohort_af": round(float(v.cohort_af), 6),
            },
        }
        for n, v in zip(names, variant_rows, strict=False)
    ]
    pgs, pgs_entries = pgs_features(
        vcf,
        phenotypes.index,
        score_files,
        allele_freqs,
        male=male,
        min_match_rate=min_match_rate,
        min_info=min_info,
        info_key=info_key,
    )
    if annotation is not None:
        burden, burden_entries = burden_features(
            vcf,
            samples,
            annotation,
            allele_freqs,
            max_af=burden_max_af,
            min_carriers=burden_min_carriers,
            male=male,
            min_info=min_info,
            info_key=info_key,
            consequences_computed=consequences_computed,
        )
    else:
        burden, burden_entries = pd.DataFrame(index=phenotypes.index), []
    pcs, pc_entries, ancestry = ancestry_features(
        vcf, samples, n_components=n_components, reference_vcf=ancestry_panel,
        chunk_size=chunk_size, chunk_bytes=chunk_bytes, outlier_rate=outlier_rate,
    )  # fmt: skip
    cov, cov_entries = covariate_features(phenotypes, list(covariates))
    features = pd.concat(
        [
            pd.DataFrame(dos, index=phenotypes.index, columns=names),
            pgs,
            burden.set_axis(phenotypes.index),
            pcs.set_axis(phenotypes.index),
            cov,
        ],
        axis=1,
    )
    schema = {
        "schema_version": SCHEMA_VERSION,
        "features": entries + pgs_entries + burden_entries + pc_entries + cov_entries,
        # How the cohort's ALT alleles fared in dosage selection (see select_dosage_variants).
        "dosage_selection": {
            **selection_counts,
            "min_maf": min_maf,
            "min_call_rate": min_call_rate,
            **({"min_info": min_info, "info_key": info_key} if min_info is not None else {}),
            **({"in_fold_selection": dict(in_fold_selection)} if in_fold_selection else {}),
        },
    }
    if ancestry is not None:
        schema["ancestry"] = ancestry
    log.info(
        "cohort features: %d people x %d features (%d variants, %d scores, %d gene burden/carrier, %d covariates)",
        len(features),
        features.shape[1],
        len(entries),
        len(pgs_entries),
        len(burden_entries),
        len(cov_entries),
    )
    return features, schema


def _gathered_dosage_selection(
    source,
    phenotypes: pd.DataFrame,
    in_fold_selection: Mapping[str, int],
    variant_stats,
    *,
    label_column: str,
    chunk_bytes,
    **kw,
) -> tuple[pd.DataFrame, np.ndarray, AlleleFrequencies, dict[str, int]]:
    """In-fold dosage selection from part summaries, then the selected alleles' dosages (people x alleles)."""
    samples = list(phenotypes.index)
    labels = trait_labels(phenotypes, label_column)
    if variant_stats is None:
        parts = [
            part_variant_stats(
                source,
                samples,
                labels=labels,
                n_folds=in_fold_selection["n_folds"],
                seed=in_fold_selection["seed"],
                keep_per_fold=in_fold_selection["keep_per_fold"],
                chunk_bytes=chunk_bytes,
                **kw,
            )
        ]
        chrom_order = None
    else:
        from genorisk.store import is_store, open_store

        parts = [read_part_variant_stats(f) for f in variant_stats]
        chrom_order = list(open_store(source).chroms) if is_store(source) else None
    variants, counts = gather_dosage_selection(parts, chrom_order=chrom_order, min_info=kw["min_info"], source=source)
    folds = parts[0].folds
    if folds["keep_per_fold"] != in_fold_selection["keep_per_fold"] or folds["labels_sha256"] != labels_digest(labels):
        raise InputError(
            variant_stats[0] if variant_stats else source,
            "part summaries of other people, labels or keep_per_fold than these features (stale summaries?)",
        )
    found, dos = genotypes.read_dosages(
        source, variants[["chrom", "pos", "ref", "alt"]], samples=samples, male=kw["male"],
        min_info=kw["min_info"], info_key=kw["info_key"],
    )  # fmt: skip
    if not found["found"].all():
        at = found[~found["found"]].iloc[0]
        raise InputError(source, "a selected allele is not in the genotypes", record=f"{at.chrom}:{at.pos}")
    return variants, np.ascontiguousarray(dos.T), merged_allele_frequencies(parts), counts


def trait_labels(phenotypes: pd.DataFrame, column: str) -> np.ndarray:
    """A trait's labels for dosage selection: the 0/1 column, NaN where unknown.

    Parameters
    ----------
    phenotypes : DataFrame
        :func:`genorisk.config.read_phenotypes` (QC-failed people dropped).
    column : str
        The trait's phenotype column.

    Returns
    -------
    ndarray, shape (n_people,)
        int64 when every person has a value (the labels of a one-trait
        cohort, digest and folds unchanged), else float64 with NaN.
    """
    if column not in phenotypes.columns:
        raise InputError(None, f"trait column {column!r} is not a column of the phenotype table")
    values = phenotypes[column]
    if values.isna().any():
        return values.to_numpy(dtype=np.float64)
    return values.to_numpy().astype(int)


def pgs_features(
    vcf: str | Path,
    samples: pd.Index,
    score_files: Sequence[str | Path],
    allele_freqs: pd.DataFrame | AlleleFrequencies,
    *,
    male: np.ndarray | None = None,
    min_match_rate: float = 0.75,
    min_info: float | None = None,
    info_key: str = "R2",
) -> tuple[pd.DataFrame, list[dict]]:
    """Polygenic score features of the cohort, and their frozen definitions.

    ``score_files`` are matched tables (``<score>.matched.parquet`` of rule
    ``match_score``, :func:`genorisk.scores.score_matched` sums them without
    the scoring file or a second matching) or scoring files (matched and
    summed by :func:`genorisk.scores.compute_scores`); both give the same
    sums (plink2-equal, missing calls imputed with the cohort mean) and the
    same definitions. Each score's match is then frozen into its schema entry
    as a linear form over ALT dosages, ``constant + sum(alt_weight *
    dosage)``, with each variant's cohort allele frequency, so a patient is
    scored on exactly the cohort's matched variants and a missing call is
    imputed with ``2 * cohort_af``, the value mean imputation gives in the cohort.
    """
    from genorisk.scores import (
        check_match_rates,
        compute_scores,
        is_ref_effect,
        read_matched_score,
        read_scoring_file,
        score_matched,
    )

    if not score_files:
        return pd.DataFrame(index=samples), []
    # Per score: its id, the file the user configured, its summary and its matched rows (score-file order).
    scores: list[tuple[str, str, Any, pd.DataFrame]] = []
    if all(str(f).endswith(".parquet") for f in score_files):
        tables = [read_matched_score(f) for f in score_files]
        for m in tables:
            if m.match["min_info"] != min_info or (min_info is not None and m.match["info_key"] != info_key):
                raise InputError(
                    m.path,
                    f"matched with min_info={m.match['min_info']} ({m.match['info_key']}), "
                    f"not min_info={min_info} ({info_key}): rerun match_score",
                )
        check_match_rates(tables, min_match_rate)
        sums = score_matched(vcf, tables, male=male, samples=list(samples))
        for m in tables:
            for s in m.scores:
                rows = m.variants[m.variants["score_id"] == s["score_id"]]
                scores.append((s["score_id"], s["source_file"], s, rows))
    else:
        # The schema names the file the user configured (a target-build copy keeps its name).
        file_of = {sf.score_id: sf.source_name for sf in map(read_scoring_file, score_files)}
        result = compute_scores(
            vcf,
            [str(f) for f in score_files],
            min_match_rate=min_match_rate,
            male=male,
            samples=list(samples),
            min_info=min_info,
            info_key=info_key,
        )
        sums = result.sums
        for key, audit in result.audit.groupby("score_id", sort=False):
            score_id = cast(str, key)  # a str column; pandas-stubs type group keys as any scalar
            rows = audit[audit["match_type"].notna()]
            scores.append((score_id, file_of.get(score_id, ""), result.summary.loc[score_id], rows))
    if isinstance(allele_freqs, pd.DataFrame):
        allele_freqs = AlleleFrequencies(table=allele_freqs)
    columns, entries = {}, []
    for score_id, file, summary, matched in scores:
        weights = matched["effect_weight"].to_numpy(dtype=float)
        ref_effect = np.array([is_ref_effect(m) for m in matched["match_type"]])
        keys = list(
            zip(
                matched["target_chrom"],
                matched["target_pos"].astype(int),
                matched["target_ref"],
                matched["target_alt"],
                strict=False,
            )
        )
        target = pd.DataFrame(keys, columns=["chrom", "pos", "ref", "alt"])
        cohort_af = allele_freqs.lookup(target) if keys else np.zeros(0)
        variants = [
            {
                "chrom": c,
                "pos": int(p),
                "ref": r,
                "alt": a,
                "alt_weight": float(-w if is_ref else w),
                "cohort_af": round(float(f), 8),
            }
            for (c, p, r, a), w, is_ref, f in zip(keys, weights, ref_effect, cohort_af, strict=False)
        ]
        name = f"pgs_{score_id}"
        columns[name] = sums[score_id].reindex(samples).to_numpy(dtype="float32")
        entries.append(
            {
                "name": name,
                "kind": "pgs",
                "label": f"polygenic score {score_id}",
                "group": f"polygenic score {score_id}",
                "definition": {
                    "score_id": score_id,
                    "file": file,
                    "n_variants": int(summary["n_variants"]),
                    "n_matched": int(summary["n_matched"]),
                    "match_rate": float(summary["match_rate"]),
                    # REF effect alleles: w * (2 - d) = 2w - w * d.
                    "constant": float(2 * weights[ref_effect].sum()),
                    "variants": variants,
                },
            }
        )
        log.info(
            "score %s: %d of %d variants matched (%.1f%%)",
            score_id,
            summary["n_matched"],
            summary["n_variants"],
            100 * summary["match_rate"],
        )
    return pd.DataFrame(columns, index=samples), entries


def burden_features(
    vcf: str | Path,
    samples: list[str],
    annotation: pd.DataFrame,
    allele_freqs: pd.DataFrame | AlleleFrequencies,
    *,
    max_af: float = 0.01,
    min_carriers: int = 5,
    male: np.ndarray | None = None,
    min_info: float | None = None,
    info_key: str = "R2",
    consequences_computed: bool | None = None,
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
    if isinstance(allele_freqs, pd.DataFrame):
        allele_freqs = AlleleFrequencies(table=allele_freqs)
    # Only the annotation's alleles are looked up (a filtered read), not a genome-wide table.
    table = annotation.reset_index(drop=True)
    table = table.assign(cohort_af=allele_freqs.lookup(table[["chrom", "pos", "ref", "alt"]]))
    qualifies = (
        rare_damaging(table, max_af=max_af, cohort_af=table["cohort_af"], consequences_computed=consequences_computed)
        & (table["cohort_af"].fillna(0) <= 0.5).to_numpy()
    )
    pathogenic = is_pathogenic(table["clinvar_significance"])
    sel = table[qualifies].assign(pathogenic=pathogenic[qualifies]).reset_index(drop=True)
    if sel.empty:
        return pd.DataFrame(index=samples), []
    found, dos = genotypes.read_dosages(
        vcf, sel[["chrom", "pos", "ref", "alt"]], samples=samples, male=male, min_info=min_info, info_key=info_key
    )
    if min_info is not None:
        # A variant below the imputation-quality filter is not read: it is in no gene's definition.
        keep = found["found"].to_numpy(dtype=bool)
        sel, dos = sel[keep].reset_index(drop=True), dos[keep]
        if sel.empty:
            return pd.DataFrame(index=samples), []
    dos = np.nan_to_num(dos, nan=0.0)
    # "Damaging" only where a consequence was computed (a FASTA for bcftools csq):
    # otherwise a coding position is all that is known (issue #13 item 5).
    if consequences_computed is None:
        consequences_computed = bool(table["consequence"].notna().any())
    burden_label = "rare damaging variants in {}" if consequences_computed else "rare coding variants in {}"
    columns, entries = {}, []
    for gene, rows in sel.groupby("gene", sort=True):
        idx = rows.index.to_numpy()
        counts = dos[idx].sum(axis=0)
        records: Iterator[Any] = rows.itertuples()  # Any: pandas-stubs type each field as any scalar
        variants = [{"chrom": r.chrom, "pos": int(r.pos), "ref": r.ref, "alt": r.alt} for r in records]
        if (counts > 0).sum() >= min_carriers:
            name = f"burden_{gene}"
            columns[name] = counts.astype("float32")
            entries.append(
                {
                    "name": name,
                    "kind": "burden",
                    "label": burden_label.format(gene),
                    "group": f"gene {gene}",
                    "definition": {"gene": gene, "max_af": max_af, "variants": variants},
                }
            )
        path_idx = idx[rows["pathogenic"].to_numpy()]
        carriers = (dos[path_idx] > 0).any(axis=0) if len(path_idx) else np.zeros(dos.shape[1], bool)
        if carriers.sum() >= min_carriers:
            name = f"carrier_{gene}"
            columns[name] = carriers.astype("float32")
            entries.append(
                {
                    "name": name,
                    "kind": "carrier",
                    "label": f"ClinVar pathogenic variant in {gene}",
                    "group": f"gene {gene}",
                    "definition": {
                        "gene": gene,
                        "variants": [variants[i] for i in np.flatnonzero(rows["pathogenic"].to_numpy())],
                    },
                }
            )
    log.info(
        "%d rare damaging or pathogenic alleles in %d genes; %d burden/carrier features",
        len(sel),
        sel["gene"].nunique(),
        len(entries),
    )
    return pd.DataFrame(columns, index=samples), entries


def ancestry_features(
    vcf: str | Path,
    samples: list[str],
    *,
    n_components: int = 5,
    reference_vcf: str | Path | None = None,
    chunk_size: int = 20000,
    chunk_bytes: int = CHUNK_BYTES,
    outlier_rate: float = 0.005,
) -> tuple[pd.DataFrame, list[dict], dict | None]:
    """Ancestry PCs of the cohort (:func:`genorisk.ancestry.fit_ancestry`).

    With a reference panel of several populations the PCs span between-
    population axes, so a patient from another population is flagged; without
    one they describe variation within the cohort only, and the ancestry
    check is weak (the report says so). Returns the PC columns, their schema
    entries and the fitted model as JSON (stored once, at schema top level).
    The genotypes stream in chunks of :func:`~genorisk.features.variant_stats.chunk_rows`
    rows (``chunk_size``, fewer when they would exceed ``chunk_bytes``); the
    fit does not depend on it. ``outlier_rate`` sets the ancestry limit: the
    share of held-out cohort people beyond it (``ancestry.outlier_rate``).
    """
    from genorisk.ancestry import cohort_scores, fit_ancestry

    if n_components <= 0:
        return pd.DataFrame(index=samples), [], None
    rows = chunk_rows(chunk_size, len(samples), chunk_bytes)
    model = fit_ancestry(
        vcf, samples, n_components=n_components, reference_vcf=reference_vcf, chunk_size=rows, outlier_rate=outlier_rate
    )
    scores = cohort_scores(model)
    names = model.pc_names
    entries = [
        {
            "name": n,
            "kind": "pc",
            "label": f"ancestry component {i + 1}",
            "group": "ancestry (PCs)",
            "definition": {"component": i + 1},
        }
        for i, n in enumerate(names)
    ]
    frame = pd.DataFrame(scores.astype("float32"), index=samples, columns=names)
    return frame, entries, model.to_dict(include_cohort_scores=False)
