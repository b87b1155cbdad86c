"""The cyvcf2 engine: records decoded by htslib (BCF, regions, DS), one block per record."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path

import numpy as np
from cyvcf2 import VCF

from genorisk.errors import InputError
from genorisk.genome import chromosome_class, parse_region
from genorisk.genotypes.chunks import Block, add_record_cols, empty_cols
from genorisk.genotypes.dosage import VECTOR_END, gt_rows
from genorisk.vcf.index import has_index

log = logging.getLogger("genorisk.genotypes")


def _records(vcf: VCF, path: Path, regions: Iterable[str] | None):
    """Records of ``vcf``, restricted to ``regions`` (via the index when present).

    htslib parse failures (cyvcf2 raises a bare ``Exception``) become
    :class:`InputError` naming the last record read successfully.
    """
    last = ["start of file"]
    try:
        for rec in _records_raw(vcf, path, regions):
            last[0] = f"{rec.CHROM}:{rec.POS}"
            yield rec
    except InputError:
        raise
    except Exception as exc:
        if type(exc) is not Exception:
            raise
        raise InputError(path, f"htslib cannot parse the record after {last[0]} ({exc})") from exc


def _records_raw(vcf: VCF, path: Path, regions: Iterable[str] | None):
    if regions is None:
        yield from vcf
        return
    parsed = [parse_region(r) for r in regions]  # one syntax check for both paths
    if has_index(path):
        for region in parsed:
            yield from vcf(str(region))
        return
    # No index: one sequential pass, keeping records that lie in any region.
    log.info("%s has no .tbi/.csi index; scanning the whole file for %d regions", path, len(parsed))
    for rec in vcf:
        chrom, pos = rec.CHROM, rec.POS
        if any(r.contains(chrom, pos) for r in parsed):
            yield rec


def _x_male_mask(chrom: str, male: np.ndarray | None) -> np.ndarray | None:
    if male is None or chromosome_class(chrom) != "X":
        return None
    return male


def cyvcf2_blocks(
    vcf: VCF,
    path: Path,
    regions,
    male: np.ndarray | None,
    use_ds: bool,
    n_samples: int,
    progress,
    *,
    info_filter: tuple[str, float] | None = None,
    counts: MutableMapping[str, int] | None = None,
) -> Iterator[Block]:
    """One block per record, decoded by htslib through cyvcf2.

    ``info_filter`` = (INFO key, minimum) drops records whose value is below
    the minimum (the lowest value of a Number=A key); records without the key
    stay. Dropped records are counted in ``counts["below_min_info"]``.
    """
    has_ds = use_ds and header_has_format(vcf, "DS")
    for rec in _records(vcf, path, regions):
        progress(1)
        alts = rec.ALT
        n_alt = len(alts)
        if n_alt == 0:
            continue  # ALT "." (monomorphic reference site): no ALT to count
        if info_filter is not None and _below_info(rec, *info_filter):
            if counts is not None:
                counts["below_min_info"] = counts.get("below_min_info", 0) + 1
            continue
        rows, ac, an = _record_dosages(rec, n_alt, path, has_ds, _x_male_mask(rec.CHROM, male), n_samples)
        cols = empty_cols()
        add_record_cols(cols, rec.CHROM, rec.POS, rec.ID, rec.REF, alts)
        yield Block(cols, rows, ac, an)


def _below_info(rec, key: str, minimum: float) -> bool:
    value = rec.INFO.get(key)
    if value is None:
        return False
    values = value if isinstance(value, tuple) else (value,)
    numbers = [float(v) for v in values if isinstance(v, int | float) and not np.isnan(v)]
    return bool(numbers) and min(numbers) < minimum


def header_has_format(vcf: VCF, key: str) -> bool:
    return any(h.type == "FORMAT" and h.info().get("ID") == key for h in vcf.header_iter())


def _record_dosages(rec, n_alt: int, path: Path, has_ds: bool, male_x, n_samples: int):
    """(rows, ac, an) of one record; every decoded sample is an output sample."""
    try:
        gt = rec.genotype
    except Exception:  # cyvcf2: "couldn't get genotypes for variant" (no GT)
        gt = None
    alleles = None if gt is None else gt.array()[:, :-1]
    if alleles is not None:
        top = alleles.max(initial=-1)
        if top > n_alt:
            raise InputError(path, f"GT allele index {top} > {n_alt} ALT", record=f"{rec.CHROM}:{rec.POS}")
    if has_ds:
        ds = rec.format("DS")
        if ds is not None and ds.shape[1] == n_alt:
            rows = np.ascontiguousarray(ds.T, dtype=np.float32)
            # A DS value counts the alleles of its GT call (2 without GT).
            ploidy = np.full(n_samples, 2, dtype=np.int64)
            if alleles is not None:
                present = (alleles != VECTOR_END).sum(axis=1)
                ploidy[present > 0] = present[present > 0]
            use = ~np.isnan(rows)
            ac = np.where(use, rows, 0).sum(axis=1, dtype=np.float64)
            an = (use * ploidy).sum(axis=1).astype(np.int64)
            if male_x is not None and alleles is not None:
                rows[:, (ploidy == 1) & male_x] *= 2
            return rows, ac, an
    if alleles is None:
        return np.full((n_alt, n_samples), np.nan, dtype=np.float32), np.zeros(n_alt), np.zeros(n_alt, dtype=np.int64)
    return gt_rows(alleles, n_alt, male_x=male_x)
