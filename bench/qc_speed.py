#!/usr/bin/env python3
"""QC of a whole pgen store, ours vs plink2, side by side in one run, at several variant counts.

Usage::

    .venv/bin/python bench/qc_speed.py WORK [WORK ...] [--repeat 3] [--gather-copies 1 3 10]
        [--code DIR] [--label now] [--out bench/results/qc_speed]

Each ``WORK`` is a ``bench/scale_genome.py`` work folder (``results/store/store.json``,
``resources/sim/phenotypes.tsv``, ``config.yaml``; a copy with ``store/`` and
``sim/`` directly inside also works). On each store, interleaved, ``--repeat``
times, each command its own process (wall from the parent, peak RSS from
``wait4``):

* **plink2**: ``plink2 --pfile <chrom> --hardy --het --missing --threads 1``, one
  process per chromosome (as a per-chromosome job would run it), walls summed;
* **ours, as the workflow runs it**: the shard job ``scripts/cohort_qc_shard.sh``
  (bash and plink2, no Python) once per store part, walls summed, then the
  gather ``scripts/cohort_qc.py`` over all parts (a Python process with a
  stand-in ``snakemake`` object, threads 1), which reports the seconds spent
  after its imports ("compute"), so Python start-up and imports ("start-up")
  are given apart. Interleaved: plink2, shards, gather, per repeat;
* **gather memory**: the gather again over the part list repeated
  ``--gather-copies`` times (the same rows several times: the gather's memory
  at 2x, 3x ... the variants; the outputs are then not a real cohort's).

``--code DIR`` runs another checkout's ``src``/``scripts`` (e.g. the code
before a change, from ``git archive``) with the same commands. Writes
``OUT.json`` and ``OUT.md`` (``--label`` names the run inside them; several
labels accumulate in the JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
# What the gather imports before or while it works (start-up, reported apart; pyarrow.csv and
# pyarrow.parquet are imported on first use; pgenlib and scipy only for chrX/Y/MT filesets).
ADAPTER_IMPORTS = ("genorisk.config", "genorisk.qc", "genorisk.runner", "pyarrow.csv", "pyarrow.parquet")


class _Namespace:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def child(argv: list[str]) -> None:
    """Run one adapter script with a stand-in snakemake object; print its compute seconds as JSON."""
    import importlib
    import runpy

    script, spec = argv[0], json.loads(argv[1])
    for name in ADAPTER_IMPORTS:
        importlib.import_module(name)
    t0 = time.perf_counter()
    snakemake = _Namespace(
        input=_Namespace(**spec["input"]),
        output=_Namespace(**spec["output"]),
        params=_Namespace(**spec["params"]),
        threads=1,
        log=[],
        rule=Path(script).stem,
    )
    try:
        runpy.run_path(script, init_globals={"snakemake": snakemake}, run_name="__main__")
    except SystemExit as exc:
        if exc.code:
            raise
    print(json.dumps({"compute_s": time.perf_counter() - t0}))


def timed(argv: list[str], env: dict | None = None) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MiB), stdout and CPU seconds (user + system) of one command.

    RSS and CPU come from ``wait4``: the process and the children it waited for (a shard job's plink2 runs).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"qc_speed: command failed: {' '.join(argv)}\n{err.read().decode()[-2000:]}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024.0, out.read().decode(), usage.ru_utime + usage.ru_stime


def locate(work: Path) -> dict:
    """Store manifest, phenotypes and QC thresholds of a scale_genome work folder (or a copy of its parts)."""
    import yaml

    store = next(p for p in (work / "results/store", work / "store") if (p / "store.json").exists())
    phenotypes = next(p for p in (work / "resources/sim/phenotypes.tsv", work / "sim/phenotypes.tsv") if p.exists())
    config = yaml.safe_load((work / "config.yaml").read_text())
    manifest = json.loads((store / "store.json").read_text())
    prefixes = [store / e["prefix"] for e in manifest["chromosomes"]]
    parts = list(dict.fromkeys(p.parent for p in prefixes))
    n_variants = 0
    for p in prefixes:
        with open(f"{p}.pvar") as fh:
            n_variants += sum(1 for line in fh if not line.startswith("#"))
    return {
        "store": store,
        "phenotypes": phenotypes,
        "thresholds": config.get("qc", {}),
        "prefixes": prefixes,
        "parts": parts,
        "n_variants": n_variants,
    }


def gather_spec(info: dict, shard_dirs: list[Path], out: Path, copies: int = 1) -> dict:
    return {
        "input": {
            "shards": [str(d) for d in shard_dirs] * copies,
            "parts": [str(p) for p in info["parts"]] * copies,
            "phenotypes": str(info["phenotypes"]),
        },
        "output": {"summary": str(out / "qc_summary.json")},
        "params": {"thresholds": info["thresholds"], "outdir": str(out)},
    }


def run_store(work: Path, scratch: Path, code: Path, repeat: int, gather_copies: list[int]) -> dict:
    info = locate(work)
    env = dict(os.environ, PYTHONPATH=str(code / "src"))
    scripts = code / "scripts"
    scratch.mkdir(parents=True, exist_ok=True)
    shard_dirs = [scratch / "shards" / part.name for part in info["parts"]]
    runs: dict[str, list] = {"plink2": [], "shards": [], "gather": []}
    for _ in range(repeat):
        walls, rss, cpu = [], [], []
        for prefix in info["prefixes"]:
            argv = ["plink2", "--pfile", str(prefix), "--hardy", "--het", "--missing"]
            argv += ["--threads", "1", "--memory", "1000", "--out", str(scratch / f"plink_{prefix.name}")]
            w, r, _, c = timed(argv)
            walls.append(w)
            rss.append(r)
            cpu.append(c)
        runs["plink2"].append(
            {"wall_s": sum(walls), "cpu_s": sum(cpu), "max_rss_mib": max(rss), "processes": len(walls)}
        )
        walls, rss, cpu = [], [], []
        for part, out in zip(info["parts"], shard_dirs, strict=True):
            argv = ["bash", str(scripts / "cohort_qc_shard.sh"), str(part), str(info["phenotypes"]), str(out), "1"]
            w, r, _, c = timed(argv)
            walls.append(w)
            rss.append(r)
            cpu.append(c)
        runs["shards"].append(
            {"wall_s": sum(walls), "cpu_s": sum(cpu), "max_rss_mib": max(rss), "processes": len(walls)}
        )
        spec = gather_spec(info, shard_dirs, scratch / "gather_x1")
        argv = [PYTHON, __file__, "--child", str(scripts / "cohort_qc.py"), json.dumps(spec)]
        w, r, stdout, c = timed(argv, env=env)
        compute = json.loads(stdout.strip().splitlines()[-1])["compute_s"]
        runs["gather"].append(
            {"wall_s": w, "cpu_s": c, "compute_s": compute, "startup_s": w - compute, "max_rss_mib": r}
        )
    gather = []
    for copies in gather_copies:
        if copies == 1:
            one = runs["gather"][-1]
            gather.append({"copies": 1, "variant_rows": info["n_variants"], **one})
            continue
        spec = gather_spec(info, shard_dirs, scratch / f"gather_x{copies}", copies)
        argv = [PYTHON, __file__, "--child", str(scripts / "cohort_qc.py"), json.dumps(spec)]
        w, r, stdout, _ = timed(argv, env=env)
        compute = json.loads(stdout.strip().splitlines()[-1])["compute_s"]
        gather.append(
            {"copies": copies, "variant_rows": info["n_variants"] * copies, "wall_s": w, "compute_s": compute,
             "max_rss_mib": r}
        )  # fmt: skip
    med = {
        k: {f: statistics.median(r[f] for r in v) for f in v[0] if f != "processes"}
        | ({"processes": v[0]["processes"]} if "processes" in v[0] else {})
        for k, v in runs.items()
    }
    total = [s["wall_s"] + g["wall_s"] for s, g in zip(runs["shards"], runs["gather"], strict=True)]
    compute = [s["wall_s"] + g["compute_s"] for s, g in zip(runs["shards"], runs["gather"], strict=True)]
    ratios = [t / p["wall_s"] for t, p in zip(total, runs["plink2"], strict=True)]
    cpu_ratios = [
        (s["cpu_s"] + g["cpu_s"]) / p["cpu_s"]
        for s, g, p in zip(runs["shards"], runs["gather"], runs["plink2"], strict=True)
    ]
    return {
        "work": str(work),
        "variants": info["n_variants"],
        "chromosomes": len(info["prefixes"]),
        "parts": len(info["parts"]),
        "runs": runs,
        "median": med,
        "total_wall_s": statistics.median(total),
        "total_compute_s": statistics.median(compute),
        "ratio_wall": statistics.median(ratios),
        "ratio_compute": statistics.median(c / p["wall_s"] for c, p in zip(compute, runs["plink2"], strict=True)),
        "ratio_cpu": statistics.median(cpu_ratios),
        "gather": gather,
    }


def markdown(doc: dict) -> str:
    lines = [
        "## qc_speed: QC of a whole pgen store, ours (shard jobs + gather) vs plink2 --hardy --het --missing",
        "",
        "Ours = `scripts/cohort_qc_shard.sh` once per store part (bash + one plink2 pass per chromosome fileset:",
        "`--geno-counts --sample-counts` over the phenotyped samples, `--hardy` over the controls; here one",
        "chromosome per part) plus one `scripts/cohort_qc.py` gather (Python: parses plink2's tables, applies the",
        "thresholds, writes the QC files), each its own process, as the workflow runs them; plink2 = one",
        "`plink2 --hardy --het --missing` process per chromosome. All single-threaded, interleaved on the same",
        "store (plink2, shards, gather, per repeat). *Start-up* is the gather's interpreter and imports (the shard",
        "jobs start no Python; Snakemake's own per-job cost is not included); *compute* is the rest. Ratios are",
        "ours / plink2, medians of the per-repeat ratios. *CPU* is user + system time from `wait4` (a shard job's",
        "includes its plink2 runs): less sensitive than wall time to other load on the machine.",
        "",
    ]
    for label, run in doc["runs"].items():
        meta = run["meta"]
        lines += [
            f"### {label}",
            "",
            f"{meta['date']}, {meta['cpus']} CPUs ({meta.get('load', 'load not recorded')}), {meta['machine']}; "
            f"median of {meta['repeat']} interleaved runs.",
            "",
            "| variants | plink2 s | ours s: shards + gather = total | of which start-up | ours compute s | "
            "ratio wall | ratio compute | CPU s plink2 / ours | ratio CPU | plink2 max RSS MiB | "
            "shard max RSS MiB | gather max RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in run["stores"]:
            p, sh, g = s["median"]["plink2"], s["median"]["shards"], s["median"]["gather"]
            lines.append(
                f"| {s['variants']:,} | {p['wall_s']:.2f} | {sh['wall_s']:.2f} + {g['wall_s']:.2f} = "
                f"{s['total_wall_s']:.2f} | {g['startup_s']:.2f} (1 process) | {s['total_compute_s']:.2f} | "
                f"{s['ratio_wall']:.2f}x | {s['ratio_compute']:.2f}x | "
                f"{p['cpu_s']:.2f} / {sh['cpu_s'] + g['cpu_s']:.2f} | {s['ratio_cpu']:.2f}x | {p['max_rss_mib']:.0f} | "
                f"{sh['max_rss_mib']:.0f} | {g['max_rss_mib']:.0f} |"
            )
        lines += ["", "Per repeat (s): plink2 / shards / gather (start-up):", ""]
        for s in run["stores"]:
            cells = [
                f"{p['wall_s']:.2f} / {sh['wall_s']:.2f} / {g['wall_s']:.2f} ({g['startup_s']:.2f})"
                for p, sh, g in zip(s["runs"]["plink2"], s["runs"]["shards"], s["runs"]["gather"], strict=True)
            ]
            lines.append(f"- {s['variants']:,} variants: " + "; ".join(cells))
        lines += [
            "",
            "Gather (cohort_qc) by variant rows gathered (xN: the part list given N times; x1: the last repeat):",
        ]
        lines += [""]
        lines += ["| variant rows | store parts | wall s | peak RSS MiB |", "|---|---|---|---|"]
        for s in run["stores"]:
            for g in s["gather"]:
                copies = f" (x{g['copies']})" if g["copies"] > 1 else ""
                lines.append(
                    f"| {g['variant_rows']:,} | {s['parts'] * g['copies']}{copies} | {g['wall_s']:.2f} | "
                    f"{g['max_rss_mib']:.0f} |"
                )
        lines.append("")
    if doc.get("notes"):
        lines += ["### Notes", "", doc["notes"].strip(), ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gather-copies", type=int, nargs="+", default=[1])
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--label", default="now")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/qc_speed"))
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "qc_speed")
    parser.add_argument("--notes", type=Path, help="a text file shown under Notes in OUT.md")
    args = parser.parse_args()
    stores = []
    for work in args.work:
        scratch = args.scratch / args.label / work.name
        stores.append(run_store(work.resolve(), scratch, args.code.resolve(), args.repeat, args.gather_copies))
        s = stores[-1]
        rss = [round(g["max_rss_mib"]) for g in s["gather"]]
        print(
            f"{work.name}: {s['variants']} variants, ours/plink2 wall {s['ratio_wall']:.2f}x, "
            f"CPU {s['ratio_cpu']:.2f}x, "
            f"compute {s['ratio_compute']:.2f}x (shards + gather); gather RSS {rss} MiB",
            file=sys.stderr,
        )
    json_path = args.out.with_suffix(".json")
    doc = json.loads(json_path.read_text()) if json_path.exists() else {"runs": {}}
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "repeat": args.repeat,
        "code": str(args.code),
        "load": "load average {:.1f} {:.1f} {:.1f} at the end".format(*os.getloadavg()),
    }
    doc["runs"][args.label] = {"meta": meta, "stores": stores}
    if args.notes:
        doc["notes"] = args.notes.read_text()
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(doc))


if __name__ == "__main__":
    main()
