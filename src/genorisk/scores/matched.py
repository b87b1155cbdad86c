"""A score matched to a genotype store, on disk: what ``plink2 --score`` is given, and what sums it.

Rule ``match_score`` matches a scoring file to the store's variant tables
once (:func:`genorisk.scores.match_score_file`) and writes, next to the
audit, ``<score>.matched.parquet``: one row per matched score variant, in the
scoring file's order, naming the store fileset (``store_chrom``, a chromosome
of the store manifest) and the variant's row in its ``.pgen``
(``store_index``), with the weights and what summing needs of the variant.
:func:`score_matched` sums such tables over the store's people as
:func:`genorisk.scores.compute_scores` does after its own matching (same
pairs, same order, so the same float64 sums), without the scoring file, the
``.pvar`` parsing or the matching: as ``plink2 --score`` is given a file
already keyed by the store's variant IDs.

A matched table is a small aggregate of the score and the store's variant
list: it holds no individual-level data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from genorisk.errors import InputError
from genorisk.io import atomic_output
from genorisk.scores.compute import _Weights
from genorisk.scores.matching import MATCH_TYPES, UNMATCHED_REASONS, _Matcher
from genorisk.scores.scoring_file import DOSAGE_WEIGHT_COLUMNS, ScoringFile
from genorisk.scores.store_scores import StorePairs, score_store_pairs
from genorisk.store import open_store

#: ``format`` of the parquet metadata of a matched table.
MATCHED_FORMAT = "genorisk.matched_score/1"
_META_KEY = b"genorisk"
#: Columns of ``<score>.matched.parquet``, in order. ``store_chrom`` is a
#: chromosome of the store manifest (its fileset), ``store_index`` the
#: variant's 0-based row in that ``.pgen``; ``target_*`` the store variant as
#: the ``.pvar`` names it; ``n_alt``, ``allele_index`` and ``ploidy_class``
#: (0 diploid, else chrX/Y/MT handling, :attr:`genorisk.store.StoreFileset.ploidy_class`)
#: what summing needs of it; ``match_type`` one of :data:`~genorisk.scores.MATCH_TYPES`;
#: the weights as in :attr:`ScoringFile.variants`.
MATCHED_COLUMNS = (
    "score_id",
    "line",
    "store_chrom",
    "store_index",
    "target_chrom",
    "target_pos",
    "target_ref",
    "target_alt",
    "n_alt",
    "allele_index",
    "ploidy_class",
    "match_type",
    "effect_weight",
    "is_dominant",
    "is_recessive",
    *DOSAGE_WEIGHT_COLUMNS,
)


#: What :func:`score_matched` reads of a matched table.
_SUM_COLUMNS = (
    "score_id",
    "store_chrom",
    "store_index",
    "target_chrom",
    "n_alt",
    "allele_index",
    "ploidy_class",
    "match_type",
    "effect_weight",
    "is_dominant",
    "is_recessive",
    *DOSAGE_WEIGHT_COLUMNS,
)


@dataclass
class MatchedScore:
    """A matched table read back (:func:`read_matched_score`).

    Attributes
    ----------
    path : Path
    variants : pandas.DataFrame
        Columns :data:`MATCHED_COLUMNS` (or those read), one row per matched score variant.
    scores : list of dict
        Per score id in the table: ``score_id``, ``source_file`` (the file the
        user configured), ``n_variants``, ``n_matched``, ``match_rate``,
        ``n_complex_skipped``, ``unmatched`` (count per reason) and
        ``constant`` (``2 w`` summed over additive REF-effect rows: the
        per-person constant of the linear form over ALT dosages).
    match : dict
        The matching options: ``min_info``, ``info_key``, ``keep_ambiguous``, ``keep_multiallelic``.
    store_variants : dict
        Variant count of every store fileset matched (by store chromosome).
    """

    path: Path
    variants: pd.DataFrame
    scores: list[dict[str, Any]]
    match: dict[str, Any]
    store_variants: dict[str, int]


def matched_table(
    files: Sequence[ScoringFile], table: pd.DataFrame, matcher: _Matcher, pairs: Sequence[tuple[str, StorePairs]]
) -> pd.DataFrame:
    """The matched rows of a store match as a :data:`MATCHED_COLUMNS` table, in score-row order.

    Parameters
    ----------
    files, table
        The scoring files and their variants as one table (column ``score``: file index).
    matcher : _Matcher
        After matching every chromosome.
    pairs : sequence of (store chromosome, StorePairs)
        What :func:`~genorisk.scores.store_scores.match_store` gave, per fileset.
    """
    empty = np.zeros(0, dtype=np.int64)
    rows = np.concatenate([p.rows for _, p in pairs]) if pairs else empty
    store_chrom = np.concatenate([np.full(len(p.rows), c, dtype=object) for c, p in pairs]) if pairs else empty
    store_index = np.concatenate([p.store_index for _, p in pairs]) if pairs else empty
    ranks = np.concatenate([p.ranks for _, p in pairs]) if pairs else empty

    def site(col: str, dtype) -> np.ndarray:
        return np.concatenate([p.sites[col].to_numpy(dtype=dtype) for _, p in pairs]) if pairs else empty

    n_alt, allele_index, ploidy_class = (
        site("n_alt", np.int64),
        site("allele_index", np.int64),
        site("ploidy_class", np.int8),
    )
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    ids = np.array([f.score_id for f in files], dtype=object)
    out = {
        "score_id": ids[table["score"].to_numpy(dtype=np.int64)[r]],
        "line": table["line"].to_numpy(dtype=np.int64)[r],
        "store_chrom": store_chrom[order].astype(object),
        "store_index": store_index[order].astype(np.int64),
        "target_chrom": matcher.target_chrom[r],
        "target_pos": matcher.target_pos[r],
        "target_ref": matcher.target_ref[r],
        "target_alt": matcher.target_alt[r],
        "n_alt": n_alt[order].astype(np.int64),
        "allele_index": allele_index[order].astype(np.int64),
        "ploidy_class": ploidy_class[order].astype(np.int8),
        "match_type": np.array(MATCH_TYPES, dtype=object)[ranks[order]] if len(r) else np.zeros(0, dtype=object),
    }
    for c in ("effect_weight", *DOSAGE_WEIGHT_COLUMNS):
        out[c] = table[c].to_numpy(dtype=np.float64)[r]
    for c in ("is_dominant", "is_recessive"):
        out[c] = table[c].to_numpy(dtype=bool)[r]
    table = pd.DataFrame(out, columns=list(MATCHED_COLUMNS))
    # Few distinct values: categorical here, dictionary-encoded on disk (small, and fast to group and take).
    for c in ("score_id", "store_chrom", "target_chrom", "match_type"):
        table[c] = table[c].astype("category")
    return table


def write_matched_score(
    path: str | PathLike,
    variants: pd.DataFrame,
    summary: pd.DataFrame,
    files: Sequence[ScoringFile],
    *,
    match: dict[str, Any],
    store_variants: dict[str, int],
) -> Path:
    """Write a matched table (:func:`matched_table`) with its per-score summary as parquet metadata.

    Parameters
    ----------
    path : str or PathLike
        ``<score>.matched.parquet``.
    variants : pandas.DataFrame
        :data:`MATCHED_COLUMNS`.
    summary : pandas.DataFrame
        :attr:`ScoreResult.summary` of the match.
    files : sequence of ScoringFile
        The matched files (their ``source_name`` is recorded).
    match, store_variants
        See :class:`MatchedScore`.
    """
    scores = []
    for f in files:
        s: Any = summary.loc[f.score_id]  # a row of mixed columns
        mine = variants[variants["score_id"] == f.score_id]
        ref_effect = mine["match_type"].str.startswith(("refalt", "no_oa_ref")).to_numpy(dtype=bool)
        scores.append(
            {
                "score_id": f.score_id,
                "source_file": f.source_name,
                "n_variants": int(s["n_variants"]),
                "n_matched": int(s["n_matched"]),
                "match_rate": float(s["match_rate"]),
                "n_complex_skipped": int(s["n_complex_skipped"]),
                "unmatched": {r: int(s[r]) for r in UNMATCHED_REASONS},
                "constant": float(2 * mine["effect_weight"].to_numpy(dtype=float)[ref_effect].sum()),
            }
        )
    meta = {"format": MATCHED_FORMAT, "scores": scores, "match": match, "store_variants": store_variants}
    arrow = pa.Table.from_pandas(variants, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
    path = Path(path)
    with atomic_output(path) as tmp:
        pq.write_table(arrow, tmp)
    return path


def read_matched_score(path: str | PathLike, *, columns: Sequence[str] | None = None) -> MatchedScore:
    """Read ``<score>.matched.parquet`` (:func:`write_matched_score`).

    Parameters
    ----------
    path : str or PathLike
    columns : sequence of str, optional
        Read only these of :data:`MATCHED_COLUMNS` (default all).

    Raises
    ------
    InputError
        Not a readable matched table (no genorisk metadata, another format, missing columns).
    """
    path = Path(path)
    wanted = list(MATCHED_COLUMNS if columns is None else columns)
    try:
        schema = pq.read_schema(path)
        raw = (schema.metadata or {}).get(_META_KEY)
        meta = json.loads(raw) if raw else {}
        if meta.get("format") != MATCHED_FORMAT:
            raise InputError(path, f"not a matched score table (format {meta.get('format')!r}, want {MATCHED_FORMAT})")
        missing = [c for c in wanted if c not in schema.names]
        if missing:
            raise InputError(path, f"matched score table without column {', '.join(missing)}")
        arrow = pq.read_table(path, columns=wanted)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(path, f"cannot read the matched score ({exc})") from None
    variants = arrow.to_pandas()[wanted]
    return MatchedScore(path, variants, meta["scores"], meta["match"], meta["store_variants"])


def check_match_rates(matched: Sequence[MatchedScore], min_match_rate: float) -> None:
    """Raise :class:`InputError` when a score's match rate is below ``min_match_rate`` (as :func:`compute_scores`)."""
    for m in matched:
        for s in m.scores:
            if s["match_rate"] < min_match_rate:
                why = ", ".join(f"{n} {r}" for r, n in s["unmatched"].items() if n)
                raise InputError(
                    m.path,
                    f"{s['score_id']}: {s['n_matched']} of {s['n_variants']} variants matched "
                    f"({s['match_rate']:.1%} < {min_match_rate:.0%}); unmatched: {why}",
                    record="match rate",
                )


def score_matched(
    store: str | PathLike,
    matched: Sequence[MatchedScore | str | PathLike],
    *,
    male: np.ndarray | Sequence[bool] | None = None,
    samples: Sequence[str] | None = None,
    missing: str = "mean",
    chunk_size: int = 4096,
) -> pd.DataFrame:
    """Sum matched tables over a store's people, reading only the matched variants.

    Parameters
    ----------
    store : str or PathLike
        The store manifest the tables were matched on.
    matched : sequence
        :class:`MatchedScore` objects or paths of ``<score>.matched.parquet``;
        score ids must be distinct.
    male, samples, missing, chunk_size
        As for :func:`genorisk.scores.compute_scores`.

    Returns
    -------
    pandas.DataFrame
        Samples (index, named ``sample``) x score ids: the sums
        :func:`~genorisk.scores.compute_scores` gives on the same store and scoring files.

    Raises
    ------
    InputError
        A table naming a store chromosome the store lacks, or a fileset whose
        variant count differs from the one matched (a stale table).
    """
    if missing not in ("mean", "zero"):
        raise ValueError(f"missing must be 'mean' or 'zero', got {missing!r}")
    tables = [m if isinstance(m, MatchedScore) else read_matched_score(m, columns=_SUM_COLUMNS) for m in matched]
    ids = [s["score_id"] for m in tables for s in m.scores]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate score ids: {ids}")
    # Column ``score``: the score's index among all tables' scores, as compute_scores numbers its files.
    frames = [m.variants.assign(score=pd.Index(ids).get_indexer(m.variants["score_id"])) for m in tables]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*MATCHED_COLUMNS, "score"])
    weights = _Weights(table, len(ids))
    opened = open_store(store)
    counts: dict[str, int] = {}
    for m in tables:
        for chrom in m.variants["store_chrom"].unique().tolist():
            if chrom not in opened.chroms:
                raise InputError(m.path, f"names store chromosome {chrom!r}, which {store} does not have")
            counts[chrom] = int(m.store_variants[chrom])
    male_arr = None if male is None else np.asarray(male, dtype=bool)
    rank_of = {t: i for i, t in enumerate(MATCH_TYPES)}
    by_chrom = table.groupby("store_chrom", sort=False).indices

    def pairs():
        # The store's chromosome order and score-row order within one: the pairs compute_scores sums.
        for chrom, prefix in opened.chroms.items():
            if chrom not in by_chrom:
                continue
            at = np.asarray(by_chrom[chrom], dtype=np.int64)
            t = table.take(at)
            sites = pd.DataFrame(
                {
                    "chrom": t["target_chrom"].to_numpy(dtype=object),
                    "n_alt": t["n_alt"].to_numpy(dtype=np.int64),
                    "allele_index": t["allele_index"].to_numpy(dtype=np.int64),
                    "ploidy_class": t["ploidy_class"].to_numpy(dtype=np.int8),
                }
            )
            ranks = t["match_type"].map(rank_of).to_numpy(dtype=np.int64)
            yield chrom, StorePairs(prefix, at, t["store_index"].to_numpy(), ranks, sites, counts[chrom])

    sums, names = score_store_pairs(opened, pairs(), weights, samples, male_arr, missing, chunk_size)
    return pd.DataFrame(sums, index=pd.Index(names, name="sample"), columns=ids)
