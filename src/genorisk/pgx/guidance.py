"""CPIC guidance for a fixed list of gene-drug pairs (CPIC level A), from ``data/pgx/cpic_guidance.tsv``.

Each row of the table is one (drug, gene, phenotype): the implication and the
recommendation in one or two plain sentences, whether that recommendation
departs from standard prescribing (``changes_prescribing``: another dose,
another drug, or avoid; ``no`` when the guideline supports the usual drug and
dose), and the CPIC guideline it comes from (title, year, PMID). The sentences were written for genorisk from the
cited guidelines; they are for research use, and a clinician or pharmacist
confirms any prescribing decision.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from genorisk.errors import InputError
from genorisk.pgx.phenotype import INDETERMINATE

__all__ = ["GUIDANCE_COLUMNS", "RESEARCH_USE", "drug_genes", "guidance_for", "guidance_path", "read_guidance"]

GUIDANCE_COLUMNS = (
    "drug",
    "gene",
    "phenotype",
    "implication",
    "recommendation",
    "changes_prescribing",
    "guideline_title",
    "guideline_year",
    "guideline_pmid",
)

#: Shown with every drug table.
RESEARCH_USE = (
    "Research use only. Genotype-based guidance from CPIC guidelines, for discussion with a clinician or "
    "pharmacist, who confirms it (ideally with a clinically validated test) before any prescribing decision."
)


def guidance_path() -> Path:
    """The bundled guidance table."""
    return Path(str(resources.files("genorisk").joinpath("data/pgx/cpic_guidance.tsv")))


@lru_cache(maxsize=8)
def _read(path: str) -> tuple[dict[str, Any], ...]:
    rows = []
    with open(path, newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        reader = csv.DictReader(lines, delimiter="\t")
        if tuple(reader.fieldnames or ()) != GUIDANCE_COLUMNS:
            raise InputError(path, f"columns must be {', '.join(GUIDANCE_COLUMNS)}", record="header")
        for n, row in enumerate(reader, start=2):
            if any(not (row.get(c) or "").strip() for c in GUIDANCE_COLUMNS):
                raise InputError(path, "every column needs a value (the citation included)", record=f"row {n}")
            if row["changes_prescribing"] not in ("yes", "no"):
                raise InputError(
                    path,
                    f"changes_prescribing must be yes or no, not {row['changes_prescribing']!r}",
                    record=f"row {n}",
                )
            rows.append(
                {
                    **row,
                    "changes_prescribing": row["changes_prescribing"] == "yes",
                    "guideline_year": int(row["guideline_year"]),
                    "guideline_pmid": int(row["guideline_pmid"]),
                }
            )
    return tuple(rows)


def read_guidance(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The guidance rows (dicts keyed by :data:`GUIDANCE_COLUMNS`; year and PMID as int, changes_prescribing as bool).

    Raises
    ------
    InputError
        A column is missing or a cell is empty (a row without its citation).
    """
    return [dict(r) for r in _read(str(path or guidance_path()))]


def drug_genes(rows: list[dict[str, Any]] | None = None) -> dict[str, list[str]]:
    """Drug -> the genes its guidance uses, in table order."""
    out: dict[str, list[str]] = {}
    for r in rows if rows is not None else read_guidance():
        genes = out.setdefault(r["drug"], [])
        if r["gene"] not in genes:
            genes.append(r["gene"])
    return out


def guidance_for(
    phenotypes: Mapping[str, str | None], rows: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The drug table for one patient.

    Parameters
    ----------
    phenotypes : mapping of str to (str or None)
        Gene -> its phenotype (None: the gene was not called, or not asked for).
    rows : list of dict, optional
        The guidance table (default: the bundled one).

    Returns
    -------
    list of dict
        One per drug, in table order: ``drug``, ``genes`` (list of
        ``{"gene", "phenotype", "implication", "recommendation",
        "changes_prescribing"}``; the texts are None, and
        ``changes_prescribing`` None, when the gene has no phenotype or the
        table has no row for it, with ``"reason"`` saying which),
        ``citation`` (``{"title", "year", "pmid"}``), ``actionable`` (at least
        one gene has a recommendation, whether or not it changes anything) and
        ``changes_prescribing`` (at least one gene's recommendation departs
        from standard prescribing).
    """
    rows = rows if rows is not None else read_guidance()
    index = {(r["drug"], r["gene"], r["phenotype"]): r for r in rows}
    out = []
    for drug, genes in drug_genes(rows).items():
        first = next(r for r in rows if r["drug"] == drug)
        entries = []
        for gene in genes:
            phenotype = phenotypes.get(gene)
            row = index.get((drug, gene, phenotype)) if phenotype else None
            entry: dict[str, Any] = {
                "gene": gene,
                "phenotype": phenotype,
                "implication": row["implication"] if row else None,
                "recommendation": row["recommendation"] if row else None,
                "changes_prescribing": row["changes_prescribing"] if row else None,
            }
            if row is None:
                if not phenotype:
                    entry["reason"] = f"{gene} was not called: no genotype-based guidance"
                elif phenotype == INDETERMINATE:
                    entry["reason"] = (
                        f"The {gene} phenotype is indeterminate (diplotypes that fit as well differ in phenotype, "
                        "see the gene table): no genotype-based recommendation"
                    )
                else:
                    entry["reason"] = f"no CPIC recommendation for the phenotype {phenotype!r}"
            entries.append(entry)
        out.append(
            {
                "drug": drug,
                "genes": entries,
                "citation": {
                    "title": first["guideline_title"],
                    "year": first["guideline_year"],
                    "pmid": first["guideline_pmid"],
                },
                "actionable": any(e["recommendation"] for e in entries),
                "changes_prescribing": any(e["changes_prescribing"] for e in entries),
            }
        )
    return out
