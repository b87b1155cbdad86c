"""Gene model: transcripts from a GTF or GFF3, indexed for region-class lookups (:class:`GeneModel`)."""

from __future__ import annotations

import heapq
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload
from urllib.parse import unquote

import numpy as np
import pandas as pd

from genorisk.annotate.alleles import variant_spans
from genorisk.errors import InputError
from genorisk.genome import ContigMap, canonical_contig, open_text

log = logging.getLogger("genorisk.annotate")


#: Region classes, most severe first. ``classify`` reports the first that applies.
REGION_CLASSES = (
    "CDS",  # coding exon sequence, start to stop codon inclusive
    "splice_region",  # intron 1-3 bp or exon 1-3 bp from an exon-intron boundary
    "5_prime_UTR",
    "3_prime_UTR",
    "noncoding_exon",  # exon of a transcript without CDS
    "intron",
    "upstream",  # within UPSTREAM_BP before the transcript start, strand-aware
    "intergenic",
)
#: Tier of each class: 5' and 3' UTR share a tier, the transcript preference breaks the tie.
_TIER = {
    "CDS": 0,
    "splice_region": 1,
    "5_prime_UTR": 2,
    "3_prime_UTR": 2,
    "noncoding_exon": 3,
    "intron": 4,
    "upstream": 5,
    "intergenic": 6,
}
_CLASS_CODE = {c: i for i, c in enumerate(REGION_CLASSES)}
UPSTREAM_BP = 5000
SPLICE_BP = 3
#: Transcript tags meaning "the one transcript to show for this gene".
CANONICAL_TAGS = frozenset({"Ensembl_canonical", "MANE_Select", "canonical"})


@dataclass
class _Transcript:
    tx_id: str
    contig: str
    strand: str
    gene_id: str | None = None
    gene_name: str | None = None
    biotype: str | None = None
    tags: frozenset = frozenset()
    exons: list = field(default_factory=list)
    cds: list = field(default_factory=list)


@dataclass
class _ContigIndex:
    """Elementary segments of one contig: ``bounds[k] .. bounds[k+1]-1`` has the
    best annotation key ``best[k]`` (-1: none, i.e. intergenic)."""

    bounds: np.ndarray
    best: np.ndarray


class GeneModel:
    """Transcripts from a GTF or GFF3, indexed for region-class lookups.

    Build with :func:`read_gene_model`. ``transcripts`` is a DataFrame (one row
    per transcript: contig, transcript, gene, gene_id, biotype, strand, start,
    end, canonical, basic). :meth:`classify` assigns region classes.

    How a class is chosen: every transcript contributes intervals labelled with
    :data:`REGION_CLASSES` (CDS = exon sequence from the first to the last coding
    base, stop codon included; UTRs = the other exon sequence of coding
    transcripts, 5'/3' by strand; splice_region = 1-3 bp either side of each
    exon-intron boundary; upstream = ``UPSTREAM_BP`` before the first base,
    strand-aware). A variant gets the most severe class over all transcripts
    touching its affected bases (:func:`affected_span`); ties go to the preferred
    transcript: a canonical tag (``Ensembl_canonical``, ``MANE_Select``), then
    tag ``basic``, then the smaller transcript ID.
    """

    def __init__(self, path: str, transcripts: list[_Transcript]):
        self.path = path
        self._tx = sorted(transcripts, key=_tx_preference)
        self.transcripts = pd.DataFrame(
            {
                "contig": [t.contig for t in self._tx],
                "transcript": [t.tx_id for t in self._tx],
                "gene": [t.gene_name for t in self._tx],
                "gene_id": [t.gene_id for t in self._tx],
                "biotype": [t.biotype for t in self._tx],
                "strand": [t.strand for t in self._tx],
                "start": np.array([min(e[0] for e in t.exons) for t in self._tx], dtype=np.int64),
                "end": np.array([max(e[1] for e in t.exons) for t in self._tx], dtype=np.int64),
                "canonical": [bool(t.tags & CANONICAL_TAGS) for t in self._tx],
                "basic": [("basic" in t.tags) for t in self._tx],
            }
        )
        self.contigs = ContigMap({t.contig for t in self._tx})
        self._index: dict[str, _ContigIndex] = {}

    def __repr__(self) -> str:
        return f"GeneModel({self.path!r}, {len(self._tx)} transcripts)"

    # -- index ---------------------------------------------------------------

    def _contig_index(self, contig: str) -> _ContigIndex:
        if contig not in self._index:
            self._index[contig] = self._build_index(contig)
        return self._index[contig]

    def _build_index(self, contig: str) -> _ContigIndex:
        n_tx = len(self._tx)
        n_cls = len(REGION_CLASSES)
        starts: list[int] = []
        ends: list[int] = []
        keys: list[int] = []

        def add(s: int, e: int, cls: str, rank: int) -> None:
            if e >= s:
                starts.append(s)
                ends.append(e)
                keys.append((_TIER[cls] * n_tx + rank) * n_cls + _CLASS_CODE[cls])

        for rank, tx in enumerate(self._tx):
            if tx.contig != contig:
                continue
            exons = _merge(tx.exons)
            first, last = exons[0][0], exons[-1][1]
            if tx.strand == "-":
                add(last + 1, last + UPSTREAM_BP, "upstream", rank)
            else:
                add(max(1, first - UPSTREAM_BP), first - 1, "upstream", rank)
            for (_, a), (b, _) in zip(exons, exons[1:], strict=False):
                add(a + 1, b - 1, "intron", rank)
            if tx.cds:
                lo = min(c[0] for c in tx.cds)
                hi = max(c[1] for c in tx.cds)
                for s, e in exons:
                    add(max(s, lo), min(e, hi), "CDS", rank)
                    before, after = (
                        ("5_prime_UTR", "3_prime_UTR") if tx.strand != "-" else ("3_prime_UTR", "5_prime_UTR")
                    )
                    add(s, min(e, lo - 1), before, rank)
                    add(max(s, hi + 1), e, after, rank)
                for s, e in tx.cds:
                    add(s, e, "CDS", rank)
            else:
                for s, e in exons:
                    add(s, e, "noncoding_exon", rank)
            for (s1, a), (b, e2) in zip(exons, exons[1:], strict=False):
                # intron side 1-3 bp, then exon side 1-3 bp, of both boundaries
                add(a + 1, min(a + SPLICE_BP, b - 1), "splice_region", rank)
                add(max(b - SPLICE_BP, a + 1), b - 1, "splice_region", rank)
                add(max(s1, a - SPLICE_BP + 1), a, "splice_region", rank)
                add(b, min(e2, b + SPLICE_BP - 1), "splice_region", rank)
        if not starts:
            return _ContigIndex(np.array([1], dtype=np.int64), np.array([-1], dtype=np.int64))
        s_arr = np.asarray(starts, dtype=np.int64)
        e_arr = np.asarray(ends, dtype=np.int64)
        bounds = np.unique(np.concatenate([s_arr, e_arr + 1]))
        order = np.argsort(s_arr, kind="stable")
        # Sweep: at each elementary segment start, the smallest key among the
        # intervals covering it (a heap with lazy removal of ended intervals).
        s_sorted = s_arr[order].tolist()
        e_sorted = e_arr[order].tolist()
        k_sorted = [keys[i] for i in order.tolist()]
        best = np.full(len(bounds), -1, dtype=np.int64)
        heap: list[tuple[int, int]] = []
        i, n = 0, len(s_sorted)
        for k, b in enumerate(bounds.tolist()):
            while i < n and s_sorted[i] <= b:
                heapq.heappush(heap, (k_sorted[i], e_sorted[i]))
                i += 1
            while heap and heap[0][1] < b:
                heapq.heappop(heap)
            if heap:
                best[k] = heap[0][0]
        return _ContigIndex(bounds, best)

    # -- lookups -------------------------------------------------------------

    def classify(self, variants: pd.DataFrame) -> pd.DataFrame:
        """Add gene, gene_id, transcript, biotype and region_class to ``variants``.

        ``variants`` needs columns chrom, pos (1-based), ref, alt, and ``end``
        for symbolic alleles (see :func:`variant_spans`); one output row per
        input row, in the same order. Variants on contigs the model does not
        know are ``intergenic`` with no gene.
        """
        out = variants.copy()
        n = len(out)
        key = np.full(n, -1, dtype=np.int64)
        if n:
            span_lo, span_hi = variant_spans(out)
            chrom = out["chrom"].to_numpy(dtype=object)
            for contig in pd.unique(chrom):
                model_contig = self.contigs(contig)
                if model_contig is None:
                    continue
                rows = np.flatnonzero(chrom == contig)
                idx = self._contig_index(model_contig)
                k0 = np.searchsorted(idx.bounds, span_lo[rows], side="right") - 1
                k1 = np.searchsorted(idx.bounds, span_hi[rows], side="right") - 1
                best = np.where(k0 >= 0, idx.best[np.maximum(k0, 0)], -1)
                for j in np.flatnonzero(k1 > k0):  # span over several segments: the best of them
                    seg = idx.best[max(int(k0[j]), 0) : int(k1[j]) + 1]
                    seg = seg[seg >= 0]
                    best[j] = seg.min() if len(seg) else -1
                key[rows] = best
        n_cls = len(REGION_CLASSES)
        has = key >= 0
        cls_code = np.where(has, key % n_cls, _CLASS_CODE["intergenic"])
        rank = np.where(has, (key // n_cls) % max(len(self._tx), 1), 0)
        tx = self.transcripts
        for col, src in (
            ("gene", "gene"),
            ("gene_id", "gene_id"),
            ("transcript", "transcript"),
            ("biotype", "biotype"),
        ):
            values = tx[src].to_numpy(dtype=object)[rank] if len(tx) else np.full(n, None, dtype=object)
            out[col] = pd.array(np.where(has, values, np.array(None)), dtype="str")  # 0-d object None
        out["region_class"] = pd.array(np.asarray(REGION_CLASSES, dtype=object)[cls_code], dtype="str")
        return out


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted union of closed intervals (duplicated or overlapping exon lines)."""
    merged: list[list[int]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _tx_preference(tx: _Transcript) -> tuple:
    return (not (tx.tags & CANONICAL_TAGS), "basic" not in tx.tags, tx.tx_id)


_GTF_ATTR_RE = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^;\s]+))\s*;?')
_TX_TYPES_SKIP = {"gene", "chromosome", "biological_region", "region", "supercontig", "scaffold"}


def _parse_gtf_attrs(text: str) -> tuple[dict[str, str], set[str]]:
    attrs: dict[str, str] = {}
    tags: set[str] = set()
    for m in _GTF_ATTR_RE.finditer(text):
        key, value = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        if key == "tag":
            tags.add(value)
        else:
            attrs.setdefault(key, value)
    return attrs, tags


def _parse_gff3_attrs(text: str) -> tuple[dict[str, str], set[str]]:
    attrs: dict[str, str] = {}
    for part in text.strip().rstrip(";").split(";"):
        if not part:
            continue
        key, _, value = part.partition("=")
        attrs[key.strip()] = value
    tags = {unquote(t) for t in attrs.pop("tag", "").split(",") if t}
    return {k: unquote(v) for k, v in attrs.items()}, tags


@overload
def _strip_prefix(value: str, prefix: str) -> str: ...
@overload
def _strip_prefix(value: None, prefix: str) -> None: ...
def _strip_prefix(value: str | None, prefix: str) -> str | None:
    return value[len(prefix) :] if value and value.startswith(prefix) else value


def read_gene_model(path: str | os.PathLike, *, contigs: Iterable[str] | None = None) -> GeneModel:
    """Read a GTF or GFF3 gene model (plain or gzipped) into a :class:`GeneModel`.

    Understands Ensembl and GENCODE naming in both formats: gene names from
    ``gene_name``/``Name``; transcript IDs from ``transcript_id`` or
    ``ID=transcript:...``; biotypes from ``transcript_biotype``/
    ``transcript_type``/``biotype`` (falling back to the gene's
    ``gene_biotype``/``gene_type``); tags (``basic``, ``Ensembl_canonical``,
    ``MANE_Select``) from repeated GTF ``tag`` or comma-separated GFF3 ``tag=``.
    Only exon, CDS and (GTF) stop_codon lines plus the transcript and gene lines
    they point to are used; UTRs are derived from exons and CDS, so GENCODE's
    undirected ``UTR`` lines need no special care. ``contigs`` keeps only
    features on those contigs (any spelling, e.g. ``chr21`` finds ``21``).

    Raises :class:`InputError` naming the file and line for a line with fewer
    than 9 columns, a non-integer or reversed start/end, or a bad strand, and
    when the file holds no exons.
    """
    path = Path(path)
    wanted = None if contigs is None else list(contigs)  # read twice below: a one-shot iterator would be empty
    keep: set[str] | None = None
    if wanted is not None:
        keep = {canonical_contig(c) for c in wanted}
    fmt: str | None = None
    records: dict[str, tuple[str, str | None, dict[str, str], set[str]]] = {}  # GFF3 ID -> (type, parent, attrs, tags)
    transcripts: dict[str, _Transcript] = {}
    parts_of: dict[str, list[tuple[str, int, int, str, str]]] = {}  # GFF3: parent -> (type, s, e, contig, strand)
    skipped_contigs: set[str] = set()
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                if lineno == 1 and line.startswith("##gff-version 3"):
                    fmt = "gff3"
                continue
            cols = line.rstrip("\n\r").split("\t")
            if len(cols) != 9:
                raise InputError(path, f"expected 9 tab-separated columns, found {len(cols)}", record=f"line {lineno}")
            contig, _, ftype, s_txt, e_txt, _, strand, _, attr_text = cols
            if keep is not None and canonical_contig(contig) not in keep:
                skipped_contigs.add(contig)
                continue
            if fmt is None:
                fmt = "gtf" if _GTF_ATTR_RE.match(attr_text) and "=" not in attr_text.split(";")[0] else "gff3"
            try:
                start, end = int(s_txt), int(e_txt)
            except ValueError:
                raise InputError(
                    path, f"start/end {s_txt!r}/{e_txt!r} are not integers", record=f"line {lineno}"
                ) from None
            if start < 1 or end < start:
                raise InputError(path, f"start {start} / end {end}: need 1 <= start <= end", record=f"line {lineno}")
            if strand not in ("+", "-", ".", "?"):
                raise InputError(path, f"strand {strand!r} is not +, -, . or ?", record=f"line {lineno}")
            if fmt == "gtf":
                if ftype not in ("exon", "CDS", "stop_codon", "transcript"):
                    continue
                attrs, tags = _parse_gtf_attrs(attr_text)
                tx_id = attrs.get("transcript_id")
                if not tx_id:
                    if ftype != "transcript":
                        raise InputError(path, f"{ftype} line has no transcript_id", record=f"line {lineno}")
                    continue
                tx = transcripts.get(tx_id)
                if tx is None:
                    tx = transcripts[tx_id] = _Transcript(tx_id=tx_id, contig=contig, strand=strand)
                if tx.gene_id is None:
                    tx.gene_id = attrs.get("gene_id")
                    tx.gene_name = attrs.get("gene_name") or attrs.get("gene_id")
                if tx.biotype is None:
                    tx.biotype = (
                        attrs.get("transcript_biotype")
                        or attrs.get("transcript_type")
                        or attrs.get("gene_biotype")
                        or attrs.get("gene_type")
                    )
                tx.tags = tx.tags | tags
                if ftype == "exon":
                    tx.exons.append((start, end))
                elif ftype in ("CDS", "stop_codon"):
                    tx.cds.append((start, end))
            else:
                if ftype in ("exon", "CDS"):
                    attrs, _ = _parse_gff3_attrs(attr_text)
                    for parent in filter(None, attrs.get("Parent", "").split(",")):
                        parts_of.setdefault(parent, []).append((ftype, start, end, contig, strand))
                elif (ftype not in _TX_TYPES_SKIP and "ID=" in attr_text) or ftype == "gene":
                    attrs, tags = _parse_gff3_attrs(attr_text)
                    if "ID" in attrs:
                        records[attrs["ID"]] = (ftype, attrs.get("Parent"), attrs, tags)
    if fmt == "gff3":
        for parent, parts in parts_of.items():
            ftype_rec = records.get(parent)
            attrs = ftype_rec[2] if ftype_rec else {}
            gene = records.get(ftype_rec[1]) if ftype_rec and ftype_rec[1] else None
            gattrs = gene[2] if gene else {}
            tx = _Transcript(
                tx_id=attrs.get("transcript_id") or _strip_prefix(parent, "transcript:"),
                contig=parts[0][3],
                strand=parts[0][4],
                gene_id=gattrs.get("gene_id") or _strip_prefix(ftype_rec[1] if ftype_rec else None, "gene:"),
                gene_name=gattrs.get("Name") or gattrs.get("gene_name") or attrs.get("gene_name"),
                biotype=(
                    attrs.get("biotype")
                    or attrs.get("transcript_type")
                    or attrs.get("transcript_biotype")
                    or gattrs.get("biotype")
                    or gattrs.get("gene_type")
                ),
                tags=frozenset(ftype_rec[3]) if ftype_rec else frozenset(),
            )
            if tx.gene_name is None:
                tx.gene_name = tx.gene_id
            for ftype, s, e, _, _ in parts:
                (tx.exons if ftype == "exon" else tx.cds).append((s, e))
            transcripts[parent] = tx
    usable = []
    for tx in transcripts.values():
        if not tx.exons:
            if not tx.cds:
                continue
            tx.exons = list(tx.cds)  # CDS-only models (some GFF3 exports) still have coding exons
        tx.tags = frozenset(tx.tags)
        usable.append(tx)
    if not usable and wanted is not None and skipped_contigs:
        # A gene model of other chromosomes (chr21 only, and a chunk on chrX):
        # its variants are intergenic as far as this model knows.
        log.warning(
            "gene model %s has no transcript on %s (it covers %s): those variants get no gene",
            path,
            ", ".join(sorted(wanted)),
            ", ".join(sorted(skipped_contigs)[:5]),
        )
        return GeneModel(str(path), [])
    if not usable:
        raise InputError(
            path,
            "no exon features found: not a GTF/GFF3 gene model"
            + (f" or no transcript on contigs {sorted(keep)}" if keep else ""),
        )
    model = GeneModel(str(path), usable)
    log.info("gene model %s: %s, %d transcripts on %d contigs", path, fmt, len(usable), len(model.contigs.names))
    return model


def classify(variants: pd.DataFrame, gene_model: GeneModel) -> pd.DataFrame:
    """Module-level alias of :meth:`GeneModel.classify`."""
    return gene_model.classify(variants)
