#!/usr/bin/env python3
"""Pharmacogene calling per patient vs ``bcftools view -R`` of the same positions, side by side.

Usage::

    .venv/bin/python bench/pgx_speed.py [--background 200000] [--samples 1 500] [--repeat 5]
        [--vcf FILE --sample NAME] [--label now] [--out bench/results/pgx_speed]

Files: by default, synthetic GRCh38 VCFs (bgzipped, tabix-indexed) holding
the demo's pharmacogenomic region (every definition position of the 13
genes, the plan of demo patient P001: CYP2C19 *2/*17) plus ``--background``
other variant sites on chr21 (a whole-genome VCF has ~4-5 million; what
matters is that the file is much larger than the positions read), with
``--samples`` sample columns each (1: a single-patient VCF; 500: a batch VCF
read for one of its patients). ``--vcf/--sample`` adds a file of your own.

On each file, interleaved, ``--repeat`` times:

* **ours**: :func:`genorisk.pgx.call.call_sample` in this process (definitions
  loaded once, as a batch job does): index queries for the definition
  positions, matching, phenotypes and guidance; the wall of the call;
* **bcftools**: ``bcftools view -R positions.bed -s SAMPLE FILE -Ou -o /dev/null``
  (a process each; the same positions; only reading, no calling).

Also measured once: the import of ``genorisk.pgx.call`` in a fresh Python
(start-up a per-patient job would pay each time; a batch job pays it once).
Writes ``OUT.json`` (runs accumulate by ``--label``) and ``OUT.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT / "src"))

from genorisk.genome import contig_lengths  # noqa: E402
from genorisk.pgx.call import call_sample  # noqa: E402
from genorisk.pgx.definitions import load_definitions  # noqa: E402
from genorisk.simulate.pgx import demo_pgx_sites  # noqa: E402


def synthetic_vcf(path: Path, n_background: int, n_samples: int, seed: int = 1) -> Path:
    """The demo PGx region (patient P001's plan for every sample) plus ``n_background`` chr21 SNVs."""
    rng = np.random.default_rng(seed)
    pgx = demo_pgx_sites(1)
    lengths = contig_lengths("GRCh38")
    contigs = [*pgx.contigs, "chr21"]
    samples = [f"S{i:04d}" for i in range(1, n_samples + 1)]
    bg_pos = np.unique(rng.integers(10_000_000, 46_000_000, size=n_background))
    bases = np.array(list("ACGT"))
    text = path.with_suffix("")
    with open(text, "w") as out:
        out.write("##fileformat=VCFv4.2\n##reference=GRCh38\n")
        out.writelines(f"##contig=<ID={c},length={lengths[c]}>\n" for c in contigs)
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n")
        for i in range(len(pgx.positions)):
            gt = "\t" + "|".join(str(int(a)) for a in pgx.calls[i, 0]).replace("-1", ".")
            out.write(
                f"{pgx.chroms[i]}\t{pgx.positions[i]}\t{pgx.ids[i]}\t{pgx.refs[i]}\t{pgx.alts[i]}\t.\tPASS\t.\tGT"
                + gt * n_samples
                + "\n"
            )
        ref_idx = rng.integers(0, 4, size=len(bg_pos))
        alt_idx = (ref_idx + rng.integers(1, 4, size=len(bg_pos))) % 4
        cells = np.array(["0|0", "0|1", "1|0", "1|1"])
        for j, pos in enumerate(bg_pos):
            gts = cells[rng.choice(4, size=n_samples, p=[0.7, 0.12, 0.12, 0.06])]
            out.write(
                f"chr21\t{pos}\t.\t{bases[ref_idx[j]]}\t{bases[alt_idx[j]]}\t.\tPASS\t.\tGT\t" + "\t".join(gts) + "\n"
            )
    subprocess.run(["bgzip", "-f", "-@", "2", str(text)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return path


def positions_bed(path: Path) -> Path:
    defs = load_definitions()
    lines = sorted({(p.chrom, p.pos) for d in defs.values() for p in d.positions})
    path.write_text("".join(f"{c}\t{p - 1}\t{p}\n" for c, p in lines))
    return path


def import_seconds() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import genorisk.pgx.call"], check=True, cwd=ROOT,
                   env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    return time.perf_counter() - t


def bench_file(vcf: Path, sample: str, bed: Path, repeat: int) -> dict:
    defs = load_definitions()
    first = call_sample(vcf, sample, definitions=defs)  # warm: file cache, phenotype tables
    ours, tool = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        call_sample(vcf, sample, definitions=defs)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(
            ["bcftools", "view", "-R", str(bed), "-s", sample, str(vcf), "-Ou", "-o", "/dev/null"], check=True
        )
        tool.append(time.perf_counter() - t)
    n_records = int(
        subprocess.run(
            ["bcftools", "view", "-H", "-R", str(bed), "-s", sample, str(vcf)], capture_output=True, check=True
        ).stdout.count(b"\n")
    )
    genes = {g["gene"]: g["status"] for g in first["genes"]}
    return {
        "file": str(vcf),
        "size_mb": round(vcf.stat().st_size / 1e6, 2),
        "sample": sample,
        "n_positions": sum(len(d.positions) for d in defs.values()),
        "records_read_by_bcftools": n_records,
        "ours_s": [round(x, 4) for x in ours],
        "bcftools_s": [round(x, 4) for x in tool],
        "ours_median_s": round(statistics.median(ours), 4),
        "bcftools_median_s": round(statistics.median(tool), 4),
        "genes_called": sum(s != "not_called" for s in genes.values()),
        "cyp2c19": next(
            ("|".join(d["name"] for d in g["diplotypes"]) for g in first["genes"] if g["gene"] == "CYP2C19"), None
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--background", type=int, default=200_000)
    ap.add_argument("--samples", type=int, nargs="+", default=[1, 500])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--vcf", type=Path)
    ap.add_argument("--sample")
    ap.add_argument("--label", default="now")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "pgx_speed")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bed = positions_bed(work / "positions.bed")
        files = [(synthetic_vcf(work / f"s{n}.vcf.gz", args.background, n), "S0001") for n in args.samples]
        if args.vcf:
            files.append((args.vcf, args.sample))
        for vcf, sample in files:
            row = bench_file(vcf, sample, bed, args.repeat)
            row["n_samples"] = int(
                subprocess.run(
                    ["bcftools", "query", "-l", str(vcf)], capture_output=True, text=True, check=True
                ).stdout.count("\n")
            )
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if not k.endswith("_s")}), flush=True)
        startup = round(statistics.median(import_seconds() for _ in range(3)), 3)
    run = {
        "label": args.label,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "background_sites": args.background,
        "repeat": args.repeat,
        "python_import_s": startup,
        "files": rows,
    }
    out_json = args.out.with_suffix(".json")
    runs = json.loads(out_json.read_text())["runs"] if out_json.exists() else []
    runs = [r for r in runs if r["label"] != args.label] + [run]
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    lines = [
        "# Pharmacogene calling per patient vs `bcftools view -R` (bench/pgx_speed.py)",
        "",
        f"Run `{run['label']}` ({run['date']}, {run['machine']}); median of {args.repeat} interleaved repeats; "
        f"{rows[0]['n_positions']} definition positions of 13 genes; synthetic files: the demo PGx region "
        f"plus {args.background:,} chr21 sites.",
        "",
        "| file | samples | size MB | records read | ours: call_sample (s) | bcftools view -R -s (s) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["ours_median_s"] / r["bcftools_median_s"] if r["bcftools_median_s"] else float("nan")
        lines.append(
            f"| {Path(r['file']).name} | {r['n_samples']} | {r['size_mb']} | {r['records_read_by_bcftools']} | "
            f"{r['ours_median_s']:.4f} | {r['bcftools_median_s']:.4f} | {ratio:.2f} |"
        )
    lines += [
        "",
        f"Ours reads, matches, looks up phenotypes and guidance (all 13 genes called: "
        f"{', '.join(str(r['genes_called']) for r in rows)}; CYP2C19 {rows[0]['cyp2c19']}); bcftools only reads "
        "and writes the records, and its wall includes its own process start-up (a few ms). "
        "Both go through the index, so neither grows with the file's other sites.",
        f"Python start-up with `import genorisk.pgx.call`: {startup:.2f} s, paid once per job: the workflow runs one "
        "`call_pharmacogenes` job per batch of patients, not per patient.",
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
