"""The store manifest: one small JSON file naming a store's per-chromosome filesets, and reads across them.

``store.json`` (format tag ``genorisk.store/1``)::

    {"format": "genorisk.store/1",
     "chromosomes": [{"chrom": "chr21", "prefix": "chr21"}, {"chrom": "chrX", "prefix": "chrX"}],
     "samples": ["IND00", ...], "sex": [1, 2, ...], "info_key": "R2"}

``chromosomes`` are in the order the VCF reader meets them (the input's
contig order, else karyotypic order: 1-22, X, Y, XY, MT, then others by
name); ``prefix`` is relative to the manifest's folder. ``samples`` are the
IIDs in column order and ``sex`` their ``.psam`` SEX (1 male, 2 female,
0 unknown). :func:`genorisk.genotypes.iter_dosage_chunks` and
:func:`genorisk.genotypes.read_dosages` accept a manifest path or a
:class:`GenotypeStore` wherever they accept a VCF.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk.errors import InputError
from genorisk.genome import canonical_contig, contig_sort_key, parse_region
from genorisk.genotypes.chunks import DosageChunk
from genorisk.io import atomic_output
from genorisk.store.reader import (
    SampleView,
    StoreFileset,
    open_pgen,
    read_store_rows,
    rechunk_store,
    store_blocks,
    store_samples,
)

FORMAT_TAG = "genorisk.store/1"


def is_store(source: object) -> bool:
    """True for a :class:`GenotypeStore` or a manifest path (``store.json`` or ``*.store.json``)."""
    if isinstance(source, GenotypeStore):
        return True
    return isinstance(source, str | PathLike) and Path(source).name.endswith("store.json")


@dataclass(frozen=True)
class GenotypeStore:
    """An opened store manifest (see the module docstring).

    Attributes
    ----------
    path : pathlib.Path
        The manifest.
    chroms : dict of str to pathlib.Path
        Chromosome (store spelling) -> fileset prefix, in reading order.
    samples : list of str
        IIDs in column order.
    sex : numpy.ndarray
        int per sample: 1 male, 2 female, 0 unknown.
    info_key : str
        INFO key of the imputation quality in the ``.pvar`` s.
    """

    path: Path
    chroms: dict[str, Path]
    samples: list[str]
    sex: np.ndarray
    info_key: str = "R2"

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def prefix_of(self, chrom: str) -> Path | None:
        """The fileset of a chromosome in any spelling (``chr21``/``21``), None if absent."""
        key = canonical_contig(chrom)
        return next((p for c, p in self.chroms.items() if canonical_contig(c) == key), None)

    def iter_chunks(
        self,
        *,
        samples: Sequence[str] | None = None,
        male: np.ndarray | Sequence[bool] | None = None,
        regions: Iterable[str] | None = None,
        chunk_size: int = 20000,
        min_info: float | None = None,
        info_key: str | None = None,
        counts: MutableMapping[str, int] | None = None,
    ) -> Iterator[DosageChunk]:
        """Dosage chunks over the chromosomes, as :func:`genorisk.genotypes.iter_dosage_chunks` gives them for a VCF.

        ``male`` only scales (haploid non-PAR chrX calls count 0/2 for
        males, 0/1 otherwise, as for a VCF); which calls are haploid comes
        from the store's sex. A het of a haploid sample on non-PAR chrX
        reads as 1, as a VCF's diploid het does. ``regions`` (``CHROM``,
        ``CHROM:START-END``) are read in the order given, an overlap once per
        region; chunks are exactly ``chunk_size`` rows across chromosome
        boundaries (the last may be shorter).
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        key = info_key or self.info_key
        pieces: list[tuple[Path, np.ndarray | None]]
        if regions is None:
            pieces = [(p, None) for p in self.chroms.values()]
        else:
            pieces = []
            for text in regions:
                region = parse_region(text)
                prefix = self.prefix_of(region.chrom)
                if prefix is not None:
                    pieces.append((prefix, (region.start, region.end)))  # type: ignore[arg-type]
        views: dict[Path, SampleView] = {}
        names = list(samples) if samples is not None else list(self.samples)

        def blocks():
            for prefix, span in pieces:
                if prefix not in views:
                    views[prefix] = self._view(prefix, samples, male)
                fileset = StoreFileset(prefix, key)
                index = None if span is None else fileset.region_index(*span)
                yield from store_blocks(fileset, views[prefix], chunk_size, min_info, False, index, counts)

        yield from rechunk_store(blocks(), chunk_size, names)

    def _view(self, prefix: Path, samples, male) -> SampleView:
        # Haploid chrX calls are the fileset's males'; ``male`` only keeps their 0/2 scale.
        n = len(samples if samples is not None else self.samples)
        return SampleView(prefix, samples, np.zeros(n, dtype=bool) if male is None else male, "sex")

    def read_dosages(
        self,
        variants: pd.DataFrame,
        *,
        samples: Sequence[str] | None = None,
        male: np.ndarray | Sequence[bool] | None = None,
        min_info: float | None = None,
        info_key: str | None = None,
        chunk_size: int = 4096,
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The rows for given variants, as :func:`genorisk.genotypes.read_dosages` gives them for a VCF.

        Reads only the requested variants (found through each fileset's
        variant table) with pgenlib's ``read_dosages_list``, one chromosome
        at a time. A key present more than once takes its first occurrence.
        """
        wanted = variants.reset_index(drop=True).copy()
        names = list(samples) if samples is not None else list(self.samples)
        out = np.full((len(wanted), len(names)), np.nan, dtype=np.float32)
        found = np.zeros(len(wanted), dtype=bool)
        key = info_key or self.info_key
        canon = wanted["chrom"].astype(str).map(canonical_contig).to_numpy(dtype=object)
        for chrom, prefix in self.chroms.items():
            rows = np.flatnonzero(canon == canonical_contig(chrom))
            if not len(rows):
                continue
            fileset = StoreFileset(prefix, key)
            table = fileset.variants[["pos", "ref", "alt"]].assign(store_index=np.arange(len(fileset)))
            if min_info is not None:
                info = fileset.info
                table = table[np.isnan(info) | (info >= min_info)]
            table = table.drop_duplicates(["pos", "ref", "alt"], keep="first")
            asked = pd.DataFrame(
                {
                    "pos": wanted["pos"].to_numpy(dtype=np.int64)[rows],
                    "ref": wanted["ref"].astype(str).to_numpy()[rows],
                    "alt": wanted["alt"].astype(str).to_numpy()[rows],
                    "row": rows,
                }
            )
            hits = asked.merge(
                table.astype({"ref": object, "alt": object}), on=["pos", "ref", "alt"], how="inner", sort=False
            )
            if not len(hits):
                continue
            store_index = hits["store_index"].to_numpy(dtype=np.int64)
            target = hits["row"].to_numpy(dtype=np.int64)
            unique, inverse = np.unique(store_index, return_inverse=True)
            view = self._view(prefix, samples, male)
            pvar_reader, reader = open_pgen(fileset.pgen, fileset.pvar, view.subset)
            try:
                for a in range(0, len(unique), chunk_size):
                    idx = unique[a : a + chunk_size]
                    d = read_store_rows(reader, idx, view, fileset.ploidy_class)
                    sel = (inverse >= a) & (inverse < a + len(idx))
                    out[target[sel]] = d[inverse[sel] - a]
            finally:
                reader.close()
                pvar_reader.close()
            found[target] = True
        wanted["found"] = found
        return wanted, out


def write_manifest(
    out_path: str | PathLike,
    chrom_prefixes: Mapping[str, str | PathLike],
    *,
    info_key: str = "R2",
    samples: Sequence[str] | None = None,
    sex: Sequence[int] | Mapping[str, int] | None = None,
    contig_order: Sequence[str] | None = None,
) -> Path:
    """Write a store manifest for the filesets of :func:`~genorisk.store.convert_to_store`.

    Parameters
    ----------
    out_path : str or PathLike
        The manifest (``.../store.json``); prefixes are stored relative to its folder.
    chrom_prefixes : mapping of str to path
        Chromosome -> fileset prefix.
    info_key : str
        INFO key of the imputation quality.
    samples, sex : optional
        IIDs and SEX (1/2/0; a sequence aligned with ``samples`` or a mapping
        by IID). Default: the first fileset's ``.psam``. Every fileset must
        hold these samples in this order.
    contig_order : sequence of str, optional
        The input's contig order (its VCF header ``##contig`` lines); default
        karyotypic order.

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    InputError
        A fileset whose samples differ from the others, or a chromosome twice.
    """
    out_path = Path(out_path)
    if not out_path.name.endswith("store.json"):
        raise ValueError(f"a store manifest is named store.json or *.store.json, not {out_path.name}")
    if not chrom_prefixes:
        raise ValueError("a store needs at least one chromosome fileset")
    rank = {canonical_contig(c): i for i, c in enumerate(contig_order or ())}

    def order(chrom: str) -> tuple:
        key = canonical_contig(chrom)
        return (0, rank[key], "") if key in rank else (1, *contig_sort_key(chrom))

    chroms = sorted(chrom_prefixes, key=order)
    if len({canonical_contig(c) for c in chroms}) != len(chroms):
        raise InputError(out_path, f"a chromosome is named twice: {chroms}")
    first = store_samples(chrom_prefixes[chroms[0]])
    ids = [str(s) for s in samples] if samples is not None else first["IID"].tolist()
    if sex is None:
        by_id = dict(zip(first["IID"], first["SEX"].astype(int), strict=True))
        sex_list = [int(by_id.get(s, 0)) for s in ids]
    elif isinstance(sex, Mapping):
        sex_list = [int(sex[s]) for s in ids]
    else:
        sex_list = [int(s) for s in sex]
    if len(sex_list) != len(ids):
        raise ValueError(f"sex has {len(sex_list)} values for {len(ids)} samples")
    for chrom in chroms:
        got = store_samples(chrom_prefixes[chrom])["IID"].tolist()
        if got != ids:
            raise InputError(f"{chrom_prefixes[chrom]}.psam", "samples differ from the store's (or their order)")
    folder = out_path.parent.resolve()
    entries = [{"chrom": c, "prefix": os.path.relpath(Path(chrom_prefixes[c]).resolve(), folder)} for c in chroms]
    manifest = {"format": FORMAT_TAG, "chromosomes": entries, "samples": ids, "sex": sex_list, "info_key": info_key}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_path) as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n")
    return out_path


def open_store(path: str | PathLike | GenotypeStore) -> GenotypeStore:
    """Open a store manifest (a :class:`GenotypeStore` is returned as it is).

    Raises
    ------
    InputError
        Not a ``genorisk.store/1`` manifest, or a fileset part missing.
    """
    if isinstance(path, GenotypeStore):
        return path
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot read the store manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_TAG:
        raise InputError(path, f"not a store manifest (format is not {FORMAT_TAG!r})")
    folder = path.parent
    chroms = {}
    for entry in manifest["chromosomes"]:
        prefix = folder / entry["prefix"]
        for suffix in (".pgen", ".pvar", ".psam"):
            if not Path(f"{prefix}{suffix}").exists():
                raise InputError(path, f"{prefix}{suffix} not found", record=entry["chrom"])
        chroms[entry["chrom"]] = prefix
    return GenotypeStore(
        path, chroms, list(manifest["samples"]), np.asarray(manifest["sex"], dtype=np.int64), manifest["info_key"]
    )
