"""Adapter: rule publish_model -> the trained artifact, copied into the model folder in use.

Runs only after training succeeded, so a failed training never removes the
model in use. Each file is copied to a temporary name beside its target and
renamed into place (genorisk.io.atomic_output): a reader sees a whole file,
old or new, and the bytes are those the model card's SHA-256 sums were
computed on.
"""

import shutil

from genorisk.io import atomic_output
from genorisk.runner import run_step


def main():
    for key, target in snakemake.output.items():
        with atomic_output(target) as tmp:
            shutil.copyfile(getattr(snakemake.input, key), tmp)


run_step(snakemake, main)
