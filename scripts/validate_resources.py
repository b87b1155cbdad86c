"""Adapter: rule validate_resources -> genorisk.annotate.validate_resource
(ClinVar, population AF, dbSNP) and genorisk.vcf.validate_vcf (ancestry panel)."""

import logging

from genorisk.annotate import validate_resource
from genorisk.io import write_json
from genorisk.runner import run_step
from genorisk.vcf import validate_vcf

RESOURCES = {"clinvar": "ClinVar", "population_af": "population AF", "dbsnp": "dbSNP"}


def main():
    log = logging.getLogger("genorisk")
    build = snakemake.params.genome_build
    checked = {}
    for key, what in RESOURCES.items():
        path = snakemake.input.get(key)
        if path:
            checked[key] = validate_resource(path, what, genome_build=build)
    panel = snakemake.input.get("ancestry_panel")
    if panel:
        report = validate_vcf(panel, genome_build=build, require_records=True)
        for warning in report.warnings:
            log.warning("ancestry panel: %s", warning)
        checked["ancestry_panel"] = report.to_dict()
    if not checked:
        log.info("no annotation resource or ancestry panel is configured")
    write_json(snakemake.output.report, checked)


run_step(snakemake, main)
