"""Which variants become features: damaging or pathogenic alleles, and the dosage filter of the cohort."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genorisk import genotypes
from genorisk.annotate import SEQUENCE_CLASSES, allele_classes
from genorisk.errors import InputError

log = logging.getLogger("genorisk.features")

#: Consequences (bcftools csq) counted as damaging.
DAMAGING_CONSEQUENCES = frozenset(
    {
        "splice_acceptor",
        "splice_donor",
        "stop_gained",
        "frameshift",
        "stop_lost",
        "start_lost",
        "inframe_altering",
        "inframe_insertion",
        "inframe_deletion",
        "missense",
        "splice_region",
    }
)
#: Without a reference FASTA there are no consequences; a coding or splice
#: position is then the (documented, coarser) proxy for "damaging".
DAMAGING_REGION_CLASSES = frozenset({"CDS", "splice_region"})


def is_pathogenic(significance: pd.Series) -> np.ndarray:
    """ClinVar Pathogenic / Likely_pathogenic (not 'Conflicting...' or benign combinations)."""
    sig = significance.fillna("").astype(str).str.lower()
    return (sig.str.contains("pathogenic") & ~sig.str.contains("conflicting") & ~sig.str.contains("benign")).to_numpy()


def rare_damaging(table: pd.DataFrame, *, max_af: float, cohort_af: pd.Series | None = None) -> np.ndarray:
    """Alleles of an annotation table that are rare and predicted damaging, or ClinVar P/LP.

    Rare: population AF (or, where the population resource lacks the allele,
    the cohort AF) below ``max_af``. Damaging: a damaging consequence when
    consequences were computed, else a CDS or splice-region position; only
    sequence alleles (SNV, MNV, indel) qualify, since a ``*`` allele restates
    an upstream deletion and symbolic alleles have no allele-level evidence.
    """
    af = table["population_af"].astype(float)
    if cohort_af is not None:
        af = af.fillna(cohort_af.astype(float))
    rare = (af < max_af).to_numpy()
    if table["consequence"].notna().any():
        damaging = table["consequence"].isin(DAMAGING_CONSEQUENCES).to_numpy()
    else:
        damaging = table["region_class"].isin(DAMAGING_REGION_CLASSES).to_numpy()
    if "allele_class" in table:
        damaging = damaging & table["allele_class"].isin(SEQUENCE_CLASSES).to_numpy()
    return (rare & damaging & table["gene"].notna().to_numpy()) | is_pathogenic(table["clinvar_significance"])


