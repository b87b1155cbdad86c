"""The feature matrix: one row per person, defined once on the cohort.

The cohort defines the features (which variants, in which order, which
covariates); :func:`patient_features` computes exactly those features for new
people from that definition, never a definition of its own. A model variant
that a patient's VCF lacks is counted and reported (coverage), and left
missing (NaN, which XGBoost routes down its learned default branch), never
silently set to zero.

Feature schema (JSON, ``schema_version`` 1)::

    {"schema_version": 1,
     "features": [{"name": "v_chr21_25000148_T_C", "kind": "dosage",
                   "label": "variant chr21:25000148 T>C",
                   "group": "variant chr21:25000148 T>C",
                   "definition": {"chrom": "chr21", "pos": 25000148, "ref": "T",
                                  "alt": "C", "cohort_af": 0.21}},
                  {"name": "age", "kind": "covariate", "label": "age",
                   "group": "age", "definition": {"column": "age"}},
                  ...]}
"""

from genorisk.features.cohort import (
    SCHEMA_VERSION,
    ancestry_features,
    burden_features,
    cohort_features,
    covariate_features,
    pgs_features,
    trait_labels,
)
from genorisk.features.patient import INDEX_MAX_FRACTION, batch_patient_features, dosage_variants, patient_features
from genorisk.features.variants import (
    DAMAGING_CONSEQUENCES,
    DAMAGING_REGION_CLASSES,
    is_pathogenic,
    rare_damaging,
    select_dosage_variants,
)

__all__ = [
    "DAMAGING_CONSEQUENCES",
    "DAMAGING_REGION_CLASSES",
    "INDEX_MAX_FRACTION",
    "SCHEMA_VERSION",
    "ancestry_features",
    "burden_features",
    "cohort_features",
    "covariate_features",
    "dosage_variants",
    "is_pathogenic",
    "batch_patient_features",
    "patient_features",
    "pgs_features",
    "rare_damaging",
    "select_dosage_variants",
    "trait_labels",
]
