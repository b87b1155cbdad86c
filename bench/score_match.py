"""Score matching: genorisk's matcher next to the PGS Catalog's ``pgscatalog-match``, same files, same targets.

The scoring files are those of tests/data/pgs that come from pygscatalog
(../shared/peer-data/annotation/pygscatalog/). For each build a target is
made from the union of the scores' variants in that build, each variant
written as the target would have it, chosen at random with a fixed seed:
50 % as reported (REF = other allele), 20 % with REF and ALT swapped, 10 %
on the other strand (complemented; A/T and C/G SNPs are never flipped), 5 %
with another ALT (an allele mismatch) and 15 % absent; rsIDs become the
target IDs. The target is one PLINK 2 fileset per build (``.pvar`` read by
both): ours is a genorisk store made from it (``convert_to_store``), theirs
the same ``.pvar``.

Ours: one process, ``target_scoring_file`` + ``match_scores`` per file
(build check, match on the store's variant table). Theirs:
``pgscatalog-format -t BUILD`` then ``pgscatalog-match --min_overlap 0``
(two processes per file), from a separate virtualenv (versions pinned below).
Both default to dropping strand-ambiguous and multiallelic variants.
Counted: matched variants per score (ours: the summary of the audit; theirs:
``<dataset>_summary.csv``, ``match_status == matched``), wall time per process.

Usage: ``.venv/bin/python bench/score_match.py [--pgsc-venv /tmp/pgsc-venv] [--repeat 3]``.
The venv is made with ``python3 -m venv V && V/bin/pip install pgscatalog-utils==2.0.4
pgscatalog-match==0.4.0``. Writes bench/results/score_match.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
DATA = ROOT / "tests" / "data" / "pgs"
WORK = Path("/tmp/score_match")
PGSC_VERSIONS = {"pgscatalog-utils": "2.0.4", "pgscatalog-match": "0.4.0", "pgscatalog-core": "1.1.1"}
#: Scoring file -> the build it is matched in (its harmonised build, else its declared one).
FILES = {
    "PGS000001_hmPOS_GRCh38.txt": "GRCh38",
    "PGS004255_hmPOS_GRCh38.txt.gz": "GRCh38",
    "PGS000001.txt.gz": "GRCh38",
    "bad_harmonised.txt": "GRCh38",
    "PGS000001_hmPOS_GRCh37.txt": "GRCh37",
    "PGS000802_hmPOS_GRCh37.txt": "GRCh37",
    "custom.txt": "GRCh37",
    "complex_variants_PGS000021.txt": "GRCh37",
    "invalid_scorefile.txt": "GRCh37",
}
COMP = str.maketrans("ACGT", "TGCA")

OURS = """
import json, sys, time
t0 = time.perf_counter()
from genorisk.errors import InputError
from genorisk.scores import match_scores, target_scoring_file
t1 = time.perf_counter()
store, build, out = sys.argv[1], sys.argv[2], {}
for path in sys.argv[3:]:
    try:
        sf = target_scoring_file(path, build)
        s = match_scores(store, [sf], min_match_rate=0.0).summary.iloc[0]
        out[path] = {"n_variants": int(s["n_variants"]), "matched": int(s["n_matched"])}
    except InputError as err:
        out[path] = {"error": str(err)}
print(json.dumps({"import_s": t1 - t0, "match_s": time.perf_counter() - t1, "scores": out}))
"""


def timed(argv: list[str], cwd: Path | None = None) -> tuple[float, int, str, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    return time.perf_counter() - start, proc.returncode, proc.stdout, proc.stderr


def make_target(build: str, files: list[str], folder: Path, seed: int = 7) -> tuple[Path, Path]:
    """The target fileset of one build (PLINK 2, via a one-sample VCF) and its genorisk store."""
    sys.path.insert(0, str(ROOT / "src"))
    from genorisk.errors import InputError
    from genorisk.genome import canonical_contig, contig_length
    from genorisk.scores import target_scoring_file
    from genorisk.store import convert_to_store, write_manifest

    rng = np.random.default_rng(seed)
    rows = {}
    for name in files:
        try:
            v = target_scoring_file(DATA / name, build).variants
        except InputError:
            continue
        for r in v.itertuples():
            if pd.isna(r.pos):
                continue
            key = (canonical_contig(str(r.chrom)), int(r.pos))
            rows.setdefault(key, (r.effect_allele, None if pd.isna(r.other_allele) else r.other_allele, r.rsid))
    records = []
    for (chrom, pos), (effect, other, rsid) in sorted(rows.items(), key=lambda kv: (kv[0][0].zfill(3), kv[0][1])):
        if len(effect) > 50 or (other is not None and len(other) > 50):
            continue
        if other is None:
            other = next(b for b in "ACGT" if b != effect[0]) if len(effect) == 1 else effect[0]
        u = rng.random()
        ambiguous = len(effect) == 1 and len(other) == 1 and effect.translate(COMP) == other
        if u < 0.15:
            continue  # absent
        if u < 0.20:
            alts = [b for b in "ACGT" if b not in (effect, other)]
            ref, alt = other, alts[0] if len(other) == 1 else effect + "A"
        elif u < 0.30 and not ambiguous:
            ref, alt = other.translate(COMP), effect.translate(COMP)
        elif u < 0.50:
            ref, alt = effect, other
        else:
            ref, alt = other, effect
        vid = rsid if isinstance(rsid, str) and rsid.startswith("rs") else f"{chrom}:{pos}:{ref}:{alt}"
        records.append((chrom, pos, vid, ref, alt))
    contigs = sorted({c for c, *_ in records}, key=lambda c: c.zfill(3))
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={contig_length(build, c)}>" for c in contigs]
    lines += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines += ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"]
    lines += [f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\tGT\t0/1" for c, p, i, r, a in records]
    folder.mkdir(parents=True, exist_ok=True)
    vcf = folder / f"target_{build}.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    pfile = folder / f"target_{build}"
    subprocess.run(
        ["plink2", "--vcf", str(vcf), "--make-pgen", "--out", str(pfile), "--threads", "1", "--memory", "1000"],
        check=True,
        capture_output=True,
    )
    # pgscatalog-match reads a .pvar of #CHROM POS ID REF ALT only (it refuses plink2's FILTER column).
    pvar = folder / f"target_{build}.5col.pvar"
    with open(f"{pfile}.pvar") as src, open(pvar, "w") as dst:
        dst.writelines("\t".join(line.rstrip("\n").split("\t")[:5]) + "\n" for line in src if not line.startswith("##"))
    prefixes = convert_to_store(vcf, folder / f"store_{build}", sex={"S1": 2}, build=build)
    manifest = write_manifest(folder / f"store_{build}" / "store.json", prefixes)
    return pvar, manifest


def theirs(venv: Path, build: str, files: list[str], pvar: Path, folder: Path) -> dict:
    """pgscatalog-format then pgscatalog-match per scoring file; matched counts and wall times."""
    out: dict = {"combine_s": 0.0, "match_s": 0.0, "scores": {}}
    for name in files:
        work = folder / f"theirs_{name}"
        shutil.rmtree(work, ignore_errors=True)
        (work / "match").mkdir(parents=True)
        w1, rc, _, err = timed(
            [str(venv / "bin" / "pgscatalog-format"), "-s", str(DATA / name), "-t", build, "-o", str(work)]
            + ["-l", "log_combined.json"]
        )
        out["combine_s"] += w1
        formatted = sorted(work.glob("normalised_*"))
        if rc != 0 or not formatted:
            out["scores"][name] = {"error": "format: " + _last_line(err)}
            continue
        w2, rc, _, err = timed(
            [str(venv / "bin" / "pgscatalog-match"), "-d", "bench", "-s", str(formatted[0]), "-t", str(pvar)]
            + ["--outdir", str(work / "match"), "--min_overlap", "0"]
        )
        out["match_s"] += w2
        summary = work / "match" / "bench_summary.csv"
        if rc != 0 or not summary.exists():
            out["scores"][name] = {"error": "match: " + _last_line(err)}
            continue
        table = pd.read_csv(summary)
        matched = int(table.loc[table["match_status"] == "matched", "count"].sum())
        out["scores"][name] = {"n_variants": int(table["count"].sum()), "matched": matched}
    return out


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pgsc-venv", type=Path, default=Path("/tmp/pgsc-venv"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not (args.pgsc_venv / "bin" / "pgscatalog-match").exists():
        raise SystemExit(f"score_match: no pgscatalog-match in {args.pgsc_venv} (see the module docstring)")
    shutil.rmtree(WORK, ignore_errors=True)
    builds = sorted(set(FILES.values()))
    result: dict = {
        "case": "score_match",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "pgscatalog": PGSC_VERSIONS,
        "builds": {},
    }
    for build in builds:
        files = [f for f, b in FILES.items() if b == build]
        pvar, manifest = make_target(build, files, WORK)
        n_target = len(pvar.read_text().splitlines()) - 1  # minus the #CHROM line
        ours_runs, theirs_runs = [], []
        for _ in range(args.repeat):
            wall, rc, stdout, err = timed([PYTHON, "-c", OURS, str(manifest), build, *(str(DATA / f) for f in files)])
            if rc != 0:
                raise SystemExit(f"score_match: ours failed:\n{err[-2000:]}")
            info = json.loads(stdout.strip().splitlines()[-1])
            ours_runs.append({"wall_s": wall, **info})
            theirs_runs.append(theirs(args.pgsc_venv, build, files, pvar, WORK / build))
        ours_last, theirs_last = ours_runs[-1], theirs_runs[-1]
        result["builds"][build] = {
            "target_variants": n_target,
            "ours_wall_s": statistics.median(r["wall_s"] for r in ours_runs),
            "ours_import_s": statistics.median(r["import_s"] for r in ours_runs),
            "ours_match_s": statistics.median(r["match_s"] for r in ours_runs),
            "theirs_combine_s": statistics.median(r["combine_s"] for r in theirs_runs),
            "theirs_match_s": statistics.median(r["match_s"] for r in theirs_runs),
            "scores": {
                f: {"ours": ours_last["scores"][str(DATA / f)], "theirs": theirs_last["scores"].get(f, {})}
                for f in files
            },
        }
    out = ROOT / "bench" / "results"
    (out / "score_match.json").write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, out / "score_match.md")
    print((out / "score_match.md").read_text())
    return 0


def _cell(entry: dict) -> str:
    if "error" in entry:
        return "refused"
    return f"{entry['matched']} / {entry['n_variants']}"


def write_markdown(result: dict, path: Path) -> None:
    versions = ", ".join(f"{k} {v}" for k, v in result["pgscatalog"].items())
    lines = [
        "## score_match: genorisk's matcher vs pgscatalog-match on the pygscatalog test scoring files",
        "",
        f"{result['date']}, {result['cpus']} CPUs, median of {result['repeat']} runs; {versions}. "
        "Targets: one per build, made from the scores' own variants (see bench/score_match.py).",
        "",
        "| build | scoring file | ours: matched / variants | pgscatalog-match: matched / variants |",
        "|---|---|---|---|",
    ]
    totals = {"ours": 0, "theirs": 0}
    for build, b in result["builds"].items():
        for name, s in b["scores"].items():
            lines.append(f"| {build} | {name} | {_cell(s['ours'])} | {_cell(s['theirs'])} |")
            for side in totals:
                totals[side] += s[side].get("matched", 0)
    lines += [
        f"| all | total matched | {totals['ours']} | {totals['theirs']} |",
        "",
        "| build | target variants | ours: process wall s (of which import s, matching s) "
        "| pgscatalog-format + pgscatalog-match wall s |",
        "|---|---|---|---|",
    ]
    faster = True
    for build, b in result["builds"].items():
        theirs_s = b["theirs_combine_s"] + b["theirs_match_s"]
        faster &= b["ours_wall_s"] <= theirs_s
        lines.append(
            f"| {build} | {b['target_variants']} | {b['ours_wall_s']:.2f} ({b['ours_import_s']:.2f}, "
            f"{b['ours_match_s']:.2f}) | {b['theirs_combine_s']:.2f} + {b['theirs_match_s']:.2f} = {theirs_s:.2f} |"
        )
    lines += ["", "Refusals (the first line of each message):", ""]
    for build, b in result["builds"].items():
        for name, s in b["scores"].items():
            for side, who in (("ours", "genorisk"), ("theirs", "pgscatalog")):
                if "error" in s[side]:
                    lines.append(f"- {build} {name}, {who}: {s[side]['error'].strip().splitlines()[0][:240]}")
    at_least = all(
        s["ours"].get("matched", 0) >= s["theirs"].get("matched", 0)
        for b in result["builds"].values()
        for s in b["scores"].values()
    )
    verdict = (
        "genorisk's matcher is kept: it matches at least as many variants on every file and is faster."
        if at_least and faster
        else "genorisk's matcher does NOT meet the bar (as many matches and as fast): switch to pgscatalog-match."
    )
    lines += ["", f"Verdict: {verdict}"]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
