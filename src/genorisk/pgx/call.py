"""Pharmacogenes of a patient: diplotypes, phenotypes and CPIC guidance, as the per-patient ``pgx`` object.

:func:`call_sample` reads the patient's prepared VCF (rule
``prepare_patient_vcf``'s normalised file) at the definition positions only,
through its index, and returns the JSON object phase 2 puts in the reports;
:func:`call_batch` does it for a batch of patients (rule
``call_pharmacogenes``). Each gene is called on its own: a gene that fails
(wrong build, a REF that disagrees, positions nobody sequenced, an unexpected
error) is ``not_called`` with its reason, and the other genes go on.

The object (``schema_version`` 1)::

    {"schema_version": 1, "patient_id": str, "sample": str, "vcf": str,
     "status": "called" | "refused" | "disabled",
     "error": null | {refusal record: patient_id, sheet_line, sample, file, record, problem, stage},
     "genome_build": "GRCh38",
     "definitions": {"source": str, "license": str, "build": "GRCh38", "version": str},
     "genes": [gene entries, see gene_entry()],
     "not_attempted": [{"gene": "CYP2D6", "reason": str}],
     "drugs": [see genorisk.pgx.guidance.guidance_for()],
     "research_use": str}
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from genorisk.callable import CallableRegions, patient_callable_regions
from genorisk.errors import InputError
from genorisk.genome import detect_genome_build, normalize_build
from genorisk.pgx.combinations import lowest_function_pair
from genorisk.pgx.definitions import DEFINITIONS_BUILD, STRUCTURAL_GENES, GeneDefinition, load_definitions
from genorisk.pgx.genotypes import PositionGenotype, open_indexed_vcf, read_gene_genotypes
from genorisk.pgx.guidance import RESEARCH_USE, guidance_for
from genorisk.pgx.matcher import LOWEST_FUNCTION_GENES, GeneMatch, match_gene
from genorisk.pgx.phenotype import INDETERMINATE, NO_PHENOTYPE_MAPPING, load_phenotypes

log = logging.getLogger("genorisk.pgx")

__all__ = ["DERIVED_PHENOTYPES", "SCHEMA_VERSION", "call_batch", "call_sample", "disabled_object"]

SCHEMA_VERSION = 1

#: Genes without a CPIC phenotype table whose guidance keys on one allele: gene -> (rsID, allele).
DERIVED_PHENOTYPES: Mapping[str, tuple[str, str]] = {"CYP4F2": ("rs2108622", "T")}

_SOURCE = {
    "source": "PharmCAT named-allele definitions and phenotype mappings (PharmGKB/PharmCAT)",
    "license": "MPL-2.0 (PharmCAT); allele and phenotype data from CPIC (CC0) and PharmVar",
}


def _where(genotype: PositionGenotype) -> dict[str, Any]:
    return {"position": genotype.position.pos, "rsid": genotype.position.rsid}


def _not_called(definition: GeneDefinition, reason: str, **extra: Any) -> dict[str, Any]:
    entry = _empty_entry(definition)
    entry.update(status="not_called", reason=reason, **extra)
    return entry


def _empty_entry(definition: GeneDefinition) -> dict[str, Any]:
    return {
        "gene": definition.gene,
        "chromosome": definition.chrom,
        "status": "not_called",
        "reason": None,
        "diplotypes": [],
        "phenotype": None,
        "activity_score": None,
        "phased": False,
        "n_positions": len(definition.positions),
        "n_reference_from_callable": 0,
        "missing_positions": [],
        "absent_positions": [],
        "ref_mismatches": [],
        "missing_amp1_positions": [],
        "extra_positions": [],
        "definitions_version": definition.version,
        "haplotype_matches": [],
        "uncallable_haplotypes": [],
    }


def _derived_phenotype(definition: GeneDefinition, haplotypes: Sequence[str]) -> str | None:
    rsid, allele = DERIVED_PHENOTYPES[definition.gene]
    index = next((i for i, p in enumerate(definition.positions) if p.rsid == rsid), None)
    if index is None:
        return None
    named = {a.name: a for a in definition.named_alleles}
    carries = [named[h].alleles[index] == allele for h in haplotypes if h in named]
    return f"{rsid} {allele} {'carrier' if any(carries) else 'non-carrier'}"


def gene_entry(definition: GeneDefinition, genotypes: Mapping[int, PositionGenotype], match: GeneMatch) -> dict:
    """The JSON entry of one gene.

    Keys: ``gene``, ``chromosome``, ``status`` (``called``: every position
    called; ``partial``: called with ``missing_positions``; ``not_called``:
    see ``reason``), ``reason``, ``diplotypes`` (best first; each ``name``,
    ``haplotypes``, ``score``, ``functions``, ``activity_values``,
    ``phenotype``, ``activity_score``), ``phenotype`` and ``activity_score``
    (shared by every diplotype listed, else ``Indeterminate``/None), ``phased``,
    ``n_positions``, ``n_reference_from_callable`` (absent positions called
    reference from a gVCF block or the callable BED), ``missing_positions``,
    ``absent_positions``, ``ref_mismatches`` (``position``, ``rsid``,
    ``expected_ref``, ``vcf_ref``), ``missing_amp1_positions`` (each
    ``position``, ``rsid``), ``extra_positions`` (``position``, ``rsid``,
    ``alleles`` or None), ``definitions_version``, ``haplotype_matches`` and
    ``uncallable_haplotypes`` (named alleles defined only at missing
    positions, which the matching could not consider: PharmCAT's
    ``uncallableHaplotypes``).

    Missing positions: after the called diplotypes (PharmCAT's), ``diplotypes``
    lists, marked ``differs_at_missing_positions``, every diplotype that fits
    the positions read as well and differs from a called one only at missing
    positions (:func:`genorisk.pgx.matcher.missing_position_alternatives`;
    for DPYD, a called strand that may also carry an allele defined only at
    missing positions). The gene's phenotype is then ``Indeterminate`` unless
    they all share it: a missing position never leaves a confident phenotype
    it could change. A gene with no diplotype-to-phenotype table (IFNL3) has
    the phenotype ``No phenotype mapping``.

    DPYD (lowest-function rule, :mod:`genorisk.pgx.combinations`): a
    diplotype's phenotype comes from the lowest-activity allele of each strand,
    listed in its ``lowest_function_haplotypes``; from an unphased sample no
    diplotype is assumed: ``haplotype_matches`` lists the named alleles found
    (twice when homozygous) and the one diplotype listed is the two
    lowest-activity ones (``Reference`` filling in), named ``a/b``.
    """
    entry = _empty_entry(definition)
    by_pos = {p.pos: p for p in definition.positions}
    entry["n_reference_from_callable"] = sum(g.state == "reference" for g in genotypes.values())
    entry["missing_positions"] = [{"position": p, "rsid": by_pos[p].rsid} for p in match.missing_positions]
    entry["missing_amp1_positions"] = [{"position": p, "rsid": by_pos[p].rsid} for p in match.missing_amp1]
    entry["phased"] = match.phased
    entry["uncallable_haplotypes"] = list(match.uncallable_haplotypes)
    tables = load_phenotypes(definition.gene)
    lowest = definition.gene in LOWEST_FUNCTION_GENES and tables is not None
    activity = tables.activity_values if tables else {}

    def row(name: str, haplotypes: Sequence[str], score: int, basis: Sequence[str], alternative: bool) -> dict:
        looked = tables.lookup(basis) if tables else {}
        phenotype = looked.get("phenotype", NO_PHENOTYPE_MAPPING)
        if definition.gene in DERIVED_PHENOTYPES:
            phenotype = _derived_phenotype(definition, haplotypes)
        out = {
            "name": name,
            "haplotypes": list(haplotypes),
            "score": score,
            "functions": looked.get("functions"),
            "activity_values": looked.get("activity_values"),
            "phenotype": phenotype,
            "activity_score": looked.get("activity_score"),
        }
        if tuple(basis) != tuple(haplotypes) or (lowest and score == 0):
            out["lowest_function_haplotypes"] = list(basis)
        if alternative:
            out["differs_at_missing_positions"] = True
        return out

    diplotypes = []
    for n, d in enumerate(match.diplotypes):
        basis: Sequence[str] = d.haplotypes
        if lowest and match.strands:
            basis = lowest_function_pair(match.strands[n], activity, definition.reference_allele.name)
        diplotypes.append(row(d.name, d.haplotypes, d.score, basis, False))
    if not diplotypes and match.haplotype_matches and lowest:
        # DPYD, unphased: no diplotype is assumed; the phenotype comes from the two lowest-activity alleles.
        pair = lowest_function_pair([match.haplotype_matches], activity, definition.reference_allele.name)
        diplotypes.append(row("/".join(pair), pair, 0, pair, False))
    if lowest and diplotypes and match.uncallable_haplotypes:
        diplotypes += _hidden_lowest_function(definition, diplotypes, match.uncallable_haplotypes, activity, row)
    else:
        diplotypes += [row(d.name, d.haplotypes, d.score, d.haplotypes, True) for d in match.alternatives]
    entry["haplotype_matches"] = list(match.haplotype_matches)
    entry["diplotypes"] = diplotypes
    if match.missing_required:
        entry["reason"] = "required positions missing: " + ", ".join(by_pos[p].label for p in match.missing_required)
    elif not diplotypes:
        entry["reason"] = "no pair of named alleles fits the genotypes at the definition positions"
    else:
        entry["status"] = "partial" if match.missing_positions else "called"
        phenotypes = {d["phenotype"] for d in diplotypes}
        scores = {d["activity_score"] for d in diplotypes}
        entry["phenotype"] = phenotypes.pop() if len(phenotypes) == 1 else INDETERMINATE
        entry["activity_score"] = scores.pop() if len(scores) == 1 else None
        if entry["status"] == "partial":
            entry["reason"] = f"{len(match.missing_positions)} of {len(definition.positions)} positions not called"
            others = [d["name"] for d in diplotypes if d.get("differs_at_missing_positions")]
            if others:
                shown = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
                entry["reason"] += f"; {shown} fit the positions read as well as {diplotypes[0]['name']}" + (
                    ", with another phenotype" if entry["phenotype"] == INDETERMINATE else ""
                )
    return entry


def _hidden_lowest_function(
    definition: GeneDefinition, rows: list[dict], hidden: Sequence[str], activity: Mapping[str, str], row
) -> list[dict]:
    """DPYD rows a missing position could add: each strand of a called pair may also carry one named allele
    defined only at missing positions, and the lowest-activity allele of each strand sets the phenotype
    (PharmCAT's lowest-function rule; see :func:`genorisk.pgx.matcher.missing_position_alternatives`)."""
    reference = definition.reference_allele.name
    seen = {tuple(r.get("lowest_function_haplotypes", r["haplotypes"])) for r in rows}
    out = []
    for r in list(rows):
        a, b = r.get("lowest_function_haplotypes", r["haplotypes"])
        for u in (None, *hidden):
            for v in (None, *hidden):
                strands = [[a] + ([u] if u else []), [b] + ([v] if v else [])]
                pair = lowest_function_pair(strands, activity, reference)
                if pair not in seen:
                    seen.add(pair)
                    out.append(row("/".join(pair), pair, 0, pair, True))
    return out


def _extra_positions(handle, sample: str, definition: GeneDefinition) -> list[dict[str, Any]]:
    if not definition.extra_positions:
        return []
    found = read_gene_genotypes(handle, sample, definition.extra_positions)
    return [
        {"position": g.position.pos, "rsid": g.position.rsid, "alleles": list(g.alleles) if g.alleles else None}
        for g in found.values()
    ]


def _call_gene(
    handle,
    sample: str,
    definition: GeneDefinition,
    regions,
    *,
    top_candidate_only: bool,
    absent_as_missing: bool,
    find_combinations: bool = False,
) -> dict[str, Any]:
    genotypes = read_gene_genotypes(handle, sample, definition.positions)
    absent = [g for g in genotypes.values() if g.state == "absent"]
    if absent and not absent_as_missing:
        callable_regions = regions()
        if callable_regions is not None:
            genotypes = read_gene_genotypes(handle, sample, definition.positions, callable_regions=callable_regions)
            absent = [g for g in genotypes.values() if g.state == "absent"]
    mismatched = [g for g in genotypes.values() if g.state == "ref_mismatch"]
    if mismatched:
        shown = "; ".join(f"{g.position.label}: REF {g.vcf_ref}, expected {g.position.ref}" for g in mismatched[:5])
        return _not_called(
            definition,
            f"the VCF's REF disagrees with the GRCh38 definitions at {len(mismatched)} position(s) "
            f"(another build or reference?): {shown}",
            ref_mismatches=[{**_where(g), "expected_ref": g.position.ref, "vcf_ref": g.vcf_ref} for g in mismatched],
        )
    if absent and not absent_as_missing:
        shown = ", ".join(g.position.label for g in absent[:5]) + (", ..." if len(absent) > 5 else "")
        return _not_called(
            definition,
            f"{len(absent)} of {len(definition.positions)} definition positions are absent from the VCF and no "
            f"gVCF reference block or callable-regions BED says they were sequenced: {shown}",
            absent_positions=[_where(g) for g in absent],
        )
    match = match_gene(
        definition, genotypes, top_candidate_only=top_candidate_only, find_combinations=find_combinations
    )
    entry = gene_entry(definition, genotypes, match)
    entry["extra_positions"] = _extra_positions(handle, sample, definition)
    return entry


def _header_build(handle) -> str | None:
    lengths = {name: c.length for name, c in handle.header.contigs.items() if c.length}
    build, _ = detect_genome_build(lengths)
    return build


def call_sample(
    vcf: str | os.PathLike,
    sample: str,
    *,
    genes: Iterable[str] | None = None,
    genome_build: str | None = "GRCh38",
    callable_bed: str | os.PathLike | None = None,
    gvcf_min_gq: int = 20,
    gvcf_min_dp: int = 0,
    top_candidate_only: bool = True,
    absent_as_missing: bool = False,
    definitions: Mapping[str, GeneDefinition] | None = None,
    find_combinations: bool = False,
) -> dict[str, Any]:
    """Call the pharmacogenes of one sample of an indexed VCF.

    Parameters
    ----------
    vcf : path
        Bgzipped and indexed VCF (or BCF): the prepared patient VCF.
    sample : str
        The patient's sample in it.
    genes : iterable of str, optional
        Genes to call (``pgx.genes``); None: every gene of the definitions.
        A gene needing structural calls (CYP2D6) is listed under ``not_attempted``.
    genome_build : str, optional
        The config's build; with the VCF header's contig lengths, it must be GRCh38.
    callable_bed : path, optional
        Callable-regions BED of a variants-only VCF (issue 11).
    gvcf_min_gq, gvcf_min_dp : int
        gVCF reference-block thresholds (:func:`genorisk.callable.gvcf_reference_blocks`).
    top_candidate_only : bool
        Keep only the best-scoring diplotypes (ties: all of them).
    absent_as_missing : bool
        Treat a position absent from the VCF as a missing call (PharmCAT's
        reading) instead of leaving the gene uncalled.
    definitions : mapping, optional
        Preloaded definitions (a batch loads them once).
    find_combinations : bool
        PharmCAT's research mode: a gene no pair of named alleles fits is
        called strand by strand, as combinations and partial alleles
        (``[*9 + *14]``, ``[*17 + g.94781859G>A]``); their phenotype is
        usually ``Indeterminate``. Off by default, as in PharmCAT.

    Returns
    -------
    dict
        The per-patient object (module docstring), without ``patient_id``.

    Raises
    ------
    InputError
        ``sample`` is not in the file, or the file cannot be opened.
    """
    wanted = list(genes) if genes is not None else None
    defs = dict(definitions) if definitions is not None else load_definitions(wanted)
    if wanted is not None:
        defs = {g: defs[g] for g in wanted if g in defs} if definitions is not None else defs
    not_attempted = [
        {"gene": g, "reason": STRUCTURAL_GENES[g]} for g in (wanted or list(STRUCTURAL_GENES)) if g in STRUCTURAL_GENES
    ]
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "sample": sample,
        "vcf": str(vcf),
        "status": "called",
        "error": None,
        "genome_build": DEFINITIONS_BUILD,
        "definitions": {**_SOURCE, "build": DEFINITIONS_BUILD, "version": next((d.version for d in defs.values()), "")},
        "genes": [],
        "not_attempted": not_attempted,
        "drugs": [],
        "research_use": RESEARCH_USE,
    }
    try:
        handle = open_indexed_vcf(vcf)
    except (OSError, ValueError) as err:
        raise InputError(vcf, f"cannot open the VCF with its index ({err})") from err
    with handle:
        if sample not in handle.header.samples:
            raise InputError(vcf, f"sample {sample!r} is not in this file", record="header (#CHROM line)")
        handle.subset_samples([sample])
        config_build = normalize_build(genome_build) if genome_build else None
        header_build = _header_build(handle)
        wrong = [b for b in (config_build, header_build) if b and b != DEFINITIONS_BUILD]
        cache: dict[str, CallableRegions | None] = {}

        def regions() -> CallableRegions | None:
            if "r" not in cache:
                cache["r"] = patient_callable_regions(
                    vcf,
                    sample,
                    bed=callable_bed,
                    min_gq=gvcf_min_gq,
                    min_dp=gvcf_min_dp,
                    genome_build=DEFINITIONS_BUILD,
                )
            return cache["r"]

        for gene, definition in defs.items():
            if wrong:
                source = "the config's genome_build" if config_build in wrong else "the VCF header's contig lengths"
                out["genes"].append(
                    _not_called(definition, f"{source} say {wrong[0]}; the definitions are {DEFINITIONS_BUILD}")
                )
                continue
            try:
                out["genes"].append(
                    _call_gene(
                        handle,
                        sample,
                        definition,
                        regions,
                        top_candidate_only=top_candidate_only,
                        absent_as_missing=absent_as_missing,
                        find_combinations=find_combinations,
                    )
                )
            except InputError as err:
                out["genes"].append(_not_called(definition, str(err)))
            except Exception as err:  # one gene's failure never hides the others
                log.exception("%s: %s failed", sample, gene)
                out["genes"].append(_not_called(definition, f"calling failed ({type(err).__name__}: {err})"))
    out["drugs"] = guidance_for({g["gene"]: g["phenotype"] for g in out["genes"]})
    return out


def disabled_object(patient: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The per-patient object when PGx is off (``pgx.enabled: false``) or the patient was refused."""
    return {
        "schema_version": SCHEMA_VERSION,
        "patient_id": patient["patient_id"],
        "sample": patient.get("sample"),
        "vcf": patient.get("vcf"),
        "status": "disabled",
        "error": None,
        "reason": reason,
        "genes": [],
        "not_attempted": [],
        "drugs": [],
        "research_use": RESEARCH_USE,
    }


def call_batch(
    patients: Sequence[Mapping[str, Any]],
    statuses: Mapping[str, Mapping[str, Any]],
    *,
    enabled: bool = True,
    genes: Iterable[str] | None = None,
    genome_build: str | None = "GRCh38",
    callable_bed: str | os.PathLike | None = None,
    gvcf_min_gq: int = 20,
    gvcf_min_dp: int = 0,
) -> dict[str, Any]:
    """The pgx objects of a batch of patients (rule ``call_pharmacogenes``).

    Parameters
    ----------
    patients : sequence of mapping
        Sheet rows: ``patient_id``, ``sample``, ``vcf``, ``vcf_key``, optional ``callable_bed``.
    statuses : mapping
        ``vcf_key`` -> that file's ``status.json`` (rule ``prepare_patient_vcf``):
        the prepared file (``normalized``) and each patient's intake outcome.
    enabled : bool
        ``pgx.enabled``; False: every patient gets a ``disabled`` object.
    genes, genome_build, callable_bed, gvcf_min_gq, gvcf_min_dp
        As :func:`call_sample` (a row's own ``callable_bed`` wins over the config's).

    Returns
    -------
    dict
        ``{"schema_version": 1, "enabled": bool, "patients": {patient_id: object}}``;
        a patient refused at intake gets ``status: "refused"`` and the intake's
        refusal record as ``error``; one whose calling raised, the same with
        ``stage: "pgx"``.
    """
    wanted = list(genes) if genes is not None else None
    defs = load_definitions(wanted) if enabled else {}
    result: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "enabled": enabled, "patients": {}}
    start = time.monotonic()
    for n, p in enumerate(patients, start=1):
        pid = p["patient_id"]
        if not enabled:
            result["patients"][pid] = disabled_object(p, "pgx.enabled is false in the config")
            continue
        status = statuses[p["vcf_key"]]
        intake = status["patients"].get(pid) or {}
        if intake.get("status") != "accepted" or not status.get("normalized"):
            obj = disabled_object(p, "refused at intake")
            obj.update(status="refused", error=intake.get("error"))
            result["patients"][pid] = obj
            continue
        try:
            obj = call_sample(
                status["normalized"],
                p["sample"],
                genes=wanted,
                genome_build=genome_build,
                callable_bed=p.get("callable_bed") or callable_bed,
                gvcf_min_gq=gvcf_min_gq,
                gvcf_min_dp=gvcf_min_dp,
                definitions=defs,
            )
        except InputError as err:
            obj = disabled_object(p, "refused")
            obj.update(
                status="refused",
                error={
                    "patient_id": pid,
                    "sheet_line": p.get("sheet_line"),
                    "sample": p["sample"],
                    "file": err.path,
                    "record": err.record,
                    "problem": err.problem,
                    "stage": "pgx",
                },
            )
        result["patients"][pid] = {"patient_id": pid, **obj}
        states = [g["status"] for g in obj.get("genes", [])]
        log.info(
            "patient %s: %d genes called, %d partial, %d not called (%d/%d patients, %.1f s)",
            pid,
            states.count("called"),
            states.count("partial"),
            states.count("not_called"),
            n,
            len(patients),
            time.monotonic() - start,
        )
    return result
