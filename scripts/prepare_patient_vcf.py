"""Adapter: rule prepare_patient_vcf -> genorisk.patient_files.prepare_patient_vcf (one patient VCF)."""

from genorisk.io import write_json
from genorisk.patient_files import prepare_patient_vcf
from genorisk.runner import run_step


def main():
    status = prepare_patient_vcf(
        snakemake.input.vcf,
        snakemake.output.vcf,
        snakemake.params.patients,
        genome_build=snakemake.params.genome_build,
        fasta=snakemake.input.get("fasta"),
        batch_dir=snakemake.output.batches,
    )
    # Written last: the status says which of the files above can be trusted.
    write_json(snakemake.output.status, status)


run_step(snakemake, main)
