"""Ancestry principal components: fit once on the cohort, project new people.

The model is fitted on common, biallelic, autosomal SNVs of the cohort,
LD-pruned with :func:`allel.locate_unlinked`, by :func:`allel.pca` (exact SVD)
or :func:`allel.randomized_pca` (large inputs), with Patterson scaling. A new
person is *projected* onto the stored components, never refitted:

    x_j  = (dosage_j - mean_j) / scale_j        (0 where the call is missing)
    pc_c = sum_j x_j * loading_cj

with ``mean_j = 2 p_j`` (ALT dosage mean of the fitting people) and
``scale_j = sqrt(p_j (1 - p_j))`` (Patterson et al. 2006, scikit-allel's
``PattersonScaler``). A cohort member projected gets exactly its own cohort
scores: the cohort scores are computed by this same projection from the same
stored (float32) parameters.

How far a person is from the cohort is the Mahalanobis distance of its top
``distance_pcs`` PC scores from the cohort's scores (cohort mean and
covariance). The outlier threshold flags ``outlier_rate`` (default 0.5 %)
of the cohort's own population: it is the ``1 - outlier_rate`` quantile of
*held-out* cohort distances (:func:`heldout_distances`: K-fold, each fold
projected onto a PCA fitted without it), since a new person is projected,
not fitted, and so lies closer to the centre than the in-sample distances.

Known limits (say them in reports):

* A homogeneous cohort's PCs describe variation *within* that population.
  Someone from a distant population projects near the centre of such PCs
  (the direction separating the populations is not among them), so the
  distance cannot flag them. Fit with a multi-population ``reference`` panel
  (e.g. YRI, CEU, CHB people; used for the PCA, never for the distance
  summary) so the continental axes are among the PCs.
* Projection shrinks toward the cohort centre: a person outside the fitting
  set has smaller PC scores than a fitted person at the same position
  (out-of-sample shrinkage, Lee et al. 2010, Genet Epidemiol 34:51), so the
  in-sample threshold is conservative for new people.
* A missing call contributes 0 (mean imputation): with a fraction ``f`` of
  the model variants missing, scores shrink by about ``(1 - f)`` toward the
  cohort centre, which hides distance. :func:`project_vcf` reports ``f``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from . import genotypes
from .ancestry_pca import HELDOUT_PROBABILITIES, heldout_distances, pca_parameters
from .errors import InputError

# Chromosomes left out of the PCA (sex chromosomes: dosage depends on sex; mitochondria) are
# genorisk.genome.NON_AUTOSOMES, still importable from here.
from .genome import NON_AUTOSOMES as NON_AUTOSOMES
from .genome import is_autosome
from .ld_pruning import LDPruner

log = logging.getLogger("genorisk.ancestry")

FORMAT = "genorisk.ancestry/1"

_BASES = frozenset("ACGT")
_AMBIGUOUS = frozenset({("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")})
#: Default limit of people x variants in the ancestry PCA fit (see :func:`fit_ancestry`).
MAX_PCA_CELLS = 25_000_000


@dataclass
class AncestryModel:
    """Everything needed to project a person onto the cohort's ancestry PCs.

    Attributes
    ----------
    variants : pandas.DataFrame
        ``chrom``, ``pos``, ``ref``, ``alt`` of the model variants (file order).
    mean : numpy.ndarray, float32, shape (n_variants,)
        Mean ALT dosage (2 p) of the fitting people; the imputed value of a missing call.
    loadings : numpy.ndarray, float32, shape (n_components, n_variants)
        Component loadings (rows of unit length) on the Patterson-scaled dosages.
    explained_variance_ratio : numpy.ndarray, shape (n_components,)
        Share of the scaled genotype variance of the fitting people per component.
    score_mean, score_sd : numpy.ndarray, shape (n_components,)
        Mean and standard deviation of the cohort's PC scores.
    score_cov : numpy.ndarray, shape (distance_pcs, distance_pcs)
        Covariance of the cohort's scores on the top ``distance_pcs`` PCs.
    distance_pcs : int
        Number of top PCs the Mahalanobis distance uses.
    distance_quantile : float
        Quantile of the cohort's distances used as the outlier threshold.
    distance_threshold : float
        Distances above it are ancestry outliers.
    fit_info : dict
        Settings and counts of the fit (JSON-ready).
    limit_info : dict
        How the outlier threshold was set: ``method``, ``outlier_rate``,
        ``in_sample_threshold`` and, when measured out of fold,
        ``heldout_folds``, ``heldout_flag_rate`` and ``heldout_quantiles``
        (aggregate upper quantiles of the held-out distances).
    cohort_scores_ : numpy.ndarray or None, shape (n_cohort, n_components)
        The cohort's PC scores (cohort order); see :func:`cohort_scores`.
    samples : list of str or None
        Cohort sample names, in memory only (never written by :meth:`to_dict`).
    """

    variants: pd.DataFrame
    mean: np.ndarray
    loadings: np.ndarray
    explained_variance_ratio: np.ndarray
    score_mean: np.ndarray
    score_sd: np.ndarray
    score_cov: np.ndarray
    distance_pcs: int
    distance_quantile: float
    distance_threshold: float
    fit_info: dict = field(default_factory=dict)
    limit_info: dict = field(default_factory=dict)
    cohort_scores_: np.ndarray | None = None
    samples: list[str] | None = None

    @property
    def n_components(self) -> int:
        return int(self.loadings.shape[0])

    @property
    def n_variants(self) -> int:
        return int(self.loadings.shape[1])

    @property
    def scale(self) -> np.ndarray:
        """Patterson scaler sqrt(p (1 - p)), float64, derived from :attr:`mean`."""
        p = self.mean.astype(np.float64) / 2.0
        return np.sqrt(p * (1.0 - p))

    @property
    def has_reference_panel(self) -> bool:
        """True when a reference panel joined the fit. Without one the distance
        only sees variation within the cohort's own population (module notes):
        a report should say the ancestry check is limited."""
        return int(self.fit_info.get("n_reference", 0)) > 0

    @property
    def pc_names(self) -> list[str]:
        return [f"pc{i + 1}" for i in range(self.n_components)]

    def to_dict(self, *, include_cohort_scores: bool = True) -> dict[str, Any]:
        """JSON-ready dict; large arrays as base64 of little-endian float32.

        Small arrays are written as full-precision JSON floats, so
        ``from_dict(to_dict())`` projects bit-identically. Cohort scores (for
        plotting a patient against the cohort; no sample names) are optional.
        """
        v = self.variants
        out = {
            "format": FORMAT,
            "n_components": self.n_components,
            "n_variants": self.n_variants,
            "variants": {
                "chrom": [str(c) for c in v["chrom"]],
                "pos": [int(p) for p in v["pos"]],
                "ref": "".join(v["ref"]),  # single bases: one string per column
                "alt": "".join(v["alt"]),
            },
            "scaler": "patterson",
            "mean_dosage_f32": _b64(self.mean),
            "loadings_f32": _b64(self.loadings),
            "explained_variance_ratio": [float(x) for x in self.explained_variance_ratio],
            "scores": {
                "mean": [float(x) for x in self.score_mean],
                "sd": [float(x) for x in self.score_sd],
                "covariance_top": [[float(x) for x in row] for row in self.score_cov],
            },
            "distance": {
                "kind": "mahalanobis",
                "n_pcs": self.distance_pcs,
                "quantile": self.distance_quantile,
                "threshold": float(self.distance_threshold),
                **self.limit_info,
            },
            "fit": self.fit_info,
        }
        if include_cohort_scores and self.cohort_scores_ is not None:
            out["cohort_scores_f32"] = _b64(self.cohort_scores_)
            out["n_cohort"] = int(self.cohort_scores_.shape[0])
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AncestryModel:
        """Inverse of :meth:`to_dict`; refuses other formats."""
        if d.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} ancestry model (format={d.get('format')!r})")
        k, m = int(d["n_components"]), int(d["n_variants"])
        vv = d["variants"]
        variants = pd.DataFrame(
            {
                "chrom": pd.array(vv["chrom"], dtype="str"),
                "pos": np.asarray(vv["pos"], dtype=np.int64),
                "ref": pd.array(list(vv["ref"]), dtype="str"),
                "alt": pd.array(list(vv["alt"]), dtype="str"),
            }
        )
        scores = None
        if "cohort_scores_f32" in d:
            scores = _unb64(d["cohort_scores_f32"], (int(d["n_cohort"]), k))
        return cls(
            variants=variants,
            mean=_unb64(d["mean_dosage_f32"], (m,)),
            loadings=_unb64(d["loadings_f32"], (k, m)),
            explained_variance_ratio=np.asarray(d["explained_variance_ratio"], dtype=np.float64),
            score_mean=np.asarray(d["scores"]["mean"], dtype=np.float64),
            score_sd=np.asarray(d["scores"]["sd"], dtype=np.float64),
            score_cov=np.asarray(d["scores"]["covariance_top"], dtype=np.float64),
            distance_pcs=int(d["distance"]["n_pcs"]),
            distance_quantile=float(d["distance"]["quantile"]),
            distance_threshold=float(d["distance"]["threshold"]),
            fit_info=dict(d.get("fit", {})),
            limit_info={k: v for k, v in d["distance"].items() if k not in ("kind", "n_pcs", "quantile", "threshold")},
            cohort_scores_=scores,
        )


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _unb64(s: str, shape: tuple[int, ...]) -> np.ndarray:
    a = np.frombuffer(base64.b64decode(s), dtype="<f4")
    if a.size != int(np.prod(shape)):
        raise ValueError(f"ancestry model array has {a.size} values, expected {shape}")
    return a.reshape(shape).astype(np.float32)


# ----------------------------------------------------------------- selection


def _candidate_mask(
    variants: pd.DataFrame, dosages: np.ndarray, *, min_maf: float, min_call_rate: float, drop_ambiguous: bool
) -> np.ndarray:
    """Rows of a (variants x people) chunk usable for PCA."""
    ref = variants["ref"].to_numpy(dtype=object)
    alt = variants["alt"].to_numpy(dtype=object)
    snv = np.array([r in _BASES and a in _BASES for r, a in zip(ref, alt, strict=False)], dtype=bool)
    if drop_ambiguous:
        # A/T and C/G SNVs cannot be strand-checked in a patient file from another pipeline.
        snv &= np.array([(r, a) not in _AMBIGUOUS for r, a in zip(ref, alt, strict=False)], dtype=bool)
    if "n_alt" in variants:
        snv &= variants["n_alt"].to_numpy() == 1
    autosome = np.array([is_autosome(c) for c in variants["chrom"]], dtype=bool)
    called = ~np.isnan(dosages)
    n_called = called.sum(axis=1)
    af = np.divide(np.nansum(dosages, axis=1), 2 * n_called, out=np.zeros(len(dosages)), where=n_called > 0)
    maf = np.minimum(af, 1 - af)
    return snv & autosome & (n_called >= min_call_rate * dosages.shape[1]) & (maf >= min_maf)


def _as_int8(dosages: np.ndarray) -> np.ndarray:
    """(variants x people) dosages as scikit-allel's int8 ALT counts; -1 = missing.

    ``rogers_huff_r`` skips a pair where either call is negative (pairwise
    deletion), which estimates r without the dilution mean imputation causes.
    DS dosages are rounded (for pruning only).
    """
    out = np.rint(np.nan_to_num(dosages, nan=-1.0)).astype(np.int8)
    return out


# ----------------------------------------------------------------------- fit


def fit_ancestry(
    vcf: str | PathLike,
    samples: Sequence[str],
    *,
    n_components: int = 10,
    min_maf: float = 0.05,
    min_call_rate: float = 0.95,
    drop_ambiguous: bool = True,
    ld_window: int = 100,
    ld_step: int = 20,
    ld_threshold: float = 0.1,
    max_variants: int = 20000,
    max_cells: int = MAX_PCA_CELLS,
    distance_pcs: int = 5,
    distance_quantile: float | None = None,
    outlier_rate: float = 0.005,
    heldout_folds: int = 5,
    reference_vcf: str | PathLike | None = None,
    reference_samples: Sequence[str] | None = None,
    chunk_size: int = 20000,
    seed: int = 0,
) -> AncestryModel:
    """Fit ancestry PCs on a cohort VCF/BCF (one streaming pass).

    Parameters
    ----------
    vcf : path
        Cohort VCF/BCF.
    samples : sequence of str
        Cohort samples; :func:`cohort_scores` follows this order.
    n_components : int
        PCs kept.
    min_maf, min_call_rate : float
        Variant filters, computed on the cohort's called genotypes.
    drop_ambiguous : bool
        Leave out strand-ambiguous A/T and C/G SNVs.
    ld_window, ld_step, ld_threshold
        :func:`allel.locate_unlinked` window (variants), step and r**2 limit,
        on the cohort's int8 ALT counts; a pair with a missing call in either
        variant is skipped (scikit-allel's pairwise deletion). Pruned as the
        variants stream in (:class:`genorisk.ld_pruning.LDPruner`, exactly
        :func:`allel.locate_unlinked`'s result): memory is one block of about
        1 MB plus the kept variants' keys; the dosages of the (at most
        ``max_variants``) variants used are then read again.
    max_variants : int
        Upper limit of pruned variants used; a random subset (``seed``) above it.
    max_cells : int
        Upper limit of people (cohort + reference) x variants in the fit: the
        variant limit is lowered to ``max_cells // people`` (at least
        ``4 * n_components``), so the PCA's float64 working copies (about five)
        stay near ``5 * 8 * max_cells`` bytes whatever the cohort size. The
        default 25 million cells is about 1 GB: 10,000 people are fitted on
        2,500 pruned variants, enough for continental structure; the demo
        (3,282 people x 502 variants) is far below it.
    distance_pcs : int
        Top PCs used for the Mahalanobis distance (at most ``n_components``).
        Default 5: continental structure needs 2-4 PCs; more PCs add
        within-cohort noise to the distance.
    outlier_rate : float
        Share of the cohort's own population flagged (config
        ``ancestry.outlier_rate``, default 0.5 %), measured on held-out
        cohort people (:func:`heldout_distances`, ``heldout_folds`` folds).
    distance_quantile : float, optional
        Overrides ``1 - outlier_rate`` as the quantile of the distances.
    reference_vcf, reference_samples
        Optional reference panel (other populations) added to the PCA fit
        only; the distance summary uses the cohort alone. Model variants are
        those called in the reference too.
    chunk_size : int
        Rows per streamed chunk.
    seed : int
        Seed of the variant subsampling and randomized SVD.

    Returns
    -------
    AncestryModel
    """
    samples = list(samples)
    # Candidates are pruned as int8 ALT counts (-1 = missing) as they stream in, with
    # scikit-allel's own windows and blocks (LDPruner: exactly allel.locate_unlinked on
    # the whole candidate matrix), so memory is one block, not every candidate.
    pruner = LDPruner(len(samples), size=ld_window, step=ld_step, threshold=ld_threshold)
    n_seen = 0
    for chunk in genotypes.iter_dosage_chunks(vcf, samples=samples, chunk_size=chunk_size):
        n_seen += len(chunk.dosages)
        cand = _candidate_mask(
            chunk.variants, chunk.dosages, min_maf=min_maf, min_call_rate=min_call_rate, drop_ambiguous=drop_ambiguous
        )
        if not cand.any():
            continue
        pruner.add(chunk.variants.loc[cand, ["chrom", "pos", "ref", "alt"]], _as_int8(chunk.dosages[cand]))
    n_candidates = pruner.n_added
    if not n_candidates:
        raise InputError(vcf, f"no biallelic autosomal SNV passes min_maf={min_maf} and min_call_rate={min_call_rate}")
    variants = pruner.finish()
    n_pruned = len(variants)
    log.info("ancestry: %d ALT alleles read, %d common SNVs, %d after LD pruning", n_seen, n_candidates, n_pruned)
    reference = None
    if reference_vcf is not None:
        found, ref_dos = genotypes.read_dosages(reference_vcf, variants, samples=reference_samples)
        ref_called = (~np.isnan(ref_dos)).mean(axis=1) >= min_call_rate
        usable = found["found"].to_numpy(dtype=bool) & ref_called
        log.info(
            "ancestry: %d of %d pruned variants present and called in the reference panel", usable.sum(), len(usable)
        )
        variants, reference = variants[usable].reset_index(drop=True), ref_dos[usable].T
    n_fit = len(samples) + (0 if reference is None else len(reference))
    max_variants = min(max_variants, max(4 * n_components, max_cells // max(n_fit, 1)))
    if len(variants) > max_variants:
        log.info("ancestry: %d people in the fit: a random %d of the pruned variants are used", n_fit, max_variants)
        # fit_ancestry_dosages's own subsample (same generator, same draw), taken before reading,
        # so only the variants used are read.
        cols = np.sort(np.random.default_rng(seed).choice(np.arange(len(variants)), size=max_variants, replace=False))
        variants = variants.iloc[cols].reset_index(drop=True)
        reference = None if reference is None else reference[:, cols]
    # The exact dosages of the variants used (hard calls: the int8 counts pruned on; DS: the fractions).
    _, exact = genotypes.read_dosages(vcf, variants, samples=samples)
    dosages = exact.T.astype(np.float64)
    del exact
    model = fit_ancestry_dosages(
        variants,
        dosages,
        n_components=n_components,
        max_variants=max_variants,
        distance_pcs=distance_pcs,
        distance_quantile=distance_quantile,
        outlier_rate=outlier_rate,
        heldout_folds=heldout_folds,
        reference_dosages=reference,
        seed=seed,
    )
    model.samples = samples
    model.fit_info.update(
        {
            "min_maf": min_maf,
            "min_call_rate": min_call_rate,
            "drop_ambiguous": drop_ambiguous,
            "ld_window": ld_window,
            "ld_step": ld_step,
            "ld_threshold": ld_threshold,
            "n_alleles_read": n_seen,
            "n_common_snvs": n_candidates,
            "n_after_ld_pruning": n_pruned,
            **({"max_variants": max_variants} if n_pruned > max_variants else {}),
        }
    )
    return model


def fit_ancestry_dosages(
    variants: pd.DataFrame,
    dosages: np.ndarray,
    *,
    n_components: int = 10,
    max_variants: int = 20000,
    distance_pcs: int = 5,
    distance_quantile: float | None = None,
    outlier_rate: float = 0.005,
    heldout_folds: int = 5,
    reference_dosages: np.ndarray | None = None,
    seed: int = 0,
) -> AncestryModel:
    """Fit the PCA on already selected (LD-pruned) variants.

    Parameters
    ----------
    variants : pandas.DataFrame
        ``chrom``, ``pos``, ``ref``, ``alt``, one row per column of ``dosages``.
    dosages : numpy.ndarray, shape (n_cohort, n_variants)
        Cohort ALT dosages, NaN = missing (imputed with the mean of the fitting people).
    reference_dosages : numpy.ndarray, shape (n_reference, n_variants), optional
        Reference-panel people added to the fit (not to the distance summary).
    outlier_rate : float
        Share of the cohort's own population the ancestry limit flags (config
        ``ancestry.outlier_rate``): the limit is the ``1 - outlier_rate``
        quantile of the held-out distances (:func:`heldout_distances`).
    heldout_folds : int
        Folds of that measurement; 0 = the in-sample distances (the limit is
        then too high for new people: see the module notes).
    distance_quantile : float, optional
        Overrides ``1 - outlier_rate``.

    Other parameters as in :func:`fit_ancestry`.
    """
    dosages = np.asarray(dosages, dtype=np.float64)
    if dosages.ndim != 2 or dosages.shape[1] != len(variants):
        raise ValueError(f"dosages shape {dosages.shape} does not match {len(variants)} variants")
    quantile = 1.0 - outlier_rate if distance_quantile is None else distance_quantile
    n_cohort = dosages.shape[0]
    rng = np.random.default_rng(seed)
    cols = np.arange(len(variants))
    if len(cols) > max_variants:
        cols = np.sort(rng.choice(cols, size=max_variants, replace=False))
    fitting = dosages[:, cols]
    if reference_dosages is not None:
        fitting = np.concatenate([fitting, np.asarray(reference_dosages, dtype=np.float64)[:, cols]])
    # Canonical parameters are float32 (as stored in JSON) and every score,
    # cohort or new person, is computed from them by project().
    mean = np.nanmean(fitting, axis=0).astype(np.float32)
    p = mean.astype(np.float64) / 2
    usable = (p > 0) & (p < 1)  # monomorphic in the fitting people: no information, scale 0
    cols, fitting = cols[usable], fitting[:, usable]
    n_components = min(n_components, *fitting.shape)
    mean, loadings, evr, method = pca_parameters(fitting, n_components, seed)
    k = max(1, min(distance_pcs, n_components))
    model = AncestryModel(
        variants=variants.iloc[cols][["chrom", "pos", "ref", "alt"]].reset_index(drop=True),
        mean=mean,
        loadings=loadings,
        explained_variance_ratio=evr,
        score_mean=np.zeros(n_components),
        score_sd=np.ones(n_components),
        score_cov=np.eye(k),
        distance_pcs=k,
        distance_quantile=quantile,
        distance_threshold=np.inf,
    )
    scores = project(model, dosages[:, cols])
    model.cohort_scores_ = scores.astype(np.float32)
    model.score_mean = scores.mean(axis=0)
    model.score_sd = scores.std(axis=0, ddof=1)
    model.score_cov = np.atleast_2d(np.cov(scores[:, :k], rowvar=False))
    distance, _ = ancestry_distance(model, scores)
    in_sample = float(np.quantile(distance, quantile))
    limit: dict[str, Any] = {"in_sample_threshold": in_sample}
    if heldout_folds >= 2 and n_cohort >= 2 * heldout_folds:
        held = heldout_distances(
            dosages[:, cols],
            n_components=n_components,
            distance_pcs=k,
            reference_dosages=None if reference_dosages is None else np.asarray(reference_dosages)[:, cols],
            n_folds=heldout_folds,
            seed=seed,
        )
        model.distance_threshold = float(np.quantile(held, quantile))
        limit.update(
            {
                "method": f"{1 - quantile:.2%} of the cohort's own people flagged, measured out of fold: "
                f"{heldout_folds}-fold, each fold projected onto a PCA fitted without it",
                "heldout_folds": heldout_folds,
                "heldout_flag_rate": float((held > model.distance_threshold).mean()),
                "heldout_quantiles": {
                    "p": list(HELDOUT_PROBABILITIES),
                    "distance": [float(x) for x in np.quantile(held, HELDOUT_PROBABILITIES)],
                },
            }
        )
    else:
        model.distance_threshold = in_sample
        limit["method"] = f"{1 - quantile:.2%} of the cohort flagged, in sample (too few people to hold out)"
    limit["outlier_rate"] = float(1 - quantile)
    model.fit_info = {
        "method": method,
        "scaler": "patterson",
        "seed": seed,
        "n_cohort": n_cohort,
        "n_reference": 0 if reference_dosages is None else int(len(reference_dosages)),
        "n_variants": model.n_variants,
        "cohort_distance_max": float(distance.max()),
    }
    model.limit_info = limit
    log.info(
        "ancestry PCA (%s): %d cohort + %d reference people x %d variants; PC1-3 explain %s; "
        "distance threshold %.2f (in sample %.2f; q=%.4f over %d PCs)",
        method,
        n_cohort,
        model.fit_info["n_reference"],
        model.n_variants,
        np.round(model.explained_variance_ratio[:3], 4).tolist(),
        model.distance_threshold,
        in_sample,
        quantile,
        k,
    )
    return model


# ------------------------------------------------------------------- project


def cohort_scores(model: AncestryModel) -> np.ndarray:
    """The cohort's PC scores, float64, shape (n_cohort, n_components), in fit order."""
    if model.cohort_scores_ is None:
        raise ValueError("this ancestry model carries no cohort scores (written with include_cohort_scores=False)")
    return model.cohort_scores_.astype(np.float64)


def project(model: AncestryModel, dosages: np.ndarray) -> np.ndarray:
    """Project people onto the model's PCs (the model is never changed).

    Parameters
    ----------
    model : AncestryModel
    dosages : numpy.ndarray, shape (n_people, n_variants) or (n_variants,)
        ALT dosages at ``model.variants``, in that order; NaN = missing,
        imputed with the cohort mean (contributes 0; see the module notes on
        the shrinkage this causes).

    Returns
    -------
    numpy.ndarray, float64, shape (n_people, n_components)
    """
    d = np.atleast_2d(np.asarray(dosages, dtype=np.float64))
    if d.shape[1] != model.n_variants:
        raise ValueError(f"dosages have {d.shape[1]} columns, the ancestry model has {model.n_variants} variants")
    x = (d - model.mean.astype(np.float64)) / model.scale
    x[np.isnan(x)] = 0.0
    return x @ model.loadings.astype(np.float64).T


def ancestry_distance(model: AncestryModel, pcs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mahalanobis distance from the cohort over the top ``model.distance_pcs`` PCs.

    Parameters
    ----------
    pcs : numpy.ndarray, shape (n_people, >= distance_pcs) or (n_components,)

    Returns
    -------
    distance : numpy.ndarray, float64, shape (n_people,)
    outlier : numpy.ndarray, bool, shape (n_people,)
        ``distance > model.distance_threshold``.
    """
    z = (
        np.atleast_2d(np.asarray(pcs, dtype=np.float64))[:, : model.distance_pcs]
        - model.score_mean[: model.distance_pcs]
    )
    solved = np.linalg.solve(model.score_cov, z.T).T
    distance = np.sqrt(np.einsum("ij,ij->i", z, solved))
    return distance, distance > model.distance_threshold


def project_vcf(model: AncestryModel, vcf: str | PathLike, samples: Sequence[str] | None = None) -> pd.DataFrame:
    """Read the model variants of ``samples`` from a VCF/BCF and project them.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample: ``pc1`` .. ``pcN``, ``ancestry_distance``,
        ``ancestry_outlier`` (bool), ``fraction_missing`` (model variants
        absent from the file or not called; the projection shrinks by about
        that fraction toward the cohort centre).
    """
    found, dos = genotypes.read_dosages(vcf, model.variants[["chrom", "pos", "ref", "alt"]], samples=samples)
    names = list(samples) if samples is not None else _vcf_samples(vcf)
    d = dos.T
    pcs = project(model, d)
    distance, outlier = ancestry_distance(model, pcs)
    frame = pd.DataFrame(pcs, index=pd.Index(names, name="sample_id"), columns=model.pc_names)
    frame["ancestry_distance"] = distance
    frame["ancestry_outlier"] = outlier
    frame["fraction_missing"] = np.isnan(d).mean(axis=1)
    return frame


def _vcf_samples(vcf) -> list[str]:
    return genotypes.source_samples(vcf)  # a VCF/BCF or a genotype store
