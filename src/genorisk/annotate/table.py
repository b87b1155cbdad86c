"""The variant table: the query's sites joined with every configured source, and its Parquet file."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pysam

from genorisk.annotate.alleles import ALLELE_CLASSES, SEQUENCE_CLASSES, allele_classes, minimal_keys, split_alts
from genorisk.annotate.bcftools import bcftools_query
from genorisk.annotate.consequence import consequences_bcftools_csq
from genorisk.annotate.gene_model import GeneModel, read_gene_model
from genorisk.annotate.lookup import lookup_af, lookup_clinvar, lookup_rsid
from genorisk.errors import InputError
from genorisk.genome import parse_region as parse_genome_region
from genorisk.io import atomic_output

log = logging.getLogger("genorisk.annotate")


#: Columns of the variant table, in order. ``end`` is the last reference base
#: the record covers (POS + len(REF) - 1, or INFO/END for symbolic alleles).
TABLE_COLUMNS = (
    "chrom",
    "pos",
    "end",
    "ref",
    "alt",
    "allele_class",
    "gene",
    "gene_id",
    "transcript",
    "biotype",
    "region_class",
    "consequence",
    "clinvar_significance",
    "clinvar_review_status",
    "clinvar_id",
    "clinvar_gene",
    "population_af",
    "rsid",
)


def parse_region(region: str) -> tuple[str, int, int | None]:
    """``"chr21:1-5000"`` -> ``("chr21", 1, 5000)``; ``"chr21"`` -> ``("chr21", 1, None)``.

    The tuple form of :func:`genorisk.genome.parse_region` (same rules and errors).
    """
    r = parse_genome_region(region)
    return r.chrom, r.start, r.end


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
    frame = bcftools_query(
        vcf, [("chrom", "%CHROM"), ("pos", "%POS"), ("end", "%END"), ("ref", "%REF"), ("alt", "%ALT")], region=region
    )
    frame["pos"] = frame["pos"].astype(np.int64)
    frame["end"] = frame["end"].astype(np.int64)
    if region is not None:  # records overlapping the region but starting outside it belong to another chunk
        keep = frame["pos"].to_numpy() >= lo
        if hi is not None:
            keep &= frame["pos"].to_numpy() <= hi
        frame = frame.loc[keep]
    n_rec = len(frame)
    sites = split_alts(frame, sequence_only=False).drop(columns="alt_index")
    sites["allele_class"] = pd.array(allele_classes(sites["ref"], sites["alt"]), dtype="str")
    dt = time.perf_counter() - t0
    log.info(
        "read %d records (%d alleles) in %.1f s (%.0f records/s)", n_rec, len(sites), dt, n_rec / dt if dt > 0 else 0.0
    )
    return sites.astype({"chrom": "str", "ref": "str", "alt": "str"})[
        ["chrom", "pos", "end", "ref", "alt", "allele_class"]
    ].reset_index(drop=True)


def _empty_sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "chrom": pd.array([], dtype="str"),
            "pos": np.array([], dtype=np.int64),
            "end": np.array([], dtype=np.int64),
            "ref": pd.array([], dtype="str"),
            "alt": pd.array([], dtype="str"),
            "allele_class": pd.array([], dtype="str"),
        }
    )


def _join_by_key(
    table: pd.DataFrame, rows: np.ndarray, keys: pd.DataFrame, found: pd.DataFrame, cols: list[str]
) -> None:
    """Copy ``cols`` of ``found`` into ``table`` rows ``rows`` where the minimal allele keys match."""
    if not len(found) or not len(rows):
        return
    sub = keys.iloc[rows].reset_index(drop=True)
    sub["row"] = rows
    hit = sub.merge(found, on=["kpos", "kref", "kalt"], how="inner", sort=False)
    for c in cols:
        col = table.columns.get_loc(c)
        assert isinstance(col, int)  # the table's columns are unique
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
        keys = minimal_keys(table["pos"].to_numpy(), table["ref"].astype("str"), table["alt"].astype("str"))
        chrom = table["chrom"].to_numpy(dtype=object)
        pos = table["pos"].to_numpy()
        ref_end = pos + table["ref"].str.len().to_numpy(dtype=np.int64) - 1
        sequence = table["allele_class"].isin(SEQUENCE_CLASSES).to_numpy()
        for contig in pd.unique(chrom[sequence]):
            rows = np.flatnonzero((chrom == contig) & sequence)
            lo, hi = int(pos[rows].min()), int(ref_end[rows].max())
            targets = np.unique(keys["kpos"].to_numpy()[rows])
            if clinvar:
                _join_by_key(table, rows, keys, lookup_clinvar(clinvar, contig, lo, hi, targets), clin_cols)
            if population_af:
                _join_by_key(
                    table,
                    rows,
                    keys,
                    lookup_af(population_af, population_af_key, contig, lo, hi, targets),
                    ["population_af"],
                )
            if dbsnp:
                _join_by_key(table, rows, keys, lookup_rsid(dbsnp, contig, lo, hi, targets), ["rsid"])
    table = table[list(TABLE_COLUMNS)].reset_index(drop=True)
    dt = time.perf_counter() - t0
    classes = table["allele_class"].value_counts()
    log.info(
        "annotated %d alleles%s in %.1f s (%.0f alleles/s): %s; %d ClinVar, %d AF, %d rsID matches",
        n,
        f" in {region}" if region else "",
        dt,
        n / dt if dt > 0 else 0.0,
        ", ".join(f"{int(classes.get(c, 0))} {c}" for c in ALLELE_CLASSES),
        int(table["clinvar_significance"].notna().sum()),
        int(table["population_af"].notna().sum()),
        int(table["rsid"].notna().sum()),
    )
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
    schema = pa.schema(
        [
            (c, pa.int64() if c in ("pos", "end") else pa.float64() if c == "population_af" else pa.string())
            for c in TABLE_COLUMNS
        ]
    )
    arrow = pa.Table.from_pandas(table[list(TABLE_COLUMNS)], schema=schema, preserve_index=False)
    with atomic_output(path) as tmp:
        pq.write_table(arrow, tmp)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table`."""
    return pd.read_parquet(path)
