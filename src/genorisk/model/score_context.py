"""Polygenic scores in context: percentile and Z against the training cohort, and an ancestry-adjusted Z.

Stored at training, as aggregates only (no per-person values), in
``cohort_risks.json`` under ``polygenic_scores``, keyed by score ID:

* ``cohort``: the training cohort's score distribution - 101 quantiles
  (0, 1, ..., 100 %), mean, standard deviation and n. A patient's percentile
  is read off the quantiles (:func:`genorisk.model.cohort_percentile`), its Z
  is ``(value - mean) / sd``.
* ``ancestry``: with an ancestry reference panel, the score's mean and
  variance regressed on the ancestry PCs in the reference people, as
  pgsc_calc's ``Z_norm2`` (Lambert et al. 2024, "Enhancing the Polygenic
  Score Catalog with tools for score calculation and ancestry
  normalization", Nat Genet 56:1989; method from Khera et al. 2019,
  Circulation 139:1593): the mean by least squares on ``[1, PC1..PCk]``,
  the variance by a gamma GLM with log link on the squared residuals, and

      Z_norm2 = (score - mean(PCs)) / sqrt(var(PCs))

  so a person is compared with reference people of similar genetic
  ancestry, whatever their population. The regression's coefficients are
  stored, never the reference people's scores.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from genorisk.model.score import cohort_percentile

log = logging.getLogger("genorisk.model")

#: The method, in the words report.json and the report use.
COHORT_METHOD = "percentile and Z against the training cohort's score distribution"
ANCESTRY_METHOD = (
    "Z_norm2 (pgsc_calc): mean and variance of the score regressed on the ancestry PCs of the reference panel"
)


def score_distribution(values: np.ndarray) -> dict[str, Any]:
    """Aggregate distribution of one score in a cohort.

    Parameters
    ----------
    values : ndarray, shape (n,)
        The cohort's scores (NaN ignored).

    Returns
    -------
    dict
        ``quantiles`` (101: 0, 1, ..., 100 %), ``mean``, ``sd`` (ddof=1) and ``n``.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        raise ValueError(f"a score distribution needs at least 2 values (got {len(v)})")
    return {
        "quantiles": [float(x) for x in np.quantile(v, np.linspace(0, 1, 101))],
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)),
        "n": int(len(v)),
    }


def fit_ancestry_adjustment(scores: np.ndarray, pcs: np.ndarray) -> dict[str, Any]:
    """Fit pgsc_calc's ``Z_norm2`` on reference people: the score's mean and variance as functions of the PCs.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Reference people's scores.
    pcs : ndarray, shape (n, k)
        Their ancestry PC scores (projected onto the cohort's PCs).

    Returns
    -------
    dict
        ``method``, ``n_reference``, ``n_pcs``, ``mean_coef`` (intercept then
        one per PC: ``mean = [1, pcs] @ mean_coef``) and ``var_coef``
        (``var = exp([1, pcs] @ var_coef)``).
    """
    from sklearn.linear_model import GammaRegressor

    y = np.asarray(scores, dtype=np.float64)
    x = np.asarray(pcs, dtype=np.float64)
    n, k = x.shape
    if n <= k + 2:
        raise ValueError(f"{n} reference people cannot fit an adjustment on {k} PCs")
    design = np.column_stack([np.ones(n), x])
    mean_coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid2 = (y - design @ mean_coef) ** 2
    # A gamma GLM with log link on the squared residuals, as pgsc_calc; unpenalised.
    glm = GammaRegressor(alpha=0.0, max_iter=1000, tol=1e-10).fit(x, np.maximum(resid2, 1e-12 * resid2.mean()))
    return {
        "method": ANCESTRY_METHOD,
        "n_reference": int(n),
        "n_pcs": int(k),
        "mean_coef": [float(c) for c in mean_coef],
        "var_coef": [float(glm.intercept_)] + [float(c) for c in glm.coef_],
    }


def ancestry_adjusted_z(value: float | np.ndarray, pcs: np.ndarray, adjustment: Mapping[str, Any]) -> np.ndarray:
    """``Z_norm2`` of scores given each person's PCs (the first ``n_pcs`` columns are used)."""
    x = np.atleast_2d(np.asarray(pcs, dtype=np.float64))[:, : adjustment["n_pcs"]]
    design = np.column_stack([np.ones(len(x)), x])
    mean = design @ np.asarray(adjustment["mean_coef"])
    var = np.exp(design @ np.asarray(adjustment["var_coef"]))
    return (np.asarray(value, dtype=np.float64) - mean) / np.sqrt(var)


def reference_panel_scores(
    schema: Mapping[str, Any], reference_vcf: str | PathLike
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The reference panel's polygenic scores and ancestry PCs, from the frozen feature schema.

    Scores are computed as a patient's are (:func:`genorisk.features.patient.pgs_values`:
    a missing call counts twice the cohort allele frequency), PCs by
    :func:`genorisk.ancestry.project`.

    Returns
    -------
    (dict, ndarray)
        ``{score_id: values (n_reference,)}`` and the PCs, shape (n_reference, n_components).
    """
    from genorisk import genotypes
    from genorisk.ancestry import AncestryModel, project
    from genorisk.features.patient import pgs_values

    ancestry = AncestryModel.from_dict(schema["ancestry"])
    pgs = [f["definition"] for f in schema["features"] if f["kind"] == "pgs"]
    keys = list(
        dict.fromkeys(
            [(v["chrom"], int(v["pos"]), v["ref"], v["alt"]) for d in pgs for v in d["variants"]]
            + list(
                zip(
                    ancestry.variants["chrom"],
                    ancestry.variants["pos"].astype(int),
                    ancestry.variants["ref"],
                    ancestry.variants["alt"],
                    strict=True,
                )
            )
        )
    )
    table = pd.DataFrame(keys, columns=["chrom", "pos", "ref", "alt"])
    found, dosage = genotypes.read_dosages(reference_vcf, table)
    dosage = np.asarray(dosage, dtype=np.float64)  # (n_keys, n_reference)
    row_of = {k: i for i, k in enumerate(keys)}
    at = [
        row_of[k]
        for k in zip(
            ancestry.variants["chrom"],
            ancestry.variants["pos"].astype(int),
            ancestry.variants["ref"],
            ancestry.variants["alt"],
            strict=True,
        )
    ]
    pcs = project(ancestry, dosage[at].T)
    values = {d["score_id"]: pgs_values(d, dosage, row_of)[0] for d in pgs}
    return values, pcs


def polygenic_score_context(
    features: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    reference_vcf: str | PathLike | None = None,
) -> dict[str, Any]:
    """The context of every polygenic score of a feature schema, as stored at training.

    Parameters
    ----------
    features : DataFrame
        The cohort's feature matrix (``pgs_<id>`` columns).
    schema : mapping
        The feature schema (its ``pgs`` entries and ``ancestry`` model).
    reference_vcf : path, optional
        The ancestry reference panel; without it (or without an ancestry
        model) the ancestry adjustment is None.

    Returns
    -------
    dict
        ``{score_id: {"cohort": score_distribution, "ancestry": fit or None,
        "method": str, "ancestry_method": str or None}}``.
    """
    entries = [f for f in schema["features"] if f["kind"] == "pgs"]
    out: dict[str, Any] = {}
    reference = None
    if entries and reference_vcf is not None and schema.get("ancestry"):
        reference = reference_panel_scores(schema, reference_vcf)
    for f in entries:
        sid = f["definition"]["score_id"]
        adjustment = None
        if reference is not None:
            values, pcs = reference
            adjustment = fit_ancestry_adjustment(values[sid], pcs)
            log.info("score %s: ancestry adjustment (Z_norm2) fitted on %d reference people", sid, len(pcs))
        out[sid] = {
            "cohort": score_distribution(features[f["name"]].to_numpy()),
            "ancestry": adjustment,
            "method": COHORT_METHOD,
            "ancestry_method": None if adjustment is None else ANCESTRY_METHOD,
        }
    return out


def score_in_context(
    score_id: str, value: float, pcs: Sequence[float] | None, context: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A patient's score placed in its stored context.

    Returns
    -------
    dict
        ``percentile`` and ``z`` against the training cohort (None without a
        stored context), ``z_ancestry`` (None without an ancestry adjustment
        or PCs), ``method`` and ``ancestry_method``.
    """
    entry = (context or {}).get(score_id)
    if not entry:
        return {"percentile": None, "z": None, "z_ancestry": None, "method": None, "ancestry_method": None}
    cohort = entry["cohort"]
    z_anc = None
    if entry.get("ancestry") and pcs is not None:
        z_anc = float(ancestry_adjusted_z(value, np.asarray(pcs)[None, :], entry["ancestry"])[0])
    return {
        "percentile": float(cohort_percentile(np.asarray(cohort["quantiles"]), np.asarray([value]))[0]),
        "z": (value - cohort["mean"]) / cohort["sd"] if cohort["sd"] > 0 else 0.0,
        "z_ancestry": z_anc,
        "method": entry["method"],
        "ancestry_method": entry.get("ancestry_method"),
    }
