"""Patient intake: each patient VCF validated and normalised once, then each patient's features.

Two steps, two jobs of the workflow:

* :func:`genorisk.patient_files.prepare_patient_vcf` (one job per distinct VCF of the sample sheet,
  depending on nothing from the cohort): validate the file, check the build
  and that each sheet row's sample is in it, and normalise it once, however
  many patients share it. A refused file or sample is recorded in the
  returned status, never raised: one patient's bad file must not stop the
  others.
* :func:`batch_patient_inputs` (one job per batch of patients): for the
  accepted patients, each trait's features (from that trait's bundle
  schema), notable variants, the sex check and the genotype QC against the
  cohort (:mod:`genorisk.patient_checks`), read from the already-normalised
  file (a shared file's batch part, cut out by the first job) for all the
  patients of a file and all the traits at once (:func:`file_patients_inputs`).

:func:`patient_inputs` is one patient's part of the second step (and, given
only the raw VCF, does both steps for one patient); both give the same
features and QC record for a patient. Its output feeds
:func:`genorisk.model.score_patients` (per trait) and
:func:`genorisk.results.trait_result` / :func:`genorisk.results.combine_trait_results`.

The QC record of a patient (``qc.json``, one per patient ID) holds
``validation``, ``normalization``, ``sex``, ``notable_variants`` (None when
annotation is not configured), ``call_rate`` (over the dosage variants of
all traits together, present or filled in), ``coverage`` (per trait id, the
coverage of :func:`genorisk.features.patient.patient_features` under that
trait's schema) and, from :func:`batch_patient_inputs`, ``cohort_qc``.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from genorisk.annotate import annotate_table
from genorisk.callable import patient_callable_regions, samples_callable_regions
from genorisk.errors import InputError
from genorisk.features import rare_damaging
from genorisk.features.patient import schemas_patient_features
from genorisk.features.variants import notable_reasons
from genorisk.genome import chromosome_class, in_par, open_vcf
from genorisk.patient_checks import check_against_cohort, infer_sex_many, patient_genotype_rates
from genorisk.patient_files import refusal
from genorisk.qc import infer_sex_single
from genorisk.vcf import normalize_vcf, validate_vcf

log = logging.getLogger("genorisk.intake")

#: Zygosity words of :func:`call_zygosity` (the report schema's enum).
ZYGOSITIES = ("heterozygous", "homozygous", "hemizygous")


def batch_patient_inputs(
    patients: Sequence[Mapping[str, Any]],
    prepared: Mapping[str, Mapping[str, Any]],
    schemas: Mapping[str, Mapping[str, Any]],
    *,
    cohort_sites: pd.DataFrame | None = None,
    cohort_ranges: Mapping[str, Any] | None = None,
    **options: Any,
) -> tuple[dict[str, pd.DataFrame | None], dict[str, Any], list[dict[str, Any]]]:
    """Each trait's features and the QC of a batch of patients from their prepared (validated, normalised) VCFs.

    The patients of the batch who share a prepared file are read together,
    from the batch's own file that :func:`~genorisk.patient_files.prepare_patient_vcf`
    cut out of a shared VCF (else the normalised file): one dosage read of
    every trait schema's alleles for all of them
    (:func:`genorisk.features.patient.schemas_patient_features`), one pass over chrX
    for the sex check (:func:`genorisk.patient_checks.infer_sex_many`), one
    ``bcftools stats`` for the rates against the cohort
    (:func:`genorisk.patient_checks.patient_genotype_rates`), and their
    callable regions with each BED read once and a file without gVCF
    reference blocks not read for them at all
    (:func:`genorisk.callable.samples_callable_regions`). Each patient's
    features and QC record are exactly those of :func:`patient_inputs` for
    that patient alone. With annotation, the sites any of them carries are
    annotated once (:func:`batch_notable_variants`).

    When reading the patients together fails with an :class:`InputError`
    (a broken gVCF block of one sample, a bad BED of one patient), the
    file's patients are read one by one, so that the error refuses only the
    patient it belongs to.

    Parameters
    ----------
    patients : sequence of mapping
        The batch's sheet rows, each with ``vcf_key`` (:func:`~genorisk.patient_files.patient_vcf_key`).
    prepared : mapping
        Per ``vcf_key``, the status of :func:`~genorisk.patient_files.prepare_patient_vcf`.
    schemas : mapping
        Trait id -> that trait's feature schema (its bundle's
        ``features.schema.json``), in trait order.
    cohort_sites : DataFrame, optional
        The cohort's variant sites (``chrom``, ``pos``, ``ref``, ``alt``; a
        bundle's ``cohort_variants.parquet``) for the genotype QC; with
        ``cohort_ranges`` (a bundle's ``cohort_reference.json``
        ``sample_ranges``, :func:`genorisk.patient_checks.cohort_sample_ranges`).
        None: not checked.
    **options
        Keyword arguments of :func:`patient_inputs`.

    Returns
    -------
    features : dict
        Trait id -> DataFrame with one row per accepted patient (batch
        order), indexed by patient ID; None when every patient was refused.
    qc : dict
        Per accepted patient ID, the QC record of :func:`patient_inputs` plus
        ``cohort_qc`` (:func:`genorisk.patient_checks.check_against_cohort`, or None).
    refused : list of dict
        :func:`~genorisk.patient_files.refusal` records, batch order.
    """
    frames: dict[str, list[pd.DataFrame]] = {trait: [] for trait in schemas}
    qc: dict[str, Any] = {}
    refused: dict[str, dict[str, Any]] = {}
    by_file: dict[str, list[Mapping[str, Any]]] = {}
    for p in patients:
        entry = prepared[p["vcf_key"]]["patients"][p["patient_id"]]
        if entry["status"] == "refused":
            refused[p["patient_id"]] = entry["error"]
        else:
            by_file.setdefault(p["vcf_key"], []).append(p)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="genorisk-batch-") as tmp:
        for key, members in by_file.items():
            status = prepared[key]
            # The batch's own samples, cut out of a shared file by prepare_patient_vcf, else the file.
            batch_file = status.get("batch_files", {}).get(members[0].get("batch", ""))
            vcf = Path(batch_file or status["normalized"])
            samples = list(dict.fromkeys(p["sample"] for p in members))
            rates = (
                patient_genotype_rates(vcf, samples, cohort_sites, workdir=Path(tmp))
                if cohort_sites is not None and cohort_ranges is not None
                else None
            )
            try:
                together = [file_patients_inputs(vcf, members, schemas, status, **options)]
            except InputError as err:
                log.warning(
                    "%s: reading %d patients together failed (%s); reading them one by one", key, len(members), err
                )
                together = []
            for i, p in enumerate(members):
                pid = p["patient_id"]
                if together:
                    frame = {trait: table.iloc[[i]] for trait, table in together[0][0].items()}
                    qc[pid] = together[0][1][i]
                else:
                    try:
                        frame, qc[pid] = patient_inputs(
                            p,
                            schemas,
                            normalized=vcf,
                            validation=status["validation"],
                            normalization=status["normalization"],
                            **options,
                        )
                    except InputError as err:
                        # The file at fault: the patient's callable BED when it was that, else its VCF.
                        bed = p.get("callable_bed") or options.get("callable_bed")
                        at_fault = err.path if bed and err.path == str(bed) else p["vcf"]
                        refused[pid] = refusal(
                            p, file=at_fault, record=err.record, problem=err.problem, stage="features"
                        )
                        log.warning("patient %s refused: %s", pid, err.problem)
                        qc.pop(pid, None)
                        continue
                qc[pid]["cohort_qc"] = (
                    check_against_cohort(rates[p["sample"]], cohort_ranges)
                    if rates is not None and cohort_ranges is not None
                    else None
                )
                for trait, table in frame.items():
                    frames[trait].append(table)
            log.info(
                "%s: %d patients read from %s (%.1f patients/s so far)",
                key,
                len(members),
                vcf.name,
                len(qc) / max(time.monotonic() - start, 1e-9),
            )
    order = {p["patient_id"]: i for i, p in enumerate(patients)}
    features = {
        trait: pd.concat(tables).sort_index(key=lambda ids: ids.map(order)) if tables else None
        for trait, tables in frames.items()
    }
    return features, qc, sorted(refused.values(), key=lambda r: order[r["patient_id"]])


def file_patients_inputs(
    vcf: str | Path,
    patients: Sequence[Mapping[str, Any]],
    schemas: Mapping[str, Mapping[str, Any]],
    status: Mapping[str, Any],
    *,
    genome_build: str | None = "GRCh38",
    annotation: Mapping[str, Any] | None = None,
    population_af_key: str = "AF",
    rare_max_af: float = 0.01,
    fasta: str | Path | None = None,
    callable_bed: str | Path | None = None,
    gvcf_min_gq: int = 20,
    gvcf_min_dp: int = 0,
) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """:func:`patient_inputs` for several patients of one normalised VCF, reading the file once.

    Parameters
    ----------
    vcf : str or Path
        A normalised VCF holding every patient's ``sample``.
    patients : sequence of mapping
        Sample-sheet rows (as for :func:`patient_inputs`).
    schemas : mapping
        Trait id -> feature schema, in trait order.
    status : mapping
        The file's :func:`~genorisk.patient_files.prepare_patient_vcf`
        status (``validation``, ``normalization``).
    genome_build, annotation, population_af_key, rare_max_af, fasta, callable_bed, gvcf_min_gq, gvcf_min_dp
        As for :func:`patient_inputs` (``fasta`` is not used: the file is
        already normalised).

    Returns
    -------
    features : dict
        Trait id -> DataFrame, one row per patient, in order, indexed by patient ID.
    qc : list of dict
        Per patient, the QC record of :func:`patient_inputs`.

    Raises
    ------
    InputError
        A sample's gVCF blocks or a patient's BED are refused, or the file
        cannot be read (the caller reads the patients one by one to find whose).
    """
    del fasta  # normalised already; accepted so that the options of patient_inputs pass through
    samples = [p["sample"] for p in patients]
    male = [{"male": True, "female": False}.get(p.get("sex", "")) for p in patients]
    validation = status.get("validation") or {}
    regions = samples_callable_regions(
        vcf,
        samples,
        [p.get("callable_bed") or callable_bed for p in patients],
        reference_blocks=(validation.get("counts") or {}).get("reference_blocks"),
        min_gq=gvcf_min_gq,
        min_dp=gvcf_min_dp,
        genome_build=genome_build,
    )
    tables, coverage, call_rates = schemas_patient_features(
        vcf, samples, list(schemas.values()), patients, male=male, callable_regions=regions
    )
    sexes = infer_sex_many(vcf, samples)
    notable: list[Any] = [None] * len(patients)
    if annotation:
        notable = batch_notable_variants(
            vcf,
            samples,
            max_af=rare_max_af,
            male=male,
            genome_build=genome_build,
            population_af_key=population_af_key,
            **annotation,
        )
    qc = [
        {
            "validation": dict(status.get("validation") or {}),
            "normalization": dict(status.get("normalization") or {}),
            "call_rate": call_rates[i],
            "coverage": {trait: coverage[t][i] for t, trait in enumerate(schemas)},
            "notable_variants": notable[i],
            "sex": dict(sexes[p["sample"]]),
        }
        for i, p in enumerate(patients)
    ]
    # Rows are keyed by patient ID (unique in the sheet; sample names need not be).
    ids = [p["patient_id"] for p in patients]
    return {
        trait: t.set_axis(ids, axis=0).rename_axis("sample_id") for trait, t in zip(schemas, tables, strict=True)
    }, qc


def patient_inputs(
    patient: Mapping[str, Any],
    schemas: Mapping[str, Mapping[str, Any]],
    *,
    genome_build: str | None = "GRCh38",
    annotation: Mapping[str, Any] | None = None,
    population_af_key: str = "AF",
    rare_max_af: float = 0.01,
    fasta: str | Path | None = None,
    normalized: str | Path | None = None,
    validation: Mapping[str, Any] | None = None,
    normalization: Mapping[str, Any] | None = None,
    callable_bed: str | Path | None = None,
    gvcf_min_gq: int = 20,
    gvcf_min_dp: int = 0,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Everything scoring needs from one patient's VCF, for every trait, in one place.

    Given ``normalized`` (a file :func:`~genorisk.patient_files.prepare_patient_vcf` wrote, or a
    sample subset of it), reads the patient from it. Otherwise validates the
    patient's raw VCF (it must contain the sheet's sample) and normalises it
    as the cohort was into a temporary file first. Then computes the
    patient's features from each trait's ``schemas`` entry, reading the file
    once for all of them (absent sites filled as
    homozygous reference inside the callable regions, when
    :mod:`genorisk.callable` gives any), finds notable variants when
    ``annotation`` resources are given (None: not configured), and infers sex
    from chrX.

    Parameters
    ----------
    patient : mapping
        Sample-sheet row: ``patient_id``, ``vcf``, ``sample`` and optionally
        ``sex`` (``male``/``female``) and ``callable_bed``.
    schemas : mapping
        Trait id -> that trait's feature schema (``features.schema.json`` of
        its bundle), in trait order.
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
    normalized : str or Path, optional
        The patient's already-normalised VCF (holding ``sample``).
    validation, normalization : mapping, optional
        With ``normalized``: the validation report and normalisation counts
        of the patient's file (from :func:`~genorisk.patient_files.prepare_patient_vcf`).
    callable_bed : str or Path, optional
        Callable regions for every patient without a ``callable_bed`` of
        its own (``patients.callable_bed``).
    gvcf_min_gq, gvcf_min_dp : int
        Minimum GQ and depth of a gVCF reference block.

    Returns
    -------
    features : dict
        Trait id -> DataFrame with one row, indexed by patient ID
        (``sample_id``), that trait's schema's columns.
    qc : dict
        ``validation``, ``normalization``, ``call_rate`` (over the dosage
        variants of all traits, present or filled in), ``coverage`` (trait
        id -> the coverage of :func:`genorisk.features.patient.patient_features`),
        ``notable_variants`` (None when not configured) and ``sex``.
    """
    if normalized is None:
        report = validate_vcf(patient["vcf"], genome_build=genome_build, require_samples=[patient["sample"]])
        with tempfile.TemporaryDirectory(prefix="genorisk-patient-") as tmp:
            vcf = Path(tmp) / "normalized.vcf.gz"
            counts = normalize_vcf(patient["vcf"], vcf, fasta=fasta, validation=report)
            return patient_inputs(
                patient,
                schemas,
                genome_build=genome_build,
                annotation=annotation,
                population_af_key=population_af_key,
                rare_max_af=rare_max_af,
                normalized=vcf,
                validation=report.to_dict(),
                normalization=counts,
                callable_bed=callable_bed,
                gvcf_min_gq=gvcf_min_gq,
                gvcf_min_dp=gvcf_min_dp,
            )
    pid, sample = patient["patient_id"], patient["sample"]
    male = {"male": True, "female": False}.get(patient.get("sex", ""))
    regions = patient_callable_regions(
        normalized,
        sample,
        bed=patient.get("callable_bed") or callable_bed,
        min_gq=gvcf_min_gq,
        min_dp=gvcf_min_dp,
        genome_build=genome_build,
    )
    tables, coverage, call_rates = schemas_patient_features(
        normalized, [sample], list(schemas.values()), [patient], male=[male], callable_regions=[regions]
    )
    notable = None
    if annotation:
        notable = notable_variants(
            normalized,
            sample,
            max_af=rare_max_af,
            male=male,
            genome_build=genome_build,
            population_af_key=population_af_key,
            **annotation,
        )
    sex = infer_sex_single(normalized, sample)
    qc = {
        "validation": dict(validation or {}),
        "normalization": dict(normalization or {}),
        "call_rate": call_rates[0],
        "coverage": {trait: cov[0] for trait, cov in zip(schemas, coverage, strict=True)},
        "notable_variants": notable,
        "sex": sex,
    }
    # Rows are keyed by patient ID (unique in the sheet; sample names need not be).
    return {
        trait: t.set_axis([pid], axis=0).rename_axis("sample_id") for trait, t in zip(schemas, tables, strict=True)
    }, qc


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
    male chrX/chrY rule. :func:`batch_notable_variants` for one patient.

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
    return batch_notable_variants(vcf, [sample], max_af=max_af, male=[male], genome_build=genome_build, **resources)[0]


def batch_notable_variants(
    vcf: str | Path,
    samples: Sequence[str],
    *,
    max_af: float = 0.01,
    male: Sequence[bool | None] | None = None,
    genome_build: str | None = None,
    **resources: Any,
) -> list[list[dict[str, Any]]]:
    """:func:`notable_variants` of several patients of one VCF, annotating their carried sites once.

    One ``bcftools view -S -c1`` keeps the records that any of the samples
    carries, :func:`genorisk.annotate.annotate_table` annotates them once
    (its annotations are per allele: consequences are local, ``bcftools csq
    -l``), and each patient's list is then made from the rows of the records
    that patient carries, exactly as from a file of that patient alone
    (:func:`genorisk.features.rare_damaging` is applied to each patient's
    rows, since whether consequences were computed is judged on them).

    Parameters
    ----------
    vcf : str or Path
        A normalised VCF holding every name of ``samples``.
    samples : sequence of str
        One sample name per patient (repeats allowed).
    max_af, genome_build, **resources
        As for :func:`notable_variants`.
    male : sequence of bool or None, optional
        Per patient, the recorded sex; default all unknown.

    Returns
    -------
    list of list of dict
        Per patient, the list of :func:`notable_variants`.
    """
    male_of = list(male) if male is not None else [None] * len(samples)
    names = list(dict.fromkeys(samples))
    out: list[list[dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="genorisk-notable-") as tmp:
        carried = Path(tmp) / "carried.vcf.gz"
        select_carriers(vcf, names, carried, Path(tmp))
        table = annotate_table(carried, **resources)
        if table.empty:
            return [[] for _ in samples]
        calls = _carried_calls(carried)
    keys = list(zip(table["chrom"].astype(str), table["pos"].astype(int), table["ref"], table["alt"], strict=True))
    for sample, is_male in zip(samples, male_of, strict=True):
        # The rows of the records this sample carries: the table a file of this sample alone gives.
        mine = [any(a[sample] is not None for a in calls.get(k, [])) for k in keys]
        part = table[mine].reset_index(drop=True)
        if part.empty:
            out.append([])
            continue
        computed = bool(part["consequence"].notna().any())  # rare_damaging's own default
        keep = rare_damaging(
            part, max_af=max_af, cohort_af=pd.Series(0.0, index=part.index), consequences_computed=computed
        )
        part = part[keep].reset_index(drop=True)
        zygosity = []
        part_keys = zip(part["chrom"].astype(str), part["pos"].astype(int), part["ref"], part["alt"], strict=True)
        for key in part_keys:
            first = next((a for a in calls.get(key, []) if a[sample] is not None), None)
            zygosity.append(
                None
                if first is None
                else call_zygosity(
                    key[0], key[1], first[sample], first["allele_index"], male=is_male, genome_build=genome_build
                )
            )
        out.append(_notable_entries(part, zygosity, notable_reasons(part, consequences_computed=computed)))
    return out


def _carried_calls(vcf: Path) -> dict[tuple, list[dict[str, Any]]]:
    """Per (chrom, pos, ref, alt) of ``vcf``, its records in file order: each sample's call if it carries one.

    A record's entry maps each sample name to its called allele indexes
    (vector-end padding dropped) when the sample has a non-reference allele
    there, else None; ``allele_index`` is the ALT's 1-based index.
    """
    calls: dict[tuple, list[dict[str, Any]]] = {}
    reader = open_vcf(vcf)
    try:
        names = list(reader.samples)
        for rec in reader:
            gt = rec.genotype.array()[:, :-1]
            entry: dict[str, Any] = {}
            for j, name in enumerate(names):
                alleles = [int(a) for a in gt[j] if int(a) != -2]
                entry[name] = alleles if any(a > 0 for a in alleles) else None
            for k, alt in enumerate(rec.ALT, start=1):
                calls.setdefault((str(rec.CHROM), int(rec.POS), rec.REF, alt), []).append(dict(entry, allele_index=k))
    finally:
        reader.close()
    return calls


def _notable_entries(
    table: pd.DataFrame, zygosity: Sequence[str | None], reasons: Sequence[str]
) -> list[dict[str, Any]]:
    """The report's notable-variant records of the annotated ``table`` rows with a zygosity (index 0..n-1)."""
    out = []
    for i, (_, row) in enumerate(table.iterrows()):
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
                "reason": reasons[i],
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


def select_carriers(vcf: str | Path, samples: Sequence[str], out: Path, tmp: Path) -> None:
    """Write ``samples`` where any of them has a non-reference allele (``bcftools view -S -c1``) to ``out``.

    Parameters
    ----------
    vcf : str or Path
        Indexed or plain VCF/BCF holding ``samples``.
    samples : sequence of str
        Sample names, exactly as in the header.
    out : Path
        Output ``.vcf.gz``; a tabix index is written beside it.
    tmp : Path
        Scratch directory for the sample-name file.

    Raises
    ------
    InputError
        bcftools could not select the samples (its message is included).

    Notes
    -----
    The names go through a file (``-S``, one name per line), never the
    command line: ``-s`` splits names at commas and reads a leading ``^`` as
    "exclude", and both are valid in a sample name.
    """
    names = tmp / "samples.txt"
    names.write_text("".join(s + "\n" for s in samples))
    proc = subprocess.run(
        ["bcftools", "view", "-S", str(names), "-c1", "-Oz", "-o", str(out), str(vcf)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        shown = repr(samples[0]) if len(samples) == 1 else f"{len(samples)} samples"
        raise InputError(vcf, f"could not select {shown}: {proc.stderr.strip()}")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True, capture_output=True)
