"""Matching score variants to a target VCF and summing weighted dosages per sample.

See :mod:`genorisk.scores` for the match types, reasons and dosage
conventions (pgsc_calc's matching, plink2's sums).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any, cast

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, chromosome_class
from genorisk.genotypes import DosageChunk, iter_dosage_chunks
from genorisk.scores.scoring_file import DOSAGE_WEIGHT_COLUMNS, ScoringFile, read_scoring_file

log = logging.getLogger("genorisk.scores")

#: Match types, best first (pgsc_calc's order, then the no-other-allele types).
MATCH_TYPES = (
    "refalt",
    "altref",
    "refalt_flip",
    "altref_flip",
    "no_oa_ref",
    "no_oa_alt",
    "no_oa_ref_flip",
    "no_oa_alt_flip",
)
#: Reasons a score variant is not used.
UNMATCHED_REASONS = (
    "not in target",
    "strand-ambiguous dropped",
    "multiallelic dropped",
    "duplicate",
    "allele mismatch",
)

_COMPLEMENT = str.maketrans("ACGT", "TGCA")


# --------------------------------------------------------------- matching


def _complement(a: str) -> str:
    return a.translate(_COMPLEMENT)


def _is_ambiguous(ref: str, alt: str) -> bool:
    return len(ref) == 1 and len(alt) == 1 and _complement(ref) == alt


def is_ref_effect(match_type: str) -> bool:
    """True when a match type (:data:`MATCH_TYPES`) pairs the effect allele with the target's REF.

    Such a variant's score dosage is ``ploidy - ALT dosage``, not the ALT dosage.
    """
    return match_type.startswith(("refalt", "no_oa_ref"))


# Reason codes (indexes into UNMATCHED_REASONS) and the order in which one of
# them is reported for a variant with several failed pairings.
_NOT_IN_TARGET, _AMBIGUOUS, _MULTIALLELIC, _DUPLICATE, _MISMATCH = range(5)
_REASON_PRIORITY = np.array([9, 1, 0, 9, 2], dtype=np.int8)  # by reason code: multiallelic, ambiguous, mismatch
#: Match-type indexes whose effect allele is REF (refalt, refalt_flip, no_oa_ref, no_oa_ref_flip).
_REF_EFFECT = np.array([is_ref_effect(t) for t in MATCH_TYPES])
_FLIP = np.array([t.endswith("_flip") for t in MATCH_TYPES])
_POS_LIMIT = 1 << 32  # positions are packed with a chromosome code into one int64 key


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
    """

    sums: pd.DataFrame
    audit: pd.DataFrame
    summary: pd.DataFrame


class _Matcher:
    """Match state of every score row (all files), updated chunk by chunk.

    Score rows with a position are found by binary search of packed
    (chromosome code, position) keys; rows with only an rsID through a dict.
    """

    def __init__(self, table: pd.DataFrame, vcf_path, keep_ambiguous: bool, keep_multiallelic: bool):
        n = len(table)
        self.vcf_path = vcf_path
        self.keep_ambiguous = keep_ambiguous
        self.keep_multiallelic = keep_multiallelic
        self.score = table["score"].to_numpy(dtype=np.int64)
        self.rank = np.full(n, -1, dtype=np.int8)  # index into MATCH_TYPES, -1 = unmatched
        self.closed = np.zeros(n, dtype=bool)  # matched or duplicate: never matched again
        self.reason = np.full(n, _NOT_IN_TARGET, dtype=np.int8)
        self.target_chrom = np.full(n, None, dtype=object)
        self.target_pos = np.zeros(n, dtype=np.int64)
        self.target_ref = np.full(n, None, dtype=object)
        self.target_alt = np.full(n, None, dtype=object)

        effect = table["effect_allele"].astype(object).to_numpy()
        other_col = table["other_allele"].astype(object)
        other = other_col.where(other_col.notna(), None).to_numpy()
        self.effect, self.other = effect, other
        comp: dict[str | None, str | None] = {
            a: _complement(a) for a in {*effect.tolist(), *other.tolist()} if a is not None
        }
        comp[None] = None
        self.effect_c = np.array([comp[e] for e in effect.tolist()], dtype=object)
        self.other_c = np.array([comp[o] for o in other.tolist()], dtype=object)
        self.has_other = np.array([o is not None for o in other], dtype=bool)

        chrom, pos = table["chrom"], table["pos"]
        located = (chrom.notna() & pos.notna()).to_numpy()
        rows = np.flatnonzero(located)
        codes, names = pd.factorize(chrom.to_numpy(dtype=object)[rows])
        self.chrom_code = {c: i for i, c in enumerate(names)}
        p = pos.to_numpy(dtype=np.int64, na_value=0)[rows]
        valid = (p >= 1) & (p < _POS_LIMIT)  # no VCF record can have another position
        keys = (codes[valid].astype(np.int64) << 32) | p[valid]
        order = np.argsort(keys, kind="stable")
        self.sorted_rows = rows[valid][order]
        self.sorted_keys = keys[order]
        self.key_done = np.zeros(len(keys), dtype=bool)  # positions scored in an earlier chunk
        self.by_id: dict[str, list[int]] = {}
        rsid = table["rsid"]
        for r in np.flatnonzero(~located & rsid.notna().to_numpy()).tolist():
            self.by_id.setdefault(cast(str, rsid.iat[r]), []).append(r)  # a str column; stubs: any scalar
        # Two rows of one score with the same position and alleles: both unusable.
        dup = table.duplicated(["score", "chrom", "pos", "effect_allele", "other_allele"], keep=False).to_numpy()
        dup = dup & pos.notna().to_numpy()
        self._close_as_duplicate(np.flatnonzero(dup))

    def _close_as_duplicate(self, rows: np.ndarray) -> None:
        self.closed[rows] = True
        self.reason[rows] = _DUPLICATE

    def _pairs(self, v: pd.DataFrame, raw_chrom: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(target row, score row) pairs at the same position or rsID; open score rows only."""
        inv, uniq = pd.factorize(raw_chrom)
        code_of = np.array([self.chrom_code.get(canonical_contig(c), -1) for c in uniq], dtype=np.int64)
        codes = code_of[inv]
        ok = (codes >= 0) & (pos >= 1) & (pos < _POS_LIMIT)
        tkey = np.where(ok, (codes << 32) | np.where(ok, pos, 0), -1)
        lo = np.searchsorted(self.sorted_keys, tkey, "left")
        hi = np.searchsorted(self.sorted_keys, tkey, "right")
        count = hi - lo
        hit = np.flatnonzero(count)
        if len(hit):
            done = self.key_done[lo[hit]]
            if done.any():
                t = int(hit[np.argmax(done)])
                raise InputError(
                    self.vcf_path,
                    "records of this position are not adjacent (VCF not sorted?); cannot match scores in one pass",
                    record=f"{raw_chrom[t]}:{pos[t]}",
                )
            self.key_done[lo[hit]] = True
        c = count[hit]
        pair_t = np.repeat(hit, c)
        within = np.arange(len(pair_t)) - np.repeat(np.cumsum(c) - c, c)
        pair_r = self.sorted_rows[np.repeat(lo[hit], c) + within]
        if self.by_id:
            ids = v["id"]
            extra_t, extra_r = [], []
            for t in np.flatnonzero(ids.isin(list(self.by_id)).to_numpy()).tolist():
                for r in self.by_id[cast(str, ids.iat[t])]:  # isin(by_id) above: a str; stubs: any scalar
                    extra_t.append(t)
                    extra_r.append(r)
            if extra_t:
                pair_t = np.concatenate([pair_t, np.array(extra_t, dtype=np.int64)])
                pair_r = np.concatenate([pair_r, np.array(extra_r, dtype=np.int64)])
        open_ = ~self.closed[pair_r]
        return pair_t[open_], pair_r[open_]

    def match_chunk(self, v: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Match the chunk's records; return the chosen (score row, target row, match type index)."""
        raw_chrom = v["chrom"].to_numpy(dtype=object)
        pos = v["pos"].to_numpy(dtype=np.int64)
        pt, pr = self._pairs(v, raw_chrom, pos)
        empty = np.zeros(0, dtype=np.int64)
        if not len(pt):
            return empty, empty, empty
        ref = v["ref"].to_numpy(dtype=object)
        alt = v["alt"].to_numpy(dtype=object)
        n_alt = v["n_alt"].to_numpy()
        allele_index = v["allele_index"].to_numpy()

        # Best match type of every pair, vectorised (MATCH_TYPES order).
        r_, a_ = ref[pt], alt[pt]
        ea, oa, cea, coa = self.effect[pr], self.other[pr], self.effect_c[pr], self.other_c[pr]
        has = self.has_other[pr]
        rank = np.select(
            [
                has & (ea == r_) & (oa == a_),
                has & (ea == a_) & (oa == r_),
                has & (cea == r_) & (coa == a_),
                has & (cea == a_) & (coa == r_),
                ~has & (ea == r_),
                ~has & (ea == a_),
                ~has & (cea == r_),
                ~has & (cea == a_),
            ],
            np.arange(8),
            -1,
        )
        # Pairs that cannot be used, with the reason.
        fail = np.full(len(pt), -1, dtype=np.int8)
        fail[rank < 0] = _MISMATCH
        matched = rank >= 0
        if not self.keep_multiallelic:
            fail[matched & (n_alt[pt] > 1)] = _MULTIALLELIC
        ambiguous = np.array([_is_ambiguous(x, y) for x, y in zip(r_.tolist(), a_.tolist(), strict=False)], dtype=bool)
        amb = matched & (fail < 0) & ambiguous
        if self.keep_ambiguous:
            fail[amb & _FLIP[np.maximum(rank, 0)]] = _MISMATCH  # ambiguous SNPs are never flipped
        else:
            fail[amb] = _AMBIGUOUS
        cand = fail < 0

        # Resolve: best match type per score row. A REF effect allele names a
        # record (all its ALT rows), an ALT effect allele names one row; more
        # than one equally good record or row (duplicated records) -> duplicate.
        rec_of_row = np.cumsum(allele_index == 1) - 1
        cr, ct, ck = pr[cand], pt[cand], rank[cand]
        o = np.lexsort((ct, ck, cr))
        cr, ct, ck = cr[o], ct[o], ck[o]
        starts = np.flatnonzero(np.r_[True, cr[1:] != cr[:-1]]) if len(cr) else empty
        best = ck == np.repeat(ck[starts], np.diff(np.r_[starts, len(cr)]))
        br, bt, bk = cr[best], ct[best], ck[best]
        tgt = np.where(_REF_EFFECT[bk], rec_of_row[bt], bt)  # ascending within a row's best set
        new_row = np.r_[True, br[1:] != br[:-1]] if len(br) else np.zeros(0, dtype=bool)
        changes = new_row | np.r_[True, tgt[1:] != tgt[:-1]] if len(br) else new_row
        gstart = np.flatnonzero(new_row)
        n_targets = np.add.reduceat(changes.astype(np.int64), gstart) if len(gstart) else empty
        self._close_as_duplicate(br[gstart[n_targets > 1]])
        one = gstart[n_targets == 1]
        rows, ts, ranks, tg = br[one], bt[one], bk[one], tgt[one]
        # Two score rows of one score on the same target allele: both duplicates.
        claim = (self.score[rows] << 34) | (_REF_EFFECT[ranks].astype(np.int64) << 33) | tg
        twice = pd.Series(claim).duplicated(keep=False).to_numpy()
        if twice.any():
            self._close_as_duplicate(rows[twice])
            rows, ts, ranks = rows[~twice], ts[~twice], ranks[~twice]

        # Score rows without any usable pairing: the most telling reason.
        nocand = ~cand & ~np.isin(pr, cr)
        if nocand.any():
            fr = pr[nocand]
            prio = _REASON_PRIORITY[fail[nocand]]
            o = np.lexsort((prio, fr))
            fr, fcode = fr[o], fail[nocand][o]
            first = np.r_[True, fr[1:] != fr[:-1]]
            self.reason[fr[first]] = fcode[first]

        self.rank[rows] = ranks
        self.closed[rows] = True
        self.reason[rows] = -1
        self.target_chrom[rows] = raw_chrom[ts]
        self.target_pos[rows] = pos[ts]
        self.target_ref[rows] = ref[ts]
        self.target_alt[rows] = alt[ts]
        return rows, ts, ranks.astype(np.int64)

    def audit(self, files: list[ScoringFile], table: pd.DataFrame) -> pd.DataFrame:
        match_type = np.array([None, *MATCH_TYPES], dtype=object)[self.rank + 1]
        reason = np.array([*UNMATCHED_REASONS, None], dtype=object)[self.reason]  # -1 (matched) -> None
        matched = self.rank >= 0
        return pd.DataFrame(
            {
                "score_id": np.array([f.score_id for f in files], dtype=object)[self.score],
                "line": table["line"].to_numpy(),
                "chrom": table["chrom"],
                "pos": table["pos"],
                "rsid": table["rsid"],
                "effect_allele": table["effect_allele"],
                "other_allele": table["other_allele"],
                "effect_weight": table["effect_weight"],
                "match_type": match_type,
                "reason": reason,
                "target_chrom": self.target_chrom,
                "target_pos": pd.arrays.IntegerArray(self.target_pos, ~matched),
                "target_ref": self.target_ref,
                "target_alt": self.target_alt,
            }
        )


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
        Target VCF/BCF (sorted by position).
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
    per-variant mean, which gives exactly the imputed sum.
    """
    if missing not in ("mean", "zero"):
        raise ValueError(f"missing must be 'mean' or 'zero', got {missing!r}")
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
    matcher = _Matcher(table, vcf_path, keep_ambiguous, keep_multiallelic)
    weights = _Weights(table, len(files))

    male_arr = None if male is None else np.asarray(male, dtype=bool)
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
        vcf_path, samples=samples, chunk_size=chunk_size, male=male, min_info=min_info, info_key=info_key
    )
    for chunk in chunks:
        names = chunk.samples
        if sums is None:
            sums = np.zeros((len(names), len(files)), dtype=np.float64)
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
        sums = np.zeros((0, len(files)))
        names = []

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
    row_sum = dos.sum(axis=1, dtype=np.float64)
    gaps = np.isnan(row_sum)  # rows with a missing call
    if gaps.any():
        g = np.flatnonzero(gaps)
        dg = dos[g]
        absent = np.isnan(dg)
        called = (~absent).sum(axis=1)
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
