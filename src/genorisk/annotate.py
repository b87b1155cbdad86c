"""Variant annotation: gene model classes, bcftools csq consequences, ClinVar,
population allele frequency and dbSNP rsIDs, with scatter/gather over regions.

Every source is optional. The unit of work is one genomic region (a chunk): the
query VCF and each indexed resource are read with region fetches, so memory is
bounded by the chunk, not by the cohort or the resource. A cohort is annotated
by :func:`plan_chunks` (balanced regions from the VCF index), one
:func:`annotate_table` + :func:`write_table` + :func:`write_annotated` job per
chunk, then :func:`gather`.

Conventions (apply to every function here):

* One row (and one output record) per ALT allele: multiallelic records are
  split; symbolic (``<DEL>``), breakend, ``*``, missing and REF-equal ALTs get
  no row (their records pass through the annotated VCF unannotated).
* Alleles are matched exactly after reducing both sides to their minimal
  representation (shared trailing, then shared leading bases trimmed, keeping one
  base; POS moves with leading trims). Nothing is left-aligned: that needs the
  reference and is the job of ``bcftools norm -f`` upstream.
* Contig names are reconciled between sources (``chr21`` vs ``21``,
  ``chrM`` vs ``MT``) with :func:`genorisk.vcf.normalize_contig`; the output keeps
  the query VCF's spelling.
* A chunk region ``chr:start-end`` owns the records whose POS lies in
  ``start..end`` (1-based, inclusive), so chunks never share a record even
  when a deletion spans a chunk boundary.
"""

from __future__ import annotations

import heapq
import logging
import os
import re
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pysam

from genorisk.errors import InputError
from genorisk.io import atomic_output
from genorisk.vcf import normalize_contig

log = logging.getLogger(__name__)

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
_TIER = {"CDS": 0, "splice_region": 1, "5_prime_UTR": 2, "3_prime_UTR": 2, "noncoding_exon": 3,
         "intron": 4, "upstream": 5, "intergenic": 6}
_CLASS_CODE = {c: i for i, c in enumerate(REGION_CLASSES)}
UPSTREAM_BP = 5000
SPLICE_BP = 3
#: Transcript tags meaning "the one transcript to show for this gene".
CANONICAL_TAGS = frozenset({"Ensembl_canonical", "MANE_Select", "canonical"})

#: bcftools csq consequence terms, most severe first (Ensembl VEP's ordering of
#: the corresponding SO terms). Unknown terms rank after all of these.
CSQ_SEVERITY = (
    "splice_acceptor", "splice_donor", "stop_gained", "frameshift", "stop_lost", "start_lost",
    "inframe_altering", "inframe_insertion", "inframe_deletion", "missense", "splice_region",
    "start_retained", "stop_retained", "synonymous", "coding_sequence", "5_prime_utr",
    "3_prime_utr", "non_coding", "intron", "feature_elongation", "intergenic",
)
_CSQ_RANK = {c: i for i, c in enumerate(CSQ_SEVERITY)}

#: Columns of the variant table, in order.
TABLE_COLUMNS = (
    "chrom", "pos", "ref", "alt", "gene", "gene_id", "transcript", "biotype", "region_class",
    "consequence", "clinvar_significance", "clinvar_review_status", "clinvar_id", "clinvar_gene",
    "population_af", "rsid",
)
_STR_COLUMNS = tuple(c for c in TABLE_COLUMNS if c not in ("pos", "population_af"))

#: Table column -> (INFO tag, Number, Type, Description) written by write_annotated.
INFO_FIELDS = {
    "gene": ("GR_GENE", "1", "String", "genorisk: gene symbol of the most severe region class (gene model)"),
    "gene_id": ("GR_GENE_ID", "1", "String", "genorisk: gene ID of the most severe region class (gene model)"),
    "transcript": ("GR_TRANSCRIPT", "1", "String", "genorisk: transcript chosen for GR_REGION (canonical > basic > ID)"),
    "region_class": ("GR_REGION", "1", "String",
                     "genorisk: most severe region class over transcripts: " + ", ".join(REGION_CLASSES)),
    "consequence": ("GR_CSQ", "1", "String", "genorisk: most severe bcftools csq consequence"),
    "clinvar_significance": ("GR_CLNSIG", ".", "String", "genorisk: ClinVar CLNSIG of the exact allele"),
    "clinvar_review_status": ("GR_CLNREVSTAT", ".", "String", "genorisk: ClinVar CLNREVSTAT of the exact allele"),
    "clinvar_id": ("GR_CLNID", "1", "String", "genorisk: ClinVar variation ID of the exact allele"),
    "population_af": ("GR_AF", "1", "Float", "genorisk: population allele frequency of the exact allele"),
}


# ---------------------------------------------------------------------------
# Alleles and contigs
# ---------------------------------------------------------------------------


def minimal_allele(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Trim shared trailing then shared leading bases (keeping one), moving POS.

    ``(100, "CTT", "CT")`` -> ``(100, "CT", "C")``; ``(100, "CAG", "CTG")`` ->
    ``(101, "A", "T")``. Case is folded to upper. No left-alignment.
    """
    ref, alt = ref.upper(), alt.upper()
    if len(ref) == 1 and len(alt) == 1:  # SNVs, most of a cohort: nothing to trim
        return pos, ref, alt
    n = 0
    limit = min(len(ref), len(alt)) - 1
    while n < limit and ref[-1 - n] == alt[-1 - n]:
        n += 1
    if n:
        ref, alt = ref[:-n], alt[:-n]
    n = 0
    limit = min(len(ref), len(alt)) - 1
    while n < limit and ref[n] == alt[n]:
        n += 1
    return pos + n, ref[n:], alt[n:]


def affected_span(pos: int, ref: str, alt: str) -> tuple[int, int]:
    """Reference bases a variant changes, 1-based inclusive, from its minimal form.

    SNV/MNV/complex: the REF bases. Deletion with a padding base: the deleted
    bases (``pos+1 .. pos+len(ref)-1``). Insertion with a padding base: the two
    bases either side of the insertion point (``pos .. pos+1``).
    """
    pos, ref, alt = minimal_allele(pos, ref, alt)
    if len(ref) > 1 and len(alt) == 1 and ref[0] == alt[0]:
        return pos + 1, pos + len(ref) - 1
    if len(ref) == 1 and len(alt) > 1 and ref[0] == alt[0]:
        return pos, pos + 1
    return pos, pos + len(ref) - 1


def _usable_alt(alt: str | None, ref: str | None = None) -> bool:
    """A sequence ALT that differs from REF (not symbolic, breakend, ``*`` or missing)."""
    return (bool(alt) and alt not in ("*", ".") and not alt.startswith("<") and "[" not in alt
            and "]" not in alt and (ref is None or alt.upper() != ref.upper()))


class _ContigMap:
    """Map the query's contig names onto the names a resource uses."""

    def __init__(self, names: Iterable[str]):
        self.names = set(names)
        self._by_key: dict[str, str] = {}
        for n in self.names:
            self._by_key.setdefault(_contig_key(n), n)

    def __call__(self, contig: str) -> str | None:
        if contig in self.names:
            return contig
        return self._by_key.get(_contig_key(contig))


def _contig_key(name: str) -> str:
    try:
        return normalize_contig(name, "chr")
    except ValueError:
        return name


# ---------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------

_REGION_RE = re.compile(r"(?P<chrom>[^:]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?")


def parse_region(region: str) -> tuple[str, int, int | None]:
    """``"chr21:1-5000"`` -> ``("chr21", 1, 5000)``; ``"chr21"`` -> ``("chr21", 1, None)``."""
    m = _REGION_RE.fullmatch(region.strip())
    if m is None:
        raise ValueError(f"region {region!r} is not CHROM[:START[-END]]")
    start = int(m["start"].replace(",", "")) if m["start"] else 1
    end = int(m["end"].replace(",", "")) if m["end"] else None
    if start < 1 or (end is not None and end < start):
        raise ValueError(f"region {region!r} has start < 1 or end < start")
    return m["chrom"], start, end


# ---------------------------------------------------------------------------
# Gene model
# ---------------------------------------------------------------------------


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
        self.contigs = _ContigMap({t.contig for t in self._tx})
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
            for (_, a), (b, _) in zip(exons, exons[1:]):
                add(a + 1, b - 1, "intron", rank)
            if tx.cds:
                lo = min(c[0] for c in tx.cds)
                hi = max(c[1] for c in tx.cds)
                for s, e in exons:
                    add(max(s, lo), min(e, hi), "CDS", rank)
                    before, after = ("5_prime_UTR", "3_prime_UTR") if tx.strand != "-" else ("3_prime_UTR", "5_prime_UTR")
                    add(s, min(e, lo - 1), before, rank)
                    add(max(s, hi + 1), e, after, rank)
                for s, e in tx.cds:
                    add(s, e, "CDS", rank)
            else:
                for s, e in exons:
                    add(s, e, "noncoding_exon", rank)
            for (s1, a), (b, e2) in zip(exons, exons[1:]):
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

        ``variants`` needs columns chrom, pos (1-based), ref, alt; one output row
        per input row, in the same order. Variants on contigs the model does not
        know are ``intergenic`` with no gene.
        """
        out = variants.copy()
        n = len(out)
        key = np.full(n, -1, dtype=np.int64)
        if n:
            spans = [affected_span(int(p), r, a) for p, r, a in zip(out["pos"], out["ref"], out["alt"])]
            span_lo = np.fromiter((s[0] for s in spans), dtype=np.int64, count=n)
            span_hi = np.fromiter((s[1] for s in spans), dtype=np.int64, count=n)
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
        for col, src in (("gene", "gene"), ("gene_id", "gene_id"), ("transcript", "transcript"), ("biotype", "biotype")):
            values = tx[src].to_numpy(dtype=object)[rank] if len(tx) else np.full(n, None, dtype=object)
            out[col] = pd.array(np.where(has, values, None), dtype="str")
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


def _strip_prefix(value: str | None, prefix: str) -> str | None:
    return value[len(prefix):] if value and value.startswith(prefix) else value


def _open_text(path: Path):
    import gzip

    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


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
    keep: set[str] | None = None
    if contigs is not None:
        keep = {_contig_key(c) for c in contigs}
    fmt: str | None = None
    records: dict[str, tuple[str, str | None, dict[str, str], set[str]]] = {}  # GFF3 ID -> (type, parent, attrs, tags)
    transcripts: dict[str, _Transcript] = {}
    parts_of: dict[str, list[tuple[str, int, int, str, str]]] = {}  # GFF3: parent -> (type, s, e, contig, strand)
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                if lineno == 1 and line.startswith("##gff-version 3"):
                    fmt = "gff3"
                continue
            cols = line.rstrip("\n\r").split("\t")
            if len(cols) != 9:
                raise InputError(path, f"expected 9 tab-separated columns, found {len(cols)}", record=f"line {lineno}")
            contig, _, ftype, s_txt, e_txt, _, strand, _, attr_text = cols
            if keep is not None and _contig_key(contig) not in keep:
                continue
            if fmt is None:
                fmt = "gtf" if _GTF_ATTR_RE.match(attr_text) and "=" not in attr_text.split(";")[0] else "gff3"
            try:
                start, end = int(s_txt), int(e_txt)
            except ValueError:
                raise InputError(path, f"start/end {s_txt!r}/{e_txt!r} are not integers", record=f"line {lineno}") from None
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
                    tx.biotype = (attrs.get("transcript_biotype") or attrs.get("transcript_type")
                                  or attrs.get("gene_biotype") or attrs.get("gene_type"))
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
                biotype=(attrs.get("biotype") or attrs.get("transcript_type") or attrs.get("transcript_biotype")
                         or gattrs.get("biotype") or gattrs.get("gene_type")),
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
    if not usable:
        raise InputError(path, "no exon features found: not a GTF/GFF3 gene model" + (
            f" or no transcript on contigs {sorted(keep)}" if keep else ""))
    model = GeneModel(str(path), usable)
    log.info("gene model %s: %s, %d transcripts on %d contigs", path, fmt, len(usable), len(model.contigs.names))
    return model


def classify(variants: pd.DataFrame, gene_model: GeneModel) -> pd.DataFrame:
    """Module-level alias of :meth:`GeneModel.classify`."""
    return gene_model.classify(variants)


# ---------------------------------------------------------------------------
# bcftools csq
# ---------------------------------------------------------------------------


def _run(argv: Sequence[str], what: str, path) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError(path, f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc


def _fai_contigs(fasta: Path) -> list[str]:
    fai = Path(str(fasta) + ".fai")
    if not fai.exists():
        pysam.faidx(str(fasta))
    return [ln.split("\t", 1)[0] for ln in fai.read_text().splitlines() if ln]


def most_severe_csq(bcsq: Sequence[str] | None) -> str | None:
    """The most severe consequence term in BCSQ entries (``csq|gene|tx|...``).

    Compound terms (``missense&splice_region``) count by their worst part; a
    leading ``*`` (consequence shared with an upstream variant on the haplotype)
    is ignored; ``@POS`` back-references carry no term and are skipped.
    """
    best, best_rank = None, len(CSQ_SEVERITY) + 1
    for entry in bcsq or ():
        if not entry or entry.startswith("@"):
            continue
        for term in entry.split("|", 1)[0].lstrip("*").split("&"):
            rank = _CSQ_RANK.get(term, len(CSQ_SEVERITY))
            if rank < best_rank:
                best, best_rank = term, rank
    return best


def consequences_bcftools_csq(
    vcf: str | os.PathLike,
    fasta: str | os.PathLike,
    gff: str | os.PathLike,
    out: str | os.PathLike,
    *,
    region: str | None = None,
) -> pd.DataFrame:
    """Run ``bcftools csq`` and return the most severe consequence per allele.

    The sites of ``vcf`` (optionally one ``region``, by POS) are split into one
    record per ALT (``bcftools norm -m -any``), renamed to the FASTA's contig
    spelling when it differs, and annotated with ``bcftools csq -l -s -``
    (per-record, sample-blind predictions: a cohort has no haplotypes to
    combine). ``gff`` must be an Ensembl-style GFF3 (bcftools csq refuses GTF).
    ``out`` receives the annotated sites BCF (with BCSQ), written atomically
    and indexed. Returns chrom (the query's spelling), pos, ref, alt,
    consequence (one term of :data:`CSQ_SEVERITY`, None if csq said nothing).
    """
    vcf, fasta, gff, out = Path(vcf), Path(fasta), Path(gff), Path(out)
    for p in (vcf, fasta, gff):
        if not p.exists():
            raise InputError(p, "file not found")
    with _open_text(gff) as fh:
        head = [next(fh, "") for _ in range(50)]
    if any(re.search(r'\t(gene|transcript)_id "', ln) for ln in head):
        raise InputError(gff, "bcftools csq needs an Ensembl GFF3, this is a GTF")
    fasta_map = _ContigMap(_fai_contigs(fasta))
    with pysam.VariantFile(str(vcf)) as vf:
        query_contigs = list(vf.header.contigs)
    rename = {c: fasta_map(c) for c in query_contigs if fasta_map(c) not in (None, c)}
    back = {v: k for k, v in rename.items()}
    with tempfile.TemporaryDirectory(prefix="genorisk-csq-", dir=out.parent if out.parent.exists() else None) as td:
        view = ["bcftools", "view", "-G", "-Ou", str(vcf)]
        if region:
            view[2:2] = ["-r", region, "--regions-overlap", "0"]
        steps = [view, ["bcftools", "norm", "-m", "-any", "-Ou"]]
        if rename:
            chr_map = Path(td) / "rename.tsv"
            chr_map.write_text("".join(f"{a}\t{b}\n" for a, b in rename.items()))
            steps.append(["bcftools", "annotate", "--no-version", "--rename-chrs", str(chr_map), "-Ou"])
        with atomic_output(out) as tmp:
            steps.append(["bcftools", "csq", "--no-version", "-l", "-s", "-", "-f", str(fasta), "-g", str(gff),
                          "-Ob", "-o", str(tmp)])
            _pipeline(steps, vcf)
            _run(["bcftools", "index", "-f", str(tmp)], "bcftools index", tmp)
            Path(str(tmp) + ".csi").replace(str(out) + ".csi")
    rows = []
    with pysam.VariantFile(str(out)) as vf:
        has_bcsq = "BCSQ" in vf.header.info
        for rec in vf:
            alt = rec.alts[0] if rec.alts else None
            if not _usable_alt(alt, rec.ref):
                continue
            bcsq = rec.info.get("BCSQ") if has_bcsq else None
            rows.append((back.get(rec.chrom, rec.chrom), rec.pos, rec.ref, alt, most_severe_csq(bcsq)))
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "consequence"]).astype(
        {"chrom": "str", "ref": "str", "alt": "str", "consequence": "str"})


def _pipeline(steps: list[list[str]], path) -> None:
    """Run ``steps`` as a shell-free pipe; raise InputError with the failing stage's stderr."""
    procs = []
    errs = []
    prev = None
    for i, argv in enumerate(steps):
        err = tempfile.TemporaryFile()
        errs.append(err)
        last = i == len(steps) - 1
        p = subprocess.Popen(argv, stdin=prev, stdout=None if last else subprocess.PIPE, stderr=err)
        if prev is not None:
            prev.close()
        prev = p.stdout
        procs.append(p)
    for argv, p, err in zip(steps, procs, errs):
        rc = p.wait()
        err.seek(0)
        msg = err.read().decode(errors="replace").strip()
        err.close()
        if rc != 0:
            raise InputError(path, f"{' '.join(argv[:2])} failed (exit {rc}): {msg[-2000:]}")


# ---------------------------------------------------------------------------
# Resource lookups (ClinVar, population AF, dbSNP)
# ---------------------------------------------------------------------------


def _open_indexed(path: str | os.PathLike, what: str) -> pysam.VariantFile:
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"{what} file not found")
    try:
        vf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot open {what} as VCF/BCF: {exc}") from None
    if vf.index is None:
        vf.close()
        raise InputError(path, f"{what} has no .tbi/.csi index (bgzip it and run `bcftools index -t`)")
    return vf


def _resource_contigs(vf: pysam.VariantFile) -> list[str]:
    return list(vf.index.keys()) if vf.index is not None else list(vf.header.contigs)


def _fetch_alleles(vf: pysam.VariantFile, contig: str, start: int, end: int | None, path) -> Iterator[tuple]:
    """Yield ``((pos, ref, alt), record, alt_index)`` for every usable allele in the region, minimal form."""
    try:
        it = vf.fetch(contig, start - 1, end)
    except ValueError as exc:
        raise InputError(path, f"cannot fetch {contig}:{start}-{end or ''}: {exc}") from None
    for rec in it:
        for i, alt in enumerate(rec.alts or ()):
            if _usable_alt(alt, rec.ref):
                yield minimal_allele(rec.pos, rec.ref, alt), rec, i


def _info_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        items = [str(v) for v in value if v is not None]
        return ",".join(items) if items else None
    return str(value)


def _per_allele(rec: pysam.VariantRecord, key: str, alt_index: int):
    value = rec.info.get(key)
    if isinstance(value, tuple):
        number = rec.header.info[key].number
        if number == "A":
            return value[alt_index] if alt_index < len(value) else None
        if number == "R":
            return value[alt_index + 1] if alt_index + 1 < len(value) else None
        return value[0] if len(value) == 1 else value
    return value


def _lookup_clinvar(path, contig, start, end) -> dict[tuple, tuple]:
    out: dict[tuple, tuple] = {}
    with _open_indexed(path, "ClinVar") as vf:
        cmap = _ContigMap(_resource_contigs(vf))
        rc = cmap(contig)
        if rc is None:
            return out
        for key, rec, _ in _fetch_alleles(vf, rc, start, end, path):
            geneinfo = rec.info.get("GENEINFO") if "GENEINFO" in rec.header.info else None
            genes = None
            if geneinfo:
                text = _info_text(geneinfo)
                genes = "|".join(g.split(":", 1)[0] for g in text.split("|") if g)
            out.setdefault(key, (
                _info_text(rec.info.get("CLNSIG")) if "CLNSIG" in rec.header.info else None,
                _info_text(rec.info.get("CLNREVSTAT")) if "CLNREVSTAT" in rec.header.info else None,
                rec.id,
                genes,
            ))
    return out


def _lookup_af(path, key_name, contig, start, end) -> dict[tuple, float]:
    out: dict[tuple, float] = {}
    with _open_indexed(path, "population AF") as vf:
        if key_name not in vf.header.info:
            known = ", ".join(k for k in vf.header.info if k.startswith("AF"))[:300]
            raise InputError(path, f"INFO/{key_name} is not declared in the header (AF keys here: {known or 'none'})",
                             record="header")
        cmap = _ContigMap(_resource_contigs(vf))
        rc = cmap(contig)
        if rc is None:
            return out
        for key, rec, i in _fetch_alleles(vf, rc, start, end, path):
            value = _per_allele(rec, key_name, i)
            if isinstance(value, tuple):
                raise InputError(path, f"INFO/{key_name} has {len(value)} values for one allele; "
                                 "use a Number=A or Number=1 key", record=f"{rec.chrom}:{rec.pos}")
            if value is not None and key not in out:
                out[key] = float(value)
    return out


def _lookup_rsid(path, contig, start, end) -> dict[tuple, str]:
    out: dict[tuple, str] = {}
    with _open_indexed(path, "dbSNP") as vf:
        cmap = _ContigMap(_resource_contigs(vf))
        rc = cmap(contig)
        if rc is None:
            return out
        has_rs = "RS" in vf.header.info
        for key, rec, _ in _fetch_alleles(vf, rc, start, end, path):
            rsid = None
            if rec.id and rec.id.startswith("rs"):
                rsid = rec.id.split(";")[0]
            elif has_rs and rec.info.get("RS") is not None:
                rs = rec.info.get("RS")
                rsid = f"rs{rs[0] if isinstance(rs, tuple) else rs}"
            if rsid:
                out.setdefault(key, rsid)
    return out


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def read_sites(vcf: str | os.PathLike, region: str | None = None) -> pd.DataFrame:
    """chrom, pos, ref, alt of every usable ALT allele in ``vcf`` (or in ``region``, by POS)."""
    vcf = Path(vcf)
    if not vcf.exists():
        raise InputError(vcf, "VCF not found")
    chroms: list[str] = []
    poss: list[int] = []
    refs: list[str] = []
    alts: list[str] = []
    t0 = time.perf_counter()
    n_rec = 0
    with pysam.VariantFile(str(vcf), drop_samples=True) as vf:
        if region is None:
            it = vf.fetch() if vf.index is not None else iter(vf)
            lo, hi = 1, None
        else:
            if vf.index is None:
                raise InputError(vcf, "a region was asked for but the VCF has no .tbi/.csi index")
            contig, lo, hi = parse_region(region)
            if contig not in vf.header.contigs and contig not in vf.index:
                return _empty_sites()
            it = vf.fetch(contig, lo - 1, hi)
        for rec in it:
            if region is not None and (rec.pos < lo or (hi is not None and rec.pos > hi)):
                continue  # overlaps the region but starts outside it: another chunk owns it
            n_rec += 1
            for alt in rec.alts or ():
                if _usable_alt(alt, rec.ref):
                    chroms.append(rec.chrom)
                    poss.append(rec.pos)
                    refs.append(rec.ref)
                    alts.append(alt)
            if n_rec % 200_000 == 0:
                log.info("read %d records (%.0f/s)", n_rec, n_rec / (time.perf_counter() - t0))
    return pd.DataFrame({
        "chrom": pd.array(chroms, dtype="str"),
        "pos": np.asarray(poss, dtype=np.int64),
        "ref": pd.array(refs, dtype="str"),
        "alt": pd.array(alts, dtype="str"),
    })


def _empty_sites() -> pd.DataFrame:
    return pd.DataFrame({"chrom": pd.array([], dtype="str"), "pos": np.array([], dtype=np.int64),
                         "ref": pd.array([], dtype="str"), "alt": pd.array([], dtype="str")})


def annotate_table(
    vcf: str | os.PathLike,
    *,
    region: str | None = None,
    gene_model: GeneModel | str | os.PathLike | None = None,
    clinvar: str | os.PathLike | None = None,
    population_af: str | os.PathLike | None = None,
    population_af_key: str = "AF",
    dbsnp: str | os.PathLike | None = None,
    fasta: str | os.PathLike | None = None,
    csq_out: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """One row per ALT allele of ``vcf`` (in ``region`` if given) with its annotations.

    Columns: :data:`TABLE_COLUMNS`. Every source is optional; a column whose
    source is not given is all missing. gene/gene_id/transcript/biotype/
    region_class come from ``gene_model`` (a :class:`GeneModel` or a GTF/GFF3
    path); consequence from ``bcftools csq`` when ``fasta`` is given (then
    ``gene_model`` must be a GFF3 path or a GeneModel read from one; the csq
    BCF goes to ``csq_out`` or a temporary file). clinvar_* (CLNSIG,
    CLNREVSTAT, the record ID, GENEINFO symbols), population_af (INFO
    ``population_af_key``, per allele for Number=A) and rsid (ID, else INFO/RS)
    come from indexed VCFs by exact allele match (see the module docstring).
    Resources are fetched over the span of the chunk's variants only.
    """
    t0 = time.perf_counter()
    sites = read_sites(vcf, region)
    table = sites.copy()
    n = len(table)
    if isinstance(gene_model, (str, os.PathLike)):
        contigs = pd.unique(table["chrom"]).tolist() if n else None
        gene_model = read_gene_model(gene_model, contigs=contigs or None)
    if gene_model is not None:
        table = gene_model.classify(table)
    else:
        for col in ("gene", "gene_id", "transcript", "biotype", "region_class"):
            table[col] = pd.array([None] * n, dtype="str")

    table["consequence"] = pd.array([None] * n, dtype="str")
    if fasta is not None and n:
        if gene_model is None:
            raise InputError(fasta, "a FASTA was given for consequences but no gene model (GFF3) to go with it")
        gff = gene_model.path
        with tempfile.TemporaryDirectory(prefix="genorisk-csq-") as td:
            out = Path(csq_out) if csq_out else Path(td) / "csq.bcf"
            csq = consequences_bcftools_csq(vcf, fasta, gff, out, region=region)
        table = _left_join(table, csq, ["consequence"])

    clin_cols = ["clinvar_significance", "clinvar_review_status", "clinvar_id", "clinvar_gene"]
    values = {c: [None] * n for c in clin_cols}
    af = np.full(n, np.nan)
    rsid: list[str | None] = [None] * n
    if n and (clinvar or population_af or dbsnp):
        keys = [minimal_allele(int(p), r, a) for p, r, a in zip(table["pos"], table["ref"], table["alt"])]
        chrom = table["chrom"].to_numpy(dtype=object)
        pos = table["pos"].to_numpy()
        ref_end = pos + table["ref"].str.len().to_numpy(dtype=np.int64) - 1
        for contig in pd.unique(chrom):
            rows = np.flatnonzero(chrom == contig)
            lo, hi = int(pos[rows].min()), int(ref_end[rows].max())
            if clinvar:
                found = _lookup_clinvar(clinvar, contig, lo, hi)
                for j in rows:
                    hit = found.get(keys[j])
                    if hit:
                        for c, v in zip(clin_cols, hit):
                            values[c][j] = v
            if population_af:
                found_af = _lookup_af(population_af, population_af_key, contig, lo, hi)
                for j in rows:
                    v = found_af.get(keys[j])
                    if v is not None:
                        af[j] = v
            if dbsnp:
                found_rs = _lookup_rsid(dbsnp, contig, lo, hi)
                for j in rows:
                    rsid[j] = found_rs.get(keys[j])
    for c in clin_cols:
        table[c] = pd.array(values[c], dtype="str")
    table["population_af"] = af
    table["rsid"] = pd.array(rsid, dtype="str")
    table = table[list(TABLE_COLUMNS)].reset_index(drop=True)
    dt = time.perf_counter() - t0
    log.info("annotated %d alleles%s in %.1f s (%.0f alleles/s): %d ClinVar, %d AF, %d rsID matches",
             n, f" in {region}" if region else "", dt, n / dt if dt > 0 else 0.0,
             table["clinvar_significance"].notna().sum() if n else 0,
             int(np.isfinite(af).sum()), table["rsid"].notna().sum() if n else 0)
    return table


def _left_join(table: pd.DataFrame, other: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    keys = ["chrom", "pos", "ref", "alt"]
    other = other.drop_duplicates(keys)
    merged = table.drop(columns=cols).merge(other[keys + cols], on=keys, how="left", sort=False)
    return merged


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the variant table as Parquet, atomically (column types kept: str, int64, float64)."""
    schema = pa.schema([(c, pa.int64() if c == "pos" else pa.float64() if c == "population_af" else pa.string())
                        for c in TABLE_COLUMNS])
    arrow = pa.Table.from_pandas(table[list(TABLE_COLUMNS)], schema=schema, preserve_index=False)
    with atomic_output(path) as tmp:
        pq.write_table(arrow, tmp)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table`."""
    return pd.read_parquet(path)


# ---------------------------------------------------------------------------
# The annotated VCF/BCF
# ---------------------------------------------------------------------------

_INFO_UNSAFE_RE = r"[;=\s]"


def _info_column(values: pd.Series, number: str, typ: str) -> pd.Series:
    """One annotation column as INFO text: ``.`` when missing, floats as %.6g,
    ``;``/``=``/whitespace replaced by ``_`` (and ``,`` by ``|`` for Number=1)."""
    if typ == "Float":
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        text = np.where(np.isfinite(num), np.char.mod("%.6g", np.nan_to_num(num)), ".")
        return pd.Series(text, index=values.index)
    text = values.astype("str").str.replace(_INFO_UNSAFE_RE, "_", regex=True)
    if number != ".":
        text = text.str.replace(",", "|", regex=False)
    return text.fillna(".")


def write_annotated(
    vcf: str | os.PathLike,
    table: pd.DataFrame,
    out_path: str | os.PathLike,
    *,
    region: str | None = None,
) -> None:
    """Write ``vcf`` (or its ``region``, by POS) with the table's annotations as INFO, indexed.

    Multiallelic records are split (``bcftools norm -m -any``) so each record
    carries its one ALT's annotations. New INFO fields are declared in the
    header (:data:`INFO_FIELDS`: GR_GENE, GR_GENE_ID, GR_TRANSCRIPT, GR_REGION,
    GR_CSQ, GR_CLNSIG, GR_CLNREVSTAT, GR_CLNID, GR_AF); ID is set from ``rsid``
    where dbSNP matched (other IDs are kept). Values have ``;``, ``=`` and
    whitespace replaced by ``_``. Output type by suffix (``.bcf`` or
    ``.vcf.gz``); written through a temporary file and renamed with its CSI
    index, so a failure leaves nothing behind. The engine is
    ``bcftools annotate -a table.tsv.gz``.
    """
    vcf, out_path = Path(vcf), Path(out_path)
    out_type = "b" if out_path.name.endswith(".bcf") else "z"
    cols = [c for c in INFO_FIELDS if c in table.columns]
    with tempfile.TemporaryDirectory(prefix="genorisk-annot-", dir=out_path.parent if out_path.parent.exists() else None) as td:
        td = Path(td)
        tsv = td / "annotations.tsv"
        ann = table.sort_values(["chrom", "pos"], kind="stable")
        out = pd.DataFrame({"chrom": ann["chrom"], "pos": ann["pos"], "ref": ann["ref"], "alt": ann["alt"]})
        out["id"] = ann["rsid"].fillna(".") if "rsid" in ann else "."
        for c in cols:
            out[c] = _info_column(ann[c], INFO_FIELDS[c][1], INFO_FIELDS[c][2])
        out.to_csv(tsv, sep="\t", header=False, index=False)
        pysam.tabix_index(str(tsv), seq_col=0, start_col=1, end_col=1, force=True)
        header = td / "header.txt"
        header.write_text("".join(
            f'##INFO=<ID={INFO_FIELDS[c][0]},Number={INFO_FIELDS[c][1]},Type={INFO_FIELDS[c][2]},'
            f'Description="{INFO_FIELDS[c][3]}">\n' for c in cols))
        columns = "CHROM,POS,REF,ALT,ID," + ",".join(f"INFO/{INFO_FIELDS[c][0]}" for c in cols)
        view = ["bcftools", "view", "--no-version", "-Ou", str(vcf)]
        if region:
            view[2:2] = ["-r", region, "--regions-overlap", "0"]
        with atomic_output(out_path) as tmp:
            _pipeline([
                view,
                ["bcftools", "norm", "--no-version", "-m", "-any", "-Ou"],
                ["bcftools", "annotate", "--no-version", "-a", str(tsv) + ".gz", "-c", columns,
                 "-h", str(header), f"-O{out_type}", "-o", str(tmp)],
            ], vcf)
            _run(["bcftools", "index", "-f", str(tmp)], "bcftools index", tmp)
            Path(str(tmp) + ".csi").replace(str(out_path) + ".csi")
    log.info("wrote %s (%d annotated alleles)", out_path, len(table))


# ---------------------------------------------------------------------------
# Scatter / gather
# ---------------------------------------------------------------------------


def _read_index_offsets(vcf: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, int]]:
    """Per contig, window start positions and BGZF virtual offsets from the .tbi/.csi.

    Returns ``({contig: (window_start_bp, virtual_offset)}, {contig: n_records})``.
    The offset at which a window's first record starts grows with the number of
    records before it, which is what balances the chunks.
    """
    tbi, csi = Path(str(vcf) + ".tbi"), Path(str(vcf) + ".csi")
    idx_path = tbi if tbi.exists() else csi if csi.exists() else None
    if idx_path is None:
        raise InputError(vcf, "no .tbi or .csi index next to the VCF/BCF (run `bcftools index`)")
    raw = idx_path.read_bytes()
    try:
        return _parse_index(raw, idx_path.suffix, vcf)
    except (struct.error, IndexError, ValueError) as exc:
        raise InputError(idx_path, f"cannot parse index: {exc}") from None


def _parse_index(raw: bytes, kind: str, vcf: Path):
    # Indexes are BGZF: concatenated gzip members, all of them needed.
    data = _gunzip_all(raw)
    off = 0

    def take(fmt: str):
        nonlocal off
        vals = struct.unpack_from("<" + fmt, data, off)
        off += struct.calcsize("<" + fmt)
        return vals

    names: list[str]
    if kind == ".tbi":
        if data[:4] != b"TBI\x01":
            raise ValueError("not a TBI index")
        off = 4
        n_ref, _fmt, _cs, _cb, _ce, _meta, _skip, l_nm = take("8i")
        names = [n.decode() for n in data[off : off + l_nm].split(b"\x00") if n]
        off += l_nm
        min_shift, depth = 14, 5
    else:
        if data[:4] != b"CSI\x01":
            raise ValueError("not a CSI index")
        off = 4
        min_shift, depth, l_aux = take("3i")
        aux = data[off : off + l_aux]
        off += l_aux
        (n_ref,) = take("i")
        if l_aux >= 28:
            l_nm = struct.unpack_from("<i", aux, 24)[0]
            names = [n.decode() for n in aux[28 : 28 + l_nm].split(b"\x00") if n]
        else:
            with pysam.VariantFile(str(vcf)) as vf:
                names = list(vf.header.contigs)
    leaf_first = ((1 << (3 * depth)) - 1) // 7
    meta_bin = ((1 << (3 * (depth + 1))) - 1) // 7 + 1  # holds offsets and record counts (37450 at depth 5)
    offsets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    counts: dict[str, int] = {}
    for r in range(n_ref):
        (n_bin,) = take("i")
        wins: list[int] = []
        offs: list[int] = []
        n_rec = 0
        for _ in range(n_bin):
            if kind == ".tbi":
                (bin_no, n_chunk) = take("Ii")
                loff = None
            else:
                (bin_no,) = take("I")
                (loff,) = take("Q")
                (n_chunk,) = take("i")
            chunks = take(f"{2 * n_chunk}Q") if n_chunk else ()
            if bin_no == meta_bin:
                if n_chunk == 2:
                    n_rec = int(chunks[2])
                continue
            if leaf_first <= bin_no < leaf_first + (1 << (3 * depth)):
                wins.append((bin_no - leaf_first) << min_shift)
                offs.append(loff if loff is not None else chunks[0])
        if kind == ".tbi":
            (n_intv,) = take("i")
            ioff = take(f"{n_intv}Q") if n_intv else ()
            wins = [i << 14 for i in range(n_intv)]
            offs = list(ioff)
        name = names[r] if r < len(names) else str(r)
        order = np.argsort(np.asarray(wins, dtype=np.int64), kind="stable")
        offsets[name] = (np.asarray(wins, dtype=np.int64)[order] + 1, np.asarray(offs, dtype=np.int64)[order])
        counts[name] = n_rec
    return offsets, counts


def _gunzip_all(raw: bytes) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    out = bytearray()
    while raw:
        d = zlib.decompressobj(31)
        out += d.decompress(raw)
        raw = d.unused_data
    return bytes(out)


def _uncompressed_positions(path: Path, voffsets: np.ndarray) -> np.ndarray:
    """Turn BGZF virtual offsets into offsets in the uncompressed stream.

    Reads every BGZF block header (18 bytes) and ISIZE footer to learn where
    each block starts in the uncompressed data; cheap next to reading records.
    """
    starts: list[int] = []
    sizes: list[int] = []
    with open(path, "rb") as fh:
        pos = 0
        while True:
            fh.seek(pos)
            head = fh.read(12)
            if len(head) < 12:
                break
            if head[:4] != b"\x1f\x8b\x08\x04":
                raise InputError(path, "not BGZF-compressed (cannot plan chunks from its index)", record=f"byte {pos}")
            xlen = struct.unpack_from("<H", head, 10)[0]
            extra = fh.read(xlen)
            bsize = None
            i = 0
            while i + 4 <= len(extra):
                si1, si2, slen = extra[i], extra[i + 1], struct.unpack_from("<H", extra, i + 2)[0]
                if si1 == 66 and si2 == 67 and slen == 2:
                    bsize = struct.unpack_from("<H", extra, i + 4)[0] + 1
                i += 4 + slen
            if bsize is None:
                raise InputError(path, "BGZF block without BSIZE", record=f"byte {pos}")
            fh.seek(pos + bsize - 4)
            isize = struct.unpack("<I", fh.read(4))[0]
            starts.append(pos)
            sizes.append(isize)
            pos += bsize
    block_starts = np.asarray(starts, dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    coff = voffsets >> 16
    k = np.clip(np.searchsorted(block_starts, coff, side="right") - 1, 0, max(len(block_starts) - 1, 0))
    return cum[k] + (voffsets & 0xFFFF)


def plan_chunks(vcf: str | os.PathLike, n_chunks: int | None = None, chunk_bp: int | None = None) -> list[str]:
    """Regions ``chrom:start-end`` that partition the VCF's records for scatter/gather.

    Give ``n_chunks`` (about that many chunks, balanced by record count) or
    ``chunk_bp`` (fixed-width windows, empty ones dropped). Counts come from
    the .tbi/.csi index: records per contig, and within a contig the offsets
    of its first record in each 16 kb window (TBI linear index; CSI leaf
    bins), mapped to the uncompressed stream through the BGZF block sizes, so
    a chunk boundary falls where the file has grown by 1/n of its bytes
    (records of a cohort VCF have near-constant size). The
    regions tile each contig from 1 to its last indexed window (or header
    length), are ordered as the file, and own records by POS (see module doc).
    """
    vcf = Path(vcf)
    if (n_chunks is None) == (chunk_bp is None):
        raise ValueError("give exactly one of n_chunks or chunk_bp")
    offsets, counts = _read_index_offsets(vcf)
    with pysam.VariantFile(str(vcf)) as vf:
        lengths = {c: vf.header.contigs[c].length for c in vf.header.contigs}
        order = list(vf.header.contigs)
    contigs = [c for c in order if counts.get(c, 0) > 0] + [c for c in offsets if c not in order and counts.get(c, 0) > 0]
    regions: list[str] = []
    if chunk_bp is not None:
        for c in contigs:
            wins, _ = offsets[c]
            last = int(wins[-1]) + (1 << 14) - 1 if len(wins) else (lengths.get(c) or 1)
            end = max(last, 1)
            for s in range(1, end + 1, chunk_bp):
                regions.append(f"{c}:{s}-{min(s + chunk_bp - 1, end)}")
        # Windows without records are kept: cheap, and dropping needs a file pass.
        return regions
    total = sum(counts[c] for c in contigs)
    for c in contigs:
        k = max(1, round(n_chunks * counts[c] / total)) if total else 1
        wins, offs = offsets[c]
        if len(wins) < 2 or k == 1:
            regions.append(c)
            continue
        # Record offsets in the uncompressed stream, non-decreasing over windows.
        offs = np.maximum.accumulate(_uncompressed_positions(vcf, offs))
        targets = offs[0] + (offs[-1] - offs[0]) * np.arange(1, k) / k
        cut_windows = np.unique(np.searchsorted(offs, targets, side="left"))
        cut_windows = cut_windows[(cut_windows > 0) & (cut_windows < len(wins))]
        starts = [1] + [int(wins[w]) for w in cut_windows]
        ends = [s - 1 for s in starts[1:]] + [None]
        for s, e in zip(starts, ends):
            regions.append(f"{c}:{s}" + (f"-{e}" if e is not None else f"-{max(lengths.get(c) or 0, int(wins[-1]) + (1 << 14))}"))
    return regions


def gather(
    tables: Sequence[str | os.PathLike],
    bcfs: Sequence[str | os.PathLike],
    out_table: str | os.PathLike,
    out_bcf: str | os.PathLike,
) -> None:
    """Concatenate per-chunk tables (Parquet) and BCFs, in the given (chunk) order.

    BCFs are joined with ``bcftools concat --naive`` (no recompression; the
    chunk headers are identical because every chunk is written the same way
    with ``--no-version``) and indexed; indexing fails, and nothing is written,
    if the chunks are out of order. Both outputs are atomic.
    """
    if len(tables) != len(bcfs):
        raise ValueError(f"{len(tables)} tables but {len(bcfs)} BCFs")
    for p in [*tables, *bcfs]:
        if not Path(p).exists():
            raise InputError(p, "chunk output not found")
    parts = [pq.read_table(p) for p in tables]
    with atomic_output(out_table) as tmp:
        pq.write_table(pa.concat_tables(parts) if parts else pa.table({c: [] for c in TABLE_COLUMNS}), tmp)
    out_bcf = Path(out_bcf)
    naive = all(str(p).endswith(".bcf") for p in bcfs) and out_bcf.name.endswith(".bcf")
    with atomic_output(out_bcf) as tmp:
        argv = ["bcftools", "concat", "--no-version", *(["--naive"] if naive else ["-Ob" if out_bcf.name.endswith(".bcf") else "-Oz"]),
                "-o", str(tmp), *map(str, bcfs)]
        _run(argv, "bcftools concat", out_bcf)
        _run(["bcftools", "index", "-f", str(tmp)], "bcftools index (are the chunks in order?)", out_bcf)
        Path(str(tmp) + ".csi").replace(str(out_bcf) + ".csi")
    log.info("gathered %d chunks into %s and %s", len(bcfs), out_table, out_bcf)
