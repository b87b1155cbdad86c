"""PharmCAT's named-allele definitions: positions, alleles and per-gene exemptions.

The bundled files (``genorisk/data/pgx/definitions``, from PharmCAT, MPL-2.0;
allele data from CPIC and PharmVar, see its ``MANIFEST.tsv``) define, per
gene, the GRCh38 positions that name its star alleles and, per named allele,
the allele expected at each position (``None``: the reference allele). A
:class:`GeneDefinition` holds one gene; :func:`load_definitions` reads them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from genorisk.errors import InputError

__all__ = [
    "DEFINITIONS_BUILD",
    "IUPAC",
    "STRUCTURAL_GENES",
    "DefinitionPosition",
    "GeneDefinition",
    "NamedAllele",
    "allele_sort_key",
    "available_genes",
    "definitions_dir",
    "load_definitions",
    "load_gene_definition",
]

#: The build of the bundled definitions (PharmCAT ships GRCh38 only).
DEFINITIONS_BUILD = "GRCh38"

#: Genes whose calls need copy number or structural variants: not attempted from a VCF.
STRUCTURAL_GENES: Mapping[str, str] = {
    "CYP2D6": (
        "needs copy-number and structural-variant calls (gene deletion, duplication, CYP2D6/CYP2D7 "
        "hybrids), which a VCF of small variants cannot give"
    ),
}

#: IUPAC codes a definition may use for "either base" (PharmCAT's wobble alleles).
IUPAC: Mapping[str, frozenset[str]] = {
    "R": frozenset("AG"),
    "Y": frozenset("CT"),
    "S": frozenset("GC"),
    "W": frozenset("AT"),
    "K": frozenset("GT"),
    "M": frozenset("AC"),
    "B": frozenset("CGT"),
    "D": frozenset("AGT"),
    "H": frozenset("ACT"),
    "V": frozenset("ACG"),
    "N": frozenset("ACGT"),
}


def definitions_dir() -> Path:
    """The folder of the bundled PharmCAT definition files (``<GENE>_translation.json``, ``exemptions.json``)."""
    return Path(str(resources.files("genorisk").joinpath("data/pgx/definitions")))


def available_genes(directory: str | os.PathLike | None = None) -> list[str]:
    """Genes with a definition file in ``directory`` (default: the bundled ones), sorted."""
    folder = Path(directory) if directory else definitions_dir()
    return sorted(p.name[: -len("_translation.json")] for p in folder.glob("*_translation.json"))


def allele_sort_key(name: str, reference: bool = False) -> tuple:
    """Order of named alleles in a diplotype and in lists: the reference first, then natural order.

    ``*4`` < ``*17``, ``*3A`` < ``*3B``, ``*80`` < ``*80+*28``: numbers compare as numbers.
    """
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", name))
    return (0 if reference else 1, parts)


@dataclass(frozen=True)
class DefinitionPosition:
    """One position of a gene's definition.

    Attributes
    ----------
    chrom : str
        Contig as the definitions name it (``chr10``).
    pos : int
        1-based VCF position.
    rsid : str or None
    ref : str
        The VCF REF the definitions expect (GRCh38).
    alts : tuple of str
        The ALT alleles the definitions name.
    """

    chrom: str
    pos: int
    rsid: str | None
    ref: str
    alts: tuple[str, ...]

    @property
    def label(self) -> str:
        """``rs12248560 (chr10:94761900)``, or the position alone without an rsID."""
        where = f"{self.chrom}:{self.pos}"
        return f"{self.rsid} ({where})" if self.rsid else where


@dataclass(frozen=True)
class NamedAllele:
    """A star allele (or named haplotype) of a gene.

    Attributes
    ----------
    name : str
    alleles : tuple of (str or None)
        Per definition position, the allele expected (VCF spelling, or an IUPAC
        code); None: not part of the definition (the reference is assumed).
    reference : bool
        The gene's reference haplotype (every position defined).
    """

    name: str
    alleles: tuple[str | None, ...]
    reference: bool

    @property
    def sort_key(self) -> tuple:
        return allele_sort_key(self.name, self.reference)


@dataclass(frozen=True)
class GeneDefinition:
    """One gene's named-allele definitions, with its exemptions.

    Attributes
    ----------
    gene : str
    chrom : str
    build : str
        The definitions' build (``GRCh38``).
    version : str
        The definitions' data version.
    positions : tuple of DefinitionPosition
        In the definition file's order; :attr:`NamedAllele.alleles` follow it.
    named_alleles : tuple of NamedAllele
        Without the ignored alleles (exemptions).
    required_positions : frozenset of int
        Positions that must be called for the gene to be called (exemption).
    amp1_positions : frozenset of int
        Positions of the AMP tier-1 allele set: a missing one is flagged.
    extra_positions : tuple of DefinitionPosition
        Positions reported beside the call (e.g. CYP2C9 rs12777823), not matched.
    unphased_priorities : Mapping of frozenset to str
        For an unphased sample, which diplotype of a tie to pick (exemption).
    """

    gene: str
    chrom: str
    build: str
    version: str
    positions: tuple[DefinitionPosition, ...]
    named_alleles: tuple[NamedAllele, ...]
    required_positions: frozenset[int] = frozenset()
    amp1_positions: frozenset[int] = frozenset()
    extra_positions: tuple[DefinitionPosition, ...] = ()
    unphased_priorities: Mapping[frozenset[str], str] = field(default_factory=dict)

    @property
    def reference_allele(self) -> NamedAllele:
        """The gene's reference haplotype."""
        return next(a for a in self.named_alleles if a.reference)


def _position(record: Mapping[str, Any], path: Path) -> DefinitionPosition:
    try:
        return DefinitionPosition(
            chrom=str(record["chromosome"]),
            pos=int(record["position"]),
            rsid=record.get("rsid"),
            ref=str(record["ref"]),
            alts=tuple(str(a) for a in record.get("alts") or ()),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"a variant lacks chromosome, position or ref ({err})", record=str(record)[:80]) from err


def load_gene_definition(path: str | os.PathLike, exemption: Mapping[str, Any] | None = None) -> GeneDefinition:
    """Read one ``<GENE>_translation.json``, applying the gene's ``exemption`` (``exemptions.json`` entry).

    Raises
    ------
    InputError
        The file is unreadable, has no reference haplotype, or an allele list
        of the wrong length.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot read the definition file ({err})") from err
    exemption = exemption or {}
    ignored_positions = {int(v["position"]) for v in exemption.get("ignoredPositions") or ()}
    ignored_alleles = {str(a).lower() for a in exemption.get("ignoredAlleles") or ()}
    variants = [_position(v, path) for v in data.get("variants") or ()]
    keep = [i for i, v in enumerate(variants) if v.pos not in ignored_positions]
    named = []
    for na in data.get("namedAlleles") or ():
        alleles = na.get("alleles") or []
        if len(alleles) != len(variants):
            raise InputError(
                path, f"{len(alleles)} alleles for {len(variants)} positions", record=f"named allele {na.get('name')}"
            )
        if str(na["name"]).lower() in ignored_alleles:
            continue
        named.append(
            NamedAllele(
                name=str(na["name"]),
                alleles=tuple(alleles[i] for i in keep),
                reference=bool(na.get("reference")),
            )
        )
    if sum(a.reference for a in named) != 1:
        raise InputError(path, "the definitions need exactly one reference named allele")
    build = str(data.get("genomeBuild") or "")
    priorities = {
        frozenset(p["list"]): str(p["pick"])
        for p in exemption.get("unphasedDiplotypePriorities") or ()
        if p.get("pick")
    }
    return GeneDefinition(
        gene=str(data["gene"]),
        chrom=str(data["chromosome"]),
        build="GRCh38" if build.startswith("GRCh38") else build,
        version=str(data.get("version") or ""),
        positions=tuple(variants[i] for i in keep),
        named_alleles=tuple(sorted(named, key=lambda a: a.sort_key)),
        required_positions=frozenset(int(p) for p in exemption.get("requiredPositions") or ()),
        amp1_positions=frozenset(int(p) for p in exemption.get("amp1Positions") or ()),
        extra_positions=tuple(_position(v, path) for v in exemption.get("extraPositions") or ()),
        unphased_priorities=priorities,
    )


def load_definitions(
    genes: Iterable[str] | None = None, directory: str | os.PathLike | None = None
) -> dict[str, GeneDefinition]:
    """Read the definitions of ``genes`` (default: every gene in ``directory``, default the bundled ones).

    Parameters
    ----------
    genes : iterable of str, optional
        Gene symbols (``CYP2C19``); a gene in :data:`STRUCTURAL_GENES` is left
        out here (it is reported as not attempted by the caller).
    directory : path, optional
        Folder of ``<GENE>_translation.json`` and ``exemptions.json``.

    Returns
    -------
    dict
        Gene -> :class:`GeneDefinition`, in the order asked.

    Raises
    ------
    InputError
        A gene has no definition file (the message lists the genes that have one).
    """
    folder = Path(directory) if directory else definitions_dir()
    exemptions_path = folder / "exemptions.json"
    exemptions: Mapping[str, Any] = json.loads(exemptions_path.read_text()) if exemptions_path.exists() else {}
    known = available_genes(folder)
    wanted: Sequence[str] = list(genes) if genes is not None else known
    out = {}
    for gene in wanted:
        if gene in STRUCTURAL_GENES:
            continue
        if gene not in known:
            raise InputError(
                folder,
                f"no definitions for gene {gene!r}; genes with definitions: {', '.join(known)}",
                record="pgx.genes",
            )
        out[gene] = load_gene_definition(folder / f"{gene}_translation.json", exemptions.get(gene))
    return out
