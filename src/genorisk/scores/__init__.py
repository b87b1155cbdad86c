"""Polygenic scores from PGS Catalog or user weight files, matched like pgsc_calc, summed like plink2.

Three steps:

1. :func:`read_scoring_file` reads a PGS Catalog scoring file (format 2.0,
   harmonized ``hm_chr``/``hm_pos``/``hm_inferOtherAllele`` or author-reported,
   plain or gzipped, ``#key=value`` header) or a user weight file with the
   same column names (tab- or space-delimited).
2. Variants are matched to the target VCF in pgsc_calc's manner, with a
   per-variant audit: match types, best first, ``refalt`` (effect allele =
   REF, other = ALT), ``altref``, ``refalt_flip``, ``altref_flip`` (alleles
   on the other strand), then, when the score gives no other allele,
   ``no_oa_ref``, ``no_oa_alt``, ``no_oa_ref_flip``, ``no_oa_alt_flip``.
   Unmatched variants get a reason: ``not in target``, ``strand-ambiguous
   dropped`` (A/T or C/G SNP, unless ``keep_ambiguous``), ``multiallelic
   dropped`` (unless ``keep_multiallelic``), ``duplicate`` (two target records
   match equally well, or two score rows claim the same target allele),
   ``allele mismatch`` or ``liftover failed`` (no single image of the
   position in the target build). A score whose match rate is below ``min_match_rate``
   fails with an :class:`~genorisk.errors.InputError` giving the counts per
   reason.
3. :func:`compute_scores` sums ``weight x effect-allele dosage`` per sample
   for every score in one pass over a VCF (:mod:`genorisk.genotypes`); from a
   genotype store it matches on the variant tables and reads only the matched
   variants (:mod:`genorisk.scores.store_scores`), as ``plink2 --score`` does.

Around them: :func:`target_scoring_file` checks the file's declared build
against the cohort's and lifts positions with a local chain file
(:mod:`genorisk.scores.build`); :func:`resolve_score_entries` turns PGS
Catalog IDs into files of ``scores_dir`` (:mod:`genorisk.scores.resolve`);
:func:`match_score_file` writes the per-variant audit and the scoring file in
the target build, and :func:`audit_reason_counts` sums audits by reason
(:mod:`genorisk.scores.audit`).

Conventions (chosen to agree with ``plink2 --score ... cols=+scoresums``):

* Effect-allele dosage: copies of the ALT allele it matched, or, for a REF
  effect allele, ``2 - (copies of all ALTs)``. Male haploid chrX calls are
  coded 0/2 when ``male`` is given (plink2's ``--xchr-model 2`` default).
* Missing calls (``missing="mean"``, plink2's default): a missing sample gets
  the mean contribution of the called samples at that variant, i.e. weight x
  2 x effect-allele frequency in the target for additive weights. plink2
  computes the same frequency. ``missing="zero"`` adds nothing (plink2
  ``no-mean-imputation`` sums).
* ``is_dominant``: dosage min(e, 1); ``is_recessive``: max(e - 1, 0);
  ``dosage_0/1/2_weight``: the weight of the (rounded) effect dosage.
* Positions: harmonized ``hm_chr``/``hm_pos`` when the file has them, else
  ``chr_name``/``chr_position``; chromosome names match with or without
  ``chr``. Rows without a position but with an rsID match the target's ID
  column (the first record with that ID).
* Complex alleles (HLA haplotypes, ``is_haplotype``/``is_diplotype`` true, or an
  effect allele that is not a DNA sequence) are skipped, counted in
  :attr:`ScoringFile.n_complex_skipped` and logged.

The match is resolved per (chrom, pos) group, which assumes the VCF is sorted
(the records of one position are adjacent); a position seen again later is
refused with an InputError rather than scored twice.
"""

from genorisk.scores.audit import (
    AUDIT_COLUMNS,
    audit_reason_counts,
    audit_table,
    match_score_file,
    read_audit,
    write_audit,
    write_target_scoring_file,
)
from genorisk.scores.build import (
    check_chain_builds,
    declared_build,
    lift_scoring_file,
    scoring_file_header,
    target_scoring_file,
)
from genorisk.scores.compute import ScoreResult, compute_scores, match_scores
from genorisk.scores.matched import (
    MATCHED_COLUMNS,
    MatchedScore,
    check_match_rates,
    read_matched_score,
    score_matched,
    write_matched_score,
)
from genorisk.scores.matching import MATCH_TYPES, UNMATCHED_REASONS, is_ref_effect
from genorisk.scores.resolve import (
    is_pgs_id,
    pgs_download_command,
    resolve_pgs_id,
    resolve_score_entries,
    score_name,
)
from genorisk.scores.scoring_file import (
    DOSAGE_WEIGHT_COLUMNS,
    LIFT_FAILURES,
    SCORE_VARIANT_COLUMNS,
    ScoringFile,
    read_scoring_file,
)

__all__ = [
    "AUDIT_COLUMNS",
    "DOSAGE_WEIGHT_COLUMNS",
    "LIFT_FAILURES",
    "MATCHED_COLUMNS",
    "MATCH_TYPES",
    "SCORE_VARIANT_COLUMNS",
    "UNMATCHED_REASONS",
    "MatchedScore",
    "ScoreResult",
    "ScoringFile",
    "audit_reason_counts",
    "audit_table",
    "check_chain_builds",
    "check_match_rates",
    "compute_scores",
    "declared_build",
    "is_pgs_id",
    "is_ref_effect",
    "lift_scoring_file",
    "match_score_file",
    "match_scores",
    "pgs_download_command",
    "read_audit",
    "read_matched_score",
    "read_scoring_file",
    "resolve_pgs_id",
    "resolve_score_entries",
    "score_matched",
    "score_name",
    "scoring_file_header",
    "target_scoring_file",
    "write_audit",
    "write_matched_score",
    "write_target_scoring_file",
]
