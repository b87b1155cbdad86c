#!/usr/bin/env python3
"""Run a named benchmark: genorisk next to its reference tool, in one run.

Usage::

    .venv/bin/python bench/run.py NAME [--repeat 3] [--workdir DIR]
    .venv/bin/python bench/run.py --list

A case is a module ``bench/cases/NAME.py`` that defines

* ``DESCRIPTION`` - one line saying what is measured;
* ``prepare(workdir: Path) -> None`` - makes the inputs (not timed);
* ``commands(workdir: Path) -> dict[str, list[str]]`` - label to argv.
  The first entry is genorisk's own command; the others are reference tools.
  Each command runs as its own process, so its peak RSS is its own.
* optionally ``UNITS: dict[str, float]`` - e.g. ``{"variants": 88000}``, to
  report throughput (units per second) beside wall time.

The commands are run interleaved (A, B, A, B, ...) ``--repeat`` times, so a
burst of load on this shared machine hits both sides alike; the figures that
count are the ratios to the first reference (median wall, max peak RSS).
Results go to ``bench/results/NAME.json`` (machine-readable) and
``bench/results/NAME.md`` (a table for the README and issue notes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
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
CASES_DIR = BENCH_DIR / "cases"
RESULTS_DIR = BENCH_DIR / "results"


def load_case(name: str):
    path = CASES_DIR / f"{name}.py"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CASES_DIR.glob("*.py")))
        raise SystemExit(f"bench: no case {name!r} in {CASES_DIR} (known: {known})")
    spec = importlib.util.spec_from_file_location(f"bench_case_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_once(argv: list[str], cwd: Path, log_path: Path) -> tuple[float, float]:
    """Run ``argv``; return (wall seconds, peak RSS in MiB) of it and its children."""
    with open(log_path, "ab") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        # wait4 gives the rusage of this child and the descendants it waited for.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: command failed with exit {proc.returncode}: {' '.join(argv)}\nsee {log_path}")
    return wall, usage.ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help="case name (file stem in bench/cases)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep inputs here (default: a temp dir)")
    parser.add_argument("--list", action="store_true", help="list the cases")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.prepare_only:
        load_case(args.name).prepare(args.workdir)
        return 0

    if args.list or not args.name:
        for path in sorted(CASES_DIR.glob("*.py")):
            print(f"{path.stem:32s} {load_case(path.stem).DESCRIPTION}")
        return 0

    case = load_case(args.name)
    tmp = None
    if args.workdir:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix=f"bench-{args.name}-")
        workdir = Path(tmp.name)

    print(f"[bench] {args.name}: {case.DESCRIPTION}", flush=True)
    t0 = time.perf_counter()
    # prepare() runs in its own process: Linux carries a process's peak RSS across
    # fork and exec, so a runner grown by prepare() would inflate every figure.
    subprocess.run([sys.executable, __file__, args.name, "--prepare-only", "--workdir", str(workdir)], check=True)
    print(f"[bench] prepared inputs in {time.perf_counter() - t0:.1f}s under {workdir}", flush=True)

    commands = case.commands(workdir)
    log_path = workdir / "bench-commands.log"
    walls: dict[str, list[float]] = {label: [] for label in commands}
    rss: dict[str, list[float]] = {label: [] for label in commands}
    for i in range(args.repeat):
        for label, cmd in commands.items():
            wall, peak = run_once(cmd, workdir, log_path)
            walls[label].append(wall)
            rss[label].append(peak)
            print(f"[bench] run {i + 1}/{args.repeat} {label:>12s}: {wall:8.2f} s  {peak:8.1f} MiB", flush=True)

    labels = list(commands)
    ours, refs = labels[0], labels[1:]
    units = getattr(case, "UNITS", {})
    rows = []
    for label in labels:
        med = statistics.median(walls[label])
        row = {
            "label": label,
            "command": commands[label],
            "wall_s": walls[label],
            "wall_median_s": med,
            "peak_rss_mib": max(rss[label]),
        }
        for unit, count in units.items():
            row[f"{unit}_per_s"] = count / med if med > 0 else None
        rows.append(row)
    by_label = {r["label"]: r for r in rows}
    ratios = {}
    if refs:
        ref = by_label[refs[0]]
        ratios = {
            "reference": refs[0],
            "wall_ratio": by_label[ours]["wall_median_s"] / ref["wall_median_s"],
            "rss_ratio": by_label[ours]["peak_rss_mib"] / ref["peak_rss_mib"],
        }

    result = {
        "case": args.name,
        "description": case.DESCRIPTION,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "repeat": args.repeat,
        "units": units,
        "results": rows,
        "ratios": ratios,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")

    lines = [
        f"## {args.name}: {case.DESCRIPTION}",
        "",
        f"{result['date']}, {os.cpu_count()} CPUs, median of {args.repeat} interleaved runs.",
        "",
        "| command | median wall s | peak RSS MiB | " + " | ".join(f"{u}/s" for u in units) + (" |" if units else "|"),
        "|---|---|---|" + "---|" * len(units),
    ]
    for r in rows:
        extra = "".join(f" {r[f'{u}_per_s']:.0f} |" for u in units)
        lines.append(f"| {r['label']} | {r['wall_median_s']:.2f} | {r['peak_rss_mib']:.0f} |{extra}")
    if ratios:
        lines += [
            "",
            f"Ratio {ours}/{ratios['reference']}: wall {ratios['wall_ratio']:.2f}x, "
            f"peak RSS {ratios['rss_ratio']:.2f}x.",
        ]
    (RESULTS_DIR / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
