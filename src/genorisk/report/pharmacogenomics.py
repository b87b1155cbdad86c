"""The Medicines section: a patient's pharmacogenomic calls as the report holds and shows them.

Rule ``call_pharmacogenes`` writes one ``pgx`` object per patient
(:mod:`genorisk.pgx.call`); :func:`pharmacogenomics_section` turns it into the
``pharmacogenomics`` object of ``report.json`` (contract:
``schemas/report.schema.json``, ``#/$defs/pharmacogenomics``), keeping the
fields that contract lists and checking the object belongs to the patient;
:func:`medicines_view` orders it for the page (drugs whose recommendation
changes prescribing first, then those with other guidance; genes not attempted
listed with the others, long position lists shortened).

A gene that was not called keeps its row and its reason; a patient whose
pharmacogenes could not be called at all (``status: "refused"``) keeps the
disease report, and the section says why. None (the stage was not
configured) is passed through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from genorisk.errors import InputError

__all__ = ["MAX_POSITIONS_SHOWN", "PGX_STATUSES", "medicines_view", "pharmacogenomics_section"]

#: The per-patient states of rule call_pharmacogenes.
PGX_STATUSES = ("called", "refused", "disabled")

#: Positions, and diplotypes not ruled out, listed per gene on the page (report.json keeps all of them).
MAX_POSITIONS_SHOWN = 8

# The report's fields, in the pgx object's words (genorisk.pgx.call.gene_entry and guidance_for).
_TOP_REQUIRED = ("status", "genes", "not_attempted", "drugs", "research_use")
_TOP_OPTIONAL = ("reason", "error", "genome_build", "definitions")
_GENE_REQUIRED = (
    "gene",
    "chromosome",
    "status",
    "reason",
    "diplotypes",
    "phenotype",
    "activity_score",
    "phased",
    "n_positions",
    "n_reference_from_callable",
    "missing_positions",
    "absent_positions",
    "ref_mismatches",
    "missing_amp1_positions",
    "extra_positions",
    "definitions_version",
)
_GENE_OPTIONAL = ("haplotype_matches", "uncallable_haplotypes")
_DIPLOTYPE_REQUIRED = ("name", "haplotypes", "score", "functions", "activity_values", "phenotype", "activity_score")
_DIPLOTYPE_OPTIONAL = ("lowest_function_haplotypes", "differs_at_missing_positions")
_DRUG_REQUIRED = ("drug", "genes", "citation", "actionable", "changes_prescribing")
_DRUG_GENE_REQUIRED = ("gene", "phenotype", "implication", "recommendation", "changes_prescribing")
_DRUG_GENE_OPTIONAL = ("reason",)


def _pick(obj: Any, required: Sequence[str], optional: Sequence[str], where: str, fail) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        fail(where, f"expected an object, got {type(obj).__name__}")
    missing = [k for k in required if k not in obj]
    if missing:
        fail(where, f"missing field(s) {', '.join(missing)}")
    return {k: obj[k] for k in (*required, *optional) if k in obj}


def _list(obj: Any, where: str, fail) -> list:
    if not isinstance(obj, list):
        fail(where, f"expected a list, got {type(obj).__name__}")
    return obj


def pharmacogenomics_section(
    pgx: Mapping[str, Any] | None,
    *,
    patient_id: str | None = None,
    source: str | os.PathLike | None = None,
) -> dict[str, Any] | None:
    """The ``pharmacogenomics`` object of one patient's report, from its ``pgx`` object.

    Parameters
    ----------
    pgx : mapping or None
        The patient's object from the batch's ``pgx.json`` (``patients[id]``),
        or None when pharmacogenomics was not part of the run.
    patient_id : str, optional
        The report's patient: the object must name the same one.
    source : path, optional
        The ``pgx.json`` it came from, named in errors.

    Returns
    -------
    dict or None
        ``status`` (``called``, ``refused``, ``disabled``), ``reason`` (why
        not called, else None), ``error`` (the refusal record, else None),
        ``genome_build`` and ``definitions`` (None unless called), ``genes``
        (each with ``diplotypes`` best first, call status and reason and the
        positions missing, absent or disagreeing), ``not_attempted``,
        ``drugs`` (each with its genes' implication and recommendation and the
        CPIC citation) and ``research_use``. Fields the contract does not list
        are left out. None for None.

    Raises
    ------
    InputError
        The object names another patient or lacks a field, naming the file,
        the patient and the field.
    """
    if pgx is None:
        return None
    who = f"patient {patient_id}: " if patient_id else ""

    def fail(where: str, problem: str):
        raise InputError(source, problem, record=f"{who}pharmacogenomics{where}")

    if patient_id is not None and isinstance(pgx, Mapping) and pgx.get("patient_id", patient_id) != patient_id:
        fail("", f"the object is for patient {pgx.get('patient_id')!r}")
    out = _pick(pgx, _TOP_REQUIRED, _TOP_OPTIONAL, "", fail)
    for key in _TOP_OPTIONAL:
        out.setdefault(key, None)
    out["genes"] = []
    for i, gene in enumerate(_list(pgx["genes"], ".genes", fail)):
        entry = _pick(gene, _GENE_REQUIRED, _GENE_OPTIONAL, f".genes[{i}]", fail)
        entry["diplotypes"] = [
            _pick(d, _DIPLOTYPE_REQUIRED, _DIPLOTYPE_OPTIONAL, f".genes[{i}].diplotypes[{j}]", fail)
            for j, d in enumerate(_list(gene["diplotypes"], f".genes[{i}].diplotypes", fail))
        ]
        out["genes"].append(entry)
    out["drugs"] = []
    for i, drug in enumerate(_list(pgx["drugs"], ".drugs", fail)):
        entry = _pick(drug, _DRUG_REQUIRED, (), f".drugs[{i}]", fail)
        entry["genes"] = [
            _pick(g, _DRUG_GENE_REQUIRED, _DRUG_GENE_OPTIONAL, f".drugs[{i}].genes[{j}]", fail)
            for j, g in enumerate(_list(drug["genes"], f".drugs[{i}].genes", fail))
        ]
        out["drugs"].append(entry)
    return out


def _positions(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the page lists of a gene's unread positions: ``what`` (``"2 missing calls"``), ``shown``
    (``rsID (chr:pos)`` labels, at most :data:`MAX_POSITIONS_SHOWN`) and ``more`` (how many not shown)."""
    chrom = entry["chromosome"]

    def label(p: Mapping[str, Any]) -> str:
        return f"{p.get('rsid') or 'no rsID'} ({chrom}:{p['position']})"

    groups = [
        (entry["missing_positions"], lambda n: f"{n} missing call{'s' if n > 1 else ''}"),
        (entry["absent_positions"], lambda n: f"{n} absent from the VCF"),
        (entry["ref_mismatches"], lambda n: f"{n} with a REF other than the definitions'"),
    ]
    out: list[dict[str, Any]] = []
    for positions, what in groups:
        if positions:
            shown = [label(p) for p in positions[:MAX_POSITIONS_SHOWN]]
            out.append({"what": what(len(positions)), "shown": shown, "more": len(positions) - len(shown)})
    return out


def _grouped(genes: Sequence[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    """One sentence per distinct ``key`` text of a drug's genes, in gene order (warfarin's CYP2C9 and VKORC1
    share one recommendation). A gene without it says why (``muted``): its ``reason`` for the implication."""
    out: list[dict[str, Any]] = []
    for g in genes:
        if g[key]:
            text, muted = g[key], False
        elif key == "implication" and g.get("reason"):
            text, muted = g["reason"].rstrip(".") + ".", True
        else:
            text, muted = "No genotype-based recommendation.", True
        same = next((o for o in out if (o["text"], o["muted"]) == (text, muted)), None)
        if same is None:
            out.append({"genes": [g["gene"]], "text": text, "muted": muted})
        else:
            same["genes"].append(g["gene"])
    return out


def medicines_view(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Medicines section as the page draws it, or None when not configured.

    Returns
    -------
    dict or None
        ``drugs`` (first those whose recommendation changes prescribing, then
        those with other guidance, then the rest, each group in table order;
        each with ``implications`` and ``recommendations``: ``genes``,
        ``text``, ``muted``, one per distinct text),
        ``genes`` (rows ``gene``, ``status``, ``reason``, ``diplotypes``
        (names of the called ones), ``tied``, ``possible`` (names of the
        diplotypes that fit as well and differ only at missing positions, at
        most :data:`MAX_POSITIONS_SHOWN`; ``possible_more``: how many more),
        ``phenotype``, ``activity_score``, ``positions``
        (groups ``what``, ``shown``, ``more``)) with the genes not
        attempted last (status ``not_attempted``), and counts ``n_called``,
        ``n_partial``, ``n_not_called``.
    """
    if section is None:
        return None
    genes = []
    for g in section["genes"]:
        called = [d["name"] for d in g["diplotypes"] if not d.get("differs_at_missing_positions")]
        possible = [d["name"] for d in g["diplotypes"] if d.get("differs_at_missing_positions")]
        genes.append(
            {
                "gene": g["gene"],
                "status": g["status"],
                "reason": g["reason"],
                "diplotypes": called,
                "tied": len(called) > 1,
                "possible": possible[:MAX_POSITIONS_SHOWN],
                "possible_more": len(possible) - len(possible[:MAX_POSITIONS_SHOWN]),
                "phenotype": g["phenotype"],
                "activity_score": g["activity_score"],
                "phased": g["phased"],
                "positions": _positions(g),
            }
        )
    genes += [
        {
            "gene": g["gene"],
            "status": "not_attempted",
            "reason": g["reason"],
            "diplotypes": [],
            "tied": False,
            "possible": [],
            "possible_more": 0,
            "phenotype": None,
            "activity_score": None,
            "phased": False,
            "positions": [],
        }
        for g in section["not_attempted"]
    ]
    states = [g["status"] for g in section["genes"]]
    drugs = [
        {
            **d,
            "implications": _grouped(d["genes"], "implication"),
            "recommendations": _grouped(d["genes"], "recommendation"),
        }
        # Stable: table order within each group.
        for d in sorted(section["drugs"], key=lambda d: (not d["changes_prescribing"], not d["actionable"]))
    ]
    return {
        "genes": genes,
        "drugs": drugs,
        "n_called": states.count("called"),
        "n_partial": states.count("partial"),
        "n_not_called": states.count("not_called"),
    }
