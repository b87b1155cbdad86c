"""Cohort and sample QC in one streaming pass over a VCF/BCF.

:func:`run_qc` reads the genotype allele indexes (cyvcf2
``variant.genotype.array()``) in chunks of records and computes, with numpy
over whole chunks:

* per variant, one row per ALT allele (as :mod:`genorisk.genotypes` gives
  them): call rate, ALT allele frequency, MAF, diploid genotype counts,
  Hardy-Weinberg exact p (Wigginton et al. 2005), SNV and transition flags;
* per sample: call rate, genotype counts, Ti/Tv, autosomal heterozygosity and
  the chrX inbreeding coefficient F, from which sex is inferred as
  ``plink --check-sex`` does, compared with the recorded sex;
* the cohort Ti/Tv.

Why allele indexes and not :func:`genorisk.genotypes.iter_dosage_chunks`:
per-ALT dosages lose the ploidy of a call (haploid ``1`` and diploid ``0/1``
both give 1) and the pairing of alleles at multiallelic sites (``1/2`` is one
heterozygous genotype, not two), and both matter for per-sample counts. The
allele-level conventions are those of the dosage reader (missing or partially
missing call -> missing; GT allele index beyond the ALT count -> InputError).

Counting conventions (chosen to agree with ``bcftools stats -s -``, PSC and
TSTV lines, bcftools 1.16, which the tests check):

* A call is *missing* when any of its alleles is ``.`` (``./.``, ``./1``,
  ``.``). ``call_rate`` = called / (called + missing) over records that have
  GT, including records with ALT ``.``.
* Haploid calls (``0``, ``1``: males on chrX/Y, MT) are counted as
  ``n_hap_ref`` / ``n_hap_alt``, never as homozygous.
* ``n_hom_ref``, ``n_het``, ``n_hom_alt`` are bcftools's nRefHom, nHets,
  nNonRefHom: calls of ploidy >= 2 whose ALT alleles are SNVs (htslib's
  variant type), plus homozygous-REF calls at any record. ``1/2`` is one
  heterozygous call.
* ``n_snv_ts`` / ``n_snv_tv`` (nTransitions / nTransversions): non-REF
  diploid calls, classified by the smallest ALT allele index in the call and
  the first base of REF and of that ALT (transition: A<->G, C<->T).
* Cohort Ti/Tv (the TSTV line): one count per SNV ALT allele, whatever the
  genotypes.

Per-variant rows describe ALT allele *k* against all other alleles, as after
``bcftools norm -m-`` (a ``1/2`` call is a het of ALT 1 and a het of ALT 2):
``n_hom_ref`` / ``n_het`` / ``n_hom_alt`` count diploid calls with 0 / 1 / 2
copies of allele *k*. ``alt_af`` is allele count / called alleles, so a
haploid male chrX call counts one allele. ``hwe_p`` is the exact test on those
diploid counts, on controls only when a case/control status is given (case
enrichment of risk alleles is itself a departure from HWE, so GWAS QC tests
controls), and on chrX without samples recorded as male.

Sex inference follows ``plink --check-sex``: over chrX non-PAR biallelic SNVs
with MAF >= ``sex_min_maf``, F = (O - E) / (N - E), where O is the number of
homozygous calls (haploid calls count as homozygous, as plink imports them),
N the number of called variants and E = sum(1 - 2pq) with p from the cohort's
called alleles. PAR1/PAR2 of both GRCh37 and GRCh38 are excluded, so no build
needs to be known (this drops < 1 Mb of non-PAR chrX in either build).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from cyvcf2 import VCF
from scipy.special import gammaln

from genorisk.errors import ConfigError, InputError
from genorisk.genotypes import X_CHROMOSOMES, column_order, normalize_chrom, open_vcf_checked
from genorisk.io import atomic_output, write_json

log = logging.getLogger("genorisk.qc")

_LOG_EVERY_S = 10.0
# Records are processed in blocks of about this many genotype cells (or at least
# _MIN_BLOCK_RECORDS records): the dozen (records x samples) temporaries of a
# block then stay in the CPU cache, which measured ~3x faster than 20,000-record
# blocks on 2,000 samples, and memory stays small.
_BLOCK_CELLS = 1 << 19
_MIN_BLOCK_RECORDS = 16

# htslib variant types (vcf.h VCF_*); REF (0) also covers ALT ".", "<*>", "<X>", "<NON_REF>".
VT_REF, VT_SNP, VT_MNP, VT_INDEL, VT_OTHER, VT_BND, VT_OVERLAP = 0, 1, 2, 4, 8, 16, 32

# Chromosomes (normalised, see genorisk.genotypes.normalize_chrom) that are not autosomes.
_NON_AUTOSOMES = frozenset({"X", "Y", "XY", "MT", "23", "24", "25", "26", "W", "Z"})

# chrX pseudo-autosomal regions, 1-based inclusive: GRCh37 and GRCh38 (UCSC / GRC).
PAR_REGIONS_X = ((60_001, 2_699_520), (154_931_044, 155_260_560),   # GRCh37
                 (10_001, 2_781_479), (155_701_383, 156_030_895))   # GRCh38

_ACGT = {"A": 0, "C": 1, "G": 2, "T": 3}
_TS, _TV = 1, 2   # Ti/Tv class codes


# ----------------------------------------------------------------- thresholds

@dataclass(frozen=True)
class QCThresholds:
    """Exclusion thresholds (config section ``qc``).

    Attributes
    ----------
    min_variant_call_rate : float
        Variants called in fewer of the samples are excluded.
    min_maf : float
        Variants with a lower MAF are excluded (0: QC keeps rare variants; the
        feature stage applies its own MAF).
    hwe_p_min : float or None
        Variants with an exact HWE p below this are excluded (controls only
        when a status is given). None disables.
    min_sample_call_rate : float
        Samples with a lower call rate are excluded.
    heterozygosity_sd : float or None
        Samples whose autosomal het rate lies beyond mean +/- k SD of the
        cohort's are excluded. None disables.
    titv_range : (float, float) or None
        Samples whose Ti/Tv lies outside [lo, hi] are excluded. None disables.
    sex_check : {"exclude", "warn", "off"}
        What to do with samples whose inferred sex contradicts the recorded.
    female_max_f, male_min_f : float
        chrX F below ``female_max_f`` -> female, above ``male_min_f`` -> male
        (plink --check-sex defaults 0.2 / 0.8).
    sex_min_maf : float
        chrX variants used for F need at least this MAF.
    sex_min_variants : int
        With fewer usable chrX variants, the inferred sex is "unknown".
    """

    min_variant_call_rate: float = 0.95
    min_maf: float = 0.0
    hwe_p_min: float | None = 1e-6
    min_sample_call_rate: float = 0.95
    heterozygosity_sd: float | None = 3.0
    titv_range: tuple[float, float] | None = None
    sex_check: str = "warn"
    female_max_f: float = 0.2
    male_min_f: float = 0.8
    sex_min_maf: float = 0.05
    sex_min_variants: int = 50

    def __post_init__(self):
        def bad(key: str, problem: str):
            raise ConfigError("qc thresholds", problem, record=f"key {key}")

        for key in ("min_variant_call_rate", "min_sample_call_rate", "female_max_f", "male_min_f"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                bad(key, f"must be a number in [0, 1], got {v!r}")
        if not isinstance(self.min_maf, (int, float)) or not 0 <= self.min_maf <= 0.5:
            bad("min_maf", f"must be a number in [0, 0.5], got {self.min_maf!r}")
        if not isinstance(self.sex_min_maf, (int, float)) or not 0 <= self.sex_min_maf <= 0.5:
            bad("sex_min_maf", f"must be a number in [0, 0.5], got {self.sex_min_maf!r}")
        if self.hwe_p_min is not None and (not isinstance(self.hwe_p_min, (int, float)) or not 0 <= self.hwe_p_min <= 1):
            bad("hwe_p_min", f"must be a number in [0, 1] or null, got {self.hwe_p_min!r}")
        if self.heterozygosity_sd is not None and (
            not isinstance(self.heterozygosity_sd, (int, float)) or self.heterozygosity_sd <= 0
        ):
            bad("heterozygosity_sd", f"must be a positive number or null, got {self.heterozygosity_sd!r}")
        if self.titv_range is not None:
            r = self.titv_range
            if (not isinstance(r, (list, tuple)) or len(r) != 2
                    or not all(isinstance(x, (int, float)) for x in r) or not 0 <= r[0] <= r[1]):
                bad("titv_range", f"must be [lo, hi] with 0 <= lo <= hi, or null, got {r!r}")
            object.__setattr__(self, "titv_range", (float(r[0]), float(r[1])))
        if self.sex_check not in ("exclude", "warn", "off"):
            bad("sex_check", f"must be 'exclude', 'warn' or 'off', got {self.sex_check!r}")
        if self.female_max_f > self.male_min_f:
            bad("female_max_f", f"{self.female_max_f} is above male_min_f {self.male_min_f}")
        if not isinstance(self.sex_min_variants, int) or self.sex_min_variants < 1:
            bad("sex_min_variants", f"must be an integer >= 1, got {self.sex_min_variants!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, *, source: str = "config qc") -> "QCThresholds":
        """Thresholds from a config mapping; absent keys keep their defaults.

        Raises
        ------
        ConfigError
            Naming the unknown key or the key with a bad value.
        """
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(source, f"unknown QC threshold {key!r} (allowed: {', '.join(sorted(known))})",
                                  record=f"key {key}")
        try:
            return cls(**values)
        except ConfigError as err:
            raise ConfigError(source, err.problem, record=err.record) from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["titv_range"] is not None:
            d["titv_range"] = list(d["titv_range"])
        return d


# ------------------------------------------------------------ HWE exact test

def hwe_exact_p(n_het, n_hom1, n_hom2) -> np.ndarray:
    """Hardy-Weinberg exact test p-values (Wigginton, Cutler & Abecasis 2005).

    Parameters
    ----------
    n_het, n_hom1, n_hom2 : array_like of int, same shape
        Counts of heterozygous and of the two homozygous genotypes.

    Returns
    -------
    numpy.ndarray, float64
        Two-sided p: the total probability of all het counts no more likely
        than the observed one, given the allele counts (ties within a relative
        1e-9 count as "no more likely", for float round-off). NaN where no
        genotypes were counted.

    Notes
    -----
    Each distinct (n genotypes, n minor alleles) pair gets its whole
    distribution once, in log space (``gammaln``), so p-values down to about
    1e-320 are exact rather than underflowing. scikit-allel has no exact
    test (its ``heterozygosity_expected`` supports only the F statistic).
    """
    het = np.asarray(n_het, dtype=np.int64)
    h1 = np.asarray(n_hom1, dtype=np.int64)
    h2 = np.asarray(n_hom2, dtype=np.int64)
    if not het.shape == h1.shape == h2.shape:
        raise ValueError("n_het, n_hom1 and n_hom2 must have the same shape")
    if (het < 0).any() or (h1 < 0).any() or (h2 < 0).any():
        raise ValueError("genotype counts must be >= 0")
    shape = het.shape
    het, h1, h2 = het.ravel(), h1.ravel(), h2.ravel()
    n = het + h1 + h2
    rare = het + 2 * np.minimum(h1, h2)
    out = np.full(n.shape, np.nan)
    ok = n > 0
    if not ok.any():
        return out.reshape(shape)
    keys = np.stack([n[ok], rare[ok]], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    idx_ok = np.flatnonzero(ok)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    for u, (nn, rr) in enumerate(uniq):
        members = idx_ok[order[bounds[u]:bounds[u + 1]]]
        out[members] = _hwe_p_one_key(int(nn), int(rr), het[members])
    return out.reshape(shape)


def _hwe_p_one_key(n: int, rare: int, obs_het: np.ndarray) -> np.ndarray:
    """p-values for the observed het counts of variants sharing n and rare."""
    hets = np.arange(rare % 2, rare + 1, 2, dtype=np.int64)
    hom_rare = (rare - hets) // 2
    hom_common = n - hets - hom_rare
    logp = hets * math.log(2.0) - gammaln(hom_common + 1) - gammaln(hets + 1) - gammaln(hom_rare + 1)
    order = np.argsort(logp, kind="stable")
    sorted_logp = logp[order]
    cum = np.logaddexp.accumulate(sorted_logp)   # log of the sum of all values <= each one
    total = cum[-1]
    obs_logp = logp[(obs_het - rare % 2) // 2]
    at = np.searchsorted(sorted_logp, obs_logp + 1e-9, side="right") - 1
    return np.minimum(np.exp(cum[at] - total), 1.0)


# ------------------------------------------------------------ allele classes

def htslib_variant_type(ref: str, alt: str) -> int:
    """htslib's variant type of one ALT allele (``bcf_set_variant_type``, htslib 1.16).

    Returns a ``VT_*`` code: multi-base alleles that differ in one base after
    trimming the common prefix and suffix are SNVs (``ACT>AGT``), as in htslib.
    """
    if alt == "*":
        return VT_OVERLAP
    if len(ref) == 1 and len(alt) == 1:
        if alt in (".", "X") or ref == alt:
            return VT_REF
        return VT_SNP
    if alt.startswith("<"):
        return VT_REF if alt in ("<X>", "<*>", "<NON_REF>") else VT_OTHER
    if "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith("."):
        return VT_BND
    r, a = ref.upper(), alt.upper()
    i = 0
    while i < len(r) and i < len(a) and r[i] == a[i]:
        i += 1
    if i == len(r) and i == len(a):
        return VT_REF
    if i == len(r) or i == len(a):
        return VT_INDEL
    re_, ae = len(r) - 1, len(a) - 1
    while re_ > i and ae > i and r[re_] == a[ae]:
        re_ -= 1
        ae -= 1
    if ae == i:
        if re_ == i:
            return VT_SNP
        return VT_INDEL if r[re_] == a[ae] else VT_OTHER
    if re_ == i:
        return VT_INDEL if r[re_] == a[ae] else VT_OTHER
    return VT_MNP if re_ - i == ae - i else VT_OTHER


def _tstv_code(ref_base: int, alt_base: int) -> int:
    return _TS if abs(ref_base - alt_base) == 2 else _TV


def _allele_classes(ref: str, alts: list[str]) -> tuple[list[int], list[int], list[int]]:
    """Per allele (REF first): htslib type, per-sample Ti/Tv code, cohort Ti/Tv code.

    The two Ti/Tv codes reproduce bcftools stats: both compare the first base
    of REF and ALT; the cohort count (TSTV) skips a REF or ALT first base that
    is not A/C/G/T and equal first bases, the per-sample count (PSC) only a
    non-ACGT ALT base.
    """
    ref_base = _ACGT.get(ref[:1].upper(), -1)
    types, sample_code, cohort_code = [VT_REF], [0], [0]
    for alt in alts:
        vt = htslib_variant_type(ref, alt)
        alt_base = _ACGT.get(alt[:1].upper(), -1)
        types.append(vt)
        snv = bool(vt & VT_SNP)
        sample_code.append(_tstv_code(ref_base, alt_base) if snv and alt_base >= 0 else 0)
        cohort_code.append(_tstv_code(ref_base, alt_base)
                           if snv and ref_base >= 0 and alt_base >= 0 and ref_base != alt_base else 0)
    return types, sample_code, cohort_code


def _in_par(pos: int) -> bool:
    return any(lo <= pos <= hi for lo, hi in PAR_REGIONS_X)


# ------------------------------------------------------------------ results

@dataclass
class QCResult:
    """Output of :func:`run_qc`.

    Attributes
    ----------
    variants : pandas.DataFrame
        One row per ALT allele, file order: ``chrom, pos, ref, alt,
        allele_index, n_alt, call_rate, alt_af, maf, n_hom_ref, n_het,
        n_hom_alt, hwe_n, hwe_p, is_snv, is_transition, is_transversion``.
        ``hwe_n`` is the number of diploid calls the HWE test used.
    samples : pandas.DataFrame
        One row per sample, in the order analysed: ``sample, call_rate,
        n_called, n_missing, n_hom_ref, n_het, n_hom_alt, n_hap_ref,
        n_hap_alt, n_snv_ts, n_snv_tv, titv, het_rate, n_x_variants, x_f,
        inferred_sex, recorded_sex, sex_check``. ``het_rate`` is het /
        diploid calls at autosomal records whose ALTs are all SNVs.
    cohort : dict
        ``n_records``, ``n_alt_rows``, ``n_samples``, ``ts``, ``tv``, ``titv``,
        ``hwe_on`` ("controls" or "all samples").
    thresholds : QCThresholds
        The thresholds the sex inference used (and the default for
        :func:`apply_thresholds` / :func:`write_qc`).
    """

    variants: pd.DataFrame
    samples: pd.DataFrame
    cohort: dict
    thresholds: QCThresholds = field(default_factory=QCThresholds)


class _SampleCounters:
    """Per-sample integer counters accumulated over chunks."""

    NAMES = ("n_called", "n_missing", "n_hom_ref", "n_het", "n_hom_alt", "n_hap_ref", "n_hap_alt",
             "n_snv_ts", "n_snv_tv", "auto_het", "auto_called", "x_hom", "x_called")

    def __init__(self, n_samples: int):
        for name in self.NAMES:
            setattr(self, name, np.zeros(n_samples, dtype=np.int64))
        self.x_expected_hom = np.zeros(n_samples, dtype=np.float64)


class _ChunkBuffer:
    """Allele indexes and record metadata of up to ``size`` consecutive records.

    ``alleles`` is (ploidy slot, record, sample): each slot is a contiguous
    (records, samples) plane, which is what the chunk arithmetic works on.
    """

    def __init__(self, size: int, n_samples: int):
        self.size = size
        self.n_samples = n_samples
        self.path: Path | None = None   # for error messages
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
            if ploidy > self.alleles.shape[0]:   # rare (triploid calls): add ploidy slots
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


# ------------------------------------------------------------------ run_qc

def run_qc(
    vcf: str | PathLike,
    *,
    samples: Sequence[str] | None = None,
    recorded_sex: Mapping[str, str | None] | None = None,
    status: Mapping[str, Any] | None = None,
    thresholds: QCThresholds = QCThresholds(),
    chunk_size: int = 20000,
) -> QCResult:
    """Per-variant, per-sample and cohort QC statistics in one streaming pass.

    Parameters
    ----------
    vcf : str or PathLike
        VCF (plain or bgzipped) or BCF, validated beforehand
        (:func:`genorisk.vcf.validate_vcf`).
    samples : sequence of str, optional
        Samples to analyse, in the order wanted; default all, in file order.
    recorded_sex : mapping sample -> "male" / "female" / None, optional
        Sex from the phenotype table (``read_phenotypes(...)["sex"]``); used
        for the sex check and to leave males out of chrX HWE tests.
    status : mapping sample -> 0/1, optional
        Case (1) / control (0). When given, HWE is tested on controls only;
        samples absent from it count as neither.
    thresholds : QCThresholds
        Used here for the sex inference (F cut-offs, chrX MAF, minimum
        variants); stored on the result for :func:`apply_thresholds`.
    chunk_size : int
        Maximum records per processing block. Blocks are further capped at
        about 2**19 genotype cells (cache-sized), so memory is a few MB plus
        the result tables, whatever this value.

    Returns
    -------
    QCResult

    Raises
    ------
    InputError
        Unreadable file, unknown samples, or a GT allele index beyond the
        record's ALT count (names the file and ``chrom:pos``).
    """
    path = Path(vcf)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    reader, names = _open(path, samples)
    n_samples = len(names)
    order = column_order(list(reader.samples), names)

    male = np.array([(recorded_sex or {}).get(s) == "male" for s in names], dtype=bool)
    if status is not None:
        hwe_samples = np.array([_is_control(status.get(s)) for s in names], dtype=bool)
        hwe_on = "controls"
        if not hwe_samples.any():
            log.warning("%s: status given but no sample is a control; HWE p-values will be NaN", path.name)
    else:
        hwe_samples = np.ones(n_samples, dtype=bool)
        hwe_on = "all samples"
    hwe_samples_x = hwe_samples & ~male

    counters = _SampleCounters(n_samples)
    variant_frames: list[pd.DataFrame] = []
    buf = _ChunkBuffer(min(chunk_size, max(_MIN_BLOCK_RECORDS, _BLOCK_CELLS // max(n_samples, 1))), n_samples)
    buf.path = path
    n_records = 0
    t0 = time.perf_counter()
    t_last = t0
    last = "start of file"
    try:
        for rec in reader:
            last = f"{rec.CHROM}:{rec.POS}"
            alts = rec.ALT
            gt = _record_alleles(rec, len(alts), path, order)
            buf.add(rec.CHROM, rec.POS, rec.REF, alts, gt)
            n_records += 1
            if buf.n == buf.size:
                variant_frames.append(_process_chunk(buf, counters, hwe_samples, hwe_samples_x, thresholds))
                buf.reset()
            now = time.perf_counter()
            if now - t_last > _LOG_EVERY_S:
                t_last = now
                log.info("%s: %d records done (%.0f records/s)", path.name, n_records, n_records / (now - t0))
    except InputError:
        raise
    except Exception as exc:
        if type(exc) is not Exception:   # cyvcf2 raises bare Exception for htslib parse failures
            raise
        raise InputError(path, f"htslib cannot parse the record after {last} ({exc})") from exc
    finally:
        reader.close()
    if buf.n:
        variant_frames.append(_process_chunk(buf, counters, hwe_samples, hwe_samples_x, thresholds))
    dt = time.perf_counter() - t0
    log.info("%s: QC done, %d records, %d samples in %.1f s (%.0f records/s)",
             path.name, n_records, n_samples, dt, n_records / dt if dt > 0 else 0.0)

    variants = pd.concat(variant_frames, ignore_index=True) if variant_frames else _empty_variant_frame()
    if "_hwe_het" in variants:
        # One call for all rows: each distinct (n, minor count) distribution is computed once.
        het, hom_ref = variants.pop("_hwe_het").to_numpy(), variants.pop("_hwe_hom_ref").to_numpy()
        variants["hwe_p"] = hwe_exact_p(het, hom_ref, variants["hwe_n"].to_numpy() - het - hom_ref)
    sample_table = _sample_table(names, counters, recorded_sex, thresholds)
    ts = int(variants["is_transition"].sum())
    tv = int(variants["is_transversion"].sum())
    cohort = {
        "n_records": n_records,
        "n_alt_rows": int(len(variants)),
        "n_samples": n_samples,
        "ts": ts,
        "tv": tv,
        "titv": ts / tv if tv else None,
        "hwe_on": hwe_on,
    }
    return QCResult(variants=variants, samples=sample_table, cohort=cohort, thresholds=thresholds)


def _is_control(value) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip() in ("0", "0.0", "control")


def _open(path: Path, samples: Sequence[str] | None) -> tuple[VCF, list[str]]:
    reader, all_samples, names = open_vcf_checked(path, samples)
    if samples is None:
        return reader, names
    reader.close()
    # Let htslib decode only the wanted samples (it keeps file order; reordered per record).
    return VCF(str(path), lazy=True, threads=1, samples=names), names


def _record_alleles(rec, n_alt: int, path: Path, order: np.ndarray | None) -> np.ndarray | None:
    """(n_samples, ploidy) allele indexes (-1 missing, -2 vector end) or None without GT."""
    try:
        gt = rec.genotype
    except Exception:  # cyvcf2: "couldn't get genotypes for variant" (no GT)
        return None
    if gt is None:
        return None
    alleles = gt.array()[:, :-1]   # allele indexes beyond the ALT count are refused per chunk
    return alleles if order is None else alleles[order]


_VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt", "allele_index", "n_alt", "call_rate", "alt_af", "maf",
                    "n_hom_ref", "n_het", "n_hom_alt", "hwe_n", "hwe_p", "is_snv", "is_transition",
                    "is_transversion")


def _empty_variant_frame() -> pd.DataFrame:
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


def _process_chunk(buf: _ChunkBuffer, c: _SampleCounters, hwe_samples: np.ndarray,
                   hwe_samples_x: np.ndarray, th: QCThresholds) -> pd.DataFrame:
    """Accumulate per-sample counters and return the per-ALT rows of the buffered records."""
    R = buf.n
    A = buf.alleles[:, :R]                                    # (P, R, S) int16
    has_gt = np.asarray(buf.has_gt, dtype=bool)
    n_alts = np.array([len(a) for a in buf.alts], dtype=np.int64)
    K = int(n_alts.max(initial=0)) + 1
    allele_type = np.zeros((R, K), dtype=np.int8)
    sample_code = np.zeros((R, K), dtype=np.int8)
    cohort_code = np.zeros((R, K), dtype=np.int8)
    all_snv = np.zeros(R, dtype=bool)   # records whose ALT alleles are all SNVs
    for r in range(R):
        t, s, co = _allele_classes(buf.ref[r], buf.alts[r])
        all_snv[r] = len(t) > 1 and all(x & VT_SNP for x in t[1:])
        allele_type[r, : len(t)] = t
        sample_code[r, : len(s)] = s
        cohort_code[r, : len(co)] = co
    norm = [normalize_chrom(ch) for ch in buf.chrom]
    is_x = np.array([ch in X_CHROMOSOMES for ch in buf.chrom], dtype=bool)
    x_nonpar = is_x & ~np.array([_in_par(p) for p in buf.pos], dtype=bool)
    autosome = np.array([ch not in _NON_AUTOSOMES for ch in norm], dtype=bool)

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
    beyond = largest.max(axis=1) > n_alts   # htslib accepts these silently
    if beyond.any():
        r = int(np.flatnonzero(beyond)[0])
        raise InputError(buf.path, f"GT allele index {int(largest[r].max())} > {n_alts[r]} ALT",
                         record=f"{buf.chrom[r]}:{buf.pos[r]}")
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
    snv_call = ((vtype & VT_SNP) != 0) | (vtype == VT_REF)   # bcftools counts het/hom only for these

    c.n_called += called.sum(axis=0)
    c.n_missing += (~called & has_gt[:, None]).sum(axis=0)
    c.n_hap_ref += (haploid & ~has_alt).sum(axis=0)
    c.n_hap_alt += (haploid & has_alt).sum(axis=0)
    c.n_hom_ref += (hom_rr & snv_call).sum(axis=0)
    c.n_het += (het & snv_call).sum(axis=0)
    c.n_hom_alt += (hom_aa & snv_call).sum(axis=0)
    nonref_snv = (het | hom_aa) & snv_call & ((type_i & VT_SNP) != 0)
    c.n_snv_ts += (nonref_snv & (code == _TS)).sum(axis=0)
    c.n_snv_tv += (nonref_snv & (code == _TV)).sum(axis=0)
    auto_rows = (autosome & all_snv)[:, None]
    c.auto_het += (het & auto_rows).sum(axis=0)
    c.auto_called += (multi & auto_rows).sum(axis=0)

    # ---- per-ALT rows
    rec_of_row = np.repeat(np.arange(R), n_alts)
    k_of_row = (np.arange(len(rec_of_row)) - np.repeat(np.cumsum(n_alts) - n_alts, n_alts) + 1).astype(np.int16)
    copies = np.zeros((len(rec_of_row), A.shape[2]), dtype=np.int8)
    if len(rec_of_row) == R:   # all biallelic: no copy of the allele planes
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
    x_rows = x_nonpar[rec_of_row] & (n_alts[rec_of_row] == 1) & ((row_type & VT_SNP) != 0) \
        & (maf >= th.sex_min_maf) & (maf > 0)
    if x_rows.any():
        xr = rec_of_row[x_rows]
        p = alt_af[x_rows]
        x_called = called[xr]
        x_hom = x_called & ~het[xr]
        c.x_hom += x_hom.sum(axis=0)
        c.x_called += x_called.sum(axis=0)
        c.x_expected_hom += ((1 - 2 * p * (1 - p))[:, None] * x_called).sum(axis=0)

    return _variant_frame({
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
        "hwe_p": np.full(len(rec_of_row), np.nan),   # filled in once for all rows by run_qc
        "_hwe_het": h1,
        "_hwe_hom_ref": h0,
        "is_snv": (row_type & VT_SNP) != 0,
        "is_transition": row_code == _TS,
        "is_transversion": row_code == _TV,
    })


def _sample_table(names: list[str], c: _SampleCounters, recorded_sex, th: QCThresholds) -> pd.DataFrame:
    with np.errstate(invalid="ignore", divide="ignore"):
        total = c.n_called + c.n_missing
        call_rate = np.where(total > 0, c.n_called / np.maximum(total, 1), np.nan)
        titv = np.where(c.n_snv_tv > 0, c.n_snv_ts / np.maximum(c.n_snv_tv, 1), np.nan)
        het_rate = np.where(c.auto_called > 0, c.auto_het / np.maximum(c.auto_called, 1), np.nan)
        denom = c.x_called - c.x_expected_hom
        x_f = np.where((c.x_called > 0) & (denom != 0), (c.x_hom - c.x_expected_hom) / denom, np.nan)
    enough = c.x_called >= th.sex_min_variants
    inferred = np.where(~enough | np.isnan(x_f), "unknown",
                        np.where(x_f > th.male_min_f, "male", np.where(x_f < th.female_max_f, "female", "unknown")))
    recorded = [(recorded_sex or {}).get(s) for s in names]
    recorded = [r if r in ("male", "female") else None for r in recorded]
    check = [
        "unknown" if r is None or i == "unknown" else ("consistent" if r == i else "mismatch")
        for r, i in zip(recorded, inferred)
    ]
    return pd.DataFrame({
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
    })


# ------------------------------------------------------------ exclusions

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
        (~(v["call_rate"].to_numpy() >= th.min_variant_call_rate), "low_call_rate",
         lambda i: f"call_rate={v['call_rate'].iat[i]:.4g} < {th.min_variant_call_rate:g}"),
    ]
    if th.min_maf > 0:
        v_reasons.append((~(v["maf"].to_numpy() >= th.min_maf), "low_maf",
                          lambda i: f"maf={v['maf'].iat[i]:.4g} < {th.min_maf:g}"))
    if th.hwe_p_min is not None:
        hp = v["hwe_p"].to_numpy()
        v_reasons.append((hp < th.hwe_p_min, "hwe", lambda i: f"hwe_p={v['hwe_p'].iat[i]:.3g} < {th.hwe_p_min:g}"))
    reason, detail, keep = _collect(len(v), v_reasons)
    excluded_variants = pd.DataFrame({
        "chrom": v["chrom"].to_numpy()[keep], "pos": v["pos"].to_numpy()[keep],
        "ref": v["ref"].to_numpy()[keep], "alt": v["alt"].to_numpy()[keep],
        "reason": reason, "detail": detail,
    }).astype({"chrom": "str", "ref": "str", "alt": "str", "reason": "str", "detail": "str"})

    s = result.samples
    s_reasons: list[tuple[np.ndarray, str, Any]] = [
        (~(s["call_rate"].to_numpy() >= th.min_sample_call_rate), "low_call_rate",
         lambda i: f"call_rate={s['call_rate'].iat[i]:.4g} < {th.min_sample_call_rate:g}"),
    ]
    if th.heterozygosity_sd is not None:
        het = s["het_rate"].to_numpy()
        finite = het[np.isfinite(het)]
        if len(finite) >= 3:
            mean, sd = finite.mean(), finite.std(ddof=1)
            lo, hi = mean - th.heterozygosity_sd * sd, mean + th.heterozygosity_sd * sd
            s_reasons.append((np.isfinite(het) & ((het < lo) | (het > hi)), "het_outlier",
                              lambda i: f"het_rate={het[i]:.4g} outside [{lo:.4g}, {hi:.4g}] "
                                        f"(mean +/- {th.heterozygosity_sd:g} SD)"))
        else:
            log.warning("heterozygosity check skipped: fewer than 3 samples with a het rate")
    if th.titv_range is not None:
        t = s["titv"].to_numpy()
        lo_t, hi_t = th.titv_range
        s_reasons.append((np.isfinite(t) & ((t < lo_t) | (t > hi_t)), "titv_out_of_range",
                          lambda i: f"titv={t[i]:.4g} outside [{lo_t:g}, {hi_t:g}]"))
    mismatch = (s["sex_check"] == "mismatch").to_numpy()
    if th.sex_check == "exclude":
        s_reasons.append((mismatch, "sex_mismatch",
                          lambda i: f"recorded {s['recorded_sex'].iat[i]}, chrX F={s['x_f'].iat[i]:.3g} "
                                    f"-> {s['inferred_sex'].iat[i]}"))
    elif th.sex_check == "warn" and mismatch.any():
        log.warning("%d samples whose chrX F contradicts the recorded sex (sex_check=warn, kept): %s",
                    int(mismatch.sum()), ", ".join(s["sample"][mismatch].iloc[:10]))
    reason, detail, keep = _collect(len(s), s_reasons)
    excluded_samples = pd.DataFrame({"sample": s["sample"].to_numpy()[keep], "reason": reason, "detail": detail}
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


# ------------------------------------------------------------------ outputs

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
    for name, frame in (("sample_qc.tsv", result.samples), ("excluded_variants.tsv", excluded_variants),
                        ("excluded_samples.tsv", excluded_samples)):
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


def infer_sex_single(
    vcf: str | PathLike,
    sample: str,
    *,
    min_sites: int = 50,
    male_max_het: float = 0.02,
    female_min_het: float = 0.10,
) -> dict[str, Any]:
    """Infer one person's sex from chrX non-PAR genotypes, without a cohort.

    A single patient file has no allele frequencies to compute plink's F, so
    this uses the share of heterozygous calls among the person's non-reference
    chrX non-PAR SNV calls (haploid calls count as hemizygous, not het): males
    have almost none, females many (like peddy's het ratio). Below
    ``min_sites`` non-reference chrX calls the answer is "unknown".

    Returns
    -------
    dict
        ``inferred_sex`` ("male"/"female"/"unknown"), ``n_sites`` (non-ref
        chrX non-PAR SNV calls used), ``het_fraction`` (None if no sites).
    """
    vcf_reader = VCF(str(vcf), samples=[sample], lazy=True)
    try:
        contigs = [c for c in vcf_reader.seqnames if c in ("X", "chrX", "23")]
        n_het = n_nonref = 0
        for contig in contigs:
            try:
                records = vcf_reader(contig)
            except Exception:  # no index: stream the whole file instead
                records = (r for r in vcf_reader if r.CHROM == contig)
            for rec in records:
                if _in_par(rec.POS) or not rec.is_snp:
                    continue
                gt = rec.genotype.array()[0]
                alleles = [a for a in gt[:-1] if a >= 0]
                if not alleles or max(alleles) == 0:
                    continue
                n_nonref += 1
                if len(alleles) >= 2 and len(set(alleles)) > 1:
                    n_het += 1
    finally:
        vcf_reader.close()
    het_fraction = n_het / n_nonref if n_nonref else None
    if n_nonref < min_sites:
        sex = "unknown"
    elif het_fraction <= male_max_het:
        sex = "male"
    elif het_fraction >= female_min_het:
        sex = "female"
    else:
        sex = "unknown"
    return {"inferred_sex": sex, "n_sites": n_nonref, "het_fraction": het_fraction}
