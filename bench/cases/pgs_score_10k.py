"""Bench case: the pgs_score case with 10,000 samples (same ~88k SNPs, same commands).

Memory must stay bounded by the chunk, not the cohort: the target is peak RSS
under 1 GB and wall time within 2x of plink2's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("pgs_score_base", Path(__file__).with_name("pgs_score.py"))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)
_base.N_SAMPLES = 10_000

DESCRIPTION = "polygenic score sums, 10,000 samples x ~88k SNPs (bgzipped VCF, GT only)"
UNITS = _base.UNITS
prepare = _base.prepare
commands = _base.commands
