"""The annotated sites VCF/BCF: the table's columns as GR_* INFO fields, written with ``bcftools annotate``."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from genorisk.annotate.alleles import ALLELE_CLASSES
from genorisk.annotate.bcftools import run_checked, run_pipeline
from genorisk.annotate.gene_model import REGION_CLASSES
from genorisk.io import atomic_output

log = logging.getLogger("genorisk.annotate")


#: Table column -> (INFO tag, Number, Type, Description) written by write_annotated.
INFO_FIELDS = {
    "allele_class": ("GR_CLASS", "1", "String", "genorisk: allele class: " + ", ".join(ALLELE_CLASSES)),
    "gene": ("GR_GENE", "1", "String", "genorisk: gene symbol of the most severe region class (gene model)"),
    "gene_id": ("GR_GENE_ID", "1", "String", "genorisk: gene ID of the most severe region class (gene model)"),
    "transcript": (
        "GR_TRANSCRIPT",
        "1",
        "String",
        "genorisk: transcript chosen for GR_REGION (canonical > basic > ID)",
    ),
    "region_class": (
        "GR_REGION",
        "1",
        "String",
        "genorisk: most severe region class over transcripts: " + ", ".join(REGION_CLASSES),
    ),
    "consequence": ("GR_CSQ", "1", "String", "genorisk: most severe bcftools csq consequence"),
    "clinvar_significance": ("GR_CLNSIG", ".", "String", "genorisk: ClinVar CLNSIG of the exact allele"),
    "clinvar_review_status": ("GR_CLNREVSTAT", ".", "String", "genorisk: ClinVar CLNREVSTAT of the exact allele"),
    "clinvar_id": ("GR_CLNID", "1", "String", "genorisk: ClinVar variation ID of the exact allele"),
    "population_af": ("GR_AF", "1", "Float", "genorisk: population allele frequency of the exact allele"),
}


_INFO_UNSAFE_RE = r"[;=\s]"


def _info_column(values: pd.Series, number: str, typ: str) -> pd.Series:
    """One annotation column as INFO text: ``.`` when missing, floats as %.6g,
    ``;``/``=``/whitespace replaced by ``_`` (and ``,`` by ``|`` for Number=1)."""
    if typ == "Float":
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        formatted = np.full(len(num), ".", dtype=object)
        finite = np.flatnonzero(np.isfinite(num))
        formatted[finite] = [f"{x:.6g}" for x in num[finite].tolist()]
        return pd.Series(formatted, index=values.index)
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
    with tempfile.TemporaryDirectory(
        prefix="genorisk-annot-", dir=out_path.parent if out_path.parent.exists() else None
    ) as tmp_dir:
        td = Path(tmp_dir)
        tsv = td / "annotations.tsv"
        ann = table.sort_values(["chrom", "pos"], kind="stable")
        out = pd.DataFrame({"chrom": ann["chrom"], "pos": ann["pos"], "ref": ann["ref"], "alt": ann["alt"]})
        out["id"] = ann["rsid"].fillna(".") if "rsid" in ann else "."
        for c in cols:
            out[c] = _info_column(ann[c], INFO_FIELDS[c][1], INFO_FIELDS[c][2])
        out.to_csv(tsv, sep="\t", header=False, index=False)
        pysam.tabix_index(str(tsv), seq_col=0, start_col=1, end_col=1, force=True)
        header = td / "header.txt"
        header.write_text(
            "".join(
                f"##INFO=<ID={INFO_FIELDS[c][0]},Number={INFO_FIELDS[c][1]},Type={INFO_FIELDS[c][2]},"
                f'Description="{INFO_FIELDS[c][3]}">\n'
                for c in cols
            )
        )
        columns = "CHROM,POS,REF,ALT,ID," + ",".join(f"INFO/{INFO_FIELDS[c][0]}" for c in cols)
        # Sites only: the genotypes stay in the input; a second copy of a
        # cohort's genotypes costs disk and is one more copy of patient data.
        view = ["bcftools", "view", "--no-version", "-G", "-Ou", str(vcf)]
        if region:
            view[2:2] = ["-r", region, "--regions-overlap", "0"]
        with atomic_output(out_path) as tmp:
            run_pipeline(
                [
                    view,
                    ["bcftools", "norm", "--no-version", "-m", "-any", "-Ou"],
                    [
                        "bcftools",
                        "annotate",
                        "--no-version",
                        "-a",
                        str(tsv) + ".gz",
                        "-c",
                        columns,
                        "-h",
                        str(header),
                        f"-O{out_type}",
                        "-o",
                        str(tmp),
                    ],
                ],
                vcf,
            )
            run_checked(["bcftools", "index", "-f", str(tmp)], "bcftools index", tmp)
            Path(str(tmp) + ".csi").replace(str(out_path) + ".csi")
    log.info("wrote %s (%d annotated alleles)", out_path, len(table))
