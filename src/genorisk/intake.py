"""Patient intake: one patient's VCF -> validated, normalised features and QC inputs.

:func:`patient_inputs` is the whole intake of one sample-sheet row: validate
the VCF, normalise it as the cohort was, compute the model's features, find
notable (ClinVar or rare damaging) variants and infer sex. Its output feeds
:func:`genorisk.model.score_patients` and :func:`genorisk.results.patient_result`.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from genorisk.annotate import annotate_table
from genorisk.errors import InputError
from genorisk.features import is_pathogenic, patient_features, rare_damaging
from genorisk.genome import chromosome_class, in_par, open_vcf
from genorisk.qc import infer_sex_single
from genorisk.vcf import normalize_vcf, validate_vcf

#: Zygosity words of :func:`call_zygosity` (the report schema's enum).
ZYGOSITIES = ("heterozygous", "homozygous", "hemizygous")


def patient_inputs(
    patient: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    genome_build: str | None = "GRCh38",
    annotation: Mapping[str, Any] | None = None,
    population_af_key: str = "AF",
    rare_max_af: float = 0.01,
    fasta: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Everything scoring needs from one patient's VCF, in one place.

    Validates the VCF (it must contain the sheet's sample), normalises it as
    the cohort was (:func:`genorisk.vcf.normalize_vcf`: split, left-align
    against ``fasta``, drop duplicates) into a temporary file, computes the
    patient's features from the cohort's ``schema``, finds notable variants
    when ``annotation`` resources are given (None: not configured), and infers
    sex from chrX.

    Parameters
    ----------
    patient : mapping
        Sample-sheet row: ``patient_id``, ``vcf``, ``sample`` and optionally
        ``sex`` (``male``/``female``).
    schema : mapping
        The cohort's feature schema (``features.schema.json``).
    genome_build : str, optional
        Build the VCF must match; also selects the chrX PARs.
    annotation : mapping, optional
        Annotation resources for :func:`notable_variants` (``gene_model``,
        ``clinvar``, ``population_af``, ``dbsnp``...); None: not configured.
    population_af_key : str
        INFO key of the population allele frequency.
    rare_max_af : float
        Largest population allele frequency of a "rare" variant.
    fasta : str or Path, optional
        Reference for left-alignment during normalisation.

    Returns
    -------
    features : DataFrame
        One row, indexed by patient ID (``sample_id``), the schema's columns.
    qc : dict
        ``validation``, ``normalization``, ``coverage``, ``notable_variants``
        (None when not configured) and ``sex``.
    """
    pid, sample = patient["patient_id"], patient["sample"]
    report = validate_vcf(patient["vcf"], genome_build=genome_build, require_samples=[sample])
    male = {"male": True, "female": False}.get(patient.get("sex", ""))
    with tempfile.TemporaryDirectory(prefix="genorisk-patient-") as tmp:
        vcf = Path(tmp) / "normalized.vcf.gz"
        normalization = normalize_vcf(patient["vcf"], vcf, fasta=fasta, validation=report)
        frame, coverage = patient_features(vcf, sample, schema, patient, male=male)
        notable = None
        if annotation:
            notable = notable_variants(
                vcf,
                sample,
                max_af=rare_max_af,
                male=male,
                genome_build=genome_build,
                population_af_key=population_af_key,
                **annotation,
            )
        sex = infer_sex_single(vcf, sample)
    qc = {
        "validation": report.to_dict(),
        "normalization": normalization,
        "coverage": coverage,
        "notable_variants": notable,
        "sex": sex,
    }
    # Rows are keyed by patient ID (unique in the sheet; sample names need not be).
    return frame.set_axis([pid], axis=0).rename_axis("sample_id"), qc


def notable_variants(
    vcf: str | Path,
    sample: str,
    *,
    max_af: float = 0.01,
    male: bool | None = None,
    genome_build: str | None = None,
    **resources: Any,
) -> list[dict[str, Any]]:
    """ClinVar pathogenic/likely pathogenic and rare damaging alleles a patient carries.

    The patient's non-reference sites (``bcftools view -S names.txt -c1``)
    are annotated with :func:`genorisk.annotate.annotate_table` and the same
    resources as the cohort (``gene_model``, ``clinvar``, ``population_af``,
    ``population_af_key``, ``dbsnp``, ``fasta``). An allele absent from the
    population resource counts as rare: for a report, an unknown frequency
    should not hide a damaging variant. Each variant's ``zygosity`` comes
    from the patient's call (its ploidy and alleles; see
    :func:`call_zygosity`), with ``male`` and ``genome_build`` only for the
    male chrX/chrY rule.

    Parameters
    ----------
    vcf : str or Path
        The patient's (normalised) VCF.
    sample : str
        The patient's sample name in it.
    max_af : float
        Largest population allele frequency of a "rare" variant.
    male : bool, optional
        Recorded sex (True male, False female, None unknown).
    genome_build : str, optional
        For the chrX PARs.
    **resources
        Keyword arguments of :func:`genorisk.annotate.annotate_table`.

    Returns
    -------
    list of dict
        One per carried allele: ``chrom``, ``pos``, ``ref``, ``alt``,
        ``gene``, ``consequence``, ``zygosity``, ``population_af``,
        ``clinvar_significance``, ``clinvar_review_status``, ``rsid``,
        ``reason``.
    """
    with tempfile.TemporaryDirectory(prefix="genorisk-notable-") as tmp:
        carried = Path(tmp) / "carried.vcf.gz"
        select_sample(vcf, sample, carried, Path(tmp))
        table = annotate_table(carried, **resources)
        if table.empty:
            return []
        keep = rare_damaging(table, max_af=max_af, cohort_af=pd.Series(0.0, index=table.index))
        table = table[keep].reset_index(drop=True)
        if table.empty:
            return []
        zygosity: list[str | None] = []
        reader = open_vcf(carried)
        try:
            sites: Iterator[Any] = table.itertuples(index=False)  # Any: pandas-stubs type fields as any scalar
            for site in sites:
                z = None
                for rec in reader(f"{site.chrom}:{int(site.pos)}-{int(site.pos)}"):
                    if int(site.pos) == rec.POS and site.ref == rec.REF and site.alt in rec.ALT:
                        gt = rec.genotype.array()[0, :-1]
                        z = call_zygosity(
                            site.chrom,
                            site.pos,
                            gt.tolist(),
                            rec.ALT.index(site.alt) + 1,
                            male=male,
                            genome_build=genome_build,
                        )
                        break
                zygosity.append(z)
        finally:
            reader.close()
    pathogenic = is_pathogenic(table["clinvar_significance"])
    out = []
    for i, (_, row) in enumerate(table.iterrows()):  # the index is 0..n-1 (reset above)
        if zygosity[i] is None:  # the other ALT of a record the patient carries, or a missing call
            continue
        out.append(
            {
                "chrom": str(row["chrom"]),
                "pos": int(row["pos"]),
                "ref": row["ref"],
                "alt": row["alt"],
                "gene": None if pd.isna(row["gene"]) else row["gene"],
                "consequence": row["consequence"]
                if pd.notna(row["consequence"])
                else (None if pd.isna(row["region_class"]) else f"{row['region_class']} (position only; no FASTA)"),
                "zygosity": zygosity[i],
                "population_af": None if pd.isna(row["population_af"]) else float(row["population_af"]),
                "clinvar_significance": None if pd.isna(row["clinvar_significance"]) else row["clinvar_significance"],
                "clinvar_review_status": None
                if pd.isna(row["clinvar_review_status"])
                else row["clinvar_review_status"],
                "rsid": None if pd.isna(row["rsid"]) else row["rsid"],
                "reason": "ClinVar pathogenic/likely pathogenic" if pathogenic[i] else "rare predicted damaging",
            }
        )
    return out


def call_zygosity(
    chrom: str,
    pos: int,
    alleles: Sequence[int],
    allele_index: int,
    *,
    male: bool | None = None,
    genome_build: str | None = None,
) -> str | None:
    """Zygosity of one genotype call for one ALT allele, from the call itself.

    Parameters
    ----------
    chrom, pos : str, int
        Where the call is, contig in any spelling
        :func:`genorisk.genome.canonical_contig` knows (``chrM``/``MT``
        is the mitochondrion).
    alleles : sequence of int
        The call's allele indexes (0 = REF, k = k-th ALT), one per copy: a
        haploid call has one. Missing alleles (-1) make the call uncalled.
    allele_index : int
        The ALT allele asked about (1-based).
    male : bool, optional
        Recorded sex (True male, False female, None unknown).
    genome_build : str, optional
        ``GRCh37``/``GRCh38`` (or hg19/hg38) for the chrX PARs
        (:func:`genorisk.genome.par_regions`); None: a position inside
        either build's PARs counts as PAR.

    Returns
    -------
    str or None
        None when the call does not carry the allele (or is missing);
        otherwise, by the call's ploidy:

        * mitochondrion: ``hemizygous`` when every allele of the call is
          this ALT (haploid ``1``, or ``1/1`` from a diploid caller: one
          genome, homoplasmic), ``heterozygous`` when it is mixed (``0/1``
          from a diploid caller: heteroplasmy). The report schema's
          vocabulary has no plasmy words, so these two stand for
          homoplasmic and heteroplasmic;
        * haploid call elsewhere (male chrX outside the PARs, chrY):
          ``hemizygous``;
        * diploid (or higher) call: ``homozygous`` when every allele is this
          ALT, else ``heterozygous`` (``0/1``, ``1/2``). The PARs behave as
          autosomes. One exception, for a person recorded male: a homozygous
          diploid call on chrX outside the PARs or on chrY is reported
          ``hemizygous`` (a male has one copy there; callers that force
          diploid calls write it ``1/1``). A heterozygous call there is
          reported as called: it is a genotyping error or a sex mismatch,
          which the sex check reports.
    """
    alleles = [int(a) for a in alleles if int(a) != -2]  # -2: vector end of a shorter call
    if not alleles or any(a < 0 for a in alleles):
        return None
    copies = sum(a == allele_index for a in alleles)
    if copies == 0:
        return None
    all_copies = copies == len(alleles)
    kind = chromosome_class(str(chrom))
    if kind == "MT":
        return "hemizygous" if all_copies else "heterozygous"
    if len(alleles) == 1:
        return "hemizygous"
    if all_copies and male and (kind == "Y" or (kind == "X" and not in_par(int(pos), genome_build))):
        return "hemizygous"
    return "homozygous" if all_copies else "heterozygous"


def select_sample(vcf: str | Path, sample: str, out: Path, tmp: Path) -> None:
    """Write the non-reference sites of ``sample`` (``bcftools view -S -c1``) to ``out``, indexed.

    Parameters
    ----------
    vcf : str or Path
        Indexed or plain VCF/BCF holding ``sample``.
    sample : str
        Sample name, exactly as in the header.
    out : Path
        Output ``.vcf.gz``; a tabix index is written beside it.
    tmp : Path
        Scratch directory for the sample-name file.

    Raises
    ------
    InputError
        bcftools could not select the sample (its message is included).

    Notes
    -----
    The name goes through a file (``-S``, one name per line), never the
    command line: ``-s`` splits names at commas and reads a leading ``^`` as
    "exclude", and both are valid in a sample name.
    """
    names = tmp / "samples.txt"
    names.write_text(sample + "\n")
    proc = subprocess.run(
        ["bcftools", "view", "-S", str(names), "-c1", "-Oz", "-o", str(out), str(vcf)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise InputError(vcf, f"could not select sample {sample!r}: {proc.stderr.strip()}")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True, capture_output=True)
