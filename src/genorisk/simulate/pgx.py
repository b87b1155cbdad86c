"""A small simulated pharmacogenomic region per demo patient, with known diplotypes.

Each demo patient VCF gets one record at every definition position of the
bundled PharmCAT definitions (GRCh38, :mod:`genorisk.pgx.definitions`),
carrying the two named alleles :data:`DEMO_PLAN` gives that patient (the
reference named allele for the other genes), phased, plus a missing call
(``./.``) where the plan says so. The plan is fixed, not drawn: the random
streams of the rest of the simulation, and so the cohort, the model and the
patients' chr21 features, are unchanged. Patients past the plan's length
cycle through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..genome import contig_lengths, contig_sort_key
from ..pgx.definitions import IUPAC, GeneDefinition, load_definitions

__all__ = ["DEMO_PLAN", "PgxSites", "demo_pgx_sites", "planned_diplotypes"]

#: Per demo patient (in sheet order): gene -> its two named alleles, and ``missing``: rsIDs written ``./.``.
DEMO_PLAN: Sequence[Mapping[str, object]] = (
    {"CYP2C19": ("*2", "*17")},  # P001: the example, an intermediate metabolizer
    {},  # P002: reference everywhere, normal metabolizer
    {
        "CYP2C9": ("*1", "*3"),
        "VKORC1": ("rs9923231 reference (C)", "rs9923231 variant (T)"),
        "CYP4F2": ("*1", "*3"),
        "SLCO1B1": ("*1", "*5"),
        "TPMT": ("*1", "*3A"),
    },
    {"DPYD": ("Reference", "c.1905+1G>A (*2A)"), "CYP3A5": ("*1", "*3"), "missing": ("rs12248560",)},  # partial
    {"UGT1A1": ("*28", "*28"), "CYP3A5": ("*3", "*3"), "CYP2C19": ("*2", "*2")},
    {"NUDT15": ("*1", "*3"), "CYP2C19": ("*1", "*17"), "SLCO1B1": ("*5", "*5")},
)

#: The named allele of a gene not in a patient's plan (its reference, except where *1 is not it).
_DEFAULT_ALLELE = {"CYP2C19": "*1"}


@dataclass
class PgxSites:
    """The PGx records of the demo patients.

    Attributes
    ----------
    chroms, positions, ids, refs, alts : numpy.ndarray
        Per site (sorted by contig, then position); ``alts`` comma-joined.
    calls : numpy.ndarray
        (sites, patients, 2) int8 allele indices; -1: missing.
    contigs : list of str
        The contigs, in order.
    truth : list of dict
        Per patient: ``pgx_diplotypes`` (``GENE=*a/*b;...``) and ``pgx_missing`` (rsIDs, ``;``-joined).
    """

    chroms: np.ndarray
    positions: np.ndarray
    ids: np.ndarray
    refs: np.ndarray
    alts: np.ndarray
    calls: np.ndarray
    contigs: list[str]
    truth: list[dict[str, str]]


def planned_diplotypes(index: int, definitions: Mapping[str, GeneDefinition]) -> dict[str, tuple[str, str]]:
    """Gene -> the two named alleles the plan gives patient ``index`` (0-based, cycling)."""
    plan = DEMO_PLAN[index % len(DEMO_PLAN)]
    out = {}
    for gene, d in definitions.items():
        default = _DEFAULT_ALLELE.get(gene, d.reference_allele.name)
        pair = plan.get(gene, (default, default))
        out[gene] = (str(pair[0]), str(pair[1]))  # type: ignore[index]
    return out


def _expected_alleles(definition: GeneDefinition, name: str) -> list[str]:
    """The allele a haplotype carries at each position: its own, else the reference haplotype's."""
    named = {a.name: a for a in definition.named_alleles}
    if name not in named:
        raise ValueError(f"{definition.gene} has no named allele {name!r}")
    ref = definition.reference_allele
    out = []
    for i, p in enumerate(definition.positions):
        allele = named[name].alleles[i] or ref.alleles[i] or p.ref
        if allele in IUPAC:  # a wobble: the reference base if it fits, else the first base it allows
            allele = p.ref if p.ref in IUPAC[allele] else sorted(IUPAC[allele])[0]
        out.append(allele)
    return out


def demo_pgx_sites(n_patients: int, genes: Sequence[str] | None = None) -> PgxSites:
    """The PGx records of ``n_patients`` demo patients (the plan, cycled).

    Parameters
    ----------
    n_patients : int
    genes : sequence of str, optional
        Genes to write (default: every gene of the bundled definitions).

    Returns
    -------
    PgxSites
    """
    definitions = load_definitions(genes)
    sites: dict[tuple[str, int], dict] = {}
    for gene, d in definitions.items():
        for i, p in enumerate(d.positions):
            key = (p.chrom, p.pos)
            if key in sites:
                raise ValueError(f"{p.label} is a position of two genes")
            sites[key] = {"gene": gene, "index": i, "position": p}
    order = sorted(sites, key=lambda k: (contig_sort_key(k[0]), k[1]))
    calls = np.zeros((len(order), n_patients, 2), dtype=np.int8)
    row_of = {k: r for r, k in enumerate(order)}
    truth = []
    for patient in range(n_patients):
        plan = DEMO_PLAN[patient % len(DEMO_PLAN)]
        missing = {str(rs) for rs in plan.get("missing", ())}  # type: ignore[attr-defined]
        diplotypes = planned_diplotypes(patient, definitions)
        for gene, pair in diplotypes.items():
            d = definitions[gene]
            strands = [_expected_alleles(d, name) for name in pair]
            for i, p in enumerate(d.positions):
                alleles = [p.ref, *p.alts]
                row = row_of[(p.chrom, p.pos)]
                if p.rsid in missing:
                    calls[row, patient] = -1
                    continue
                calls[row, patient] = [alleles.index(s[i]) for s in strands]
        truth.append(
            {
                "pgx_diplotypes": ";".join(f"{g}={'/'.join(pair)}" for g, pair in diplotypes.items()),
                "pgx_missing": ";".join(sorted(missing)),
            }
        )
    positions = [sites[k]["position"] for k in order]
    return PgxSites(
        chroms=np.array([p.chrom for p in positions], dtype=object),
        positions=np.array([p.pos for p in positions], dtype=np.int64),
        ids=np.array([p.rsid or "." for p in positions], dtype=object),
        refs=np.array([p.ref for p in positions], dtype=object),
        alts=np.array([",".join(p.alts) for p in positions], dtype=object),
        calls=calls,
        contigs=list(dict.fromkeys(p.chrom for p in positions)),
        truth=truth,
    )


def contig_lines(pgx_contigs: Sequence[str], others: Sequence[str]) -> list[tuple[str, int]]:
    """(name, GRCh38 length) of the PGx contigs and ``others``, in genome order."""
    lengths = contig_lengths("GRCh38")
    names = sorted(dict.fromkeys([*pgx_contigs, *others]), key=contig_sort_key)
    return [(n, lengths[n]) for n in names]
