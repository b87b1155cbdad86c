#!/usr/bin/env python3
"""Scale benchmark: the whole workflow on genome-wide simulated cohorts of growing variant count.

Usage::

    .venv/bin/python bench/scale_genome.py --people 2000 --mb 0.7 1.4 2.8 [--workdir /tmp/scale_genome]

For each size it writes a genome-wide config (22 autosomes, ``people`` x
``bp_per_chromosome``; small model settings so that it finishes) in its own
work folder, runs the whole workflow with ``snakemake --cores 2`` and collects,
per rule, from Snakemake's benchmark TSVs: the job count, total and max wall
seconds and the max peak RSS. It records the variant count of the store, the
model's AUC and the simulation's AUC ceiling.

Side by side, on the same store in the same run (interleaved, ``--repeat``
times, each command its own process so its peak RSS is its own):

* ``genorisk.scores.compute_scores`` on one chromosome's store vs
  ``plink2 --pfile <chr1> --score ... cols=+scoresums``, with the simulated PGS
  (sparse: its variants on chr1) and with a weight on every chr1 variant (dense);
* ``genorisk.qc.shard_qc`` + ``gather_qc`` on that chromosome vs
  ``plink2 --pfile <chr1> --hardy --het --missing``;
* the same two over all 22 chromosomes (ours: one process over the store;
  plink2: one process per chromosome, wall times summed).

Writes ``bench/results/scale_genome.json`` and ``bench/results/scale_genome.md``.
The Snakemake benchmark rows of cohort_qc and cohort_features are coarse (one job
does every chromosome); the side-by-side timings are the ratios that count.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if VENV_BIN.exists() else sys.executable
SNAKEMAKE = str(VENV_BIN / "snakemake") if VENV_BIN.exists() else "snakemake"
GENE_MODEL = ROOT / "resources/annotation/Homo_sapiens.GRCh38.chr21.ensembl.gff3.gz"
CHROMOSOMES = list(range(1, 23))
SIM_DIR = "resources/sim"
# Rules that read genotypes (the claim: their peak RSS is bounded by shard and people).
GENOTYPE_RULES = (
    "simulate_chromosome",
    "validate_cohort",
    "normalize_cohort",
    "store_part",
    "make_store",
    "cohort_qc_shard",
    "cohort_qc",
    "annotate_chunk",
    "cohort_variant_stats",
    "cohort_features",
)


def write_config(folder: Path, people: int, bp: int, n_folds: int, n_trials: int, seed: int) -> None:
    """The genome-wide config and the 3-patient sheet of one size, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    sheet = ["patient_id\tvcf\tsample\tsex\tage"]
    for i, sex in enumerate(("male", "female", "male"), start=1):
        sheet.append(f"P{i}\t{SIM_DIR}/patients/P{i}.vcf.gz\tS_P{i}\t{sex}\t{50 + i}")
    (folder / "patients.tsv").write_text("\n".join(sheet) + "\n")
    config = {
        "outdir": "results",
        "genome_build": "GRCh38",
        "cohort": {
            "vcfs": f"{SIM_DIR}/cohort.chr{{chrom}}.vcf.gz",
            "phenotypes": f"{SIM_DIR}/phenotypes.tsv",
            "truth": f"{SIM_DIR}/truth.json",
            "covariates": ["age", "sex"],
        },
        "patients": {"sheet": "patients.tsv", "batch_size": 2},
        "annotation": {
            "gene_model": str(GENE_MODEL),
            "clinvar": f"{SIM_DIR}/clinvar.simulated.vcf.gz",
            "population_af": None,
            "n_chunks": 4,
        },
        "scores": [f"{SIM_DIR}/PGS_SIM_DEMO.txt"],
        "ancestry": {"n_components": 5, "reference_panel": None},
        "model": {"n_folds": n_folds, "n_trials": n_trials, "n_bootstrap": 20},
        "report": {"cohort_name": f"scale benchmark ({people} people x 22 x {bp} bp)", "pdf": False},
        "simulate": {
            "outdir": SIM_DIR,
            "n_cohort": people,
            "seed": seed,
            "ancestry_panel": 0,
            "genome_wide": {"chromosomes": CHROMOSOMES, "bp_per_chromosome": bp},
        },
    }
    # JSON is YAML: no yaml dependency for one file.
    (folder / "config.yaml").write_text(json.dumps(config, indent=1) + "\n")


def run_workflow(
    folder: Path, cores: int, timeout: float, targets: Sequence[str] = (), forcerun: Sequence[str] = ()
) -> dict:
    """Run the workflow in ``folder`` (whole, or up to ``targets``); return its wall time and status (run.log).

    ``forcerun`` rules are rerun; with ``targets`` or ``forcerun`` only changed
    inputs (mtime) rerun other jobs, so a rule can be measured again on a finished run.
    """
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    argv = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--configfile", "config.yaml", "--cores", str(cores)]
    if targets or forcerun:
        argv += ["--rerun-triggers", "mtime"]
    if forcerun:
        argv += ["--forcerun", *forcerun]
    if targets:
        argv += ["--", *targets]
    start = time.perf_counter()
    with open(folder / "run.log", "wb") as log:
        try:
            proc = subprocess.run(argv, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
            status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
        except subprocess.TimeoutExpired:
            status = f"stopped after {timeout:.0f} s"
    wall = time.perf_counter() - start
    tail = (folder / "run.log").read_text(errors="replace").splitlines()[-25:]
    return {"status": status, "wall_s": wall, "log_tail": tail if status != "ok" else []}


def rule_of(path: Path, bench_dir: Path) -> str:
    """Rule name of a benchmark file: its folder (per-wildcard rules) or its stem before the first dot."""
    rel = path.relative_to(bench_dir)
    name = rel.parts[0] if len(rel.parts) > 1 else rel.name.split(".")[0]
    return "patient_reports" if name.startswith("patient_reports") else name


def collect_benchmarks(results: Path) -> dict[str, dict]:
    """Per rule: job count, total and max wall seconds, max peak RSS (MB), total CPU seconds."""
    bench_dir = results / "benchmarks"
    rules: dict[str, dict] = {}
    for path in sorted(bench_dir.rglob("*.tsv")):
        with open(path) as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        r = rules.setdefault(rule_of(path, bench_dir), {"jobs": 0, "wall_s": [], "max_rss_mb": [], "cpu_s": []})
        r["jobs"] += 1
        r["wall_s"].append(float(row["s"]))
        r["max_rss_mb"].append(float(row["max_rss"]) if row["max_rss"] not in ("", "-", "NA") else 0.0)
        r["cpu_s"].append(float(row.get("cpu_time") or 0.0))
    return {
        name: {
            "jobs": r["jobs"],
            "total_s": sum(r["wall_s"]),
            "max_s": max(r["wall_s"]),
            "max_rss_mb": max(r["max_rss_mb"]),
            "cpu_s": sum(r["cpu_s"]),
        }
        for name, r in rules.items()
    }


def pvar_ids(prefix: Path) -> list[str]:
    with open(f"{prefix}.pvar") as handle:
        return [line.split("\t", 3)[2] for line in handle if not line.startswith("#")]


def count_variants(results: Path) -> dict[str, int]:
    """Variants per store chromosome (its .pvar rows), from the store manifest."""
    manifest = json.loads((results / "store/store.json").read_text())
    return {e["chrom"]: len(pvar_ids(results / "store" / e["prefix"])) for e in manifest["chromosomes"]}


def metrics_path(results: Path) -> Path:
    """The run's trait's metrics.json (results/model/<trait>/; the benchmark trains one trait)."""
    found = sorted(results.glob("model/*/metrics.json"))
    return found[0] if found else results / "model" / "status" / "metrics.json"


def model_metrics(results: Path) -> dict:
    metrics = json.loads(metrics_path(results).read_text())
    return {
        "roc_auc": metrics["model"]["roc_auc"]["estimate"],
        "roc_auc_ci": [metrics["model"]["roc_auc"]["ci_low"], metrics["model"]["roc_auc"]["ci_high"]],
        "baseline_roc_auc": metrics["baseline"]["roc_auc"]["estimate"],
        "auc_ceiling": metrics["truth"]["auc_ceiling"],
        "n_dosage_features": metrics["data"]["n_dosage_features"],
        "n_model_features": metrics["data"]["n_model_features"],
        "n_samples": metrics["data"]["n_samples"],
    }


def timed(argv: list[str], cwd: Path, log_path: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one command and its children (as bench/run.py)."""
    with open(log_path, "ab") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"scale_genome: command failed: {' '.join(argv)}\nsee {log_path}")
    return wall, usage.ru_maxrss / 1024.0


def prepare_side_by_side(folder: Path, chrom: str) -> dict[str, Path]:
    """One-chromosome store manifest and the plink2 weight files (sparse simulated PGS, dense all-variant)."""
    results = folder / "results"
    bench = folder / "side_by_side"
    bench.mkdir(exist_ok=True)
    manifest = json.loads((results / "store/store.json").read_text())
    entry = next(e for e in manifest["chromosomes"] if e["chrom"] == chrom)
    prefix = (results / "store" / entry["prefix"]).resolve()
    one = dict(manifest, chromosomes=[{"chrom": chrom, "prefix": str(prefix)}])
    (bench / f"{chrom}.store.json").write_text(json.dumps(one))
    ids = pvar_ids(prefix)
    known = set(ids)
    number = chrom.removeprefix("chr")
    # The simulated PGS in plink2's form: variant ID, effect allele, weight (chr1 rows only).
    pgs = bench / f"pgs_{chrom}.tsv"
    sparse_lines = ["ID\tA1\tWEIGHT"]
    with open(folder / SIM_DIR / "PGS_SIM_DEMO.txt") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    head = rows[0]
    col = {name: head.index(name) for name in ("chr_name", "chr_position", "effect_allele", "other_allele")}
    for row in rows[1:]:
        if row[col["chr_name"]] != number:
            continue
        pos, ea, oa = row[col["chr_position"]], row[col["effect_allele"]], row[col["other_allele"]]
        for vid in (f"{chrom}:{pos}:{oa}:{ea}", f"{chrom}:{pos}:{ea}:{oa}"):
            if vid in known:
                sparse_lines.append(f"{vid}\t{ea}\t{row[head.index('effect_weight')]}")
                break
    pgs.write_text("\n".join(sparse_lines) + "\n")
    # A weight on every variant of the chromosome (ALT effect), in both forms.
    rng = np.random.default_rng(7)
    weights = rng.normal(0, 0.01, len(ids))
    dense = bench / f"dense_{chrom}.tsv"
    dense_pgs = bench / f"dense_{chrom}.pgs.txt"
    with open(dense, "w") as plink_out, open(dense_pgs, "w") as ours_out:
        plink_out.write("ID\tA1\tWEIGHT\n")
        ours_out.write("#pgs_id=DENSE\nchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n")
        for vid, w in zip(ids, weights, strict=True):
            _, pos, ref, alt = vid.split(":")
            plink_out.write(f"{vid}\t{alt}\t{w:.6g}\n")
            ours_out.write(f"{number}\t{pos}\t{alt}\t{ref}\t{w:.6g}\n")
    sparse_pgs = bench / f"pgs_{chrom}.pgs.txt"
    sparse_pgs.write_text(
        "#pgs_id=PGS_SIM_DEMO\n"
        + "\t".join(head)
        + "\n"
        + "".join("\t".join(r) + "\n" for r in rows[1:] if r[col["chr_name"]] == number)
    )
    return {
        "prefix": prefix,
        "manifest": bench / f"{chrom}.store.json",
        "pgs_plink": pgs,
        "pgs_ours": sparse_pgs,
        "dense_plink": dense,
        "dense_ours": dense_pgs,
        "n_sparse": len(sparse_lines) - 1,
        "n_dense": len(ids),
        "bench": bench,
    }


def ours_score(manifest: Path, score_file: Path) -> list[str]:
    code = (
        "from genorisk.scores import compute_scores; "
        f"r = compute_scores({str(manifest)!r}, [{str(score_file)!r}], min_match_rate=0.0); "
        "print(r.sums.shape, float(r.sums.iloc[:, 0].abs().sum()))"
    )
    return [PYTHON, "-c", code]


def ours_qc(manifest: Path, config_qc: dict, phenotypes: Path) -> list[str]:
    code = (
        "from genorisk.config import read_phenotypes; "
        "from genorisk.qc import QCThresholds, gather_qc, shard_qc; "
        "from genorisk.store import open_store; "
        f"ph = read_phenotypes({str(phenotypes)!r}); "
        f"th = QCThresholds.from_dict({config_qc!r}, source='bench'); "
        f"st = open_store({str(manifest)!r}); "
        "s = list(ph.index); status = ph['status'].to_dict(); "
        "shards = [shard_qc(p, samples=s, status=status, thresholds=th) for p in st.chroms.values()]; "
        "r = gather_qc(shards, recorded_sex=ph['sex'].to_dict() if 'sex' in ph else None); "
        "print(len(r.variants), len(r.samples))"
    )
    return [PYTHON, "-c", code]


def plink_score(prefix: Path, weights: Path, out: Path) -> list[str]:
    return ["plink2", "--pfile", str(prefix), "--score", str(weights), "1", "2", "3", "header", "cols=+scoresums",
            "--threads", "1", "--memory", "1000", "--out", str(out)]  # fmt: skip


def plink_qc(prefix: Path, out: Path) -> list[str]:
    return ["plink2", "--pfile", str(prefix), "--hardy", "--het", "--missing",
            "--threads", "1", "--memory", "1000", "--out", str(out)]  # fmt: skip


def side_by_side(folder: Path, repeat: int) -> dict:
    """Ours vs plink2 on one chromosome (interleaved, median of ``repeat``) and on all 22 (one run)."""
    results = folder / "results"
    files = prepare_side_by_side(folder, "chr1")
    bench = files["bench"]
    log = bench / "commands.log"
    phenotypes = folder / SIM_DIR / "phenotypes.tsv"
    qc_config = json.loads((folder / "config.yaml").read_text()).get("qc", {})
    pairs = {
        "pgs_sparse": (
            ours_score(files["manifest"], files["pgs_ours"]),
            plink_score(files["prefix"], files["pgs_plink"], bench / "p_sparse"),
        ),
        "pgs_dense": (
            ours_score(files["manifest"], files["dense_ours"]),
            plink_score(files["prefix"], files["dense_plink"], bench / "p_dense"),
        ),
        "qc": (ours_qc(files["manifest"], qc_config, phenotypes), plink_qc(files["prefix"], bench / "p_qc")),
    }
    out: dict = {"chr1": {"variants": files["n_dense"], "sparse_score_variants": files["n_sparse"]}}
    for name, (ours, ref) in pairs.items():
        walls: dict[str, list[float]] = {"ours": [], "plink2": []}
        rss: dict[str, list[float]] = {"ours": [], "plink2": []}
        for _ in range(repeat):
            for label, argv in (("ours", ours), ("plink2", ref)):
                w, r = timed(argv, bench, log)
                walls[label].append(w)
                rss[label].append(r)
        med = {k: statistics.median(v) for k, v in walls.items()}
        out["chr1"][name] = {
            "ours_s": med["ours"],
            "plink2_s": med["plink2"],
            "ours_rss_mib": max(rss["ours"]),
            "plink2_rss_mib": max(rss["plink2"]),
            "wall_ratio": med["ours"] / med["plink2"],
        }
    # Whole store: ours is one process over the manifest; plink2 one process per chromosome.
    manifest = results / "store/store.json"
    store = json.loads(manifest.read_text())
    prefixes = [(results / "store" / e["prefix"]).resolve() for e in store["chromosomes"]]
    whole: dict = {}
    w, r = timed(ours_qc(manifest, qc_config, phenotypes), bench, log)
    p_w, p_r = zip(*(timed(plink_qc(p, bench / f"g_qc_{p.name}"), bench, log) for p in prefixes), strict=True)
    whole["qc"] = {"ours_s": w, "ours_rss_mib": r, "plink2_s": sum(p_w), "plink2_rss_mib": max(p_r)}
    whole["qc"]["wall_ratio"] = w / sum(p_w)
    full_pgs = folder / SIM_DIR / "PGS_SIM_DEMO.txt"
    w, r = timed(ours_score(manifest, full_pgs), bench, log)
    plink_full = bench / "pgs_all.tsv"
    ids_by_chrom = {p.name: set(pvar_ids(p)) for p in prefixes}
    lines = ["ID\tA1\tWEIGHT"]
    with open(full_pgs) as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    head = rows[0]
    for row in rows[1:]:
        rec = dict(zip(head, row, strict=True))
        chrom = f"chr{rec['chr_name']}"
        for vid in (
            f"{chrom}:{rec['chr_position']}:{rec['other_allele']}:{rec['effect_allele']}",
            f"{chrom}:{rec['chr_position']}:{rec['effect_allele']}:{rec['other_allele']}",
        ):
            if vid in ids_by_chrom.get(chrom, ()):
                lines.append(f"{vid}\t{rec['effect_allele']}\t{rec['effect_weight']}")
                break
    plink_full.write_text("\n".join(lines) + "\n")
    p_w, p_r = zip(
        *(timed(plink_score(p, plink_full, bench / f"g_pgs_{p.name}"), bench, log) for p in prefixes), strict=True
    )
    whole["pgs_sparse"] = {"ours_s": w, "ours_rss_mib": r, "plink2_s": sum(p_w), "plink2_rss_mib": max(p_r)}
    whole["pgs_sparse"]["wall_ratio"] = w / sum(p_w)
    out["all_chromosomes"] = whole
    return out


def fit_line(x: list[float], y: list[float]) -> dict | None:
    """Least-squares y = a + b x (b per variant); None with fewer than two distinct x."""
    if len(set(x)) < 2:
        return None
    b, a = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return {"a": float(a), "b": float(b)}


def fits(sizes: list[dict]) -> dict[str, dict]:
    """Per rule: mean job seconds and max RSS against variants per job (total/jobs; people fixed)."""
    out: dict[str, dict] = {}
    done = [s for s in sizes if s["workflow"]["status"] == "ok"]
    names = sorted({name for s in done for name in s["rules"]})
    for name in names:
        xs, ts, ms = [], [], []
        for s in done:
            r = s["rules"].get(name)
            if not r:
                continue
            per_job = s["n_variants"] / r["jobs"] if name in SHARDED_BY_CHROMOSOME else s["n_variants"]
            xs.append(per_job)
            ts.append(r["total_s"] / r["jobs"])
            ms.append(r["max_rss_mb"])
        out[name] = {
            "variants_per_job": xs,
            "mean_job_s": ts,
            "max_rss_mb": ms,
            "time_fit": fit_line(xs, ts),
            "rss_fit": fit_line(xs, ms),
        }
    return out


# Rules with one job per chromosome: their jobs see total/22 variants each.
SHARDED_BY_CHROMOSOME = {"simulate_chromosome", "validate_cohort", "normalize_cohort", "store_part", "cohort_qc_shard"}


ANCESTRY_STEP = """
import sys
from genorisk.config import read_phenotypes
from genorisk.features import ancestry_features
phenotypes = read_phenotypes(sys.argv[2])
_, _, model = ancestry_features(sys.argv[1], list(phenotypes.index), n_components=5)
print(sorted(model))
"""


def feature_steps(folder: Path) -> dict:
    """Peak RSS and wall of steps inside cohort_features, each in its own process on the finished store.

    ``ancestry``: :func:`genorisk.features.ancestry_features` over the whole store
    (the genome-wide pass cohort_features makes for the PCs, with its chunking).
    """
    results = folder / "results"
    log_path = folder / "feature_steps.log"
    wall, rss = timed(
        [PYTHON, "-c", ANCESTRY_STEP, str(results / "store/store.json"), str(folder / SIM_DIR / "phenotypes.tsv")],
        folder,
        log_path,
    )
    return {"ancestry": {"wall_s": wall, "rss_mib": rss}}


def _cells(rows: list[dict | None], key: str, fmt: str) -> str:
    return " / ".join("-" if r is None else format(r[key], fmt) for r in rows)


def write_markdown(result: dict, path: Path) -> None:
    sizes = [s for s in result["sizes"] if "rules" in s]
    head = " | ".join(f"{s['n_variants'] / 1000:.0f}k" for s in sizes)
    lines = [
        f"## {result['case']}: {result['description']}",
        "",
        f"{result['date']}, {result['machine']['cpus']} CPUs, snakemake --cores {result['cores']}; "
        f"model n_folds {result['n_folds']}, n_trials {result['n_trials']}.",
        "",
        *([f"Command: `{result['command']}`", ""] if result.get("command") else []),
        "| size | people | bp/chrom | variants | max variants/chrom | workflow wall s | status | AUC | ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["sizes"]:
        m = s.get("metrics") or {}
        lines.append(
            f"| {s['label']} | {s['people']} | {s['bp_per_chromosome']} | {s.get('n_variants', '-')} | "
            f"{s.get('max_variants_per_chromosome', '-')} | {s['workflow']['wall_s']:.0f} | "
            f"{s['workflow']['status']} | "
            f"{m.get('roc_auc', float('nan')):.3f} | {m.get('auc_ceiling', float('nan')):.3f} |"
        )
    lines += [
        "",
        f"Per rule (variants: {head}): jobs; max job wall s; total wall s; max peak RSS MB "
        "(Snakemake benchmark max_rss).",
        "",
        "| rule | jobs | max s | total s | max RSS MB | RSS largest/smallest |",
        "|---|---|---|---|---|---|",
    ]
    names = sorted({n for s in sizes for n in s["rules"]}, key=lambda n: (n not in GENOTYPE_RULES, n))
    for name in names:
        rows = [s["rules"].get(name) for s in sizes]
        first, last = rows[0], rows[-1]
        growth = f"{last['max_rss_mb'] / first['max_rss_mb']:.2f}x" if first and last and first["max_rss_mb"] else "-"
        lines.append(
            f"| {name} | {_cells(rows, 'jobs', 'd')} | {_cells(rows, 'max_s', '.1f')} | "
            f"{_cells(rows, 'total_s', '.0f')} | {_cells(rows, 'max_rss_mb', '.0f')} | {growth} |"
        )
    steps = [s for s in sizes if s.get("feature_steps")]
    if steps:
        lines += [
            "",
            "Steps inside cohort_features, each alone on the finished store (own process): wall s, peak RSS MiB.",
            "",
            "| size | variants | step | wall s | peak RSS MiB |",
            "|---|---|---|---|---|",
        ]
        for s in steps:
            for step, r in s["feature_steps"].items():
                lines.append(f"| {s['label']} | {s['n_variants']} | {step} | {r['wall_s']:.1f} | {r['rss_mib']:.0f} |")
    sbs = [s for s in sizes if s.get("side_by_side")]
    if sbs:
        lines += [
            "",
            "Side by side on the same store (chr1: median of interleaved runs; all: ours one process over the "
            "store, plink2 one process per chromosome, summed). Ratio = ours / plink2 wall.",
            "",
            "| size | task | variants | ours s | plink2 s | ratio | ours MiB | plink2 MiB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in sbs:
            c1 = s["side_by_side"]["chr1"]
            for task in ("pgs_sparse", "pgs_dense", "qc"):
                r = c1[task]
                n = c1["sparse_score_variants"] if task == "pgs_sparse" else c1["variants"]
                what = {"pgs_sparse": "PGS chr1 (simulated score)", "pgs_dense": "PGS chr1 (all variants)"}
                lines.append(
                    f"| {s['label']} | {what.get(task, 'QC chr1')} | {n} / {c1['variants']} | {r['ours_s']:.2f} | "
                    f"{r['plink2_s']:.2f} | {r['wall_ratio']:.1f}x | {r['ours_rss_mib']:.0f} | "
                    f"{r['plink2_rss_mib']:.0f} |"
                )
            for task, r in s["side_by_side"]["all_chromosomes"].items():
                lines.append(
                    f"| {s['label']} | {task} all 22 | {s['n_variants']} | {r['ours_s']:.2f} | {r['plink2_s']:.2f} | "
                    f"{r['wall_ratio']:.1f}x | {r['ours_rss_mib']:.0f} | {r['plink2_rss_mib']:.0f} |"
                )
    fit_rows = {n: f for n, f in result["fits"].items() if f["time_fit"]}
    if fit_rows:
        lines += [
            "",
            "Fit per rule over the sizes (people fixed): mean job s = a + b x variants per job "
            "(per-chromosome rules: total/jobs; others: total); RSS likewise.",
            "",
            "| rule | time a s | time b s/1k variants | RSS a MB | RSS b MB/1k variants |",
            "|---|---|---|---|---|",
        ]
        for name, f in fit_rows.items():
            t, m = f["time_fit"], f["rss_fit"]
            lines.append(f"| {name} | {t['a']:.2f} | {t['b'] * 1000:.4f} | {m['a']:.0f} | {m['b'] * 1000:.3f} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--mb", type=float, nargs="+", default=[0.7, 1.4, 2.8], help="Mb per chromosome, per size")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scale_genome"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--n-trials", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each side-by-side command")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per workflow before it is stopped")
    parser.add_argument("--name", default="scale_genome", help="results file stem in bench/results")
    parser.add_argument("--reuse", action="store_true", help="collect an existing completed run, do not rerun")
    parser.add_argument("--target", nargs="*", default=[], help="run the workflow up to these files only")
    parser.add_argument("--forcerun", nargs="*", default=[], help="rules to run again on an existing run")
    parser.add_argument("--no-side-by-side", action="store_true", help="skip the plink2 side-by-side timings")
    parser.add_argument(
        "--feature-steps", action="store_true", help="also measure ancestry (inside cohort_features) on its own"
    )
    args = parser.parse_args(argv)

    sizes = []
    for mb in args.mb:
        bp = int(round(mb * 1_000_000))
        label = f"{args.people}x22x{mb:g}Mb"
        folder = args.workdir / label
        size: dict = {"label": label, "people": args.people, "bp_per_chromosome": bp, "folder": str(folder)}
        if args.reuse and (folder / "workflow.json").exists():
            size["workflow"] = json.loads((folder / "workflow.json").read_text())
        else:
            write_config(folder, args.people, bp, args.n_folds, args.n_trials, args.seed)
            print(f"[scale] {label}: running the workflow in {folder}", flush=True)
            size["workflow"] = run_workflow(folder, args.cores, args.timeout, args.target, args.forcerun)
            (folder / "workflow.json").write_text(json.dumps(size["workflow"]))
        print(f"[scale] {label}: {size['workflow']['status']} in {size['workflow']['wall_s']:.0f} s", flush=True)
        results = folder / "results"
        if (results / "benchmarks").exists():
            size["rules"] = collect_benchmarks(results)
        if (results / "store/store.json").exists():
            per_chrom = count_variants(results)
            size["variants_per_chromosome"] = per_chrom
            size["n_variants"] = sum(per_chrom.values())
            size["max_variants_per_chromosome"] = max(per_chrom.values())
        if metrics_path(results).exists():
            size["metrics"] = model_metrics(results)
        if size["workflow"]["status"] == "ok" and args.feature_steps:
            print(f"[scale] {label}: steps inside cohort_features", flush=True)
            size["feature_steps"] = feature_steps(folder)
        if size["workflow"]["status"] == "ok" and not args.no_side_by_side:
            print(f"[scale] {label}: side by side with plink2", flush=True)
            size["side_by_side"] = side_by_side(folder, args.repeat)
        sizes.append(size)

    result = {
        "case": "scale_genome",
        "description": f"whole workflow, {args.people} people x 22 autosomes x {args.mb} Mb, snakemake --cores "
        f"{args.cores}; per-rule wall and peak RSS; PGS and QC side by side with plink2 on the same store",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "cores": args.cores,
        "command": " ".join(["bench/scale_genome.py", *(argv if argv is not None else sys.argv[1:])]),
        "n_folds": args.n_folds,
        "n_trials": args.n_trials,
        "sizes": sizes,
        "fits": fits([s for s in sizes if "rules" in s and "n_variants" in s]),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    result["case"] = args.name
    (RESULTS_DIR / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, RESULTS_DIR / f"{args.name}.md")
    print((RESULTS_DIR / f"{args.name}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
