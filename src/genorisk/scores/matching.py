"""Matching score variants to target variant tables in pgsc_calc's manner.

See :mod:`genorisk.scores` for the match types and reasons. The
:class:`_Matcher` is used by :func:`genorisk.scores.compute_scores` chunk by
chunk over a VCF, and per chromosome over a store's variant tables.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import canonical_contig
from genorisk.scores.scoring_file import ScoringFile

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
    "liftover failed",
)

_COMPLEMENT = str.maketrans("ACGT", "TGCA")
#: REF + ALT of the strand-ambiguous SNPs (A/T, C/G: a SNP whose ALT is its REF's complement).
_AMBIGUOUS_PAIRS = frozenset({"AT", "TA", "CG", "GC"})


# --------------------------------------------------------------- matching


def _complement(a: str) -> str:
    return a.translate(_COMPLEMENT)


def is_ref_effect(match_type: str) -> bool:
    """True when a match type (:data:`MATCH_TYPES`) pairs the effect allele with the target's REF.

    Such a variant's score dosage is ``ploidy - ALT dosage``, not the ALT dosage.
    """
    return match_type.startswith(("refalt", "no_oa_ref"))


# Reason codes (indexes into UNMATCHED_REASONS) and the order in which one of
# them is reported for a variant with several failed pairings.
_NOT_IN_TARGET, _AMBIGUOUS, _MULTIALLELIC, _DUPLICATE, _MISMATCH, _LIFT_FAILED = range(6)
_REASON_PRIORITY = np.array([9, 1, 0, 9, 2, 9], dtype=np.int8)  # by reason code: multiallelic, ambiguous, mismatch
#: Match-type indexes whose effect allele is REF (refalt, refalt_flip, no_oa_ref, no_oa_ref_flip).
_REF_EFFECT = np.array([is_ref_effect(t) for t in MATCH_TYPES])
_FLIP = np.array([t.endswith("_flip") for t in MATCH_TYPES])
_POS_LIMIT = 1 << 32  # positions are packed with a chromosome code into one int64 key


class _Matcher:
    """Match state of every score row (all files), updated chunk by chunk.

    Score rows with a position are found by binary search of packed
    (chromosome code, position) keys; rows with only an rsID through a dict.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        vcf_path,
        keep_ambiguous: bool,
        keep_multiallelic: bool,
        lift_failed: np.ndarray | None = None,
    ):
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
        if lift_failed is not None and lift_failed.any():
            # Positions that did not lift are in the wrong build: never matched.
            self.closed[lift_failed] = True
            self.reason[lift_failed] = _LIFT_FAILED

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
        ambiguous = pd.Series(r_ + a_, dtype=object).isin(_AMBIGUOUS_PAIRS).to_numpy()
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
