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
  split; missing and REF-equal ALTs get no row. Every row has an
  ``allele_class`` (:data:`ALLELE_CLASSES`). Symbolic (``<DEL>``), breakend and
  ``*`` alleles are kept and get the gene-model columns over their span
  (``end`` from INFO/END); allele-matched sources (consequence, ClinVar,
  population AF, dbSNP) annotate sequence alleles only (SNV, MNV, indel),
  which are also the only ones the feature stage turns into dosages.
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

import csv
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
from typing import Iterable, Sequence
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pysam

from genorisk.errors import InputError
from genorisk.io import atomic_output, write_json
from genorisk.vcf import ContigMap, contig_key, fasta_contigs

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

#: Allele classes of the variant table. Sequence classes first; only they are
#: matched against allele-level sources and become dosage features.
ALLELE_CLASSES = ("SNV", "MNV", "indel", "symbolic", "breakend", "star")
SEQUENCE_CLASSES = ("SNV", "MNV", "indel")

#: Columns of the variant table, in order. ``end`` is the last reference base
#: the record covers (POS + len(REF) - 1, or INFO/END for symbolic alleles).
TABLE_COLUMNS = (
    "chrom", "pos", "end", "ref", "alt", "allele_class", "gene", "gene_id", "transcript", "biotype", "region_class",
    "consequence", "clinvar_significance", "clinvar_review_status", "clinvar_id", "clinvar_gene",
    "population_af", "rsid",
)
_STR_COLUMNS = tuple(c for c in TABLE_COLUMNS if c not in ("pos", "end", "population_af"))

#: Table column -> (INFO tag, Number, Type, Description) written by write_annotated.
INFO_FIELDS = {
    "allele_class": ("GR_CLASS", "1", "String", "genorisk: allele class: " + ", ".join(ALLELE_CLASSES)),
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


def allele_classes(ref: pd.Series, alt: pd.Series) -> np.ndarray:
    """:data:`ALLELE_CLASSES` label of each REF/ALT pair (object array).

    ``*`` -> star; ``<...>`` -> symbolic; ``[``/``]`` or a leading/trailing
    ``.`` -> breakend; same length after trimming shared bases -> SNV (1 base)
    or MNV; else indel.
    """
    ref_s, alt_s = ref.astype("str").str.upper(), alt.astype("str").str.upper()
    out = np.full(len(alt_s), "indel", dtype=object)
    same_len = (ref_s.str.len() == alt_s.str.len()).to_numpy()
    out[same_len] = "MNV"
    snv = same_len & (ref_s.str.len() == 1).to_numpy()
    out[snv] = "SNV"
    for j in np.flatnonzero(same_len & ~snv):  # MNVs that share bases may trim to an SNV
        _, r, a = minimal_allele(0, ref_s.iat[j], alt_s.iat[j])
        if len(r) == 1:
            out[j] = "SNV"
    breakend = (alt_s.str.contains(r"[\[\]]", regex=True) | ((alt_s.str.len() > 1)
                & (alt_s.str.startswith(".") | alt_s.str.endswith(".")))).to_numpy()
    out[breakend] = "breakend"
    out[alt_s.str.startswith("<").to_numpy()] = "symbolic"
    out[(alt_s == "*").to_numpy()] = "star"
    return out


def variant_spans(variants: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """First and last reference base each variant changes (1-based, inclusive).

    Sequence alleles: :func:`affected_span`. Symbolic alleles: the bases after
    the padding base up to ``end`` (INFO/END), e.g. ``<DEL>`` at 100 with END=500
    -> 101..500; without an END beyond POS, and for ``<INS>``, POS..POS+1.
    Breakends: POS. ``*``: the REF bases.
    """
    pos = variants["pos"].to_numpy(dtype=np.int64)
    ref = variants["ref"].astype("str")
    lo = pos.copy()
    hi = pos + ref.str.len().to_numpy(dtype=np.int64) - 1
    cls = (variants["allele_class"].to_numpy(dtype=object) if "allele_class" in variants
           else allele_classes(ref, variants["alt"]))
    end = variants["end"].to_numpy(dtype=np.int64) if "end" in variants else hi
    alts = variants["alt"].astype("str").to_numpy(dtype=object)
    for j in np.flatnonzero((cls != "SNV") & (cls != "star")):
        if cls[j] in ("MNV", "indel"):
            lo[j], hi[j] = affected_span(int(pos[j]), ref.iat[j], alts[j])
        elif cls[j] == "symbolic" and end[j] > pos[j] and not alts[j].upper().startswith("<INS"):
            lo[j], hi[j] = pos[j] + 1, end[j]
        elif cls[j] == "symbolic":
            hi[j] = pos[j] + 1
        else:  # breakend
            hi[j] = pos[j]
    return lo, hi


def _usable_alt(alt: str | None, ref: str | None = None) -> bool:
    """A sequence ALT that differs from REF (not symbolic, breakend, ``*`` or missing)."""
    return (bool(alt) and alt not in ("*", ".") and not alt.startswith("<") and "[" not in alt
            and "]" not in alt and (ref is None or alt.upper() != ref.upper()))


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
        keep = {contig_key(c) for c in contigs}
    fmt: str | None = None
    records: dict[str, tuple[str, str | None, dict[str, str], set[str]]] = {}  # GFF3 ID -> (type, parent, attrs, tags)
    transcripts: dict[str, _Transcript] = {}
    parts_of: dict[str, list[tuple[str, int, int, str, str]]] = {}  # GFF3: parent -> (type, s, e, contig, strand)
    skipped_contigs: set[str] = set()
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
            if keep is not None and contig_key(contig) not in keep:
                skipped_contigs.add(contig)
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
    if not usable and keep is not None and skipped_contigs:
        # A gene model of other chromosomes (chr21 only, and a chunk on chrX):
        # its variants are intergenic as far as this model knows.
        log.warning("gene model %s has no transcript on %s (it covers %s): those variants get no gene",
                    path, ", ".join(sorted(contigs)), ", ".join(sorted(skipped_contigs)[:5]))
        return GeneModel(str(path), [])
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
    fasta_map = ContigMap(fasta_contigs(fasta))
    with pysam.VariantFile(str(vcf)) as vf:
        query_contigs = list(vf.header.contigs)
    rename = fasta_map.renaming(query_contigs)
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
# Resource lookups (ClinVar, population AF, dbSNP) and the query's sites
# ---------------------------------------------------------------------------
#
# Records are read as text through ``bcftools query`` into pandas (the C
# parser), and alleles are matched with one merge per source. This replaced a
# per-record pysam loop that was 6x slower on 100k sites (bench/cases/annotate.py).

_SITE_COLUMNS = ["chrom", "pos", "ref", "alt"]


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


#: Resources up to this size get the full check (one pass over every record);
#: larger ones (a whole-genome gnomAD is hundreds of GB) get sampled probes.
FULL_CHECK_MAX_BYTES = 2 << 30
_BGZF_MAGIC = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"


def _record_counts(path: Path, what: str) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Records, first POS and last POS per contig, in one ``bcftools query`` pass (bounded memory)."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    argv = ["bcftools", "query", "-f", "%CHROM\t%POS\n", str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        try:
            for part in pd.read_csv(proc.stdout, sep="\t", header=None, names=["chrom", "pos"],
                                    dtype={"chrom": str, "pos": np.int64}, chunksize=1_000_000):
                for chrom, grp in part.groupby("chrom", sort=False):
                    p = grp["pos"].to_numpy()
                    counts[chrom] = counts.get(chrom, 0) + len(p)
                    first.setdefault(chrom, int(p[0]))
                    last[chrom] = int(p[-1])
        except pd.errors.EmptyDataError:
            pass
        finally:
            proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise InputError(path, f"cannot read {what}: {err.read().decode(errors='replace').strip()[-2000:]}")
    return counts, first, last


def _sampled_records(path: Path, n: int, seed: int = 0) -> list[tuple[str, int]]:
    """(CHROM, POS) of about ``n`` records read at random places of a BGZF file, without its index.

    Each probe seeks to a random byte, finds the next BGZF block header,
    inflates that block and the next, and takes the first whole line after
    the first newline. Costs n seeks and 2n block inflations.
    """
    size = path.stat().st_size
    rng = np.random.default_rng(seed)
    found: list[tuple[str, int]] = []
    with open(path, "rb") as fh:
        for offset in np.sort(rng.integers(0, max(size - 1, 1), size=n)).tolist():
            fh.seek(offset)
            raw = fh.read(3 << 16)
            k = raw.find(_BGZF_MAGIC)
            if k < 0:
                continue
            text = b""
            for _ in range(2):  # a line may run over into the next block
                if k + 18 > len(raw):
                    break
                bsize = int.from_bytes(raw[k + 16 : k + 18], "little") + 1
                try:
                    text += zlib.decompress(raw[k + 18 : k + bsize - 8], -15)
                except zlib.error:
                    break
                k += bsize
            lines = text.split(b"\n")
            for line in lines[1:-1]:  # whole lines only
                if line and not line.startswith(b"#"):
                    f = line.split(b"\t", 2)
                    if len(f) > 2 and f[1].isdigit():
                        found.append((f[0].decode(errors="replace"), int(f[1])))
                    break
    return found


def validate_resource(path: str | os.PathLike, what: str, *, genome_build: str | None = None,
                      full_check_max_bytes: int = FULL_CHECK_MAX_BYTES) -> dict:
    """Check an indexed annotation resource (ClinVar, population AF, dbSNP, a panel) before any lookup.

    A lookup through an index of another file, or of an older version of the
    file, finds nothing and raises nothing, so every configured resource is
    checked once. Files up to ``full_check_max_bytes``: the index must belong
    to the file (:func:`genorisk.vcf.validate_index` with the records per
    contig and the first and last record of each contig, counted in one
    ``bcftools query`` pass), and with ``genome_build`` a record beyond the
    end of its chromosome in that build is an error. Larger files: the first
    5 records and about 200 read at random places of the file, without the
    index, must each be found by a region query through the index (a foreign index misses
    almost all of them). In both modes an index older than its file is a
    warning once it passes the check (downloads and copies reorder
    timestamps), and ``##contig`` lengths of another build are an error.
    Returns a summary (mode, records, contigs, detected build, index,
    warnings); raises InputError.
    """
    from genorisk.vcf import _contig_table, detect_genome_build, validate_index

    path = Path(path)
    with _open_indexed(path, what) as vf:
        lengths = {c: vf.header.contigs[c].length for c in vf.header.contigs if vf.header.contigs[c].length}
    indexes = [Path(str(path) + suffix) for suffix in (".csi", ".tbi") if Path(str(path) + suffix).exists()]
    if not indexes:
        raise InputError(path, f"{what} has no .tbi/.csi index beside it (bcftools index -t {path.name})")
    build, evidence = detect_genome_build(lengths)
    if genome_build is not None and build is not None and build != genome_build:
        raise InputError(path, f"{what} is {build} ({evidence}), the pipeline is configured for {genome_build}",
                         record="header")
    warnings: list[str] = []
    full = path.stat().st_size <= full_check_max_bytes
    if full:
        counts, first, last = _record_counts(path, what)
        if genome_build is not None:
            table = _contig_table()[genome_build]
            for chrom, pos in last.items():
                length = table.get(contig_key(chrom)) or table.get(chrom)
                if length and pos > length:
                    raise InputError(path, f"POS {pos} is beyond the end of {chrom} in {genome_build} "
                                     f"({length} bp): a file of another genome build?", record=f"{chrom}:{pos}")
        probes = [(c, p) for c in counts for p in {first[c], last[c]}]
        for index in indexes:
            warnings += validate_index(index, path, records_per_contig=counts, probes=probes)
        n_records: int | None = int(sum(counts.values()))
        contigs = sorted(counts)
    else:
        with pysam.VariantFile(str(path), drop_samples=True) as vf:  # iteration reads from the start, no index
            sample = [(r.chrom, r.pos) for _, r in zip(range(5), vf)]
        sample += _sampled_records(path, 200)
        for index in indexes:
            if index.stat().st_mtime + 1 < path.stat().st_mtime:
                warnings.append(f"{index}: index is older than {path.name}; checked it against sampled records")
            try:
                with pysam.VariantFile(str(path), index_filename=str(index)) as vf:
                    missed = [(c, p) for c, p in sample if not any(r.pos == p for r in vf.fetch(c, p - 1, p))]
            except (OSError, ValueError) as err:  # offsets into the wrong file: reads past its end
                raise InputError(index, f"index does not belong to {path.name} or is corrupt: region queries "
                                 f"fail ({err})") from None
            if len(missed) > len(sample) // 20:  # a few may be misread lines; a foreign index misses most
                c, p = missed[0]
                raise InputError(index, f"index does not belong to {path.name}: region queries miss "
                                 f"{len(missed)} of {len(sample)} records sampled from the file (e.g. {c}:{p})")
        n_records, contigs = None, sorted({c for c, _ in sample})
    if genome_build is not None and build is None:
        warnings.append(f"{path}: no ##contig lengths to tell the genome build by"
                        + (f"; positions were checked against {genome_build}" if full else ""))
    for w in warnings:
        log.warning("%s", w)
    log.info("%s %s: %s check, %s records on %d contigs, build %s, index %s", what, path,
             "full" if full else "sampled", n_records if n_records is not None else "(not counted)", len(contigs),
             build or "not in header", ", ".join(i.name for i in indexes))
    return {"path": str(path), "what": what, "check": "full" if full else "sampled", "records": n_records,
            "contigs": contigs, "genome_build": build, "index": [i.name for i in indexes], "warnings": warnings}


def _resource_contigs(vf: pysam.VariantFile) -> list[str]:
    return list(vf.index.keys()) if vf.index is not None else list(vf.header.contigs)


def _bcftools_query(path, fmt_columns: Sequence[tuple[str, str]], *, region: str | None = None,
                    what: str = "VCF", keep=None) -> pd.DataFrame:
    """Run ``bcftools query`` with one ``%FIELD`` per column; return all columns as ``str``.

    ``fmt_columns`` is ``[(column name, bcftools field), ...]``. Missing values
    stay as bcftools prints them (``.``). ``region`` is a ``-r`` region: records
    that overlap it are returned. ``keep``, a function of a frame returning a
    boolean mask, filters the output in blocks of 200,000 rows as it
    streams, so memory follows the rows kept, not the rows read. stderr goes
    to a file, so a chatty bcftools cannot fill a pipe and stall.
    """
    names = [name for name, _ in fmt_columns]
    fmt = "\t".join(field for _, field in fmt_columns) + "\n"
    argv = ["bcftools", "query", "-f", fmt, *(["-r", region] if region else []), str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        read = dict(sep="\t", header=None, names=names, dtype=str, quoting=csv.QUOTE_NONE, na_filter=False,
                    encoding_errors="replace")
        try:
            if keep is None:
                frame = pd.read_csv(proc.stdout, **read)
            else:
                parts = [part.loc[keep(part)] for part in pd.read_csv(proc.stdout, chunksize=200_000, **read)]
                frame = pd.concat(parts, ignore_index=True)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame({n: pd.array([], dtype="str") for n in names})
        finally:
            proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            msg = err.read().decode(errors="replace").strip()
            raise InputError(path, f"cannot read {what} ({' '.join(argv[:2])} exit {rc}): {msg[-2000:]}")
    return frame


def _split_alts(frame: pd.DataFrame, sequence_only: bool = True) -> pd.DataFrame:
    """One row per ALT of each record, with ``alt_index`` (0-based).

    Missing (``.``) and REF-equal ALTs are dropped; with ``sequence_only``
    also symbolic, breakend and ``*`` ALTs (see :func:`_usable_alt`).
    """
    multi = frame["alt"].str.contains(",", regex=False)
    if multi.any():
        frame = frame.assign(alt=frame["alt"].str.split(",")).explode("alt", ignore_index=False)
        frame["alt_index"] = frame.groupby(level=0).cumcount().to_numpy()
        frame = frame.reset_index(drop=True)
    else:
        frame = frame.assign(alt_index=0)
    alt, ref = frame["alt"].astype("str"), frame["ref"].astype("str")
    usable = (alt.str.len() > 0) & (alt != ".") & (alt.str.upper() != ref.str.upper())
    if sequence_only:
        usable &= (alt != "*") & ~alt.str.startswith("<") & ~alt.str.contains(r"[\[\]]", regex=True)
    return frame.loc[usable.to_numpy()].reset_index(drop=True)


def _minimal_keys(pos: np.ndarray, ref: pd.Series, alt: pd.Series) -> pd.DataFrame:
    """Columns kpos, kref, kalt: :func:`minimal_allele` of every row (SNVs vectorised)."""
    ref_u, alt_u = ref.str.upper(), alt.str.upper()
    kpos = np.asarray(pos, dtype=np.int64).copy()
    kref = ref_u.to_numpy(dtype=object).copy()
    kalt = alt_u.to_numpy(dtype=object).copy()
    long = np.flatnonzero(((ref_u.str.len() > 1) | (alt_u.str.len() > 1)).to_numpy())
    for j in long:  # indels and MNVs: a few percent of a cohort
        kpos[j], kref[j], kalt[j] = minimal_allele(int(kpos[j]), kref[j], kalt[j])
    return pd.DataFrame({"kpos": kpos, "kref": pd.array(kref, dtype="str"), "kalt": pd.array(kalt, dtype="str")})


def _near_any(pos: np.ndarray, span: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """True where some of the sorted ``targets`` lies in ``pos .. pos + span``."""
    k = np.searchsorted(targets, pos, side="left")
    return (k < len(targets)) & (targets[np.minimum(k, len(targets) - 1)] <= pos + span)


def _resource_alleles(path, what: str, contig: str, start: int, end: int, fields: Sequence[tuple[str, str]],
                      targets: np.ndarray | None = None) -> pd.DataFrame:
    """Usable ALT alleles of an indexed resource overlapping ``contig:start-end``.

    ``contig`` is the query's spelling; the resource's is found by
    :class:`ContigMap`. ``targets`` (sorted minimal-allele positions of the
    query) keeps only records that can match one of them (a record's minimal
    position lies within its REF), as they stream: a dense resource such as
    gnomAD has hundreds of records per query allele, and memory then follows
    the query, not the resource. Returns columns kpos, kref, kalt (minimal
    form), alt_index and the requested ``fields`` (text as bcftools prints it).
    """
    with _open_indexed(path, what) as vf:
        rc = ContigMap(_resource_contigs(vf))(contig)
    cols = [("pos", "%POS"), ("ref", "%REF"), ("alt", "%ALT"), *fields]
    if rc is None:
        return pd.DataFrame(columns=["kpos", "kref", "kalt", "alt_index", *(n for n, _ in fields)])
    keep = None
    if targets is not None:
        def keep(part: pd.DataFrame) -> np.ndarray:
            return _near_any(part["pos"].astype(np.int64).to_numpy(),
                             part["ref"].str.len().to_numpy(dtype=np.int64) - 1, targets)
    frame = _split_alts(_bcftools_query(path, cols, region=f"{rc}:{start}-{end}", what=what, keep=keep))
    keys = _minimal_keys(frame["pos"].astype(np.int64).to_numpy(), frame["ref"], frame["alt"])
    return pd.concat([keys, frame.drop(columns=["pos", "ref", "alt"])], axis=1)


def _missing(values: pd.Series) -> pd.Series:
    """bcftools' ``.`` (missing) as None, in a ``str`` column."""
    return values.astype("str").mask(values == ".")


def _lookup_clinvar(path, contig, start, end, targets=None) -> pd.DataFrame:
    with _open_indexed(path, "ClinVar") as vf:
        declared = set(vf.header.info)
    fields = [("id", "%ID")] + [(k, f"%INFO/{k}") for k in ("CLNSIG", "CLNREVSTAT", "GENEINFO") if k in declared]
    found = _resource_alleles(path, "ClinVar", contig, start, end, fields, targets)
    out = found[["kpos", "kref", "kalt"]].copy()
    for col, key in (("clinvar_significance", "CLNSIG"), ("clinvar_review_status", "CLNREVSTAT")):
        out[col] = _missing(found[key]) if key in found else pd.array([None] * len(found), dtype="str")
    out["clinvar_id"] = _missing(found["id"]) if len(found) else pd.array([], dtype="str")
    if "GENEINFO" in found:
        # GENE:ID|GENE2:ID2 -> GENE|GENE2
        out["clinvar_gene"] = _missing(found["GENEINFO"]).str.replace(r":[^|]*", "", regex=True)
    else:
        out["clinvar_gene"] = pd.array([None] * len(found), dtype="str")
    return out.drop_duplicates(["kpos", "kref", "kalt"], keep="first")


def _lookup_af(path, key_name, contig, start, end, targets=None) -> pd.DataFrame:
    with _open_indexed(path, "population AF") as vf:
        if key_name not in vf.header.info:
            known = ", ".join(k for k in vf.header.info if k.startswith("AF"))[:300]
            raise InputError(path, f"INFO/{key_name} is not declared in the header (AF keys here: {known or 'none'})",
                             record="header")
        number = str(vf.header.info[key_name].number)
    found = _resource_alleles(path, "population AF", contig, start, end,
                              [("chrom", "%CHROM"), ("value", f"%INFO/{key_name}")], targets)
    values = found["value"].astype("str")
    idx = found["alt_index"].to_numpy(dtype=np.int64)
    if number in ("A", "R"):
        shift = 1 if number == "R" else 0
        picked = values.to_numpy(dtype=object).copy()
        listed = values.str.contains(",", regex=False).to_numpy() | (idx + shift > 0)
        # Only records with several values need splitting (multiallelic, or Number=R).
        picked[listed] = [p[i + shift] if i + shift < len(p) else "."
                          for p, i in zip(values[listed].str.split(","), idx[listed])]
    else:
        parts = values.str.split(",")
        many = np.flatnonzero(parts.str.len().to_numpy() > 1)
        if len(many):
            j = many[0]
            raise InputError(path, f"INFO/{key_name} has {len(parts.iloc[j])} values for one allele; "
                             "use a Number=A or Number=1 key", record=f"{found['chrom'].iloc[j]}:{int(found['kpos'].iloc[j])}")
        picked = parts.str[0]
    af = pd.to_numeric(pd.Series(picked, dtype="str").replace(".", None), errors="coerce").to_numpy(dtype=float)
    out = found[["kpos", "kref", "kalt"]].assign(population_af=af)
    return out.loc[np.isfinite(af)].drop_duplicates(["kpos", "kref", "kalt"], keep="first")


def _lookup_rsid(path, contig, start, end, targets=None) -> pd.DataFrame:
    with _open_indexed(path, "dbSNP") as vf:
        has_rs = "RS" in vf.header.info
    fields = [("id", "%ID")] + ([("rs", "%INFO/RS")] if has_rs else [])
    found = _resource_alleles(path, "dbSNP", contig, start, end, fields, targets)
    ids = found["id"].astype("str")
    rsid = ids.str.split(";").str[0].where(ids.str.startswith("rs"))
    if has_rs:
        rs = found["rs"].astype("str").str.split(",").str[0]
        rsid = rsid.fillna(("rs" + rs).where(rs != "."))
    out = found[["kpos", "kref", "kalt"]].assign(rsid=rsid.astype("str"))
    return out.loc[out["rsid"].notna()].drop_duplicates(["kpos", "kref", "kalt"], keep="first")


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def read_sites(vcf: str | os.PathLike, region: str | None = None) -> pd.DataFrame:
    """chrom, pos, end, ref, alt, allele_class of every ALT allele in ``vcf`` (or in ``region``, by POS).

    Multiallelic records give one row per ALT, in file order; missing (``.``)
    and REF-equal ALTs give none. Symbolic, breakend and ``*`` alleles are
    kept with their class (:data:`ALLELE_CLASSES`); ``end`` is bcftools'
    ``%END`` (INFO/END where given, else POS + len(REF) - 1).
    """
    vcf = Path(vcf)
    if not vcf.exists():
        raise InputError(vcf, "VCF not found")
    lo, hi = 1, None
    if region is not None:
        with pysam.VariantFile(str(vcf), drop_samples=True) as vf:
            if vf.index is None:
                raise InputError(vcf, "a region was asked for but the VCF has no .tbi/.csi index")
            contig, lo, hi = parse_region(region)
            if contig not in vf.header.contigs and contig not in vf.index:
                return _empty_sites()
    t0 = time.perf_counter()
    frame = _bcftools_query(vcf, [("chrom", "%CHROM"), ("pos", "%POS"), ("end", "%END"), ("ref", "%REF"),
                                  ("alt", "%ALT")], region=region)
    frame["pos"] = frame["pos"].astype(np.int64)
    frame["end"] = frame["end"].astype(np.int64)
    if region is not None:  # records overlapping the region but starting outside it belong to another chunk
        keep = frame["pos"].to_numpy() >= lo
        if hi is not None:
            keep &= frame["pos"].to_numpy() <= hi
        frame = frame.loc[keep]
    n_rec = len(frame)
    sites = _split_alts(frame, sequence_only=False).drop(columns="alt_index")
    sites["allele_class"] = pd.array(allele_classes(sites["ref"], sites["alt"]), dtype="str")
    dt = time.perf_counter() - t0
    log.info("read %d records (%d alleles) in %.1f s (%.0f records/s)", n_rec, len(sites), dt,
             n_rec / dt if dt > 0 else 0.0)
    return sites.astype({"chrom": "str", "ref": "str", "alt": "str"})[
        ["chrom", "pos", "end", "ref", "alt", "allele_class"]].reset_index(drop=True)


def _empty_sites() -> pd.DataFrame:
    return pd.DataFrame({"chrom": pd.array([], dtype="str"), "pos": np.array([], dtype=np.int64),
                         "end": np.array([], dtype=np.int64), "ref": pd.array([], dtype="str"),
                         "alt": pd.array([], dtype="str"), "allele_class": pd.array([], dtype="str")})


def _join_by_key(table: pd.DataFrame, rows: np.ndarray, keys: pd.DataFrame, found: pd.DataFrame,
                 cols: list[str]) -> None:
    """Copy ``cols`` of ``found`` into ``table`` rows ``rows`` where the minimal allele keys match."""
    if not len(found) or not len(rows):
        return
    sub = keys.iloc[rows].reset_index(drop=True)
    sub["row"] = rows
    hit = sub.merge(found, on=["kpos", "kref", "kalt"], how="inner", sort=False)
    for c in cols:
        col = table.columns.get_loc(c)
        table.iloc[hit["row"].to_numpy(), col] = hit[c].to_numpy()


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
    ``population_af_key``, per allele for Number=A/R) and rsid (ID, else INFO/RS)
    come from indexed VCFs by exact allele match (see the module docstring);
    when a resource has several records for one allele, the first wins.
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
    for c in clin_cols + ["rsid"]:
        table[c] = pd.array([None] * n, dtype="str")
    table["population_af"] = np.full(n, np.nan)
    if n and (clinvar or population_af or dbsnp):
        table = table.reset_index(drop=True)
        keys = _minimal_keys(table["pos"].to_numpy(), table["ref"].astype("str"), table["alt"].astype("str"))
        chrom = table["chrom"].to_numpy(dtype=object)
        pos = table["pos"].to_numpy()
        ref_end = pos + table["ref"].str.len().to_numpy(dtype=np.int64) - 1
        sequence = table["allele_class"].isin(SEQUENCE_CLASSES).to_numpy()
        for contig in pd.unique(chrom[sequence]):
            rows = np.flatnonzero((chrom == contig) & sequence)
            lo, hi = int(pos[rows].min()), int(ref_end[rows].max())
            targets = np.unique(keys["kpos"].to_numpy()[rows])
            if clinvar:
                _join_by_key(table, rows, keys, _lookup_clinvar(clinvar, contig, lo, hi, targets), clin_cols)
            if population_af:
                _join_by_key(table, rows, keys,
                             _lookup_af(population_af, population_af_key, contig, lo, hi, targets), ["population_af"])
            if dbsnp:
                _join_by_key(table, rows, keys, _lookup_rsid(dbsnp, contig, lo, hi, targets), ["rsid"])
    table = table[list(TABLE_COLUMNS)].reset_index(drop=True)
    dt = time.perf_counter() - t0
    classes = table["allele_class"].value_counts()
    log.info("annotated %d alleles%s in %.1f s (%.0f alleles/s): %s; %d ClinVar, %d AF, %d rsID matches",
             n, f" in {region}" if region else "", dt, n / dt if dt > 0 else 0.0,
             ", ".join(f"{int(classes.get(c, 0))} {c}" for c in ALLELE_CLASSES),
             int(table["clinvar_significance"].notna().sum()), int(table["population_af"].notna().sum()),
             int(table["rsid"].notna().sum()))
    return table


def annotation_summary(table: pd.DataFrame) -> dict:
    """Counts for a variant table: alleles by class, by region class and by
    consequence, and how many alleles each allele-matched source annotated."""
    def counts(col):
        return {str(k): int(v) for k, v in table[col].value_counts().sort_index().items()}
    return {
        "alleles": int(len(table)),
        "allele_class": {c: int((table["allele_class"] == c).sum()) for c in ALLELE_CLASSES},
        "region_class": counts("region_class"),
        "consequence": counts("consequence"),
        "clinvar_matched": int(table[["clinvar_significance", "clinvar_id"]].notna().any(axis=1).sum()),
        "clinvar_significance": counts("clinvar_significance"),
        "population_af_matched": int(table["population_af"].notna().sum()),
        "rsid_matched": int(table["rsid"].notna().sum()),
    }

def _left_join(table: pd.DataFrame, other: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    keys = ["chrom", "pos", "ref", "alt"]
    other = other.drop_duplicates(keys)
    merged = table.drop(columns=cols).merge(other[keys + cols], on=keys, how="left", sort=False)
    return merged


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the variant table as Parquet, atomically (column types kept: str, int64, float64)."""
    schema = pa.schema([(c, pa.int64() if c in ("pos", "end") else pa.float64() if c == "population_af" else pa.string())
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
        text = np.full(len(num), ".", dtype=object)
        finite = np.flatnonzero(np.isfinite(num))
        text[finite] = [f"{x:.6g}" for x in num[finite].tolist()]
        return pd.Series(text, index=values.index)
    if values.isna().all():  # a source not configured: no text work
        return pd.Series(".", index=values.index)
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
    """Write the sites of ``vcf`` (or of its ``region``, by POS) with the table's annotations as INFO, indexed.

    The output is sites-only (no FORMAT or sample columns): the genotypes stay
    in ``vcf``, and ``bcftools annotate -a OUT -c INFO`` carries the GR_* fields
    onto it when a user wants both in one file.

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
        # Sites only: the genotypes stay in the input; a second copy of a
        # cohort's genotypes costs disk and is one more copy of patient data.
        view = ["bcftools", "view", "--no-version", "-G", "-Ou", str(vcf)]
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


def _add_counts(total: dict, part: dict) -> dict:
    """Sum two :func:`annotation_summary` dicts (nested count dicts add key by key)."""
    out = dict(total)
    for k, v in part.items():
        if isinstance(v, dict):
            merged = dict(out.get(k, {}))
            for kk, vv in v.items():
                merged[kk] = merged.get(kk, 0) + vv
            out[k] = merged
        else:
            out[k] = out.get(k, 0) + v
    return out


def gather(
    tables: Sequence[str | os.PathLike],
    bcfs: Sequence[str | os.PathLike],
    out_table: str | os.PathLike,
    out_bcf: str | os.PathLike,
    out_summary: str | os.PathLike | None = None,
) -> None:
    """Concatenate per-chunk tables (Parquet) and BCFs, in the given (chunk) order.

    Tables are streamed chunk by chunk into one Parquet file (memory: one
    chunk). BCFs are joined with ``bcftools concat --naive`` (no recompression;
    the chunk headers are identical because every chunk is written the same
    way with ``--no-version``) and indexed; indexing fails, and nothing is
    written, if the chunks are out of order. ``out_summary`` receives the
    :func:`annotation_summary` of the whole table as JSON. All outputs are atomic.
    """
    if len(tables) != len(bcfs):
        raise ValueError(f"{len(tables)} tables but {len(bcfs)} BCFs")
    for p in [*tables, *bcfs]:
        if not Path(p).exists():
            raise InputError(p, "chunk output not found")
    summary: dict = {}
    with atomic_output(out_table) as tmp:
        writer = None
        for p in tables:
            part = pq.read_table(p)
            if writer is None:
                writer = pq.ParquetWriter(tmp, part.schema)
            elif not part.schema.equals(writer.schema):
                raise InputError(p, "chunk table has other columns than the first chunk (written by another version?)")
            writer.write_table(part)
            summary = _add_counts(summary, annotation_summary(part.to_pandas()))
        if writer is None:
            pq.write_table(pa.table({c: [] for c in TABLE_COLUMNS}), tmp)
        else:
            writer.close()
    if out_summary is not None:
        write_json(out_summary, summary)
    out_bcf = Path(out_bcf)
    naive = all(str(p).endswith(".bcf") for p in bcfs) and out_bcf.name.endswith(".bcf")
    with atomic_output(out_bcf) as tmp:
        argv = ["bcftools", "concat", "--no-version", *(["--naive"] if naive else ["-Ob" if out_bcf.name.endswith(".bcf") else "-Oz"]),
                "-o", str(tmp), *map(str, bcfs)]
        _run(argv, "bcftools concat", out_bcf)
        _run(["bcftools", "index", "-f", str(tmp)], "bcftools index (are the chunks in order?)", out_bcf)
        Path(str(tmp) + ".csi").replace(str(out_bcf) + ".csi")
    log.info("gathered %d chunks into %s and %s", len(bcfs), out_table, out_bcf)
