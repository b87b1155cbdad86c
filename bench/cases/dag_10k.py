"""`snakemake -n` with 10,000 and 1,000 patients vs 100: DAG build time as the sheet grows.

Patients are processed in batches (patients.batch_size, default 50), so
10,000 patients are 200 batches x 3 jobs, not 30,000 jobs. Each patient VCF
is a symlink to one small valid VCF, so the sheet validation (files exist)
is exercised for real.
"""

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DESCRIPTION = "snakemake -n (DAG build) with 10,000 and 1,000 patients vs 100 patients"
UNITS = {"patients": 10000}
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def _config(workdir: Path, sheet: str) -> dict:
    # The default (non-demo) config, pointed at this benchmark's files.
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg.pop("simulate", None)
    cfg["cohort"] = {"vcf": "cohort.vcf.gz", "phenotypes": "phenotypes.tsv", "truth": None}
    cfg["patients"] = {"sheet": sheet, "batch_size": 50}
    cfg["annotation"] = {"gene_model": str(REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz")}
    cfg["scores"] = []
    cfg["ancestry"] = {"reference_panel": None, "n_components": 5}
    return cfg


def prepare(workdir: Path) -> None:
    import numpy as np

    from genorisk.simulate import write_vcf

    pos = np.arange(25_000_001, 25_000_101)
    calls = np.zeros((100, 1, 2), dtype=np.int8)
    write_vcf(workdir / "one.vcf.gz", pos, np.array(["A"] * 100), np.array(["G"] * 100), calls=calls, samples=["S"])
    write_vcf(
        workdir / "cohort.vcf.gz",
        pos,
        np.array(["A"] * 100),
        np.array(["G"] * 100),
        calls=np.zeros((100, 2, 2), np.int8),
        samples=["A", "B"],
    )
    (workdir / "phenotypes.tsv").write_text("sample_id\tstatus\tage\tsex\nA\t0\t50\tmale\nB\t1\t60\tfemale\n")
    vcf_dir = workdir / "patients"
    vcf_dir.mkdir()
    for n in (100, 1_000, 10_000):
        rows = ["patient_id\tvcf\tsample\tsex\tage"]
        for i in range(n):
            link = vcf_dir / f"P{i:05d}.vcf.gz"
            if not link.exists():
                link.symlink_to(workdir / "one.vcf.gz")
            rows.append(f"P{i:05d}\tpatients/P{i:05d}.vcf.gz\tS\tmale\t50")
        (workdir / f"sheet_{n}.tsv").write_text("\n".join(rows) + "\n")
        (workdir / f"config_{n}.yaml").write_text(yaml.safe_dump(_config(workdir, f"sheet_{n}.tsv")))


def commands(workdir: Path) -> dict[str, list[str]]:
    def dry(n):
        return [
            SNAKEMAKE,
            "-n",
            "-q",
            "--snakefile",
            str(REPO / "workflow" / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / f"config_{n}.yaml"),
            "--cores",
            "2",
        ]

    return {"10000 patients": dry(10_000), "100 patients": dry(100), "1000 patients": dry(1_000)}
