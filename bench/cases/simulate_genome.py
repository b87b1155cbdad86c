"""Genome-wide simulation (issue 12): 22 chromosomes as parallel jobs, then the phenotype.

genorisk's command runs genome-wide mode as the workflow does: phase 1
(``simulate_chromosome``, one process per chromosome, 2 at a time as
``snakemake --cores 2`` would) and phase 2 (``simulate_phenotype``). The
reference does what the standard tools cover for the same people and segments:
msprime + stdpopsim, tskit ``write_vcf`` of the cohort, ``bgzip`` and ``tabix``,
2 chromosomes at a time. Peak RSS is the largest single process (one job).

The genorisk run also writes ``bench/results/simulate_genome_extrapolation.md``:
per-job times and peak RSS, and their extrapolation to the issue's target
(10,000 people x 22 x 6 Mb, about 1 M variants).
"""

import json
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench/results"
GENE_MODEL = REPO / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"
N_COHORT, BP, CHROMOSOMES = 2000, 2_000_000, list(range(1, 23))
TARGET = {"n_cohort": 10_000, "bp": 6_000_000}
# Polymorphic sites per Mb in the cohort (docs/notes: spike 12, section 6): 5.5k at 2,000 people, 7.9k at 10,000.
SITES_PER_MB = {2000: 5_500, 10_000: 7_900}
DESCRIPTION = f"genome-wide simulation: {N_COHORT:,} people x 22 chromosomes x {BP // 1_000_000} Mb, 2 jobs at a time"
UNITS = {"chromosomes": 22}


def _config() -> dict:
    return {
        "seed": 42,
        "n_cohort": N_COHORT,
        "n_reference": 500,
        "ancestry_panel": 20,
        "genome_wide": {"chromosomes": CHROMOSOMES, "bp_per_chromosome": BP},
    }


def prepare(workdir: Path) -> None:
    (workdir / "simulate.yaml").write_text(yaml.safe_dump({"simulate": _config()}))
    sheet = ["patient_id\tvcf\tsample\tsex\tage\toutlier"]
    sheet += [f"P{i}\tout/patients/P{i}.vcf.gz\tP{i}\tfemale\t50\t{'yes' if i == 6 else 'no'}" for i in range(1, 7)]
    (workdir / "patients.tsv").write_text("\n".join(sheet) + "\n")


def commands(workdir: Path) -> dict[str, list[str]]:
    return {
        "genorisk": [sys.executable, __file__, "genorisk", str(workdir)],
        "msprime+tskit": [sys.executable, __file__, "reference", str(workdir)],
    }


def _setup(workdir: Path):
    import pandas as pd

    from genorisk.config import validate_section
    from genorisk.simulate import GenomeWideConfig, SimulationConfig

    section = validate_section("simulate", {"outdir": "out", **_config()})
    sheet = pd.read_csv(workdir / "patients.tsv", sep="\t", dtype=str)
    sheet["outlier"] = sheet["outlier"] == "yes"
    return SimulationConfig.from_dict(section), GenomeWideConfig.from_section(section), sheet


def _chromosome_job(workdir: Path, chromosome: int) -> dict:
    from genorisk.simulate import simulate_chromosome

    cfg, genome, sheet = _setup(workdir)
    summary = simulate_chromosome(cfg, genome, chromosome, sheet, workdir / "out", GENE_MODEL)
    return {**summary, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _phenotype_job(workdir: Path) -> dict:
    from genorisk.simulate import simulate_phenotype

    cfg, genome, sheet = _setup(workdir)
    t0 = time.perf_counter()
    truth = simulate_phenotype(cfg, genome, sheet, workdir / "out")
    return {
        "seconds": time.perf_counter() - t0,
        "n_sites": truth["n_sites"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_genorisk(workdir: Path) -> None:
    """Phase 1 two chromosomes at a time (each a fresh process), then phase 2; write the extrapolation."""
    shutil.rmtree(workdir / "out", ignore_errors=True)
    t0 = time.perf_counter()
    # max_tasks_per_child=1: one process per job, as Snakemake runs them (peak RSS per job).
    with ProcessPoolExecutor(2, max_tasks_per_child=1) as pool:
        jobs = list(pool.map(_chromosome_job, [workdir] * len(CHROMOSOMES), CHROMOSOMES))
    phase1 = time.perf_counter() - t0
    with ProcessPoolExecutor(1, max_tasks_per_child=1) as pool:
        phenotype = pool.submit(_phenotype_job, workdir).result()
    wall = time.perf_counter() - t0
    _write_extrapolation(jobs, phenotype, phase1, wall)


def _write_extrapolation(jobs: list[dict], phenotype: dict, phase1: float, wall: float) -> None:
    n_sites = sum(j["n_sites"] for j in jobs)
    job_s = [j["seconds"] for j in jobs]
    # A chromosome job's cost is about linear in sites x people (streaming the genotypes and
    # writing the VCF dominate; msprime itself is a few seconds): scale by both.
    sites_scale = (TARGET["bp"] / BP) * (SITES_PER_MB[TARGET["n_cohort"]] / SITES_PER_MB[N_COHORT])
    scale = sites_scale * TARGET["n_cohort"] / N_COHORT
    mean_job = sum(job_s) / len(job_s)
    target_job = mean_job * scale
    target_sites = n_sites * sites_scale
    # Memory: per-job peak minus the interpreter and libraries (~the phase-2 baseline) grows with block size
    # (fixed bytes) plus the candidate/rare dosages and patients' calls: about linear in people.
    rss = max(j["peak_rss_mib"] for j in jobs)
    out = {
        "measured": {
            "n_cohort": N_COHORT,
            "bp_per_chromosome": BP,
            "n_sites": n_sites,
            "phase1_wall_s": phase1,
            "chromosome_job_s": {"mean": mean_job, "max": max(job_s), "min": min(job_s)},
            "chromosome_job_peak_rss_mib": rss,
            "phenotype_job": phenotype,
            "wall_s": wall,
        },
        "target": {
            **TARGET,
            "n_sites_estimate": round(target_sites),
            "chromosome_job_s_estimate": target_job,
            "phase1_wall_s_estimate_2_cores": target_job * len(CHROMOSOMES) / 2,
            "phenotype_job_s_estimate": phenotype["seconds"] * sites_scale * TARGET["n_cohort"] / N_COHORT,
        },
        "fit": "job time ~ sites x people (scale = bp ratio x sites-per-Mb ratio x people ratio "
        f"= {scale:.1f}); sites per Mb at 2,000 and 10,000 people from spike 12 section 6",
    }
    (RESULTS / "simulate_genome_extrapolation.json").write_text(json.dumps(out, indent=2) + "\n")
    t = out["target"]
    lines = [
        "## simulate_genome: extrapolation to 10,000 people x 22 x 6 Mb",
        "",
        f"Measured: {N_COHORT:,} people x 22 x {BP / 1e6:.0f} Mb = {n_sites:,} sites; chromosome jobs "
        f"{mean_job:.1f} s mean ({min(job_s):.1f}-{max(job_s):.1f}), peak RSS {rss:.0f} MiB per job; "
        f"phase 1 {phase1:.1f} s on 2 cores; phenotype job {phenotype['seconds']:.1f} s, "
        f"{phenotype['peak_rss_mib']:.0f} MiB; total {wall:.1f} s.",
        "",
        f"Fit: {out['fit']}.",
        "",
        f"Target (10,000 x 22 x 6 Mb, ~{t['n_sites_estimate']:,} sites): ~{t['chromosome_job_s_estimate']:.0f} s "
        f"per chromosome job, phase 1 ~{t['phase1_wall_s_estimate_2_cores'] / 60:.1f} min on 2 cores, "
        f"phenotype job ~{t['phenotype_job_s_estimate']:.0f} s.",
    ]
    (RESULTS / "simulate_genome_extrapolation.md").write_text("\n".join(lines) + "\n")


def _reference_job(workdir: Path, chromosome: int) -> None:
    import msprime
    import stdpopsim

    model = stdpopsim.get_species("HomSap").get_demographic_model("OutOfAfrica_3G09")
    n = N_COHORT + 500 + 6
    ts = msprime.sim_ancestry(
        samples={"CEU": n},
        demography=model.model,
        sequence_length=BP,
        recombination_rate=1e-8,
        random_seed=42 + chromosome,
    )
    ts = msprime.sim_mutations(ts, rate=1.29e-8, model=msprime.HKY(kappa=4.0), random_seed=42 + chromosome)
    out = workdir / "ref" / f"chr{chromosome}.vcf.gz"
    out.parent.mkdir(exist_ok=True)
    with open(out, "wb") as fh:
        bgzip = subprocess.Popen([shutil.which("bgzip"), "-c"], stdin=subprocess.PIPE, stdout=fh, text=True)
        ts.write_vcf(
            bgzip.stdin,
            individuals=list(range(N_COHORT)),
            contig_id=f"chr{chromosome}",
            position_transform=lambda x: [int(p) + 25_000_001 for p in x],
        )
        bgzip.stdin.close()
        bgzip.wait()
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True)


def run_reference(workdir: Path) -> None:
    with ProcessPoolExecutor(2, max_tasks_per_child=1) as pool:
        list(pool.map(_reference_job, [workdir] * len(CHROMOSOMES), CHROMOSOMES))


if __name__ == "__main__" and sys.argv[1:2] == ["genorisk"]:
    run_genorisk(Path(sys.argv[2]))
elif __name__ == "__main__" and sys.argv[1:2] == ["reference"]:
    run_reference(Path(sys.argv[2]))
