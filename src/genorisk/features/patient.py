"""Patient features: one person's features computed from the cohort's frozen schema."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk import genotypes
from genorisk.errors import InputError
from genorisk.vcf import index_regions

log = logging.getLogger("genorisk.features")

#: A patient VCF is read through its index when the schema's positions are
#: fewer than this fraction of its records (see genorisk.vcf.index_regions:
#: measured break-even about 1% for GT-only files, 15% for WGS FORMAT fields).
INDEX_MAX_FRACTION = 0.02


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


def dosage_variants(schema: Mapping[str, Any]) -> pd.DataFrame:
    """The schema's dosage features as a variants table (chrom, pos, ref, alt, name), schema order."""
    rows = [dict(f["definition"], name=f["name"]) for f in schema["features"] if f["kind"] == "dosage"]
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "cohort_af", "name"])


def patient_features(
    vcf: str | Path,
    sample: str,
    schema: Mapping[str, Any],
    covariate_values: Mapping[str, Any],
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
    schema : Mapping
        The cohort's feature schema; its order is the output's column order.
    covariate_values : Mapping
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
    extra_rows = [
        (v["chrom"], v["pos"], v["ref"], v["alt"])
        for f in pgs_entries + gene_entries
        for v in f["definition"]["variants"]
    ]
    ancestry = None
    if schema.get("ancestry"):
        from genorisk.ancestry import AncestryModel

        ancestry = AncestryModel.from_dict(schema["ancestry"])
        av = ancestry.variants
        extra_rows += list(zip(av["chrom"], av["pos"].astype(int), av["ref"], av["alt"], strict=False))
    keys = list(
        dict.fromkeys(
            list(zip(wanted["chrom"], wanted["pos"], wanted["ref"], wanted["alt"], strict=False)) + extra_rows
        )
    )
    key_table = pd.DataFrame(keys, columns=["chrom", "pos", "ref", "alt"])
    # A WGS patient VCF has millions of records and the schema needs a few
    # thousand positions: with an index, read only those (merged into
    # regions); without one, one pass over the file for every feature.
    regions = (
        None
        if use_index is False
        else index_regions(vcf, key_table, max_fraction=None if use_index else INDEX_MAX_FRACTION)
    )
    log.info(
        "patient features: %d schema alleles, read %s",
        len(keys),
        "by a full pass (no index)" if regions is None else f"through the index ({len(regions)} regions)",
    )
    found_tbl, dos = genotypes.read_dosages(
        vcf,
        key_table,
        samples=[sample],
        male=None if male is None else np.array([male]),
        regions=regions,
    )
    dosage = dict(zip(keys, dos[:, 0].astype(float), strict=False))
    found_all = dict(zip(keys, found_tbl["found"].to_numpy(), strict=False))
    found = np.array(
        [found_all[k] for k in zip(wanted["chrom"], wanted["pos"], wanted["ref"], wanted["alt"], strict=False)],
        dtype=bool,
    )
    values = np.array(
        [dosage[k] for k in zip(wanted["chrom"], wanted["pos"], wanted["ref"], wanted["alt"], strict=False)],
        dtype=float,
    )
    called = ~np.isnan(values)
    row: dict[str, float] = dict(zip(wanted["name"], values.astype("float32"), strict=False))
    ancestry_qc = None
    if ancestry is not None:
        from genorisk.ancestry import ancestry_distance, project

        av = ancestry.variants
        d = np.array(
            [dosage[k] for k in zip(av["chrom"], av["pos"].astype(int), av["ref"], av["alt"], strict=False)],
            dtype=float,
        )
        pcs = project(ancestry, d[None, :])
        distance, outlier = ancestry_distance(ancestry, pcs)
        row.update(dict(zip(ancestry.pc_names, pcs[0].astype(float), strict=False)))
        ancestry_qc = {
            "distance": float(distance[0]),
            "outlier": bool(outlier[0]),
            "threshold": float(ancestry.distance_threshold),
            "fraction_missing": float(np.isnan(d).mean()),
            "reference_panel": bool(ancestry.has_reference_panel),
        }
    for entry in gene_entries:
        carried = [dosage[(v["chrom"], v["pos"], v["ref"], v["alt"])] for v in entry["definition"]["variants"]]
        d = np.nan_to_num(np.array(carried, dtype=float), nan=0.0)
        row[entry["name"]] = float(d.sum()) if entry["kind"] == "burden" else float((d > 0).any())
    scores = []
    for entry in pgs_entries:
        value, n_called = _pgs_value(entry["definition"], dosage)
        row[entry["name"]] = value
        d = entry["definition"]
        scores.append(
            {
                "id": d["score_id"],
                "value": value,
                "n_variants": d["n_variants"],
                "n_matched": n_called,
                "match_rate": n_called / d["n_variants"] if d["n_variants"] else 0.0,
                "n_matched_cohort": d["n_matched"],
            }
        )
    for entry in schema["features"]:
        if entry["kind"] != "covariate":
            continue
        column = entry["definition"]["column"]
        raw: Any = covariate_values.get(column)  # as the phenotype table gives it
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
