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
from .errors import InputError

log = logging.getLogger("genorisk.features")

SCHEMA_VERSION = 1


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
    chunk_size: int = 20000,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Stream the cohort VCF and keep SNV/indel ALT alleles that pass MAF and call rate.

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
    chunk_size : int
        ALT rows read per chunk; memory is bounded by the chunk plus the
        kept columns.

    Returns
    -------
    variants : DataFrame
        chrom, pos, ref, alt, cohort_af, call_rate of kept alleles, file order.
    dosages : ndarray
        float32, (n_samples, n_kept), NaN for missing calls.
    """
    kept_frames, kept_mats = [], []
    n_seen = 0
    t0 = time.perf_counter()
    for chunk in genotypes.iter_dosage_chunks(vcf, samples=samples, male=male, chunk_size=chunk_size):
        d = chunk.dosages
        called = ~np.isnan(d)
        n_called = called.sum(axis=1)
        call_rate = n_called / d.shape[1]
        # Allele frequency over called genotypes (diploid scale).
        af = np.divide(np.nansum(d, axis=1), 2 * n_called, out=np.zeros(len(d)), where=n_called > 0)
        maf = np.minimum(af, 1 - af)
        alleles_ok = chunk.variants["alt"].str.fullmatch(r"[ACGTN]+") & chunk.variants["ref"].str.fullmatch(r"[ACGTN]+")
        keep = (maf >= min_maf) & (call_rate >= min_call_rate) & alleles_ok.to_numpy()
        n_seen += len(d)
        if keep.any():
            frame = chunk.variants.loc[keep, ["chrom", "pos", "ref", "alt"]].copy()
            frame["cohort_af"] = af[keep]
            frame["call_rate"] = call_rate[keep]
            kept_frames.append(frame)
            kept_mats.append(d[keep].T.copy())
        log.info("%d ALT alleles scanned, %d kept (%.0f/s)", n_seen, sum(len(f) for f in kept_frames), n_seen / max(time.perf_counter() - t0, 1e-9))
    if not kept_frames:
        raise InputError(vcf, f"no variant passes min_maf={min_maf} and min_call_rate={min_call_rate}")
    variants = pd.concat(kept_frames, ignore_index=True)
    dup = variants.duplicated(["chrom", "pos", "ref", "alt"])
    if dup.any():
        log.warning("%d duplicate alleles dropped (first occurrence kept)", int(dup.sum()))
    mat = np.concatenate(kept_mats, axis=1)[:, ~dup.to_numpy()]
    return variants[~dup].reset_index(drop=True), mat


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
    chunk_size: int = 20000,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Define and compute the cohort's feature matrix.

    Every phenotype-table sample must be in the VCF (an InputError names the
    first missing one); VCF samples without a phenotype are not used.

    Returns
    -------
    features : DataFrame
        Indexed by ``sample_id``, columns in schema order.
    schema : dict
        The feature schema (see module docstring).
    """
    samples = list(phenotypes.index)
    male = (phenotypes["sex"] == "male").to_numpy() if "sex" in phenotypes else None
    variants, dos = select_dosage_variants(vcf, samples, min_maf=min_maf, min_call_rate=min_call_rate, male=male, chunk_size=chunk_size)
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
    cov, cov_entries = covariate_features(phenotypes, list(covariates))
    features = pd.concat([pd.DataFrame(dos, index=phenotypes.index, columns=names), cov], axis=1)
    schema = {"schema_version": SCHEMA_VERSION, "features": entries + cov_entries}
    log.info("cohort features: %d people x %d features (%d variants, %d covariates)",
             len(features), features.shape[1], len(entries), len(cov_entries))
    return features, schema


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

    Returns
    -------
    features : DataFrame
        One row indexed by ``sample``, columns exactly the schema's names.
    coverage : dict
        ``n_model_variants``, ``n_missing`` (absent from the VCF),
        ``n_uncalled`` (present but no genotype call), ``coverage`` (called /
        total) and ``call_rate`` over the present model variants.
    """
    wanted = dosage_variants(schema)
    found_tbl, dos = genotypes.read_dosages(
        vcf, wanted[["chrom", "pos", "ref", "alt"]], samples=[sample],
        male=None if male is None else np.array([male]),
    )
    found = found_tbl["found"].to_numpy()
    values = dos[:, 0]
    called = ~np.isnan(values)
    row: dict[str, float] = dict(zip(wanted["name"], values.astype("float32")))
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
    }
    return frame, coverage
