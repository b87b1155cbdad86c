"""Simulate and write the demo cohort: genorisk.simulate vs msprime + tskit write_vcf + bgzip + tabix.

genorisk's command does the whole demo simulation (coalescent, phenotypes,
every VCF and truth file). The reference does the part the standard tools
cover for the same people and region: msprime's simulation, tskit's
``write_vcf`` of the cohort, ``bgzip`` and ``tabix``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DESCRIPTION = "simulate + write the demo cohort (3,000 people x ~50,000 sites, chr21 8 Mb)"
UNITS = {"people": 3000}


def prepare(workdir: Path) -> None:
    cfg = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    (workdir / "simulate.yaml").write_text(yaml.safe_dump({"simulate": cfg["simulate"]}))
    sheet = ["patient_id\tvcf\tsample\tsex\tage\toutlier"]
    sheet += [f"P{i}\tout/patients/P{i}.vcf.gz\tP{i}\tfemale\t50\tno" for i in range(1, 7)]
    (workdir / "patients.tsv").write_text("\n".join(sheet) + "\n")


def commands(workdir: Path) -> dict[str, list[str]]:
    return {
        "genorisk": [
            sys.executable,
            "-m",
            "genorisk",
            "simulate",
            "--config",
            "simulate.yaml",
            "--patients",
            "patients.tsv",
            "--outdir",
            "out",
            "--gene-model",
            str(REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"),
        ],
        "msprime+tskit": [sys.executable, __file__, "reference", str(workdir)],
    }


def reference(workdir: Path) -> None:
    """msprime + stdpopsim demography, tskit write_vcf | bgzip, tabix: the cohort only."""
    import msprime
    import stdpopsim

    sim = yaml.safe_load((workdir / "simulate.yaml").read_text())["simulate"]
    model = stdpopsim.get_species("HomSap").get_demographic_model(sim["demography"])
    n = sim["n_cohort"] + sim["n_reference"] + 6
    ts = msprime.sim_ancestry(
        samples={sim["population"]: n},
        demography=model.model,
        sequence_length=sim["end"] - sim["start"] + 1,
        recombination_rate=1e-8,
        random_seed=sim["seed"],
    )
    ts = msprime.sim_mutations(ts, rate=1.29e-8, model=msprime.HKY(kappa=4.0), random_seed=sim["seed"])
    cohort = list(range(sim["n_cohort"]))
    out = workdir / "ref.vcf.gz"
    with open(out, "wb") as fh:
        bgzip = subprocess.Popen([shutil.which("bgzip"), "-@", "2", "-c"], stdin=subprocess.PIPE, stdout=fh, text=True)
        ts.write_vcf(
            bgzip.stdin,
            individuals=cohort,
            contig_id="chr21",
            position_transform=lambda x: [int(p) + sim["start"] for p in x],
        )
        bgzip.stdin.close()
        bgzip.wait()
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True)


if __name__ == "__main__" and sys.argv[1:2] == ["reference"]:
    reference(Path(sys.argv[2]))
