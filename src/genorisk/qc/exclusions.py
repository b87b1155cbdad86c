"""Exclusions: the variants and samples that fail the thresholds, with the reasons."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from genorisk.qc.run import QCResult
from genorisk.qc.thresholds import QCThresholds

log = logging.getLogger("genorisk.qc")


def apply_thresholds(result: QCResult, thresholds: QCThresholds | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Variants and samples that fail QC, with the reasons.

    Parameters
    ----------
    result : QCResult
    thresholds : QCThresholds, optional
        Default: those of ``result``. The sex check uses the inferred sex
        already in ``result`` (its F cut-offs are those of the run).

    Returns
    -------
    excluded_variants : pandas.DataFrame
        ``chrom, pos, ref, alt, reason, detail``: one row per failing ALT row.
        ``reason`` holds codes ``low_call_rate``, ``low_maf``, ``hwe`` joined
        by "; "; ``detail`` the values against the thresholds.
    excluded_samples : pandas.DataFrame
        ``sample, reason, detail`` with codes ``low_call_rate``,
        ``het_outlier``, ``titv_out_of_range``, ``sex_mismatch`` (the latter
        only with ``sex_check="exclude"``; with ``"warn"`` it is logged).
        NaN statistics (nothing called) never pass a minimum.
    """
    th = thresholds or result.thresholds
    v = result.variants
    v_reasons: list[tuple[np.ndarray, str, Any]] = [
        (
            ~(v["call_rate"].to_numpy() >= th.min_variant_call_rate),
            "low_call_rate",
            lambda i: f"call_rate={v['call_rate'].iat[i]:.4g} < {th.min_variant_call_rate:g}",
        ),
    ]
    if th.min_maf > 0:
        v_reasons.append(
            (~(v["maf"].to_numpy() >= th.min_maf), "low_maf", lambda i: f"maf={v['maf'].iat[i]:.4g} < {th.min_maf:g}")
        )
    if th.hwe_p_min is not None:
        hp = v["hwe_p"].to_numpy()
        v_reasons.append((hp < th.hwe_p_min, "hwe", lambda i: f"hwe_p={v['hwe_p'].iat[i]:.3g} < {th.hwe_p_min:g}"))
    reason, detail, keep = _collect(len(v), v_reasons)
    excluded_variants = pd.DataFrame(
        {
            "chrom": v["chrom"].to_numpy()[keep],
            "pos": v["pos"].to_numpy()[keep],
            "ref": v["ref"].to_numpy()[keep],
            "alt": v["alt"].to_numpy()[keep],
            "reason": reason,
            "detail": detail,
        }
    ).astype({"chrom": "str", "ref": "str", "alt": "str", "reason": "str", "detail": "str"})

    s = result.samples
    s_reasons: list[tuple[np.ndarray, str, Any]] = [
        (
            ~(s["call_rate"].to_numpy() >= th.min_sample_call_rate),
            "low_call_rate",
            lambda i: f"call_rate={s['call_rate'].iat[i]:.4g} < {th.min_sample_call_rate:g}",
        ),
    ]
    if th.heterozygosity_sd is not None:
        het = s["het_rate"].to_numpy()
        finite = het[np.isfinite(het)]
        if len(finite) >= 3:
            mean, sd = finite.mean(), finite.std(ddof=1)
            lo, hi = mean - th.heterozygosity_sd * sd, mean + th.heterozygosity_sd * sd
            s_reasons.append(
                (
                    np.isfinite(het) & ((het < lo) | (het > hi)),
                    "het_outlier",
                    lambda i: (
                        f"het_rate={het[i]:.4g} outside [{lo:.4g}, {hi:.4g}] (mean +/- {th.heterozygosity_sd:g} SD)"
                    ),
                )
            )
        else:
            log.warning("heterozygosity check skipped: fewer than 3 samples with a het rate")
    if th.titv_range is not None:
        t = s["titv"].to_numpy()
        lo_t, hi_t = th.titv_range
        s_reasons.append(
            (
                np.isfinite(t) & ((t < lo_t) | (t > hi_t)),
                "titv_out_of_range",
                lambda i: f"titv={t[i]:.4g} outside [{lo_t:g}, {hi_t:g}]",
            )
        )
    mismatch = (s["sex_check"] == "mismatch").to_numpy()
    if th.sex_check == "exclude":
        s_reasons.append(
            (
                mismatch,
                "sex_mismatch",
                lambda i: (
                    f"recorded {s['recorded_sex'].iat[i]}, chrX F={s['x_f'].iat[i]:.3g} -> {s['inferred_sex'].iat[i]}"
                ),
            )
        )
    elif th.sex_check == "warn" and mismatch.any():
        log.warning(
            "%d samples whose chrX F contradicts the recorded sex (sex_check=warn, kept): %s",
            int(mismatch.sum()),
            ", ".join(s["sample"][mismatch].iloc[:10]),
        )
    reason, detail, keep = _collect(len(s), s_reasons)
    excluded_samples = pd.DataFrame(
        {"sample": s["sample"].to_numpy()[keep], "reason": reason, "detail": detail}
    ).astype("str")
    return excluded_variants, excluded_samples


def _collect(n: int, checks) -> tuple[list[str], list[str], np.ndarray]:
    fails = np.zeros(n, dtype=bool)
    for mask, _, _ in checks:
        fails |= mask
    idx = np.flatnonzero(fails)
    reasons, details = [], []
    for i in idx:
        hit = [(code, describe) for mask, code, describe in checks if mask[i]]
        reasons.append("; ".join(code for code, _ in hit))
        details.append("; ".join(describe(i) for _, describe in hit))
    return reasons, details, idx
