"""Read a store fileset back through pgenlib, in bounded memory, as :class:`~genorisk.genotypes.DosageChunk` s.

The chunks have the type and conventions of
:func:`genorisk.genotypes.iter_dosage_chunks` on the VCF the store came from
(float32 dosages, NaN = missing, per-ALT rows with the same variant table),
with these store facts (see :mod:`genorisk.store.convert`):

* plink2 stores a haploid call as homozygous. On non-PAR chrX that is the
  0/2 coding :mod:`genorisk.genotypes` gives males. On chrY and MT (haploid
  chromosomes) the store's 0/2 is halved back to 0/1 copies.
* A male het on non-PAR chrX is stored as 1; plink2 counts it as missing and
  so does this reader (``male_het_missing``). A male's haploid DS of exactly
  0.5 (stored 1.0) is indistinguishable from it.
* ``PAR1``/``PAR2`` (``--split-par``) are reported with the store's chrX
  spelling and read as diploid.
* A variant ID plink2 made (``CHROM:POS:REF:ALT``) is reported as no ID
  (None), as the VCF's ``.`` was.

The ``.pvar`` is parsed once per fileset and call (:class:`StoreFileset`);
chunk variant tables are slices of that table (Arrow-backed strings, so
slicing copies nothing). Memory: the variant table (about 40-60 bytes per
variant of the fileset, i.e. per chromosome or shard) plus one
``chunk_size x n_samples`` float32 buffer per chunk handed out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pgenlib
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from genorisk.errors import InputError
from genorisk.genome import canonical_contig
from genorisk.genotypes.chunks import VARIANT_COLUMNS, DosageChunk
from genorisk.store.inputs import decode_pgenlib_error, read_psam
from genorisk.store.samples import reconcile_samples

_PVAR_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT")
# Per-variant ploidy class of a store row.
_DIPLOID, _X_NON_PAR, _HAPLOID = 0, 1, 2


def _prefix(prefix: str | PathLike) -> Path:
    p = Path(prefix)
    return p.with_name(p.name[: -len(".pgen")]) if p.name.endswith(".pgen") else p


def store_samples(prefix: str | PathLike) -> pd.DataFrame:
    """The samples of a store fileset, in column order.

    Returns
    -------
    pandas.DataFrame
        ``FID`` (None when the ``.psam`` has none), ``IID``, ``SEX`` (1 male,
        2 female, 0 unknown).
    """
    psam = Path(f"{_prefix(prefix)}.psam")
    if not psam.exists():
        raise InputError(psam, f".psam of {_prefix(prefix)}.pgen not found")
    return read_psam(psam)


def _pvar_layout(pvar: Path) -> tuple[int, list[str], str]:
    """(## lines to skip, column names, the store's chrX spelling for PAR1/PAR2 rows).

    The chrX spelling comes from a ``##contig`` line, else the first non-PAR
    row (a chrX fileset has its PAR1 rows first), else the fileset's name.
    """
    skip, x_name, first = 0, None, None
    columns: list[str] = []
    with open(pvar) as fh:
        for line in fh:
            if line.startswith("##"):
                skip += 1
                m = re.match(r"##contig=<ID=([^,>]+)", line)
                if m and canonical_contig(m.group(1)) == "X":
                    x_name = m.group(1)
            elif not columns:
                columns = line.rstrip("\n").split("\t")
                if x_name is not None:
                    break
            else:
                chrom = line.split("\t", 1)[0]
                if chrom not in ("PAR1", "PAR2"):
                    first = chrom
                    break
    if not columns:
        raise InputError(pvar, "no #CHROM header line")
    if tuple(columns[:5]) != _PVAR_COLUMNS:
        raise InputError(
            pvar,
            f"expected a header starting {' '.join(_PVAR_COLUMNS)}, found {' '.join(columns[:5])}",
            record=f"line {skip + 1}",
        )
    if x_name is None:
        stem = pvar.name[: -len(".pvar")]
        if first is not None and canonical_contig(first) == "X":
            x_name = first
        elif canonical_contig(stem) == "X":
            x_name = stem
        else:
            x_name = "chrX" if (first or stem).lower().startswith("chr") else "X"
    return skip, columns, x_name


def _info_values(info, key: str, n: int) -> np.ndarray:
    """The float value of INFO ``key`` per row (NaN where absent or not a number), from an Arrow string column."""
    if info is None:
        return np.full(n, np.nan)
    found = pc.extract_regex(info, rf"(?:^|;){re.escape(key)}=(?P<v>[^;]*)")
    text = pc.struct_field(found, "v")
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    except pa.ArrowInvalid:  # a non-numeric value somewhere: NaN for it, as pandas' coerce does
        return pd.to_numeric(pd.Series(text.to_pandas()), errors="coerce").to_numpy(dtype=np.float64)


class StoreFileset:
    """One fileset's ``.pvar``, parsed once: the variant table, ploidy classes and INFO values.

    Attributes
    ----------
    base, pgen, pvar : pathlib.Path
        Prefix and parts.
    variants : pandas.DataFrame
        :data:`~genorisk.genotypes.VARIANT_COLUMNS`, one row per store
        variant in store order (PAR1/PAR2 as chrX; plink2-made IDs as None).
    ploidy_class : numpy.ndarray
        int8 per variant: 0 diploid (autosomes, PAR1/PAR2), 1 non-PAR chrX,
        2 haploid (chrY, MT).
    info : numpy.ndarray
        float64 per variant: INFO ``info_key`` (NaN where absent), parsed on first use.
    """

    def __init__(self, prefix: str | PathLike, info_key: str = "R2"):
        self.base = _prefix(prefix)
        self.pgen, self.pvar = Path(f"{self.base}.pgen"), Path(f"{self.base}.pvar")
        if not self.pvar.exists():
            raise InputError(self.pvar, f".pvar of the store fileset {self.base} not found")
        skip, columns, x_name = _pvar_layout(self.pvar)
        use = [c for c in ("#CHROM", "POS", "ID", "REF", "ALT", "INFO") if c in columns]
        try:
            raw = pa_csv.read_csv(
                self.pvar,
                read_options=pa_csv.ReadOptions(skip_rows=skip, block_size=1 << 22, use_threads=False),
                parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False),
                convert_options=pa_csv.ConvertOptions(
                    include_columns=use, column_types=dict.fromkeys(use, pa.string()), strings_can_be_null=False
                ),
            )
        except pa.ArrowInvalid as err:
            raise InputError(self.pvar, f"unreadable .pvar ({err})") from None
        encoded = pc.dictionary_encode(raw.column("#CHROM")).combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary.to_pylist()
        # Classes and reported spelling per distinct contig, then expanded by code (few contigs per fileset).
        par = [u in ("PAR1", "PAR2") for u in uniques]
        canon = [canonical_contig(u) for u in uniques]
        cls = np.array(
            [
                _DIPLOID if p else _X_NON_PAR if c == "X" else _HAPLOID if c in ("Y", "MT") else _DIPLOID
                for p, c in zip(par, canon, strict=True)
            ],
            dtype=np.int8,
        )
        shown = [x_name if p else u for p, u in zip(par, uniques, strict=True)]
        self.ploidy_class = cls[codes] if len(codes) else np.empty(0, np.int8)
        chrom = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(shown, pa.string())).cast(
            pa.string()
        )
        pos_text = raw.column("POS")
        try:
            pos = pc.cast(pos_text, pa.int64()).to_numpy()
        except pa.ArrowInvalid:
            raise InputError(self.pvar, "a POS that is not an integer") from None
        ref, alt, vid = raw.column("REF"), raw.column("ALT"), raw.column("ID")
        made_id = pc.binary_join_element_wise(chrom, pos_text, ref, alt, ":")
        no_id = pc.or_(pc.equal(vid, "."), pc.equal(vid, made_id))
        vid = pc.if_else(no_id, pa.scalar(None, pa.string()), vid)
        self.variants = pd.DataFrame(
            {
                "chrom": _str_array(chrom),
                "pos": pos,
                "ref": _str_array(ref),
                "alt": _str_array(alt),
                "id": _str_array(vid),
                "allele_index": np.ones(len(pos), dtype=np.int32),
                "n_alt": np.ones(len(pos), dtype=np.int32),
            }
        )
        self._info_text = raw.column("INFO") if "INFO" in use else None
        self._info_key = info_key
        self._info: np.ndarray | None = None

    @property
    def info(self) -> np.ndarray:
        """float64 per variant: INFO ``info_key`` (NaN where absent or not a number); parsed on first use."""
        if self._info is None:
            self._info = _info_values(self._info_text, self._info_key, len(self.variants))
        return self._info

    def __len__(self) -> int:
        return len(self.variants)

    def region_index(self, start: int = 1, end: int | None = None) -> np.ndarray:
        """Store indexes (int64, increasing) of the variants with ``start <= pos <= end`` (1-based, inclusive)."""
        pos = self.variants["pos"].to_numpy()
        inside = pos >= start
        if end is not None:
            inside &= pos <= end
        return np.flatnonzero(inside)


_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str": what the VCF reader's tables hold


def _str_array(values: pa.ChunkedArray | pa.Array):
    """An Arrow string column as pandas' ``str`` dtype (missing = NaN), without Python string objects."""
    return pd.Series(values.to_pandas(types_mapper={pa.string(): _STR_DTYPE}.get), dtype=_STR_DTYPE).array


def read_store_variants(prefix: str | PathLike, *, info_key: str = "R2") -> pd.DataFrame:
    """The variants of a store fileset.

    Parameters
    ----------
    prefix : str or PathLike
        Fileset prefix (or its ``.pgen``).
    info_key : str
        INFO key of the imputation quality.

    Returns
    -------
    pandas.DataFrame
        ``chrom`` (PAR1/PAR2 reported as chrX), ``pos``, ``id`` (None where the
        input had none), ``ref``, ``alt``, ``info`` (float, NaN where absent),
        one row per store variant in store order.
    """
    fileset = StoreFileset(prefix, info_key)
    table = fileset.variants[["chrom", "pos", "id", "ref", "alt"]].copy()
    table["info"] = fileset.info
    return table


def open_pgen(pgen: Path, pvar: Path, subset: np.ndarray | None):
    try:
        pvar_reader = pgenlib.PvarReader(str(pvar).encode())
        reader = pgenlib.PgenReader(str(pgen).encode(), sample_subset=subset, pvar=pvar_reader)
    except RuntimeError as err:
        raise InputError(pgen, f"pgenlib cannot open the fileset: {decode_pgenlib_error(err)}") from None
    return pvar_reader, reader


def pgen_dosage_flags(pgen: str | PathLike, n_variants: int) -> np.ndarray | None:
    """Per variant of a ``.pgen``, whether it stores dosages beyond its hard calls (read from the header).

    The PGEN header holds one record type per variant; bits 0x60 mark a
    dosage track (see plink2's ``pgen_spec``). A file that stores 4-bit record
    types has no dosage at all.

    Returns
    -------
    numpy.ndarray of bool, or None
        None when the header's layout is not the standard one this reads
        (the caller must then assume dosages everywhere).
    """
    with open(pgen, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:3] != b"\x6c\x1b\x10":
            return None
        count, _, ctrl = int.from_bytes(head[3:7], "little"), head[7:11], head[11]
        if count != n_variants:
            return None
        storage = ctrl & 15
        if storage < 4:  # 4-bit record types: hard calls (and phase) only
            return np.zeros(n_variants, dtype=bool)
        if storage > 7:
            return None
        length_bytes = (storage & 3) + 1
        n_blocks = (n_variants + 65535) // 65536
        fh.seek(12 + 8 * n_blocks)
        flags = np.empty(n_variants, dtype=bool)
        for b in range(n_blocks):
            m = min(65536, n_variants - b * 65536)
            vrtypes = np.frombuffer(fh.read(m), dtype=np.uint8)
            if len(vrtypes) != m:
                return None
            flags[b * 65536 : b * 65536 + m] = (vrtypes & 0x60) != 0
            fh.seek(m * length_bytes, 1)  # the block's record lengths
    return flags


class SampleView:
    """Output samples of a read: names, pgenlib subset, column order, haploid-X and 0/2-scale flags.

    Parameters
    ----------
    source : Path or GenotypeStore
        A fileset prefix (its ``.psam`` is read) or a store (its manifest's
        ``samples`` and ``sex``, which every fileset holds in that order).
    samples : sequence of str, optional
        IIDs to read, in the order wanted; default all, in the source's order.
    male : array of bool, optional
        Aligned with the output samples: keep the store's 0/2 on non-PAR chrX.
        Default the source's SEX (1 = male).
    haploid_x : array of bool, "sex" or None
        Whose non-PAR chrX calls are haploid: an array aligned with the output
        samples, ``"sex"`` for the source's SEX, or None for ``male``.
    """

    def __init__(self, source, samples, male, haploid_x):
        if hasattr(source, "samples") and hasattr(source, "sex"):  # a GenotypeStore
            all_ids, sex, where = list(source.samples), np.asarray(source.sex), source.path
        else:
            base = Path(source)
            for part in (Path(f"{base}.pgen"), Path(f"{base}.pvar")):
                if not part.exists():
                    raise InputError(part, f"{part.suffix} of the store fileset {base} not found")
            table = store_samples(base)
            all_ids, sex, where = table["IID"].tolist(), table["SEX"].to_numpy(), f"{base}.psam"
        if samples is None:
            self.names, self.subset, self.order = all_ids, None, None
            sex_male = sex == 1
        else:
            self.names = [str(s) for s in samples]
            index = reconcile_samples(all_ids, self.names, store_path=where, allow_extra=True)
            sorted_index = np.sort(index)
            self.subset = sorted_index.astype(np.uint32)
            order = np.searchsorted(sorted_index, index)
            self.order = None if np.array_equal(order, np.arange(len(order))) else order
            sex_male = sex[index] == 1
        n = len(self.names)
        if male is None:
            self.male = sex_male
        else:
            self.male = np.asarray(male, dtype=bool)
            if self.male.shape != (n,):
                raise ValueError(f"male has shape {self.male.shape}, expected ({n},) aligned with samples")
        if haploid_x is None:
            self.haploid_x = self.male
        elif isinstance(haploid_x, str) and haploid_x == "sex":
            self.haploid_x = np.asarray(sex_male, dtype=bool)
        else:
            self.haploid_x = np.asarray(haploid_x, dtype=bool)
        if self.haploid_x.shape != (n,):
            raise ValueError(f"haploid_x has shape {self.haploid_x.shape}, expected ({n},) aligned with samples")


def iter_store_chunks(
    prefix: str | PathLike,
    *,
    samples: Sequence[str] | None = None,
    male: np.ndarray | Sequence[bool] | None = None,
    chunk_size: int = 1024,
    min_info: float | None = None,
    info_key: str = "R2",
    male_het_missing: bool = True,
    haploid_x: np.ndarray | Sequence[bool] | None = None,
    index: np.ndarray | None = None,
    counts: MutableMapping[str, int] | None = None,
    fileset: StoreFileset | None = None,
) -> Iterator[DosageChunk]:
    """Stream the dosages of one store fileset in chunks of ``chunk_size`` variants.

    Parameters
    ----------
    prefix : str or PathLike
        Fileset prefix (``store/chr21``) or its ``.pgen``.
    samples : sequence of str, optional
        IIDs to read, in the order wanted; default all, in store order.
    male : array of bool, optional
        Aligned with the output samples; default the ``.psam`` SEX (1 = male).
        A male's non-PAR chrX dosage counts 0/2 (the store's coding); for
        other samples a haploid (``haploid_x``) call counts 0/1, as
        :func:`genorisk.genotypes.iter_dosage_chunks` counts a haploid call
        without ``male``.
    chunk_size : int
        Variants per chunk; the last may be shorter. Memory is about
        ``chunk_size * n_samples * 4`` bytes per chunk plus the variant table.
    min_info : float, optional
        Keep only variants whose INFO ``info_key`` is >= ``min_info``; a
        variant without the key (a typed, not imputed, variant) is kept.
        None: no filter.
    info_key : str
        INFO key of the imputation quality (``R2`` from Minimac/Beagle,
        ``INFO`` from IMPUTE).
    male_het_missing : bool
        Read a het call of a ``haploid_x`` sample on non-PAR chrX as missing,
        as plink2 counts it (:func:`genorisk.genotypes.iter_dosage_chunks`
        counts it as 1).
    haploid_x : array of bool, optional
        Aligned with the output samples: whose non-PAR chrX calls are haploid
        (allele number 1 per call). Default ``male``.
    index : numpy.ndarray, optional
        Increasing store variant indexes to read (a region); default all.
    counts : mutable mapping, optional
        ``counts["below_min_info"]`` is increased by the variants that
        ``min_info`` drops.
    fileset : StoreFileset, optional
        The parsed ``.pvar`` of ``prefix``, when the caller has it already.

    Yields
    ------
    DosageChunk
        ``variants`` with :data:`genorisk.genotypes.VARIANT_COLUMNS` (one row
        per biallelic variant: ``allele_index`` = ``n_alt`` = 1), float32
        ``dosages`` (NaN = missing; a fresh array per chunk), the samples,
        and the ALT allele count and allele number per row.

    Raises
    ------
    InputError
        A missing or unreadable fileset part, unknown samples, or a ``.pvar``
        whose variant count differs from the ``.pgen``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    base = _prefix(prefix)
    view = SampleView(base, samples, male, haploid_x)
    if fileset is None:
        fileset = StoreFileset(base, info_key)
    for block in store_blocks(fileset, view, chunk_size, min_info, male_het_missing, index, counts):
        yield DosageChunk(block[0], block[1], view.names, block[2], block[3])


def store_blocks(
    fileset: StoreFileset,
    view: SampleView,
    chunk_size: int,
    min_info: float | None,
    male_het_missing: bool,
    index: np.ndarray | None,
    counts: MutableMapping[str, int] | None,
) -> Iterator[tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]]:
    """(variants, dosages, ac, an) blocks of at most ``chunk_size`` variants."""
    pvar_reader, reader = open_pgen(fileset.pgen, fileset.pvar, view.subset)
    try:
        n_variants = reader.get_variant_ct()
        if pvar_reader.get_variant_ct() != n_variants or len(fileset) != n_variants:
            raise InputError(fileset.pvar, f"{len(fileset)} variants, but {fileset.pgen.name} holds {n_variants}")
        wanted = index
        if min_info is not None:
            info = fileset.info if index is None else fileset.info[index]
            keep = np.isnan(info) | (info >= min_info)
            if counts is not None:
                counts["below_min_info"] = counts.get("below_min_info", 0) + int((~keep).sum())
            if not keep.all():
                wanted = np.flatnonzero(keep) if index is None else index[keep]
        n_out = n_variants if wanted is None else len(wanted)
        n = len(view.names)
        for a in range(0, n_out, chunk_size):
            b = min(a + chunk_size, n_out)
            buf = np.empty((b - a, n), dtype=np.float32)
            if wanted is None:
                v0, v1 = a, b
            else:
                rows = wanted[a:b]
                v0, v1 = int(rows[0]), int(rows[-1]) + 1
            try:
                if wanted is None or v1 - v0 == b - a:  # contiguous: one range read
                    reader.read_dosages_range(v0, v1, buf)
                    variants = fileset.variants.iloc[v0:v1]
                    cls = fileset.ploidy_class[v0:v1]
                else:
                    reader.read_dosages_list(rows.astype(np.uint32), buf)
                    variants = fileset.variants.take(rows)
                    cls = fileset.ploidy_class[rows]
            except RuntimeError as err:
                raise InputError(
                    fileset.pgen, f"pgenlib: {decode_pgenlib_error(err)}", record=f"variants {v0}-{v1}"
                ) from None
            dosages = buf[:, view.order] if view.order is not None else buf
            d, ac, an = finish_store_dosages(dosages, cls, view.male, view.haploid_x, male_het_missing)
            yield variants.reset_index(drop=True), d, ac, an
    finally:
        reader.close()
        pvar_reader.close()


def finish_store_dosages(
    d: np.ndarray, ploidy_class: np.ndarray, male: np.ndarray, haploid_x: np.ndarray, male_het_missing: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Store dosages -> genorisk's: missing -> NaN, chrX/Y/MT conventions, in place.

    Parameters
    ----------
    d : numpy.ndarray
        float32 (variants x samples) as pgenlib reads it (-9 = missing).
    ploidy_class : numpy.ndarray
        Per row, as :attr:`StoreFileset.ploidy_class`.
    male, haploid_x : numpy.ndarray of bool
        Per column: keep the store's 0/2 on non-PAR chrX (else halve a
        haploid sample's call to 0/1); whose non-PAR chrX calls are haploid.
    male_het_missing : bool
        A haploid sample's het on non-PAR chrX reads as missing.

    Returns
    -------
    dosages, alt allele count, allele number
        ``d`` itself, float64 and int64 per row.
    """
    if not d.flags.c_contiguous:
        d = np.ascontiguousarray(d)
    n = d.shape[1]
    # Missing calls are rare: find them once as flat indexes (cheaper than a boolean mask per use).
    flat_missing = np.flatnonzero(d == -9)
    n_missing = np.bincount(flat_missing // n, minlength=d.shape[0]) if n else np.zeros(d.shape[0], np.int64)
    # Sum with the -9s in, then take them out: exact in float64 (store dosages are multiples of 1/16384).
    ac = d.sum(axis=1, dtype=np.float64) + 9.0 * n_missing
    an = 2 * (n - n_missing).astype(np.int64)
    d.ravel()[flat_missing] = np.nan
    x_rows = np.flatnonzero(ploidy_class == _X_NON_PAR)
    hap_cols = np.flatnonzero(haploid_x)
    if len(x_rows) and len(hap_cols):
        cells = np.ix_(x_rows, hap_cols)
        block = d[cells]
        het = block == 1.0
        if male_het_missing:
            block[het] = np.nan
        # A haploid sample's non-PAR chrX call counts one allele (a het read as a het counts two).
        ok = ~np.isnan(block)
        ploidy = np.where(het, 2, 1)
        scale = np.where(het, 1.0, 0.5)
        dip_cols = np.flatnonzero(~haploid_x)
        rest = d[np.ix_(x_rows, dip_cols)]
        an[x_rows] = (ploidy * ok).sum(axis=1) + 2 * (~np.isnan(rest)).sum(axis=1)
        ac[x_rows] = np.where(ok, block * scale, 0).sum(axis=1, dtype=np.float64) + np.nansum(
            rest, axis=1, dtype=np.float64
        )
        # Without the male 0/2 coding a haploid call counts 0/1 (genorisk.genotypes without ``male``).
        halve = ~male[hap_cols]
        if halve.any():
            block[:, halve] = np.where(het[:, halve], block[:, halve], block[:, halve] * 0.5)
        d[cells] = block
    hap_rows = np.flatnonzero(ploidy_class == _HAPLOID)
    if len(hap_rows):
        d[hap_rows] *= 0.5
        an[hap_rows] = (~np.isnan(d[hap_rows])).sum(axis=1)
        ac[hap_rows] = np.nansum(d[hap_rows], axis=1, dtype=np.float64)
    return d, ac, an


class SampleColumns(Protocol):
    """What a read needs of its output samples (:class:`SampleView` has it)."""

    names: list[str]
    order: np.ndarray | None
    male: np.ndarray
    haploid_x: np.ndarray


def read_store_rows(reader, rows: np.ndarray, view: SampleColumns, ploidy_class: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of an open pgen (:func:`open_pgen` with ``view.subset``) as genorisk dosages.

    Parameters
    ----------
    reader : pgenlib.PgenReader
    rows : numpy.ndarray of int
        Sorted, unique variant indexes of the fileset.
    view : SampleColumns
        The output samples (names, column order, male and haploid-X flags), e.g. a :class:`SampleView`.
    ploidy_class : numpy.ndarray
        :attr:`StoreFileset.ploidy_class` of the whole fileset.

    Returns
    -------
    numpy.ndarray, float32, shape (len(rows), len(view.names))
        NaN = missing; chrX/Y/MT rows follow :func:`finish_store_dosages`.
    """
    buf = np.empty((len(rows), len(view.names)), dtype=np.float32)
    reader.read_dosages_list(np.asarray(rows, dtype=np.uint32), buf)
    d = buf[:, view.order] if view.order is not None else buf
    cls = ploidy_class[rows]
    if cls.any():
        d, _, _ = finish_store_dosages(d, cls, view.male, view.haploid_x, False)
    else:  # diploid rows: only missing (-9) -> NaN, all finish_store_dosages does to them
        d[d == -9] = np.nan
    return d


def rechunk_store(
    blocks: Iterable[tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]], chunk_size: int, names: list[str]
) -> Iterator[DosageChunk]:
    """Cut (variants, dosages, ac, an) blocks into chunks of exactly ``chunk_size`` rows (the last may be shorter).

    A block that already is a whole chunk passes without a copy.
    """
    pending: list[tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]] = []
    filled = 0
    for block in blocks:
        at, m = 0, len(block[0])
        while at < m:
            if not pending and at == 0 and m == chunk_size:
                yield DosageChunk(block[0], block[1], names, block[2], block[3])
                break
            take = min(chunk_size - filled, m - at)
            variants, d, ac, an = block
            pending.append((variants.iloc[at : at + take], d[at : at + take], ac[at : at + take], an[at : at + take]))
            filled += take
            at += take
            if filled == chunk_size:
                yield _join(pending, names)
                pending, filled = [], 0
    if pending:
        yield _join(pending, names)


def _join(pending, names: list[str]) -> DosageChunk:
    if len(pending) == 1:
        v, d, ac, an = pending[0]
        return DosageChunk(v.reset_index(drop=True), d, names, ac, an)
    return DosageChunk(
        pd.concat([p[0] for p in pending], ignore_index=True)[list(VARIANT_COLUMNS)],
        np.concatenate([p[1] for p in pending]),
        names,
        np.concatenate([p[2] for p in pending]),
        np.concatenate([p[3] for p in pending]),
    )
