"""Consequences with ``bcftools csq`` and the most severe term per allele."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pysam

from genorisk.annotate.alleles import usable_alt
from genorisk.annotate.bcftools import run_checked, run_pipeline
from genorisk.errors import InputError
from genorisk.genome import ContigMap, fasta_contigs, open_text
from genorisk.io import atomic_output

#: bcftools csq consequence terms, most severe first (Ensembl VEP's ordering of
#: the corresponding SO terms). Unknown terms rank after all of these.
CSQ_SEVERITY = (
    "splice_acceptor",
    "splice_donor",
    "stop_gained",
    "frameshift",
    "stop_lost",
    "start_lost",
    "inframe_altering",
    "inframe_insertion",
    "inframe_deletion",
    "missense",
    "splice_region",
    "start_retained",
    "stop_retained",
    "synonymous",
    "coding_sequence",
    "5_prime_utr",
    "3_prime_utr",
    "non_coding",
    "intron",
    "feature_elongation",
    "intergenic",
)
_CSQ_RANK = {c: i for i, c in enumerate(CSQ_SEVERITY)}


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
    with open_text(gff) as fh:
        head = [next(fh, "") for _ in range(50)]
    if any(re.search(r'\t(gene|transcript)_id "', ln) for ln in head):
        raise InputError(gff, "bcftools csq needs an Ensembl GFF3, this is a GTF")
    fasta_map = ContigMap(fasta_contigs(fasta))
    with pysam.VariantFile(str(vcf)) as vf:
        query_contigs = [str(c) for c in vf.header.contigs]  # names; the stub also allows int keys
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
            steps.append(
                [
                    "bcftools",
                    "csq",
                    "--no-version",
                    "-l",
                    "-s",
                    "-",
                    "-f",
                    str(fasta),
                    "-g",
                    str(gff),
                    "-Ob",
                    "-o",
                    str(tmp),
                ]
            )
            run_pipeline(steps, vcf)
            run_checked(["bcftools", "index", "-f", str(tmp)], "bcftools index", tmp)
            Path(str(tmp) + ".csi").replace(str(out) + ".csi")
    rows = []
    with pysam.VariantFile(str(out)) as vf:
        has_bcsq = "BCSQ" in vf.header.info
        for rec in vf:
            alt = rec.alts[0] if rec.alts else None
            if not usable_alt(alt, rec.ref):
                continue
            bcsq = rec.info.get("BCSQ") if has_bcsq else None
            rows.append((back.get(rec.chrom, rec.chrom), rec.pos, rec.ref, alt, most_severe_csq(bcsq)))
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "consequence"]).astype(
        {"chrom": "str", "ref": "str", "alt": "str", "consequence": "str"}
    )
