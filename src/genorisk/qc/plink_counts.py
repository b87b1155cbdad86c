"""QC of a store fileset from plink2's own counts: :func:`fileset_qc` (the shard job is plink2 only).

The shard job ``scripts/cohort_qc_shard.sh`` runs plink2 on each fileset of a
store part (no Python start-up per job) and writes, over the phenotyped
samples:

* ``<name>.gcount`` (``--geno-counts``): per variant, ``HOM_REF_CT``,
  ``HET_REF_ALT_CTS``, ``TWO_ALT_GENO_CTS``, ``HAP_*`` and ``MISSING_CT``, which
  give genorisk's ``n_hom_ref``, ``n_het``, ``n_hom_alt``, call rate and AF;
* ``<name>.scount`` (``--sample-counts``): the per-sample counters, as
  :func:`genorisk.qc.shard_qc` reads them; ``<name>.snps.scount`` the same
  over ``--snps-only just-acgt`` (the het rate's SNV calls) when the fileset
  also holds other variants;
* ``<name>.hardy`` (``--hardy`` over the controls, status 0: the job makes
  every case a nonfounder, and ``--hardy`` counts founders only): the
  genotype counts ``hwe_*`` and the exact HWE p (Wigginton et al. 2005, the
  test :func:`genorisk.qc.hwe_exact_p` computes). plink2 prints p with 6
  significant digits; rows whose printed p lies within 1e-5 (relative) of
  ``hwe_p_min`` get :func:`~genorisk.qc.hwe_exact_p` on the same counts, so
  every exclusion is decided on the exact p.

:func:`fileset_qc` parses these (pyarrow's CSV reader, the needed columns) into
the :class:`~genorisk.qc.ShardQC` that :func:`genorisk.qc.shard_qc` computes
from the genotypes. A fileset that plink2's counts do not cover the way
genorisk counts goes to :func:`~genorisk.qc.shard_qc` instead: a non-autosomal
one (chrX ploidy, chrX HWE without males, the F statistic, chrY, MT), one
with a variant htslib calls an SNV and plink2 does not (``ACT>AGT``), or a
call without case/control status (HWE on all samples).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from genorisk.errors import InputError
from genorisk.genome import chromosome_class
from genorisk.qc.blocks import SampleCounters
from genorisk.qc.exclusions import variant_exclusions
from genorisk.qc.gather import ShardQC
from genorisk.qc.hwe import hwe_exact_p
from genorisk.qc.store import _is_control, _is_par_contig, _variant_classes, shard_qc, variant_qc_rows
from genorisk.qc.thresholds import QCThresholds
from genorisk.qc.variant_types import TS, TV

_DEFAULT_THRESHOLDS = QCThresholds()
PLINK_SHARD_FORMAT = "genorisk.qc_plink_shard/2"
# plink2 prints p with 6 significant digits (and computes it with its own tie tolerance): a printed p
# this close to the threshold is recomputed exactly before deciding.
_P_RELATIVE_TOLERANCE = 1e-5
# The columns parsed (only autosomal filesets are read here, and plink2 stores them diploid: no haploid counts).
_GCOUNT = ("POS", "REF", "ALT", "HOM_REF_CT", "HET_REF_ALT_CTS", "TWO_ALT_GENO_CTS")
_HARDY = ("POS", "A1", "HOM_A1_CT", "HET_A1_CT", "TWO_AX_CT", "P")


def check_shard_folder(folder: str | PathLike) -> dict:
    """The ``shard.json`` of a plink2 shard folder (``scripts/cohort_qc_shard.sh``); InputError if absent or stale."""
    path = Path(folder) / "shard.json"
    if not path.exists():
        raise InputError(path, "no shard.json: not a QC shard folder (rerun cohort_qc_shard)")
    meta = json.loads(path.read_text())
    if meta.get("format") != PLINK_SHARD_FORMAT:
        raise InputError(
            path, f"QC shard format {meta.get('format')!r}, expected {PLINK_SHARD_FORMAT!r} (rerun cohort_qc_shard)"
        )
    return meta


def first_contig(prefix: str | PathLike) -> str | None:
    """The contig of the first record of ``prefix.pvar`` (None when it has no record)."""
    path = Path(f"{prefix}.pvar")
    if not path.exists():
        raise InputError(path, "no .pvar next to the .pgen")
    with open(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                return line.split("\t", 1)[0]
    return None


def _read_table(path: Path, columns: Sequence[str], types: Mapping[str, Any]):
    """``columns`` of a plink2 report as a pyarrow Table (header ``#``-prefixed, tab-separated)."""
    from pyarrow import csv

    if not path.exists():
        raise InputError(path, "missing plink2 output (rerun cohort_qc_shard)")
    with open(path) as fh:
        header = fh.readline().rstrip("\n").lstrip("#").split("\t")  # plink2 marks the header with "#"
    try:
        table = csv.read_csv(
            path,
            # one thread: faster on these files, and the job has one core
            read_options=csv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
            parse_options=csv.ParseOptions(delimiter="\t"),
            convert_options=csv.ConvertOptions(
                include_columns=list(columns),
                column_types={k: v for k, v in types.items() if k in columns},
                null_values=["NA"],
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, KeyError) as err:  # a comma in a count column: a multiallelic variant
        raise InputError(path, f"cannot read plink2 output: {err} (the QC store must be biallelic)") from err
    return table


def _ints(table, name: str) -> np.ndarray:
    return table.column(name).to_numpy().astype(np.int64, copy=False)


def _strings(table, name: str) -> pd.api.extensions.ExtensionArray:
    """A string column as pandas's ``str`` array (what the variant table holds), without a Python object each."""
    return pd.array(table.column(name).combine_chunks(), dtype="str")


def fileset_qc(
    prefix: str | PathLike,
    counts_dir: str | PathLike,
    *,
    samples: Sequence[str],
    status: Mapping[str, Any] | None = None,
    thresholds: QCThresholds = _DEFAULT_THRESHOLDS,
    chrom: str | None = None,
) -> ShardQC:
    """QC summaries of one store fileset from the plink2 counts of ``scripts/cohort_qc_shard.sh``.

    Parameters
    ----------
    prefix : str or PathLike
        The fileset (``prefix.pgen``, ``.pvar``, ``.psam``), one chromosome.
    counts_dir : str or PathLike
        The shard folder holding ``<name>.gcount``, ``<name>.scount`` and
        ``<name>.hardy`` for ``name`` = the fileset's file name.
    samples : sequence of str
        The phenotyped samples (those plink2 kept), in the order wanted.
    status : mapping IID -> 0/1, optional
        Case/control: HWE on controls, as the shard job computed it. Without
        it (HWE on all samples) the fileset goes to :func:`~genorisk.qc.shard_qc`.
    thresholds : QCThresholds
    chrom : str, optional
        The fileset's chromosome as the store names it (``part.json``): with
        the first ``.pvar`` contig, it tells whether plink2's counts apply.

    Returns
    -------
    ShardQC
        As :func:`genorisk.qc.shard_qc` returns it for the fileset (HWE p
        as described in the module notes).

    Raises
    ------
    InputError
        A missing or unreadable plink2 output, a multiallelic variant, or
        counts that do not match the ``.pvar`` or the samples.
    """
    prefix, folder = Path(prefix), Path(counts_dir)
    name = prefix.name
    contig = first_contig(prefix)
    names = list(samples)
    also = () if chrom is None else (chrom,)
    if (
        status is None
        or contig is None
        or any(chromosome_class(c) != "autosome" or _is_par_contig(c) for c in (contig, *also))
    ):
        return shard_qc(prefix, samples=names, status=status, thresholds=thresholds)
    counts = _read_table(folder / f"{name}.gcount", _GCOUNT, {"REF": "string", "ALT": "string"})
    pos, ref, alt = _ints(counts, "POS"), _strings(counts, "REF"), _strings(counts, "ALT")
    if pd.Series(alt).str.contains(",").any():
        raise InputError(folder / f"{name}.gcount", "multiallelic variant; the QC store must be biallelic")
    classes = _single_base_classes(counts.column("REF"), counts.column("ALT"))
    if classes is None:  # some variant is not an ACGT SNV: htslib's and plink2's classes, as shard_qc gets them
        shard = pd.DataFrame({"chrom": contig, "pos": pos, "ref": ref, "alt": alt})
        classes = _variant_classes(shard, contig)
    if (classes["snv"] & ~classes["plink_snp"]).any():  # ACT>AGT and the like: counted from the genotypes
        return shard_qc(prefix, samples=names, status=status, thresholds=thresholds)

    hom_ref, het, hom_alt = (_ints(counts, k) for k in _GCOUNT[3:6])
    m = len(pos)
    hwe = np.zeros((m, 3), dtype=np.int64)
    plink_p = np.full(m, np.nan)
    if any(_is_control(status.get(s)) for s in names):
        hardy_path = folder / f"{name}.hardy"
        hardy = _read_table(hardy_path, _HARDY, {"A1": "string", "P": "float64"})
        if hardy.num_rows != m or not (_ints(hardy, "POS") == pos).all():
            raise InputError(hardy_path, f"{hardy.num_rows} rows that do not match the {m} of {name}.gcount")
        a1_ref = pc.equal(hardy.column("A1"), counts.column("REF")).to_numpy(zero_copy_only=False)
        hom_a1, het_a1, two_ax = (_ints(hardy, k) for k in _HARDY[2:5])
        hwe[:, 0] = np.where(a1_ref, hom_a1, two_ax)
        hwe[:, 1] = het_a1
        hwe[:, 2] = np.where(a1_ref, two_ax, hom_a1)
        plink_p = hardy.column("P").to_numpy().astype(np.float64)  # NA (nothing called): NaN
    n_dip = hom_ref + het + hom_alt
    # The counts variant_qc_rows takes, as a mapping: only the rows' DataFrame gets built.
    table: dict[str, Any] = {
        "chrom": pd.array(pa.repeat(contig, m), dtype="str"),
        "pos": pos,
        "ref": ref,
        "alt": alt,
        "allele_index": np.ones(m, dtype=np.int64),
        "n_alt": np.ones(m, dtype=np.int64),
        "n_called": n_dip,
        "allele_number": 2 * n_dip,
        "alt_count": het + 2 * hom_alt,
        "n_hom_ref": hom_ref,
        "n_het": het,
        "n_hom_alt": hom_alt,
        "hwe_hom_ref": hwe[:, 0],
        "hwe_het": hwe[:, 1],
        "hwe_hom_alt": hwe[:, 2],
        "is_snv": classes["snv"],
        "is_transition": classes["cohort_code"] == TS,
        "is_transversion": classes["cohort_code"] == TV,
    }
    hwe_p = _decided_p(plink_p, hwe, thresholds)
    variants = variant_qc_rows(table, len(names), hwe_p=hwe_p)
    sample_counts, male = _sample_counts(folder, name, names, m, classes["plink_snp"])
    return ShardQC(
        samples=names,
        variants=variants,
        excluded_variants=variant_exclusions(variants, thresholds),
        counts=sample_counts,
        male=male,
        hwe_on="controls",
        thresholds=thresholds,
    )


_BASE_CODE = np.full(256, -1, dtype=np.int8)
_BASE_CODE[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)


def _single_base_classes(ref, alt) -> dict[str, np.ndarray] | None:
    """Variant classes when every REF and ALT is one of A/C/G/T and they differ (else None).

    Then htslib and plink2 both call each variant an SNV, and the Ti/Tv code is
    that of :func:`genorisk.qc.variant_types.allele_classes` (A<->G, C<->T
    transitions): numpy over the bases (pyarrow string columns), without a
    Python object per variant.
    """
    codes = []
    for column in (ref, alt):
        arr = column.combine_chunks()
        if arr.null_count:
            return None
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
        if not (np.diff(offsets) == 1).all():
            return None
        bases = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        codes.append(_BASE_CODE[bases])
    r, a = codes
    if (r < 0).any() or (a < 0).any() or (r == a).any():
        return None
    code = np.where(np.abs(r.astype(np.int16) - a) == 2, TS, TV).astype(np.int8)
    ones = np.ones(len(r), dtype=bool)
    return {"snv": ones, "plink_snp": ones, "sample_code": code, "cohort_code": code}


def _decided_p(plink_p: np.ndarray, hwe: np.ndarray, th: QCThresholds) -> np.ndarray:
    """plink2's p, NaN where no control was called, exact where it is too close to the threshold to decide."""
    n = hwe.sum(axis=1)
    p = np.where(n > 0, plink_p, np.nan)
    if th.hwe_p_min is not None:
        close = np.flatnonzero(np.abs(p - th.hwe_p_min) <= _P_RELATIVE_TOLERANCE * th.hwe_p_min)
        if len(close):
            p[close] = hwe_exact_p(hwe[close, 1], hwe[close, 0], hwe[close, 2])
    return p


def _sample_counts(folder: Path, name: str, names: list[str], n_rows: int, plink_snp: np.ndarray):
    """Per-sample counters (``SampleCounters`` names) in ``names`` order, and the ``.psam`` male flags."""
    path = folder / f"{name}.scount"
    full = _scount(path, names)
    c = SampleCounters(len(names))
    c.n_missing += full["MISSING_CT"]
    c.n_called += n_rows - full["MISSING_CT"]
    c.n_hom_ref += full["HOM_REF_CT"]
    c.n_het += full["HET_SNP_CT"]
    c.n_hom_alt += full["HOM_ALT_SNP_CT"]
    c.n_hap_ref += full["HAP_REF_CT"]
    c.n_hap_alt += full["HAP_ALT_CT"]
    c.n_snv_ts += full["DIPLOID_TRANSITION_CT"]
    c.n_snv_tv += full["DIPLOID_TRANSVERSION_CT"]
    c.auto_het += full["HET_SNP_CT"]
    if plink_snp.any():  # else no SNV: the het rate has no call here
        snps = full if plink_snp.all() else _scount(folder / f"{name}.snps.scount", names)
        c.auto_called += snps["HOM_REF_CT"] + snps["HET_SNP_CT"] + snps["HOM_ALT_SNP_CT"]
    counts = {k: getattr(c, k) for k in (*SampleCounters.NAMES, "x_expected_hom")}
    return counts, full["SEX"] == 1


_SCOUNT = (
    "SEX", "HOM_REF_CT", "HET_SNP_CT", "HOM_ALT_SNP_CT", "DIPLOID_TRANSITION_CT", "DIPLOID_TRANSVERSION_CT",
    "HAP_REF_CT", "HAP_ALT_CT", "MISSING_CT",
)  # fmt: skip


def _scount(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    """A ``.scount`` table's counts (int64; ``SEX`` 0 where NA), rows in ``names`` order."""
    table = _read_table(path, ["IID", *_SCOUNT], {"IID": "string"})
    row_of = {sample: i for i, sample in enumerate(table.column("IID").to_pylist())}
    try:
        order = np.array([row_of[s] for s in names], dtype=np.int64)
    except KeyError as err:
        raise InputError(path, f"sample {err.args[0]!r} not counted (rerun cohort_qc_shard)") from None
    if len(row_of) != len(names):
        raise InputError(path, f"{len(row_of)} samples, not the {len(names)} phenotyped ones (rerun cohort_qc_shard)")
    return {k: table.column(k).fill_null(0).to_numpy().astype(np.int64)[order] for k in _SCOUNT}
