"""One block of records: genotype classes, per-sample counters and the per-ALT rows (numpy over the block)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import chromosome_class, in_par, is_autosome
from genorisk.qc.thresholds import QCThresholds
from genorisk.qc.variant_types import TS, TV, VT_REF, VT_SNP, allele_classes


class SampleCounters:
    """Per-sample integer counters accumulated over chunks (one int64 array per counter, one float64 expectation)."""

    NAMES = (
        "n_called",
        "n_missing",
        "n_hom_ref",
        "n_het",
        "n_hom_alt",
        "n_hap_ref",
        "n_hap_alt",
        "n_snv_ts",
        "n_snv_tv",
        "auto_het",
        "auto_called",
        "x_hom",
        "x_called",
    )

    n_called: np.ndarray
    n_missing: np.ndarray
    n_hom_ref: np.ndarray
    n_het: np.ndarray
    n_hom_alt: np.ndarray
    n_hap_ref: np.ndarray
    n_hap_alt: np.ndarray
    n_snv_ts: np.ndarray
    n_snv_tv: np.ndarray
    auto_het: np.ndarray
    auto_called: np.ndarray
    x_hom: np.ndarray
    x_called: np.ndarray
    x_expected_hom: np.ndarray

    def __init__(self, n_samples: int):
        for name in self.NAMES:
            setattr(self, name, np.zeros(n_samples, dtype=np.int64))
        self.x_expected_hom = np.zeros(n_samples, dtype=np.float64)


class ChunkBuffer:
    """Allele indexes and record metadata of up to ``size`` consecutive records.

    ``alleles`` is (ploidy slot, record, sample): each slot is a contiguous
    (records, samples) plane, which is what the chunk arithmetic works on.
    """

    def __init__(self, size: int, n_samples: int):
        self.size = size
        self.n_samples = n_samples
        self.path: Path | None = None  # for error messages
        self.alleles = np.full((2, size, n_samples), -2, dtype=np.int16)
        self.reset()

    def reset(self):
        self.n = 0
        self.chrom: list[str] = []
        self.pos: list[int] = []
        self.ref: list[str] = []
        self.alts: list[list[str]] = []
        self.has_gt: list[bool] = []

    def add(self, chrom, pos, ref, alts, gt: np.ndarray | None):
        i = self.n
        if gt is not None:
            ploidy = gt.shape[1]
            if ploidy > self.alleles.shape[0]:  # rare (triploid calls): add ploidy slots
                extra = np.full((ploidy - self.alleles.shape[0],) + self.alleles.shape[1:], -2, dtype=np.int16)
                self.alleles = np.concatenate([self.alleles, extra], axis=0)
            self.alleles[:ploidy, i, :] = gt.T
            self.alleles[ploidy:, i, :] = -2
        else:
            self.alleles[:, i, :] = -2
        self.chrom.append(chrom)
        self.pos.append(pos)
        self.ref.append(ref)
        self.alts.append(alts)
        self.has_gt.append(gt is not None)
        self.n += 1


_VARIANT_COLUMNS = (
    "chrom",
    "pos",
    "ref",
    "alt",
    "allele_index",
    "n_alt",
    "call_rate",
    "alt_af",
    "maf",
    "n_hom_ref",
    "n_het",
    "n_hom_alt",
    "hwe_n",
    "hwe_p",
    "is_snv",
    "is_transition",
    "is_transversion",
)


def empty_variant_frame() -> pd.DataFrame:
    return _variant_frame({c: [] for c in _VARIANT_COLUMNS})


def _variant_frame(cols: dict) -> pd.DataFrame:
    ints = ("pos", "allele_index", "n_alt", "n_hom_ref", "n_het", "n_hom_alt", "hwe_n")
    floats = ("call_rate", "alt_af", "maf", "hwe_p")
    bools = ("is_snv", "is_transition", "is_transversion")
    out = {}
    for c in _VARIANT_COLUMNS + tuple(k for k in cols if k.startswith("_")):
        if c in ints or c.startswith("_"):
            out[c] = np.asarray(cols[c], dtype=np.int64)
        elif c in floats:
            out[c] = np.asarray(cols[c], dtype=np.float64)
        elif c in bools:
            out[c] = np.asarray(cols[c], dtype=bool)
        else:
            out[c] = pd.array(cols[c], dtype="str")
    return pd.DataFrame(out)


def process_chunk(
    buf: ChunkBuffer, c: SampleCounters, hwe_samples: np.ndarray, hwe_samples_x: np.ndarray, th: QCThresholds
) -> pd.DataFrame:
    """Accumulate per-sample counters and return the per-ALT rows of the buffered records."""
    R = buf.n
    A = buf.alleles[:, :R]  # (P, R, S) int16
    has_gt = np.asarray(buf.has_gt, dtype=bool)
    n_alts = np.array([len(a) for a in buf.alts], dtype=np.int64)
    K = int(n_alts.max(initial=0)) + 1
    allele_type = np.zeros((R, K), dtype=np.int8)
    sample_code = np.zeros((R, K), dtype=np.int8)
    cohort_code = np.zeros((R, K), dtype=np.int8)
    all_snv = np.zeros(R, dtype=bool)  # records whose ALT alleles are all SNVs
    for r in range(R):
        t, s, co = allele_classes(buf.ref[r], buf.alts[r])
        all_snv[r] = len(t) > 1 and all(x & VT_SNP for x in t[1:])
        allele_type[r, : len(t)] = t
        sample_code[r, : len(s)] = s
        cohort_code[r, : len(co)] = co
    is_x = np.array([chromosome_class(ch) == "X" for ch in buf.chrom], dtype=bool)
    x_nonpar = is_x & ~np.array([in_par(p) for p in buf.pos], dtype=bool)
    autosome = np.array([is_autosome(ch) for ch in buf.chrom], dtype=bool)

    # ---- genotype classes, as htslib bcf_gt_type. Work column by column (one
    # allele slot at a time): numpy reductions over a length-2 last axis are
    # several times slower than elementwise ops on (R, S) planes.
    slots = list(A)
    plane = A.shape[1:]
    big = np.int16(np.iinfo(np.int16).max)
    n_alleles = np.zeros(plane, dtype=np.int8)
    missing = np.zeros(plane, dtype=bool)
    has_ref = np.zeros(plane, dtype=bool)
    smallest_alt = np.full(plane, big, dtype=np.int16)
    largest = np.full(plane, -2, dtype=np.int16)
    for a in slots:
        n_alleles += a != -2
        missing |= a == -1
        has_ref |= a == 0
        np.minimum(smallest_alt, np.where(a > 0, a, big), out=smallest_alt)
        np.maximum(largest, a, out=largest)
    missing |= n_alleles == 0
    beyond = largest.max(axis=1) > n_alts  # htslib accepts these silently
    if beyond.any():
        r = int(np.flatnonzero(beyond)[0])
        raise InputError(
            buf.path,
            f"GT allele index {int(largest[r].max())} > {n_alts[r]} ALT",
            record=f"{buf.chrom[r]}:{buf.pos[r]}",
        )
    called = ~missing & has_gt[:, None]
    has_alt = smallest_alt != big
    two_alts = has_alt & (smallest_alt != largest)
    haploid = called & (n_alleles == 1)
    multi = called & (n_alleles >= 2)
    diploid = called & (n_alleles == 2)
    hom_rr = multi & ~has_alt
    het = multi & has_alt & (has_ref | two_alts)
    hom_aa = multi & has_alt & ~has_ref & ~two_alts

    # Allele class of the call's smallest ALT index (ial) and, for bcftools's
    # het/hom rule, of its other ALT (jal). Biallelic records: ial is 1 in every
    # non-REF call, so a per-record value is broadcast; only multiallelic
    # records need a per-call lookup.
    alt1_type = allele_type[:, 1] if K > 1 else np.zeros(R, dtype=np.int8)
    alt1_code = sample_code[:, 1] if K > 1 else np.zeros(R, dtype=np.int8)
    type_i = np.where(has_alt, alt1_type[:, None], np.int8(VT_REF))
    vtype = type_i.copy()
    code = np.where(has_alt, alt1_code[:, None], np.int8(0))
    cx = np.flatnonzero(n_alts > 1)
    if cx.size:
        rows = cx[:, None]
        ial = np.where(has_alt[cx], smallest_alt[cx], 0).astype(np.intp)
        jal = np.where(two_alts[cx], largest[cx], 0).astype(np.intp)
        type_i[cx] = allele_type[rows, ial]
        vtype[cx] = type_i[cx] | allele_type[rows, jal]
        code[cx] = sample_code[rows, ial]
    snv_call = ((vtype & VT_SNP) != 0) | (vtype == VT_REF)  # bcftools counts het/hom only for these

    c.n_called += called.sum(axis=0)
    c.n_missing += (~called & has_gt[:, None]).sum(axis=0)
    c.n_hap_ref += (haploid & ~has_alt).sum(axis=0)
    c.n_hap_alt += (haploid & has_alt).sum(axis=0)
    c.n_hom_ref += (hom_rr & snv_call).sum(axis=0)
    c.n_het += (het & snv_call).sum(axis=0)
    c.n_hom_alt += (hom_aa & snv_call).sum(axis=0)
    nonref_snv = (het | hom_aa) & snv_call & ((type_i & VT_SNP) != 0)
    c.n_snv_ts += (nonref_snv & (code == TS)).sum(axis=0)
    c.n_snv_tv += (nonref_snv & (code == TV)).sum(axis=0)
    auto_rows = (autosome & all_snv)[:, None]
    c.auto_het += (het & auto_rows).sum(axis=0)
    c.auto_called += (multi & auto_rows).sum(axis=0)

    # ---- per-ALT rows
    rec_of_row = np.repeat(np.arange(R), n_alts)
    k_of_row = (np.arange(len(rec_of_row)) - np.repeat(np.cumsum(n_alts) - n_alts, n_alts) + 1).astype(np.int16)
    copies = np.zeros((len(rec_of_row), A.shape[2]), dtype=np.int8)
    if len(rec_of_row) == R:  # all biallelic: no copy of the allele planes
        for a in slots:
            copies += a == 1
    else:
        for a in slots:
            copies += a[rec_of_row] == k_of_row[:, None]
    row_called = called[rec_of_row]
    n_called_row = row_called.sum(axis=1)
    an = np.where(row_called, n_alleles[rec_of_row], 0).sum(axis=1)
    ac = np.where(row_called, copies, 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        alt_af = np.where(an > 0, ac / np.maximum(an, 1), np.nan)
        call_rate = n_called_row / A.shape[2] if A.shape[2] else np.full(len(rec_of_row), np.nan)
    maf = np.minimum(alt_af, 1 - alt_af)
    row_dip = diploid[rec_of_row]
    g0, g1, g2 = row_dip & (copies == 0), row_dip & (copies == 1), row_dip & (copies == 2)
    row_is_x = is_x[rec_of_row]
    hwe_mask = np.where(row_is_x[:, None], hwe_samples_x[None, :], hwe_samples[None, :])
    h0, h1, h2 = (g0 & hwe_mask).sum(axis=1), (g1 & hwe_mask).sum(axis=1), (g2 & hwe_mask).sum(axis=1)
    row_type = allele_type[rec_of_row, k_of_row]
    row_code = cohort_code[rec_of_row, k_of_row]

    # ---- chrX F over non-PAR biallelic SNVs with enough MAF (plink --check-sex)
    x_rows = (
        x_nonpar[rec_of_row]
        & (n_alts[rec_of_row] == 1)
        & ((row_type & VT_SNP) != 0)
        & (maf >= th.sex_min_maf)
        & (maf > 0)
    )
    if x_rows.any():
        xr = rec_of_row[x_rows]
        p = alt_af[x_rows]
        x_called = called[xr]
        x_hom = x_called & ~het[xr]
        c.x_hom += x_hom.sum(axis=0)
        c.x_called += x_called.sum(axis=0)
        c.x_expected_hom += ((1 - 2 * p * (1 - p))[:, None] * x_called).sum(axis=0)

    return _variant_frame(
        {
            "chrom": [buf.chrom[r] for r in rec_of_row],
            "pos": np.asarray(buf.pos, dtype=np.int64)[rec_of_row],
            "ref": [buf.ref[r] for r in rec_of_row],
            "alt": [a for alts in buf.alts for a in alts],
            "allele_index": k_of_row,
            "n_alt": n_alts[rec_of_row],
            "call_rate": call_rate,
            "alt_af": alt_af,
            "maf": maf,
            "n_hom_ref": g0.sum(axis=1),
            "n_het": g1.sum(axis=1),
            "n_hom_alt": g2.sum(axis=1),
            "hwe_n": h0 + h1 + h2,
            "hwe_p": np.full(len(rec_of_row), np.nan),  # filled in once for all rows by run_qc
            "_hwe_het": h1,
            "_hwe_hom_ref": h0,
            "is_snv": (row_type & VT_SNP) != 0,
            "is_transition": row_code == TS,
            "is_transversion": row_code == TV,
        }
    )
