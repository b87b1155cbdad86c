"""The per-sample table: call rate, genotype counts, Ti/Tv, het rate and the chrX-F sex call."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genorisk.qc.blocks import SampleCounters
from genorisk.qc.thresholds import QCThresholds


def sample_qc_table(names: list[str], c: SampleCounters, recorded_sex, th: QCThresholds) -> pd.DataFrame:
    with np.errstate(invalid="ignore", divide="ignore"):
        total = c.n_called + c.n_missing
        call_rate = np.where(total > 0, c.n_called / np.maximum(total, 1), np.nan)
        titv = np.where(c.n_snv_tv > 0, c.n_snv_ts / np.maximum(c.n_snv_tv, 1), np.nan)
        het_rate = np.where(c.auto_called > 0, c.auto_het / np.maximum(c.auto_called, 1), np.nan)
        denom = c.x_called - c.x_expected_hom
        x_f = np.where((c.x_called > 0) & (denom != 0), (c.x_hom - c.x_expected_hom) / denom, np.nan)
    enough = c.x_called >= th.sex_min_variants
    inferred = np.where(
        ~enough | np.isnan(x_f),
        "unknown",
        np.where(x_f > th.male_min_f, "male", np.where(x_f < th.female_max_f, "female", "unknown")),
    )
    recorded = [(recorded_sex or {}).get(s) for s in names]
    recorded = [r if r in ("male", "female") else None for r in recorded]
    check = [
        "unknown" if r is None or i == "unknown" else ("consistent" if r == i else "mismatch")
        for r, i in zip(recorded, inferred, strict=False)
    ]
    return pd.DataFrame(
        {
            "sample": pd.array(names, dtype="str"),
            "call_rate": call_rate,
            "n_called": c.n_called,
            "n_missing": c.n_missing,
            "n_hom_ref": c.n_hom_ref,
            "n_het": c.n_het,
            "n_hom_alt": c.n_hom_alt,
            "n_hap_ref": c.n_hap_ref,
            "n_hap_alt": c.n_hap_alt,
            "n_snv_ts": c.n_snv_ts,
            "n_snv_tv": c.n_snv_tv,
            "titv": titv,
            "het_rate": het_rate,
            "n_x_variants": c.x_called,
            "x_f": x_f,
            "inferred_sex": pd.array(list(inferred), dtype="str"),
            "recorded_sex": pd.array(recorded, dtype="str"),
            "sex_check": pd.array(check, dtype="str"),
        }
    )
