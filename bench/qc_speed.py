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
* **ours, as the workflow runs it**: ``scripts/cohort_qc_shard.py`` once per
  store part (a process each, with a stand-in ``snakemake`` object, threads 1),
  walls summed. Each process also reports the seconds spent after its imports
  ("compute"), so Python start-up and imports ("start-up") are given apart;
* **gather**: ``scripts/cohort_qc.py`` over all shard folders (wall, peak RSS),
  and again over the shard list repeated ``--gather-copies`` times (the same
  rows several times: the gather's memory at 2x, 3x ... the variants; the
  outputs are then not a real cohort's).

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
# What the adapters import before or while they work (start-up, reported apart; scipy.special is
# imported lazily by the HWE test, pyarrow.parquet by pandas on first write).
ADAPTER_IMPORTS = ("genorisk.config", "genorisk.qc", "genorisk.runner", "pgenlib", "pyarrow.parquet", "scipy.special")


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
    # The config schema read that QCThresholds.from_dict does in each job (genorisk.config, not QC), timed
    # once here on its own so the report can give QC's compute without it; the job still does its own.
    t0 = time.perf_counter()
    importlib.import_module("genorisk.config").load_schema()
    schema_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    snakemake = _Namespace(
        input=_Namespace(**spec["input"]),
        output=_Namespace(**spec["output"]),
        params=_Namespace(thresholds=spec["thresholds"]),
        threads=1,
        log=[],
        rule=Path(script).stem,
    )
    try:
        runpy.run_path(script, init_globals={"snakemake": snakemake}, run_name="__main__")
    except SystemExit as exc:
        if exc.code:
            raise
    print(json.dumps({"compute_s": time.perf_counter() - t0, "schema_s": schema_s}))


def timed(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB, the process's own ``ru_maxrss`` from ``wait4``) and stdout of one command."""
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
        return wall, usage.ru_maxrss / 1024.0, out.read().decode()


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


def run_store(work: Path, scratch: Path, code: Path, repeat: int, gather_copies: list[int]) -> dict:
    info = locate(work)
    env = dict(os.environ, PYTHONPATH=str(code / "src"))
    scripts = code / "scripts"
    scratch.mkdir(parents=True, exist_ok=True)
    shard_dirs = [scratch / "shards" / part.name for part in info["parts"]]
    runs: dict[str, list] = {"plink2": [], "ours": []}
    for _ in range(repeat):
        walls, rss = [], []
        for prefix in info["prefixes"]:
            argv = ["plink2", "--pfile", str(prefix), "--hardy", "--het", "--missing"]
            argv += ["--threads", "1", "--memory", "1000", "--out", str(scratch / f"plink_{prefix.name}")]
            w, r, _ = timed(argv)
            walls.append(w)
            rss.append(r)
        runs["plink2"].append({"wall_s": sum(walls), "max_rss_mib": max(rss), "processes": len(walls)})
        walls, rss, compute, schema = [], [], [], []
        for part, out in zip(info["parts"], shard_dirs, strict=True):
            spec = {
                "input": {"part": str(part), "phenotypes": str(info["phenotypes"])},
                "output": {"shard": str(out)},
                "thresholds": info["thresholds"],
            }
            argv = [PYTHON, __file__, "--child", str(scripts / "cohort_qc_shard.py"), json.dumps(spec)]
            w, r, stdout = timed(argv, env=env)
            walls.append(w)
            rss.append(r)
            report = json.loads(stdout.strip().splitlines()[-1])
            compute.append(report["compute_s"])
            schema.append(report["schema_s"])
        runs["ours"].append(
            {
                # less the benchmark's own extra schema read (the job's read is in compute_s)
                "wall_s": sum(walls) - sum(schema),
                "compute_s": sum(compute),
                "schema_s": sum(schema),
                "startup_s": sum(walls) - sum(compute) - sum(schema),
                "max_rss_mib": max(rss),
                "processes": len(walls),
            }
        )
    gather = []
    for copies in gather_copies:
        spec = {
            "input": {"shards": [str(d) for d in shard_dirs] * copies, "phenotypes": str(info["phenotypes"])},
            "output": {"summary": str(scratch / f"gather_x{copies}" / "qc_summary.json")},
            "thresholds": info["thresholds"],
        }
        argv = [PYTHON, __file__, "--child", str(scripts / "cohort_qc.py"), json.dumps(spec)]
        w, r, stdout = timed(argv, env=env)
        compute = json.loads(stdout.strip().splitlines()[-1])["compute_s"]
        gather.append(
            {
                "copies": copies,
                "variant_rows": info["n_variants"] * copies,
                "wall_s": w,
                "compute_s": compute,
                "max_rss_mib": r,
            }
        )
    med = {
        k: {f: statistics.median(x[f]) for f in v[0] if f != "processes"} | {"processes": v[0]["processes"]}
        for k, v in runs.items()
        if v
        for x in [{f: [r[f] for r in v] for f in v[0]}]
    }
    one = next((g for g in gather if g["copies"] == 1), None)
    total_wall = med["ours"]["wall_s"] + (one["wall_s"] if one else 0.0)
    total_compute = med["ours"]["compute_s"] + (one["compute_s"] if one else 0.0)
    return {
        "work": str(work),
        "variants": info["n_variants"],
        "chromosomes": len(info["prefixes"]),
        "parts": len(info["parts"]),
        "runs": runs,
        "median": med,
        "total_wall_s": total_wall,
        "total_compute_s": total_compute,
        "ratio_wall": total_wall / med["plink2"]["wall_s"],
        "ratio_compute": total_compute / med["plink2"]["wall_s"],
        "gather": gather,
    }


def markdown(doc: dict) -> str:
    lines = [
        "## qc_speed: QC of a whole pgen store, ours (shard jobs + gather) vs plink2 --hardy --het --missing",
        "",
        "Ours = `scripts/cohort_qc_shard.py` once per store part (here one chromosome each) plus one",
        "`scripts/cohort_qc.py` gather, each its own process, as the workflow runs them; plink2 = one process per",
        "chromosome. Both single-threaded, interleaved on the same store. *Compute* is each process's time after",
        "its imports, including one read of the config schema per shard job (`QCThresholds.from_dict`, timed",
        "apart in the *schema* column); *start-up* is the rest (interpreter, imports; Snakemake's own script",
        "preamble is not included). Ratios are ours / plink2 summed wall; *ratio QC compute* leaves out start-up",
        "and the schema reads.",
        "",
    ]
    for label, run in doc["runs"].items():
        meta = run["meta"]
        lines += [
            f"### {label}",
            "",
            f"{meta['date']}, {meta['cpus']} CPUs ({meta.get('load', 'load not recorded')}), {meta['machine']}; "
            f"median of {meta['repeat']} interleaved runs (gather: one run).",
            "",
            "| variants | plink2 s | ours s: shards + gather | of which start-up | ours compute s: shards + gather | "
            "of which schema | ratio wall | ratio QC compute | plink2 max RSS MiB | shard max RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in run["stores"]:
            p, o = s["median"]["plink2"], s["median"]["ours"]
            one = next((g for g in s["gather"] if g["copies"] == 1), None)
            g_wall, g_comp = (one["wall_s"], one.get("compute_s", float("nan"))) if one else (0.0, 0.0)
            total_wall = o["wall_s"] + g_wall
            total_compute = o["compute_s"] + g_comp
            schema = o.get("schema_s", 0.0)
            startup = total_wall - total_compute
            n_proc = o["processes"] + (1 if one else 0)
            lines.append(
                f"| {s['variants']:,} | {p['wall_s']:.2f} | {o['wall_s']:.2f} + {g_wall:.2f} = {total_wall:.2f} | "
                f"{startup:.2f} ({startup / n_proc:.2f} x {n_proc} processes) | "
                f"{o['compute_s']:.2f} + {g_comp:.2f} = {total_compute:.2f} | {schema:.2f} | "
                f"{total_wall / p['wall_s']:.1f}x | {(total_compute - schema) / p['wall_s']:.1f}x | "
                f"{p['max_rss_mib']:.0f} | {o['max_rss_mib']:.0f} |"
            )
        lines += ["", "Gather (cohort_qc) by variant rows gathered (xN: the shard list given N times):", ""]
        lines += ["| variant rows | shard folders | wall s | peak RSS MiB |", "|---|---|---|---|"]
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
            f"{work.name}: {s['variants']} variants, ours/plink2 wall {s['ratio_wall']:.1f}x, "
            f"compute {s['ratio_compute']:.1f}x (shards + gather); gather RSS {rss} MiB",
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
