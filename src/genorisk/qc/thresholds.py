"""QC thresholds (config section ``qc``), built from the schema-validated mapping.

The bounds, types and defaults of every key live in the config schema
(``schemas/config.schema.yaml``, section ``qc``); :meth:`QCThresholds.from_dict`
checks a mapping against it, so the dataclass holds no range checks of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genorisk.config import validate_section


@dataclass(frozen=True)
class QCThresholds:
    """Exclusion thresholds (config section ``qc``).

    Attributes
    ----------
    min_variant_call_rate : float
        Variants called in fewer of the samples are excluded.
    min_maf : float
        Variants with a lower MAF are excluded (0: QC keeps rare variants; the
        feature stage applies its own MAF).
    hwe_p_min : float or None
        Variants with an exact HWE p below this are excluded (controls only
        when a status is given). None disables.
    min_sample_call_rate : float
        Samples with a lower call rate are excluded.
    heterozygosity_sd : float or None
        Samples whose autosomal het rate lies beyond mean +/- k SD of the
        cohort's are excluded. None disables.
    titv_range : (float, float) or None
        Samples whose Ti/Tv lies outside [lo, hi] are excluded. None disables.
    sex_check : {"exclude", "warn", "off"}
        What to do with samples whose inferred sex contradicts the recorded.
    female_max_f, male_min_f : float
        chrX F below ``female_max_f`` -> female, above ``male_min_f`` -> male
        (plink --check-sex defaults 0.2 / 0.8).
    sex_min_maf : float
        chrX variants used for F need at least this MAF.
    sex_min_variants : int
        With fewer usable chrX variants, the inferred sex is "unknown".
    """

    min_variant_call_rate: float = 0.95
    min_maf: float = 0.0
    hwe_p_min: float | None = 1e-6
    min_sample_call_rate: float = 0.95
    heterozygosity_sd: float | None = 3.0
    titv_range: tuple[float, float] | None = None
    sex_check: str = "warn"
    female_max_f: float = 0.2
    male_min_f: float = 0.8
    sex_min_maf: float = 0.05
    sex_min_variants: int = 50

    def __post_init__(self):
        # [lo, hi] from YAML/JSON arrives as a list: keep it hashable and in floats (qc_summary.json shows them).
        if self.titv_range is not None:
            lo, hi = self.titv_range
            object.__setattr__(self, "titv_range", (float(lo), float(hi)))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, *, source: str = "config qc") -> QCThresholds:
        """Thresholds from a config mapping, checked against the ``qc`` section of the config schema.

        Absent keys take the schema's defaults, which are the dataclass's.

        Raises
        ------
        ConfigError
            Naming the unknown key or the key with a bad value (``qc.<key>``).
        """
        return cls(**validate_section("qc", values, source=source))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["titv_range"] is not None:
            d["titv_range"] = list(d["titv_range"])
        return d
