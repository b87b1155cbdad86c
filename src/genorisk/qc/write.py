"""The QC outputs: tables and summary, each file written atomically."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import pandas as pd

from genorisk.io import atomic_output, write_json
from genorisk.qc.exclusions import apply_thresholds
from genorisk.qc.run import QCResult
from genorisk.qc.thresholds import QCThresholds


def write_qc(result: QCResult, outdir: str | PathLike, thresholds: QCThresholds | None = None) -> dict:
    """Write the QC tables and summary to ``outdir`` (each file atomically).

    Files: ``variant_qc.parquet``, ``sample_qc.tsv``, ``excluded_variants.tsv``,
    ``excluded_samples.tsv``, ``qc_summary.json``. Returns the summary dict:
    counts, cohort Ti/Tv, the thresholds used and the number excluded by
    reason (a row with two reasons counts under both).
    """
    th = thresholds or result.thresholds
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    excluded_variants, excluded_samples = apply_thresholds(result, th)
    with atomic_output(outdir / "variant_qc.parquet") as tmp:
        result.variants.to_parquet(tmp, index=False)
    for name, frame in (
        ("sample_qc.tsv", result.samples),
        ("excluded_variants.tsv", excluded_variants),
        ("excluded_samples.tsv", excluded_samples),
    ):
        with atomic_output(outdir / name) as tmp:
            frame.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    summary = {
        "n_records": result.cohort["n_records"],
        "n_variant_rows": result.cohort["n_alt_rows"],
        "n_samples": result.cohort["n_samples"],
        "n_variants_excluded": int(len(excluded_variants)),
        "n_samples_excluded": int(len(excluded_samples)),
        "variants_excluded_by_reason": _count_reasons(excluded_variants["reason"]),
        "samples_excluded_by_reason": _count_reasons(excluded_samples["reason"]),
        "cohort_ts": result.cohort["ts"],
        "cohort_tv": result.cohort["tv"],
        "cohort_titv": result.cohort["titv"],
        "hwe_tested_on": result.cohort["hwe_on"],
        "sex_check": {k: int(v) for k, v in result.samples["sex_check"].value_counts().sort_index().items()},
        "thresholds": th.to_dict(),
    }
    write_json(outdir / "qc_summary.json", summary)
    return summary


def _count_reasons(reasons: pd.Series) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in reasons:
        for code in str(r).split("; "):
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))
