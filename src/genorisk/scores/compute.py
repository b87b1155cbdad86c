"""Summing weighted dosages per sample over the matched variants (:func:`compute_scores`), and matching alone.

See :mod:`genorisk.scores` for the match types, reasons and dosage
conventions (pgsc_calc's matching, plink2's sums); the matcher is
:mod:`genorisk.scores.matching`, the store path :mod:`genorisk.scores.store_scores`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import chromosome_class
from genorisk.genotypes import DosageChunk, iter_dosage_chunks
from genorisk.scores.matching import _REF_EFFECT, UNMATCHED_REASONS, _Matcher
from genorisk.scores.scoring_file import DOSAGE_WEIGHT_COLUMNS, ScoringFile, read_scoring_file
from genorisk.store import is_store, open_store

log = logging.getLogger("genorisk.scores")


@dataclass
class ScoreResult:
    """Output of :func:`compute_scores`.

    Attributes
    ----------
    sums : pandas.DataFrame
        Samples (index, named ``sample``) x score ids: score sums.
    audit : pandas.DataFrame
        One row per score variant: score_id, line, chrom, pos, rsid,
        effect_allele, other_allele, effect_weight, match_type (None when
        unmatched), reason (None when matched), target_chrom, target_pos,
        target_ref, target_alt.
    summary : pandas.DataFrame
        Per score id: n_variants, n_matched, match_rate, passed, and one count
        column per unmatched reason; n_complex_skipped.
    matched : pandas.DataFrame or None
        From :func:`match_scores` on a store: the matched rows in store terms
        (:data:`genorisk.scores.MATCHED_COLUMNS`, :func:`genorisk.scores.score_matched`
        sums them), with ``attrs["store_variants"]`` (variant count per store
        chromosome) and ``attrs["match"]`` (the matching options). None otherwise.
    """

    sums: pd.DataFrame
    audit: pd.DataFrame
    summary: pd.DataFrame
    matched: pd.DataFrame | None = None


def compute_scores(
    vcf_path: str | PathLike,
    score_files: Sequence[str | PathLike | ScoringFile],
    *,
    min_match_rate: float = 0.75,
    keep_ambiguous: bool = False,
    keep_multiallelic: bool = False,
    male: np.ndarray | Sequence[bool] | None = None,
    samples: Sequence[str] | None = None,
    missing: str = "mean",
    chunk_size: int = 4096,
    min_info: float | None = None,
    info_key: str = "R2",
) -> ScoreResult:
    """Score every sample of ``vcf_path`` with several scoring files in one pass.

    Parameters
    ----------
    vcf_path : str or PathLike
        Target VCF/BCF (sorted by position), or a genotype store manifest
        (``store.json``, :func:`genorisk.store.open_store`).
    score_files : sequence
        Paths of scoring files, or :class:`ScoringFile` objects. Score ids must
        be distinct.
    min_match_rate : float
        A score whose matched fraction of variants is below this fails with
        :class:`InputError` (counts per unmatched reason in the message).
    keep_ambiguous : bool
        Use strand-ambiguous (A/T, C/G) SNPs, matched without strand flips.
    keep_multiallelic : bool
        Use matches at multiallelic target records.
    male : array of bool, optional
        Aligned with the samples; males' haploid chrX calls count 0/2.
    samples : sequence of str, optional
        Samples to score (default all).
    missing : {"mean", "zero"}
        Missing-dosage policy, see the module docstring.
    chunk_size : int
        VCF rows per chunk (memory: about chunk_size x samples x 16 bytes).
    min_info, info_key : optional
        Imputation-quality filter: target variants whose INFO ``info_key`` is
        below ``min_info`` are not read, so score variants there are unmatched
        ("not in target").

    Returns
    -------
    ScoreResult

    Notes
    -----
    Matching is vectorised per chunk (binary search of packed position keys,
    then array comparisons of alleles); additive weights are applied as one
    matrix product per chunk, with missing calls handled through the
    per-variant mean, which gives exactly the imputed sum. From a store, the
    variant tables are matched first and only the matched variants are read
    (:mod:`genorisk.scores.store_scores`: sparse lists where the ``.pgen``
    stores them so, dense blocks of ``chunk_size`` otherwise), as ``plink2
    --score`` reads only the score's variants; sums equal the VCF path's on
    the same records.
    """
    if missing not in ("mean", "zero"):
        raise ValueError(f"missing must be 'mean' or 'zero', got {missing!r}")
    files, table, lift_failed = _score_table(score_files)
    matcher = _Matcher(table, vcf_path, keep_ambiguous, keep_multiallelic, lift_failed)
    weights = _Weights(table, len(files))
    male_arr = None if male is None else np.asarray(male, dtype=bool)
    if is_store(vcf_path):
        # Only the matched variants are read (plink2 --score reads only the score's variants too).
        from genorisk.scores.store_scores import score_store

        sums, names = score_store(
            open_store(vcf_path), matcher, weights, samples, male_arr, missing, chunk_size, min_info, info_key
        )
    else:
        sums, names = _score_vcf(vcf_path, matcher, weights, samples, male_arr, missing, chunk_size, min_info, info_key)
    return _result(files, table, matcher, sums, names, min_match_rate)


def match_scores(
    source: str | PathLike,
    score_files: Sequence[str | PathLike | ScoringFile],
    *,
    min_match_rate: float = 0.75,
    keep_ambiguous: bool = False,
    keep_multiallelic: bool = False,
    min_info: float | None = None,
    info_key: str = "R2",
) -> ScoreResult:
    """Match scoring files to a target's variants without scoring anyone.

    Parameters are those of :func:`compute_scores`. For a genotype store only
    the variant tables (``.pvar``) are read; a VCF is read in full.

    Returns
    -------
    ScoreResult
        ``audit`` and ``summary`` as :func:`compute_scores` gives them;
        ``sums`` has no rows; ``matched`` the matched rows in store terms
        (a store only; what :func:`genorisk.scores.score_matched` sums).

    Raises
    ------
    InputError
        As :func:`compute_scores`, with ``err.result`` holding the audit when
        the match rate is too low.
    """
    if not is_store(source):
        result = compute_scores(
            source,
            score_files,
            min_match_rate=min_match_rate,
            keep_ambiguous=keep_ambiguous,
            keep_multiallelic=keep_multiallelic,
            min_info=min_info,
            info_key=info_key,
        )
        return ScoreResult(result.sums.iloc[:0], result.audit, result.summary)
    from genorisk.scores.matched import matched_table
    from genorisk.scores.store_scores import StorePairs, match_store

    files, table, lift_failed = _score_table(score_files)
    matcher = _Matcher(table, source, keep_ambiguous, keep_multiallelic, lift_failed)
    pairs = [
        (chrom, StorePairs.from_fileset(fileset, rows, store_index, ranks))
        for chrom, fileset, rows, store_index, ranks in match_store(open_store(source), matcher, min_info, info_key)
    ]
    result = _result(files, table, matcher, np.zeros((0, len(files))), [], min_match_rate)
    result.matched = matched_table(files, table, matcher, pairs)
    result.matched.attrs["store_variants"] = {chrom: int(p.n_variants or 0) for chrom, p in pairs}
    result.matched.attrs["match"] = {
        "min_info": min_info,
        "info_key": info_key,
        "keep_ambiguous": keep_ambiguous,
        "keep_multiallelic": keep_multiallelic,
    }
    return result


def _score_table(score_files) -> tuple[list[ScoringFile], pd.DataFrame, np.ndarray]:
    """The scoring files, their variants as one table (column ``score``), and which rows did not lift."""
    files = [f if isinstance(f, ScoringFile) else read_scoring_file(f) for f in score_files]
    ids = [f.score_id for f in files]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate score ids: {ids}")
    frames = []
    for j, f in enumerate(files):
        t = f.variants.copy()
        t.insert(0, "score", j)
        frames.append(t)
    table = pd.concat(frames, ignore_index=True)
    lift_failed = np.concatenate([f.lift_failed for f in files]) if files else np.zeros(0, dtype=bool)
    return files, table, lift_failed


def _score_vcf(vcf_path, matcher, weights, samples, male_arr, missing, chunk_size, min_info, info_key):
    """Match and score in one pass over a VCF's chunks; (sums, sample names)."""
    sums = None
    names: list[str] = []
    carry: DosageChunk | None = None

    def score(part: DosageChunk) -> None:
        if len(part.variants):
            rows, ts, ranks = matcher.match_chunk(part.variants)
            if len(rows):
                _add_contributions(part, rows, ts, ranks, weights, sums, missing, male_arr)

    # A variant below the imputation-quality filter is not read: it is not in the target.
    chunks = iter_dosage_chunks(
        vcf_path, samples=samples, chunk_size=chunk_size, male=male_arr, min_info=min_info, info_key=info_key
    )
    for chunk in chunks:
        names = chunk.samples
        if sums is None:
            sums = np.zeros((len(names), weights.n_scores), dtype=np.float64)
        if carry is not None and len(carry.variants) and not _same_position(carry.variants, chunk.variants):
            score(carry)  # the held-back position is complete: no need to copy it into this chunk
            carry = None
        chunk = _join(carry, chunk)
        # Hold back the last position: its other records may be in the next chunk.
        last = _last_position_start(chunk.variants)
        carry = _slice(chunk, last, None)
        score(_slice(chunk, 0, last))
    if carry is not None:
        score(carry)
    if sums is None:
        return np.zeros((0, weights.n_scores)), []
    return sums, names


def _result(files: list[ScoringFile], table, matcher, sums, names, min_match_rate: float) -> ScoreResult:
    """The ScoreResult; InputError (holding it) when a score's match rate is below ``min_match_rate``."""
    ids = [f.score_id for f in files]
    audit = matcher.audit(files, table)
    summary = _summary(files, audit, min_match_rate)
    result = ScoreResult(pd.DataFrame(sums, index=pd.Index(names, name="sample"), columns=ids), audit, summary)
    failed = summary[~summary["passed"]]
    if len(failed):
        msgs = []
        for sid, row in failed.iterrows():
            why = ", ".join(f"{int(row[r])} {r}" for r in UNMATCHED_REASONS if row[r])
            msgs.append(
                f"{sid}: {int(row['n_matched'])} of {int(row['n_variants'])} variants matched "
                f"({row['match_rate']:.1%} < {min_match_rate:.0%}); unmatched: {why}"
            )
        path = files[ids.index(failed.index[0])].path
        err = InputError(path, "; ".join(msgs), record="match rate")
        err.result = result  # the audit stays available to the caller
        raise err
    for sid, row in summary.iterrows():
        log.info(
            "%s: %d of %d variants matched (%.1f%%)", sid, row["n_matched"], row["n_variants"], 100 * row["match_rate"]
        )
    return result


class _Weights:
    """Per score row scoring inputs as arrays."""

    def __init__(self, table: pd.DataFrame, n_scores: int):
        self.n_scores = n_scores
        self.score = table["score"].to_numpy(dtype=np.int64)
        self.weight = table["effect_weight"].to_numpy(dtype=np.float64)
        self.dominant = table["is_dominant"].to_numpy(dtype=bool)
        self.recessive = table["is_recessive"].to_numpy(dtype=bool)
        self.dosage_weights = table[list(DOSAGE_WEIGHT_COLUMNS)].to_numpy(dtype=np.float64)
        self.non_additive = ~np.isnan(self.dosage_weights).any(axis=1)


def _last_position_start(v: pd.DataFrame) -> int:
    if not len(v):
        return 0
    chrom = v["chrom"].to_numpy()
    pos = v["pos"].to_numpy()
    i = len(v) - 1
    while i > 0 and chrom[i - 1] == chrom[-1] and pos[i - 1] == pos[-1]:
        i -= 1
    return i


def _same_position(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether the last record of ``a`` and the first of ``b`` share chromosome and position."""
    if not (len(a) and len(b)):
        return False
    # Plain objects: pandas-stubs type .iat as any scalar, which mypy cannot compare.
    last: tuple[object, object] = (a["chrom"].iat[-1], a["pos"].iat[-1])
    first: tuple[object, object] = (b["chrom"].iat[0], b["pos"].iat[0])
    return bool(last[0] == first[0] and last[1] == first[1])


def _slice(chunk: DosageChunk, a: int, b: int | None) -> DosageChunk:
    return DosageChunk(chunk.variants.iloc[a:b].reset_index(drop=True), chunk.dosages[a:b], chunk.samples)


def _join(carry: DosageChunk | None, chunk: DosageChunk) -> DosageChunk:
    if carry is None or not len(carry.variants):
        return chunk
    return DosageChunk(
        pd.concat([carry.variants, chunk.variants], ignore_index=True),
        np.concatenate([carry.dosages, chunk.dosages]),
        chunk.samples,
    )


def _add_contributions(chunk: DosageChunk, rows, ts, ranks, w: _Weights, sums, missing, male) -> None:
    """Add the chosen (score row, target row) pairs of one chunk to ``sums``.

    Additive rows form ``sum_v c_v d_v + const`` over ALT dosages ``d``
    (``c = w`` for an ALT effect allele; ``c = -w`` and ``const = 2w`` for a
    REF one), done as a matrix product in float64. A missing call takes the
    row's mean dosage over called samples (``missing="mean"``) or adds
    nothing (``"zero"``); a row without any call adds nothing. Dominant,
    recessive and dosage-weight rows, REF effect alleles at multiallelic
    records and male chrX rows under mean imputation go through
    :func:`_add_contributions_general`.
    """
    v = chunk.variants
    d = chunk.dosages
    n_alt = v["n_alt"].to_numpy()
    is_ref = _REF_EFFECT[ranks]
    general = w.non_additive[rows] | w.dominant[rows] | w.recessive[rows] | (is_ref & (n_alt[ts] > 1))
    if male is not None and missing == "mean":
        chrom = v["chrom"].to_numpy(dtype=object)
        on_x = np.array([chromosome_class(c) == "X" for c in chrom[ts].tolist()], dtype=bool)
        general |= on_x
    if general.any():
        _add_contributions_general(chunk, rows[general], ts[general], ranks[general], w, sums, missing, male)
        keep = ~general
        rows, ts, is_ref = rows[keep], ts[keep], is_ref[keep]
        if not len(rows):
            return
    weight = w.weight[rows]
    coef = np.where(is_ref, -weight, weight)
    const = np.where(is_ref, 2.0 * weight, 0.0)
    score = w.score[rows]
    dos = d if len(ts) == len(d) and (ts == np.arange(len(d))).all() else d[ts]
    # Rows with a missing call: a float32 sum is NaN exactly then (no cast to float64 needed to find them).
    gaps = np.isnan(dos.sum(axis=1))
    if gaps.any():
        g = np.flatnonzero(gaps)
        dg = dos[g]
        absent = np.isnan(dg)
        called = dg.shape[1] - np.count_nonzero(absent, axis=1)
        dg[absent] = 0.0
        if missing == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = dg.sum(axis=1, dtype=np.float64) / called
            fill = coef[g] * mean  # a missing call adds c * mean + const
            none = called == 0  # no call at all: the row adds nothing
            fill[none] = 0.0
            c_g, const_g = np.where(none, 0.0, coef[g]), np.where(none, 0.0, const[g])
        else:
            fill = -const[g]  # a missing call adds nothing, not even const
            c_g, const_g = coef[g], const[g]
        _accumulate(sums, score[g], c_g, dg, const_g)
        _accumulate(sums, score[g], fill, absent.astype(np.float32), np.zeros(len(g)))
        full = np.flatnonzero(~gaps)
        dos, coef, const, score = dos[full], coef[full], const[full], score[full]
    _accumulate(sums, score, coef, dos, const)


def _accumulate(sums: np.ndarray, score: np.ndarray, coef: np.ndarray, dos: np.ndarray, const: np.ndarray) -> None:
    """sums[:, k] += sum over rows of score k of (coef * dos + const), in float64.

    ``einsum`` casts the float32 dosages to float64 in small buffers, 4x
    faster than a float64 copy of the block followed by a matrix product (a
    float32 product would lose 1e-4 over 88k variants).
    """
    if not len(score):
        return
    k = sums.shape[1]
    if k == 1:
        sums[:, 0] += np.einsum("i,ij->j", coef, dos, dtype=np.float64, casting="unsafe") + const.sum()
        return
    onehot = np.zeros((len(score), k), dtype=np.float64)
    onehot[np.arange(len(score)), score] = 1.0
    sums += np.einsum("ij,ik->jk", dos, onehot * coef[:, None], dtype=np.float64, casting="unsafe") + const @ onehot


def _add_contributions_general(chunk: DosageChunk, rows, ts, ranks, w: _Weights, sums, missing, male) -> None:
    """Element-wise scoring of the pairs that are not a plain linear form (see _add_contributions)."""
    v = chunk.variants
    d = chunk.dosages
    n_alt = v["n_alt"].to_numpy()
    allele_index = v["allele_index"].to_numpy()
    ref_effect = _REF_EFFECT[ranks]
    e = d[ts].astype(np.float64)
    multi_ref = np.flatnonzero(ref_effect & (n_alt[ts] > 1))
    if len(multi_ref):
        # REF effect at a multiallelic record: 2 - copies of all its ALTs.
        first_row = ts - (allele_index[ts] - 1)
        for i in multi_ref.tolist():
            a = first_row[i]
            e[i] = d[a : a + n_alt[ts[i]]].sum(axis=0, dtype=np.float64)
    e[ref_effect] = 2.0 - e[ref_effect]
    if male is not None and missing == "mean":
        # plink2 imputes from the allele frequency, where a male's chrX call is
        # one allele (coded 0/2 here): f = (sum_female e + sum_male e/2) /
        # (2 n_female + n_male), and a missing call of either sex gets 2f.
        raw_chrom = v["chrom"].to_numpy(dtype=object)
        on_x = np.array([chromosome_class(c) == "X" for c in raw_chrom[ts].tolist()], dtype=bool)
        if on_x.any():
            ex = e[on_x]
            called = ~np.isnan(ex)
            per_sample_alleles = np.where(male, 1.0, 2.0)
            allele_count = np.where(called, np.where(male, ex / 2, ex), 0.0).sum(axis=1)
            n_alleles = (called * per_sample_alleles).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                two_f = 2 * allele_count / n_alleles
            e[on_x] = np.where(called, ex, two_f[:, None])
    dom, rec = w.dominant[rows], w.recessive[rows]
    e[dom] = np.minimum(e[dom], 1.0)
    e[rec] = np.maximum(e[rec] - 1.0, 0.0)
    contrib = e * w.weight[rows, None]
    na = w.non_additive[rows]
    if na.any():
        k = np.rint(e[na])
        w3 = w.dosage_weights[rows[na]]
        c = np.where(k == 0, w3[:, [0]], np.where(k == 1, w3[:, [1]], w3[:, [2]]))
        c[np.isnan(e[na])] = np.nan
        contrib[na] = c
    miss = np.isnan(contrib)
    if miss.any():
        if missing == "mean":
            with np.errstate(invalid="ignore"):
                fill = np.nanmean(np.where(miss.all(axis=1, keepdims=True), 0.0, contrib), axis=1)
            contrib = np.where(miss, fill[:, None], contrib)
        else:
            contrib = np.where(miss, 0.0, contrib)
    onehot = np.zeros((len(rows), sums.shape[1]), dtype=np.float64)
    onehot[np.arange(len(rows)), w.score[rows]] = 1.0
    sums += contrib.T @ onehot


def _summary(files: list[ScoringFile], audit: pd.DataFrame, min_match_rate: float) -> pd.DataFrame:
    rows = []
    for f in files:
        a = audit[audit["score_id"] == f.score_id]
        n_matched = int(a["match_type"].notna().sum())
        row: dict[str, Any] = {
            "score_id": f.score_id,
            "n_variants": len(a),
            "n_matched": n_matched,
            "match_rate": n_matched / len(a) if len(a) else 0.0,
        }
        counts = a["reason"].value_counts()
        for r in UNMATCHED_REASONS:
            row[r] = int(counts.get(r, 0))
        row["n_complex_skipped"] = f.n_complex_skipped
        row["passed"] = row["match_rate"] >= min_match_rate
        rows.append(row)
    return pd.DataFrame(rows).set_index("score_id")
