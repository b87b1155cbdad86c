"""Adapter: rule match_score -> genorisk.scores.match_score_file (build check/liftover, match, audit, matched table)."""

from genorisk.runner import run_step
from genorisk.scores import match_score_file


def main():
    chain = snakemake.input.chain
    match_score_file(
        snakemake.input.store,
        snakemake.input.scoring_file,
        genome_build=snakemake.params.genome_build,
        chain=chain[0] if chain else None,
        require_build=snakemake.params.require_build,
        audit_path=snakemake.output.audit,
        target_path=snakemake.output.scoring_file,
        matched_path=snakemake.output.matched,
        min_match_rate=snakemake.params.min_match_rate,
        min_info=snakemake.params.min_info,
        info_key=snakemake.params.info_key,
    )


run_step(snakemake, main)
