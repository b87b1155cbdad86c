"""The per-variant match audit on disk, its counts by reason, and the scoring file in the target build.

:func:`match_score_file` is the job of rule ``match_score``: resolve the
build (:func:`~genorisk.scores.target_scoring_file`), match against the
store's variant tables (:func:`~genorisk.scores.match_scores`), write
``<score>.audit.tsv`` (one line per score variant, :data:`AUDIT_COLUMNS`) and
``<score>.target.tsv`` (the scoring file with positions in the cohort's build)
and ``<score>.matched.parquet`` (the matched rows in store terms, which
``cohort_features`` sums, :mod:`genorisk.scores.matched`). :func:`audit_reason_counts` reads audits
back for the cohort report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.io import atomic_output
from genorisk.scores.build import target_scoring_file
from genorisk.scores.compute import ScoreResult, match_scores
from genorisk.scores.matched import write_matched_score
from genorisk.scores.matching import MATCH_TYPES, UNMATCHED_REASONS
from genorisk.scores.scoring_file import DOSAGE_WEIGHT_COLUMNS, ScoringFile

log = logging.getLogger("genorisk.scores")

#: Columns of ``<score>.audit.tsv``. ``status`` is ``matched`` or ``unmatched``;
#: ``match_type`` one of :data:`~genorisk.scores.MATCH_TYPES` (matched) and
#: ``reason`` one of :data:`~genorisk.scores.UNMATCHED_REASONS` (unmatched);
#: ``chrom``/``pos`` are in the target build (after a liftover), with
#: ``source_chrom``/``source_pos``/``lift`` giving the positions before it.
AUDIT_COLUMNS = (
    "score_id",
    "line",
    "chrom",
    "pos",
    "rsid",
    "effect_allele",
    "other_allele",
    "effect_weight",
    "status",
    "match_type",
    "reason",
    "target_chrom",
    "target_pos",
    "target_ref",
    "target_alt",
    "source_chrom",
    "source_pos",
    "lift",
)


def audit_table(result: ScoreResult, files: Sequence[ScoringFile]) -> pd.DataFrame:
    """The audit of :func:`match_scores`/:func:`compute_scores` with the liftover columns, as written to disk."""
    audit = result.audit.copy()
    audit.insert(8, "status", np.where(audit["match_type"].notna(), "matched", "unmatched"))
    lifts = []
    for f in files:
        if f.lift is not None:
            lifts.append(f.lift.reset_index(drop=True))
        else:
            n = len(f.variants)
            lifts.append(
                pd.DataFrame(
                    {
                        "source_chrom": pd.array([None] * n, dtype="str"),
                        "source_pos": pd.array([None] * n, dtype="Int64"),
                        "lift": [""] * n,
                    }
                )
            )
    lift = (
        pd.concat(lifts, ignore_index=True) if lifts else pd.DataFrame(columns=["source_chrom", "source_pos", "lift"])
    )
    for c in ("source_chrom", "source_pos", "lift"):
        audit[c] = lift[c].to_numpy() if len(lift) == len(audit) else None
    return audit[list(AUDIT_COLUMNS)]


def write_audit(audit: pd.DataFrame, path: str | PathLike) -> Path:
    """Write an audit table (:func:`audit_table`) as TSV; empty cells for absent values."""
    path = Path(path)
    with atomic_output(path) as tmp:
        audit.to_csv(tmp, sep="\t", index=False, na_rep="", float_format="%.10g")
    return path


def read_audit(path: str | PathLike) -> pd.DataFrame:
    """Read ``<score>.audit.tsv`` back (strings stay strings; empty cells are NA).

    Raises
    ------
    InputError
        A file without the audit columns.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype={"score_id": str, "chrom": str, "target_chrom": str, "rsid": str})
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read the score audit ({exc})") from None
    missing = [c for c in ("score_id", "status", "match_type", "reason") if c not in table.columns]
    if missing:
        raise InputError(path, f"not a score audit: no column {', '.join(missing)}", record="line 1")
    return table


def audit_reason_counts(paths: Sequence[str | PathLike]) -> pd.DataFrame:
    """Per score: variants, matched, match rate, and how many variants each reason left unmatched.

    Parameters
    ----------
    paths : sequence of path
        ``<score>.audit.tsv`` files (rule ``match_score``).

    Returns
    -------
    pandas.DataFrame
        Index ``score_id``; columns ``n_variants``, ``n_matched``,
        ``match_rate``, one int column per :data:`~genorisk.scores.UNMATCHED_REASONS`
        (in that order, zeros included) and one per
        :data:`~genorisk.scores.MATCH_TYPES`.
    """
    rows = []
    for path in paths:
        audit = read_audit(path)
        for score_id, a in audit.groupby("score_id", sort=False):
            reasons = a["reason"].value_counts()
            types = a["match_type"].value_counts()
            n_matched = int((a["status"] == "matched").sum())
            rows.append(
                {
                    "score_id": score_id,
                    "n_variants": len(a),
                    "n_matched": n_matched,
                    "match_rate": n_matched / len(a) if len(a) else 0.0,
                    **{r: int(reasons.get(r, 0)) for r in UNMATCHED_REASONS},
                    **{t: int(types.get(t, 0)) for t in MATCH_TYPES},
                }
            )
    columns = ["score_id", "n_variants", "n_matched", "match_rate", *UNMATCHED_REASONS, *MATCH_TYPES]
    return pd.DataFrame(rows, columns=columns).set_index("score_id")


def write_target_scoring_file(sf: ScoringFile, path: str | PathLike) -> Path:
    """Write a scoring file with the positions of ``sf`` (in its target build), readable by :func:`read_scoring_file`.

    The header keeps the score id (``#pgs_id``), names the build
    (``#genome_build``, ``NR`` when unknown) and the original file
    (``#source_file``), and carries the count of complex rows skipped. Rows
    that did not lift keep their source positions and ``lift=unmapped`` or
    ``multiple``, so they count against the match rate as in the audit.
    Weights are written with ``repr`` (exact round trip).
    """
    v = sf.variants
    out = pd.DataFrame(
        {
            "chr_name": v["chrom"].astype(object).where(v["chrom"].notna(), ""),
            "chr_position": v["pos"].astype(object).where(v["pos"].notna(), ""),
            "rsID": v["rsid"].astype(object).where(v["rsid"].notna(), ""),
            "effect_allele": v["effect_allele"].astype(object),
            "other_allele": v["other_allele"].astype(object).where(v["other_allele"].notna(), ""),
            "effect_weight": [repr(float(w)) if np.isfinite(w) else "" for w in v["effect_weight"].tolist()],
            "is_dominant": np.where(v["is_dominant"].to_numpy(), "True", "False"),
            "is_recessive": np.where(v["is_recessive"].to_numpy(), "True", "False"),
        }
    )
    if v[list(DOSAGE_WEIGHT_COLUMNS)].notna().any().any():
        for c in DOSAGE_WEIGHT_COLUMNS:
            out[c] = [repr(float(w)) if np.isfinite(w) else "" for w in v[c].tolist()]
    if sf.lift is not None:
        out["source_chrom"] = (
            sf.lift["source_chrom"].astype(object).where(sf.lift["source_chrom"].notna(), "").to_numpy()
        )
        out["source_pos"] = sf.lift["source_pos"].astype(object).where(sf.lift["source_pos"].notna(), "").to_numpy()
        out["lift"] = sf.lift["lift"].to_numpy()
    header = [
        f"#pgs_id={sf.score_id}",
        f"#genome_build={sf.build or 'NR'}",
        f"#source_file={sf.source_name}",
        f"#genorisk_positions={sf.positions}",
        f"#genorisk_complex_skipped={sf.n_complex_skipped}",
    ]
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        fh.write("\n".join(header) + "\n")
        out.to_csv(fh, sep="\t", index=False)
    return path


def match_score_file(
    store: str | PathLike,
    scoring_file: str | PathLike,
    *,
    genome_build: str,
    audit_path: str | PathLike,
    target_path: str | PathLike,
    chain: str | PathLike | None = None,
    require_build: bool = False,
    min_match_rate: float = 0.75,
    min_info: float | None = None,
    info_key: str = "R2",
    matched_path: str | PathLike | None = None,
) -> ScoreResult:
    """Resolve a scoring file's build, match it against a store's variants, and write the audit and target file.

    Parameters
    ----------
    store : str or PathLike
        The cohort's store manifest (``store.json``).
    scoring_file : str or PathLike
        The score (a path; PGS IDs are resolved before, :func:`resolve_score_entries`).
    genome_build, chain, require_build
        See :func:`target_scoring_file`.
    audit_path, target_path : str or PathLike
        Outputs: the audit TSV and the scoring file in ``genome_build``.
    min_match_rate, min_info, info_key
        As for :func:`compute_scores` (the values cohort_features uses).
    matched_path : str or PathLike, optional
        Output: the score in store terms (``<score>.matched.parquet``,
        :func:`~genorisk.scores.write_matched_score`), which cohort_features sums.

    Returns
    -------
    ScoreResult
        Audit and summary (no sums).

    Raises
    ------
    InputError
        Any build or file problem; a match rate below ``min_match_rate`` (the
        audit is then written to ``<audit>.failed.tsv``, which no rule reads,
        and the message names it).
    """
    sf = target_scoring_file(scoring_file, genome_build, chain=chain, require_build=require_build)
    try:
        result = match_scores(store, [sf], min_match_rate=min_match_rate, min_info=min_info, info_key=info_key)
    except InputError as err:
        partial: ScoreResult | None = getattr(err, "result", None)
        if partial is None:
            raise
        failed = Path(str(audit_path).removesuffix(".tsv") + ".failed.tsv")
        write_audit(audit_table(partial, [sf]), failed)
        raise InputError(err.path, f"{err.problem}; per-variant audit in {failed}", record=err.record) from None
    if matched_path is not None and result.matched is None:
        raise InputError(store, "not a genotype store manifest: no matched table can name its variants")
    write_audit(audit_table(result, [sf]), audit_path)
    write_target_scoring_file(sf, target_path)
    if matched_path is not None and result.matched is not None:
        write_matched_score(
            matched_path,
            result.matched,
            result.summary,
            [sf],
            match=result.matched.attrs["match"],
            store_variants=result.matched.attrs["store_variants"],
        )
    summary = result.summary.iloc[0]
    why = ", ".join(f"{int(summary[r])} {r}" for r in UNMATCHED_REASONS if summary[r])
    log.info(
        "%s: %d of %d variants matched (%.1f%%)%s; audit %s",
        sf.score_id,
        summary["n_matched"],
        summary["n_variants"],
        100 * summary["match_rate"],
        f"; unmatched: {why}" if why else "",
        audit_path,
    )
    return result
