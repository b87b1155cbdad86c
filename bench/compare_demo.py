"""Compare two demo results folders file by file: same results, except named, intended differences.

Usage::

    # a demo run of the code before the change (here at /work/baseline) against one after it
    python bench/compare_demo.py /work/baseline/results results
    python bench/compare_demo.py /work/baseline/resources/demo resources/demo   # the simulated inputs
    python bench/compare_demo.py OLD NEW --intended bench/demo_intended_differences.txt --verbose

Exit status 0 when every file is the same or differs only as documented below;
1 when any other difference is found (each is listed with what differs); 2 on a
usage error. ``--verbose`` lists every file, not only the ones that differ.

How files are compared
----------------------
* Every file under either folder, by relative path; a file on one side only is a difference.
* Identical bytes: the same. Otherwise, by kind:

  - ``.json``: parsed; the differing key paths are listed (``a.b.3.c``; list items by index).
  - ``.parquet``: read with pandas and compared by content (columns, index, dtypes, values);
    bytes alone may differ with the writer's metadata. Differing columns are listed.
  - ``.gz`` (BGZF/gzip text: VCF, TSV) and other text files (``.md``, ``.html``, ``.tsv``,
    ``.txt``): compared line by line; the first differing lines are shown.
  - anything else (``.bcf``, ``.csi``, ``.tbi``, ``.ubj``): bytes only.

Run-dependent, ignored (documented in the README's reproducibility notes and in
tests/test_resume.py, which checks the same on a killed-and-resumed run):

* ``logs/`` and ``benchmarks/``: timestamps, wall times and memory of each job;
* JSON keys ``created`` and ``training_seconds`` (``model/<trait>/model_card.json``: when and how
  long training ran), ``model_card.md`` (the hash of ``model_card.md``, which carries that time),
  and in a bundle's ``model/<trait>/bundle.json`` ``model_card.json`` (the card's hash) and
  ``bundle_sha256`` (the manifest's own hash, over those);
* the ``Trained <time> ...`` line of ``model/<trait>/model_card.md``.

Intended differences
--------------------
Read from ``--intended`` (default ``bench/demo_intended_differences.txt``, beside this
script); one per line, ``SPEC: reason``; ``#`` starts a comment line. ``SPEC`` is

* ``PATH``: the file may differ in any way, be added or be removed;
* ``PATH#KEY``: a JSON file may differ only at key paths matching ``KEY`` (a Parquet file:
  only in columns matching ``KEY``);
* ``PATH~REGEX``: a text file may differ only in lines that contain a match of ``REGEX``
  (both the old and the new line must match).

``PATH`` and ``KEY`` are shell-style globs (``*`` also crosses ``/`` and ``.``), relative
to the compared folders. An entry that allowed nothing is reported as unused (not an
error: the difference may belong to a step the demo does not run). The coordinator
keeps the file in step with the changelog's list of output differences.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import gzip
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

DEFAULT_INTENDED = Path(__file__).with_name("demo_intended_differences.txt")
#: Folders of run-dependent files (job logs and Snakemake benchmarks).
RUN_DEPENDENT_DIRS = ("logs/", "benchmarks/")
#: JSON keys whose values depend on the run, wherever they appear.
RUN_DEPENDENT_KEYS = frozenset({"created", "training_seconds", "model_card.md", "model_card.json", "bundle_sha256"})
#: Text lines that depend on the run: model_card.md's "Trained <time> with ..." line.
RUN_DEPENDENT_LINE = re.compile(r"^Trained \d{4}-\d\d-\d\dT")
TEXT_SUFFIXES = {".md", ".html", ".tsv", ".txt", ".csv", ".vcf", ".log", ".yaml"}
#: Differences shown per file.
SHOWN = 5


@dataclasses.dataclass(frozen=True)
class Allowance:
    """One line of the intended-differences file."""

    path: str
    key: str | None
    regex: re.Pattern | None
    reason: str
    line: int

    def covers_path(self, rel: str) -> bool:
        return fnmatch.fnmatchcase(rel, self.path)


def read_intended(path: Path) -> list[Allowance]:
    """Parse the intended-differences file (see the module docstring)."""
    allowances = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        spec, sep, reason = line.partition(": ")
        if not sep or not reason.strip():
            raise SystemExit(f"{path}: line {lineno}: expected 'PATH[#KEY|~REGEX]: reason', got {raw!r}")
        key = regex = None
        if "~" in spec:
            spec, pattern = spec.split("~", 1)
            try:
                regex = re.compile(pattern)
            except re.error as err:
                raise SystemExit(f"{path}: line {lineno}: bad regular expression {pattern!r}: {err}") from None
        elif "#" in spec:
            spec, key = spec.split("#", 1)
        allowances.append(Allowance(spec.strip(), key, regex, reason.strip(), lineno))
    return allowances


# ---------------------------------------------------------------------------
# What differs in one file
# ---------------------------------------------------------------------------


def json_differences(a: Any, b: Any, prefix: str = "") -> Iterator[str]:
    """Dotted key paths where two parsed JSON documents differ, run-dependent keys skipped."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key in RUN_DEPENDENT_KEYS:
                continue
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                yield path
            else:
                yield from json_differences(a[key], b[key], path)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from json_differences(x, y, f"{prefix}.{i}" if prefix else str(i))
    elif a != b or type(a) is not type(b):
        yield prefix or "(document)"


def parquet_differences(a: Path, b: Path) -> list[str]:
    """Columns (or ``(index)``, ``(shape)``) in which two Parquet files differ by content."""
    left, right = pd.read_parquet(a), pd.read_parquet(b)
    out = []
    if list(left.columns) != list(right.columns):
        out += [f"{c} (only on one side)" for c in sorted(set(left.columns) ^ set(right.columns), key=str)]
    if len(left) != len(right):
        return [*out, f"(shape) {left.shape} vs {right.shape}"]
    if not left.index.equals(right.index) or left.index.names != right.index.names:
        out.append("(index)")
    for col in [c for c in left.columns if c in right.columns]:
        x, y = left[col], right[col]
        if x.dtype != y.dtype or not x.reset_index(drop=True).equals(y.reset_index(drop=True)):
            out.append(str(col))
    return out


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return [line for line in fh.read().splitlines() if not RUN_DEPENDENT_LINE.match(line)]


def line_differences(a: Path, b: Path) -> list[tuple[int, str | None, str | None]]:
    """``(line number, old, new)`` of differing lines (positionally; run-dependent lines dropped)."""
    old, new = read_lines(a), read_lines(b)
    out: list[tuple[int, str | None, str | None]] = [
        (i + 1, x, y) for i, (x, y) in enumerate(zip(old, new, strict=False)) if x != y
    ]
    n = min(len(old), len(new))
    out += [
        (i + 1, old[i] if i < len(old) else None, new[i] if i < len(new) else None)
        for i in range(n, max(len(old), len(new)))
    ]
    return out


def is_text(path: Path) -> bool:
    suffixes = path.suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in TEXT_SUFFIXES


# ---------------------------------------------------------------------------
# One file against the allowances
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Verdict:
    rel: str
    status: str  # "same", "same content", "intended", "DIFFERENT"
    detail: str = ""


def around_first_difference(old: str | None, new: str | None, width: int = 70) -> str:
    """``'old' -> 'new'``, each cut to ``width`` characters around where they first differ."""
    if old is None or new is None:
        return f"{old if old is None else repr(old[:width])} -> {new if new is None else repr(new[:width])}"
    start = next((i for i, (x, y) in enumerate(zip(old, new, strict=False)) if x != y), min(len(old), len(new)))
    start = max(0, start - 20)

    def cut(text: str) -> str:
        piece = text[start : start + width]
        return ("..." if start else "") + repr(piece) + ("..." if start + width < len(text) else "")

    return f"{cut(old)} -> {cut(new)}"


def compare_file(
    rel: str, a: Path, b: Path, allowances: list[Allowance], used: set[int], *, old_rel: str | None = None
) -> Verdict:
    """``rel`` in the new folder (``b``) against ``a``; an allowance may name either path (``old_rel``: ``a``'s)."""
    mine = [al for al in allowances if al.covers_path(rel) or (old_rel is not None and al.covers_path(old_rel))]
    whole = [al for al in mine if al.key is None and al.regex is None]

    def intended(detail: str, allowed: list[Allowance]) -> Verdict:
        used.update(al.line for al in allowed)
        reasons = "; ".join(dict.fromkeys(al.reason for al in allowed))
        return Verdict(rel, "intended", f"{detail} [{reasons}]")

    if not a.exists() or not b.exists():
        detail = "missing from the new folder" if a.exists() else "only in the new folder"
        return intended(detail, whole) if whole else Verdict(rel, "DIFFERENT", detail)
    if a.read_bytes() == b.read_bytes():
        return Verdict(rel, "same")

    if rel.endswith(".json"):
        try:
            keys = list(json_differences(json.loads(a.read_text()), json.loads(b.read_text())))
        except json.JSONDecodeError as err:
            keys = [f"(not valid JSON: {err})"]
        return judge_items(rel, "keys", keys, [al for al in mine if al.key], whole, intended)
    if rel.endswith(".parquet"):
        columns = parquet_differences(a, b)
        return judge_items(rel, "columns", columns, [al for al in mine if al.key], whole, intended)
    if is_text(Path(rel)):
        lines = line_differences(a, b)
        if not lines:
            return Verdict(rel, "same content", "only run-dependent lines differ")
        regexes = [al for al in mine if al.regex]
        unexplained = [d for d in lines if not any(line_allowed(d, al) for al in regexes)]
        if not unexplained:
            return intended(f"{len(lines)} line(s)", [al for al in regexes if any(line_allowed(d, al) for d in lines)])
        shown = "; ".join(f"line {n}: {around_first_difference(x, y)}" for n, x, y in unexplained[:SHOWN])
        detail = f"{len(unexplained)} line(s) differ: {shown}"
        return intended(detail, whole) if whole else Verdict(rel, "DIFFERENT", detail)
    detail = f"bytes differ ({a.stat().st_size} vs {b.stat().st_size} bytes)"
    return intended(detail, whole) if whole else Verdict(rel, "DIFFERENT", detail)


def line_allowed(diff: tuple[int, str | None, str | None], al: Allowance) -> bool:
    assert al.regex is not None
    return all(side is not None and al.regex.search(side) for side in diff[1:])


def judge_items(rel, what, items, keyed, whole, intended) -> Verdict:
    """Verdict for a JSON/Parquet file from its differing key paths or columns."""
    if not items:
        return Verdict(rel, "same content", "only run-dependent fields or writer metadata differ")
    unexplained = [k for k in items if not any(fnmatch.fnmatchcase(k, al.key) for al in keyed)]
    if not unexplained:
        return intended(
            f"{what}: {', '.join(items[:SHOWN])}",
            [al for al in keyed if any(fnmatch.fnmatchcase(k, al.key) for k in items)],
        )
    more = f" (+{len(unexplained) - SHOWN} more)" if len(unexplained) > SHOWN else ""
    detail = f"{what} differ: {', '.join(unexplained[:SHOWN])}{more}"
    return intended(detail, whole) if whole else Verdict(rel, "DIFFERENT", detail)


# ---------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------


def relative_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def trait_path_in_old_layout(rel: str, trait: str) -> str | None:
    """Where a file of ``trait`` lived when a run had one trait (before 0.6.0), or None.

    ``model/<trait>/x`` was ``model/x``; ``training/<trait>/model/x`` was ``training/model/x``;
    ``evaluation/<trait>/x`` was ``evaluation/x``; ``features/<trait>/x`` was ``features/x``.
    """
    for top in ("model", "training", "evaluation", "features"):
        prefix = f"{top}/{trait}/"
        if rel.startswith(prefix):
            return f"{top}/{rel[len(prefix) :]}"
    return None


def compare_folders(
    old: Path, new: Path, allowances: list[Allowance], *, old_trait: str | None = None
) -> tuple[list[Verdict], set[int], int]:
    """Verdicts for every file of either folder; the allowance lines used; the files skipped.

    With ``old_trait``, ``old`` is a one-trait run (before 0.6.0) and that trait's per-trait
    files of ``new`` are compared with their old places (:func:`trait_path_in_old_layout`).
    """
    old_names, new_names = relative_files(old), relative_files(new)
    moved, alias = {}, {}
    if old_trait:
        for rel in new_names:
            was = trait_path_in_old_layout(rel, old_trait)
            if was is not None:
                alias[rel] = was  # allowances may name the old place, even of a file new since
                if was in old_names:
                    moved[rel] = was
    pairs = {rel: moved.get(rel, rel) for rel in new_names}
    pairs.update({rel: rel for rel in old_names - set(moved.values()) if rel not in pairs})
    skipped = {n for n in pairs if n.startswith(RUN_DEPENDENT_DIRS)}
    used: set[int] = set()
    verdicts = [
        compare_file(rel, old / pairs[rel], new / rel, allowances, used, old_rel=alias.get(rel, pairs[rel]))
        for rel in sorted(set(pairs) - skipped)
    ]
    return verdicts, used, len(skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path, help="results folder of the reference (pre-change) demo run")
    parser.add_argument("new", type=Path, help="results folder of the run to check")
    parser.add_argument("--intended", type=Path, default=DEFAULT_INTENDED, help="intended-differences file")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every file, identical ones included")
    parser.add_argument(
        "--old-trait",
        default="demo_disease",
        help="the reference run had one trait: compare this trait's files with their old places "
        "(model/x for model/<trait>/x ...); '' for a reference run with per-trait folders",
    )
    args = parser.parse_args(argv)
    for folder in (args.old, args.new):
        if not folder.is_dir():
            parser.error(f"{folder} is not a folder")
    allowances = read_intended(args.intended) if args.intended.exists() else []
    verdicts, used, skipped = compare_folders(args.old, args.new, allowances, old_trait=args.old_trait or None)

    for v in verdicts:
        if args.verbose or v.status != "same":
            print(f"{v.status:12s} {v.rel}" + (f": {v.detail}" if v.detail else ""))
    for al in allowances:
        if al.line not in used:
            print(f"note: {args.intended.name} line {al.line} ({al.path}) matched no difference")
    counts = {s: sum(v.status == s for v in verdicts) for s in ("same", "same content", "intended", "DIFFERENT")}
    print(
        f"{len(verdicts)} files compared ({skipped} run-dependent files in {', '.join(RUN_DEPENDENT_DIRS)} skipped): "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
    )
    return 1 if counts["DIFFERENT"] else 0


if __name__ == "__main__":
    sys.exit(main())
