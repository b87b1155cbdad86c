"""Diplotype -> phenotype (metabolizer status, function, activity score), from PharmCAT's phenotype files.

``genorisk/data/pgx/phenotypes/<GENE>.json`` (PharmCAT; CPIC's allele
function and diplotype-to-phenotype tables, CC0) give each named allele's
function (and activity value, for genes scored by activity) and each
diplotype's phenotype. A gene without a file (CYP4F2) has no phenotype.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["GenePhenotypes", "INDETERMINATE", "NO_PHENOTYPE_MAPPING", "load_phenotypes", "phenotypes_dir"]

#: The phenotype of a diplotype the tables do not list, or of diplotypes that fit alike but differ in phenotype.
INDETERMINATE = "Indeterminate"

#: The phenotype of a called diplotype whose gene has no diplotype-to-phenotype table (IFNL3: CPIC's
#: guideline keys on the rs12979860 genotype itself). PharmCAT shows "n/a" (its ``TextConstants.NA``);
#: it is not "Indeterminate", which says the call could not be resolved.
NO_PHENOTYPE_MAPPING = "No phenotype mapping"


def phenotypes_dir() -> Path:
    """The folder of the bundled phenotype files."""
    return Path(str(resources.files("genorisk").joinpath("data/pgx/phenotypes")))


@dataclass(frozen=True)
class GenePhenotypes:
    """One gene's allele functions and diplotype phenotypes.

    Attributes
    ----------
    gene : str
    version : str
    functions : dict
        Named allele -> its function (``No function``) .
    activity_values : dict
        Named allele -> activity value (as the file writes it, ``"0.5"``);
        empty for genes not scored by activity.
    diplotypes : dict
        Frozen multiset of the two allele names -> ``{"phenotype", "activity_score"}``.
    """

    gene: str
    version: str
    functions: dict[str, str]
    activity_values: dict[str, str]
    diplotypes: dict[frozenset, dict[str, Any]]

    def lookup(self, haplotypes: Sequence[str]) -> dict[str, Any]:
        """Function of each haplotype, the phenotype and the activity score of one diplotype.

        Returns
        -------
        dict
            ``functions`` (list, per haplotype; None when unlisted),
            ``activity_values`` (list or None), ``phenotype`` (str;
            :data:`INDETERMINATE` when the diplotype is not in the table,
            :data:`NO_PHENOTYPE_MAPPING` when the gene has no table),
            ``activity_score`` (str or None).
        """
        row = self.diplotypes.get(frozenset(Counter(haplotypes).items()))
        missing = INDETERMINATE if self.diplotypes else NO_PHENOTYPE_MAPPING
        return {
            "functions": [self.functions.get(h) for h in haplotypes],
            "activity_values": [self.activity_values.get(h) for h in haplotypes] if self.activity_values else None,
            "phenotype": row["phenotype"] if row else missing,
            "activity_score": row["activity_score"] if row else None,
        }


@lru_cache(maxsize=64)
def _load(path: str) -> GenePhenotypes:
    data = json.loads(Path(path).read_text())
    functions = {a["name"]: a.get("functionValue") for a in data.get("namedAlleles") or ()}
    functions.update({k: v for k, v in (data.get("haplotypes") or {}).items() if k not in functions})
    diplotypes = {}
    for d in data.get("diplotypes") or ():
        key = frozenset((d.get("diplotypekey") or {}).items())
        diplotypes[key] = {
            "phenotype": d.get("phenotype") or d.get("generesult") or INDETERMINATE,
            "activity_score": d.get("activityScore") if d.get("activityScore") not in ("n/a", "") else None,
        }
    return GenePhenotypes(
        gene=str(data["gene"]),
        version=str(data.get("version") or ""),
        functions={k: v for k, v in functions.items() if v is not None},
        activity_values=dict(data.get("activityValues") or {}),
        diplotypes=diplotypes,
    )


def load_phenotypes(gene: str, directory: str | os.PathLike | None = None) -> GenePhenotypes | None:
    """The phenotype tables of ``gene`` (None when there is no file for it)."""
    path = Path(directory or phenotypes_dir()) / f"{gene}.json"
    return _load(str(path)) if _exists(str(path)) else None


@lru_cache(maxsize=256)
def _exists(path: str) -> bool:
    return Path(path).exists()
