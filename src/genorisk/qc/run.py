"""The streaming pass: :func:`run_qc` and its result, :class:`QCResult`."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.qc.blocks import ChunkBuffer, SampleCounters, empty_variant_frame, process_chunk
from genorisk.qc.hwe import hwe_exact_p
from genorisk.qc.samples import sample_qc_table
from genorisk.qc.thresholds import QCThresholds

if TYPE_CHECKING:
    from cyvcf2 import VCF

log = logging.getLogger("genorisk.qc")

_LOG_EVERY_S = 10.0
# Records are processed in blocks of about this many genotype cells (or at least
# _MIN_BLOCK_RECORDS records): the dozen (records x samples) temporaries of a
# block then stay in the CPU cache, which measured ~3x faster than 20,000-record
# blocks on 2,000 samples, and memory stays small.
_BLOCK_CELLS = 1 << 19
_MIN_BLOCK_RECORDS = 16
_DEFAULT_THRESHOLDS = QCThresholds()  # frozen, so one shared default is safe


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


def run_qc(
    vcf: str | PathLike,
    *,
    samples: Sequence[str] | None = None,
    recorded_sex: Mapping[str, str | None] | None = None,
    status: Mapping[str, Any] | None = None,
    thresholds: QCThresholds = _DEFAULT_THRESHOLDS,
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
    # The VCF reader is imported here: the store QC jobs import this module without reading a VCF.
    from genorisk.genotypes import column_order

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

    counters = SampleCounters(n_samples)
    variant_frames: list[pd.DataFrame] = []
    buf = ChunkBuffer(min(chunk_size, max(_MIN_BLOCK_RECORDS, _BLOCK_CELLS // max(n_samples, 1))), n_samples)
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
                variant_frames.append(process_chunk(buf, counters, hwe_samples, hwe_samples_x, thresholds))
                buf.reset()
            now = time.perf_counter()
            if now - t_last > _LOG_EVERY_S:
                t_last = now
                log.info("%s: %d records done (%.0f records/s)", path.name, n_records, n_records / (now - t0))
    except InputError:
        raise
    except Exception as exc:
        if type(exc) is not Exception:  # cyvcf2 raises bare Exception for htslib parse failures
            raise
        raise InputError(path, f"htslib cannot parse the record after {last} ({exc})") from exc
    finally:
        reader.close()
    if buf.n:
        variant_frames.append(process_chunk(buf, counters, hwe_samples, hwe_samples_x, thresholds))
    dt = time.perf_counter() - t0
    log.info(
        "%s: QC done, %d records, %d samples in %.1f s (%.0f records/s)",
        path.name,
        n_records,
        n_samples,
        dt,
        n_records / dt if dt > 0 else 0.0,
    )

    variants = pd.concat(variant_frames, ignore_index=True) if variant_frames else empty_variant_frame()
    if "_hwe_het" in variants:
        # One call for all rows: each distinct (n, minor count) distribution is computed once.
        het, hom_ref = variants.pop("_hwe_het").to_numpy(), variants.pop("_hwe_hom_ref").to_numpy()
        variants["hwe_p"] = hwe_exact_p(het, hom_ref, variants["hwe_n"].to_numpy() - het - hom_ref)
    sample_table = sample_qc_table(names, counters, recorded_sex, thresholds)
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
    from cyvcf2 import VCF

    from genorisk.genotypes import open_vcf_checked

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
    alleles = gt.array()[:, :-1]  # allele indexes beyond the ALT count are refused per chunk
    return alleles if order is None else alleles[order]
