"""Sample-cell checks: GT syntax and allele indexes, FORMAT value counts, ploidy."""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

from genorisk.errors import InputError
from genorisk.vcf.spec import GT_FIRST_RE, RESERVED_FORMAT, RESERVED_FORMAT_DEFS
from genorisk.vcf.validate.state import Definition, ValidationState


def _gt_pattern(n_alleles: int, with_other_fields: bool) -> re.Pattern:
    """Regex for a whole tab-joined sample string whose GT alleles are < n_alleles.

    Used only for n_alleles <= 10 (one-digit allele indices); a failed match sends
    the record to the exact per-sample check, which finds and names the problem
    (or accepts rarities such as the allele ``01``).
    """
    allele = f"[0-{n_alleles - 1}.]"
    gt = rf"[|/]?{allele}(?:[|/]{allele})*"
    cell = rf"(?:{gt}(?::[^\t]*)?)?" if with_other_fields else rf"(?:{gt})?"
    return re.compile(rf"{cell}(?:\t{cell})*")


def _allele_lut(n_alleles: int) -> np.ndarray:
    """Byte lookup table: True for '.' and the digits 0 .. n_alleles-1 (n_alleles <= 10)."""
    lut = np.zeros(256, dtype=bool)
    lut[ord(".")] = True
    lut[ord("0") : ord("0") + min(n_alleles, 10)] = True
    return lut


_ALLELE_LUTS = [_allele_lut(n) for n in range(11)]
_SEP_LUT = np.zeros(256, dtype=bool)
_SEP_LUT[[ord("/"), ord("|")]] = True
_END_LUT = np.zeros(256, dtype=bool)
_END_LUT[[ord(":"), ord("\t")]] = True


def _pair_lut(n_alleles: int, second: bytes) -> np.ndarray:
    """65536-entry table over little-endian byte pairs (allele, x), x in ``second``."""
    lut = np.zeros(65536, dtype=bool)
    for a in [ord(".")] + list(range(ord("0"), ord("0") + min(n_alleles, 10))):
        for x in second:
            lut[a | (x << 8)] = True
    return lut


@lru_cache(maxsize=16)
def _gt_only_luts(n_alleles: int) -> tuple[np.ndarray, np.ndarray]:
    return _pair_lut(n_alleles, b"/|"), _pair_lut(n_alleles, b"\t")


def _diploid_gt_fast(samples: str, n_samples: int, n_alleles: int) -> int | None:
    """Vectorised check of the common case: every cell starts with a diploid GT
    of one-digit alleles (``0|1``, ``./.``) followed by ``:`` or the cell end,
    all alleles < ``n_alleles``. Returns the number of ``.`` alleles, or None
    when any cell is not of that shape (the caller then checks cell by cell).
    """
    if n_alleles > 10:
        return None
    if len(samples) == 4 * n_samples - 1:
        # FORMAT GT with every cell "a/b": fixed 4-byte cells, read as byte pairs.
        try:
            pairs = np.frombuffer((samples + "\t").encode("ascii"), dtype="<u2")
        except UnicodeEncodeError:
            return None
        first, second = _gt_only_luts(n_alleles)
        if first[pairs[0::2]].all() and second[pairs[1::2]].all():
            return samples.count(".")
    try:
        b = np.frombuffer((samples + "\t").encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    tabs = np.flatnonzero(b == 9)
    if len(tabs) != n_samples:
        return None
    starts = np.empty(n_samples, dtype=np.intp)
    starts[0] = 0
    starts[1:] = tabs[:-1] + 1
    if ((tabs - starts) < 3).any():
        return None
    a0, sep, a1, end = b[starts], b[starts + 1], b[starts + 2], b[starts + 3]
    lut = _ALLELE_LUTS[n_alleles]
    if not (lut[a0].all() and lut[a1].all() and _SEP_LUT[sep].all() and _END_LUT[end].all()):
        return None
    return int((a0 == 46).sum() + (a1 == 46).sum())


_GT_SYNTAX_RE = re.compile(r"[|/]?(\d+|\.)((?:[|/](?:\d+|\.))*)")
_GT_ALLELES_RE = re.compile(r"\d+|\.")


def _expected_count(number: str, n_alleles: int, ploidy: int | None) -> int | None:
    if number == "A":
        return n_alleles - 1
    if number == "R":
        return n_alleles
    if number == "G":
        if ploidy is None:
            return None
        return math.comb(n_alleles + ploidy - 1, ploidy)
    if number.isdigit():
        return int(number)
    return None


class SampleCellChecks(ValidationState):
    """Checks of a record's sample columns: vectorised for the common shapes, cell by cell otherwise."""

    def format_plan(self, fmt: str, where: str) -> tuple:
        """Parse a FORMAT string once: (has_gt, n_keys, [(index, key, number)])."""
        plan = self.format_cache.get(fmt)
        if plan is not None:
            return plan
        if fmt == ".":
            plan = (False, 0, [])
        else:
            keys = fmt.split(":")
            if any(k == "" for k in keys):
                raise InputError(self.spath, f"FORMAT {fmt!r} has an empty key", record=where)
            if len(set(keys)) != len(keys):
                self.counts["repeated_format_keys"] += 1
                self.warn.add(f"dupformat:{fmt}", f"{where}: FORMAT {fmt!r} repeats a key; the first one is used")
            if "GT" in keys and keys[0] != "GT":
                self.warn.add(
                    "gtnotfirst",
                    f"{where}: GT is not the first FORMAT key ({fmt}); the specification requires it first",
                )
            counted = []
            seen = set()
            for i, k in enumerate(keys):
                if k in seen:
                    continue
                seen.add(k)
                d = self.header.format.get(k)
                if d is None:
                    if k not in RESERVED_FORMAT:
                        self.warn.add(f"format:{k}", f"{where}: FORMAT key {k!r} is not declared in the header")
                    if k not in RESERVED_FORMAT_DEFS:
                        continue
                    d = Definition(*RESERVED_FORMAT_DEFS[k])
                if k != "GT" and (d.number in ("A", "R", "G") or d.number.isdigit()) and d.type != "Flag":
                    counted.append((i, k, d.number))
            plan = (keys[0] == "GT", len(keys), counted)
        if len(self.format_cache) > 1000:
            self.format_cache.clear()  # keep memory bounded on files with ever-changing FORMATs
        self.format_cache[fmt] = plan
        return plan

    def check_samples(self, fmt: str, samples: str, n_alleles: int, alt: str, where: str) -> None:
        """Check the sample columns: vectorised for the common shapes, cell by
        cell (exact messages, warnings) only when something is unusual."""
        has_gt, n_keys, counted = self.format_plan(fmt, where)
        if n_keys == 0:  # FORMAT "."
            if samples.strip(".\t"):
                raise InputError(self.spath, "FORMAT is '.' but sample columns hold values", record=where)
            return
        ns = len(self.header.samples)
        gt_ok = False
        if has_gt:
            n_missing = _diploid_gt_fast(samples, ns, n_alleles)
            if n_missing is not None:
                self.counts["missing_gt_alleles"] += n_missing
                gt_ok = True
            elif n_alleles <= 10 and _gt_pattern(n_alleles, n_keys > 1).fullmatch(samples) is not None:
                gts = samples if n_keys == 1 else "\t".join(GT_FIRST_RE.findall(samples))
                self.counts["missing_gt_alleles"] += gts.count(".")
                self.count_ploidy(gts)
                gt_ok = True
        if has_gt and not gt_ok:
            self.check_cells(samples, n_keys, counted, n_alleles, alt, where, gt_index=0)
            return
        if (
            n_keys == 1
            and ":" not in samples
            and "\t\t" not in samples
            and not samples.endswith("\t")
            and not samples.startswith("\t")
        ):
            return  # GT only, no empty cells: nothing more to check
        if not self.cells_ok(samples, ns, n_keys, counted, n_alleles, alt, has_gt):
            self.check_cells(
                samples, n_keys, counted, n_alleles, alt, where, gt_index=0 if has_gt else None, count_gt=False
            )

    def cells_ok(self, samples: str, ns: int, n_keys: int, counted, n_alleles: int, alt: str, has_gt: bool) -> bool:
        """Vectorised sub-field check of a whole record's sample columns.

        True when every cell has at most ``n_keys`` sub-fields, no cell is empty
        (before VCFv4.5) and every counted FORMAT field (Number=A/R/G/n) has the
        right number of comma-separated values (G from each cell's GT ploidy).
        False sends the record to :meth:`check_cells`, which raises or warns
        with the sample's name.
        """
        b = np.frombuffer((samples + "\t").encode("utf-8"), dtype=np.uint8)
        is_tab = b == 9
        ends = np.flatnonzero(is_tab | (b == 58))  # end of each sub-field
        n_sub = len(ends)
        starts = np.empty(n_sub, dtype=np.intp)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        tab_end = is_tab[ends]
        if n_sub == ns * n_keys and tab_end[n_keys - 1 :: n_keys].all() and tab_end.sum() == ns:
            # every cell has all n_keys sub-fields: a regular (ns, n_keys) layout
            first = np.arange(0, n_sub, n_keys)
            cell_of = None
        else:
            new_cell = np.empty(n_sub, dtype=bool)
            new_cell[0] = True
            new_cell[1:] = tab_end[:-1]
            first = np.flatnonzero(new_cell)  # index of each cell's first sub-field
            if len(first) != ns:
                return False
            per_cell = np.diff(np.append(first, n_sub))
            if per_cell.max() > n_keys:
                return False
            if self.version_minor < 5 and ((per_cell == 1) & (ends[first] == starts[first])).any():
                return False  # empty cell: check_cells warns
            cell_of = np.cumsum(new_cell) - 1
        if not counted:
            return True
        lengths = ends - starts
        missing = (lengths == 0) | ((lengths == 1) & (b[starts] == 46))
        comma_cum = np.cumsum(b == 44, dtype=np.int32)
        commas = comma_cum[ends] - comma_cum[starts] + (b[starts] == 44)
        ploidy = None
        for i, _key, number in counted:
            if cell_of is None:
                subs: slice | np.ndarray = slice(i, None, n_keys)
                cells: slice | np.ndarray = slice(None)
            else:
                subs = np.flatnonzero((np.arange(n_sub) - first[cell_of]) == i)
                cells = cell_of[subs]
            present = ~missing[subs]
            got = commas[subs] + 1
            if number == "G":
                if alt == "." or not has_gt:
                    continue
                if ploidy is None:
                    sep_cum = np.cumsum(_SEP_LUT[b], dtype=np.int32)
                    gt_start, gt_end = starts[first], ends[first]
                    # sep_cum[end] - sep_cum[start] counts separators after the first
                    # character, so a VCF 4.4 phasing prefix ("/0|1") is not counted
                    ploidy = sep_cum[gt_end] - sep_cum[gt_start] + 1
                p = ploidy[cells]
                expected = np.array([math.comb(n_alleles + k - 1, k) for k in range(int(p.max()) + 1)])[p]
            else:
                expected = _expected_count(number, n_alleles, None)
                if expected is None:
                    continue
            if (present & (got != expected)).any():
                return False
        return True

    def count_ploidy(self, gts: str) -> None:
        """Count haploid and polyploid calls in tab-joined GT strings whose
        syntax is already checked: alleles = separators + 1, less a VCF 4.4
        leading phasing prefix; empty and ``.`` cells are not counted.
        Whole-array numpy: male chrX lines are all mixed ploidy."""
        b = np.frombuffer(gts.encode("utf-8"), dtype=np.uint8)
        if not len(b):
            return
        tab_at = np.flatnonzero(b == 9)
        starts = np.concatenate([[0], tab_at + 1])
        ends = np.concatenate([tab_at, [len(b)]])
        is_sep = (b == 47) | (b == 124)
        seps_before = np.concatenate([[0], np.cumsum(is_sep)])
        width = ends - starts
        first = b[np.minimum(starts, len(b) - 1)]
        prefix = (width > 0) & ((first == 47) | (first == 124))
        n_alleles = seps_before[ends] - seps_before[starts] - prefix + 1
        counted = (width > 1) | ((width == 1) & (first != 46))
        self.counts["haploid_calls"] += int(((n_alleles == 1) & counted).sum())
        self.counts["polyploid_calls"] += int(((n_alleles > 2) & counted).sum())

    def check_cells(
        self,
        samples: str,
        n_keys: int,
        counted,
        n_alleles: int,
        alt: str,
        where: str,
        *,
        gt_index: int | None,
        count_gt: bool = True,
    ) -> None:
        """Exact per-sample check (the slow path): names the sample and the value."""
        names = self.header.samples
        empty_ok = self.version_minor >= 5
        for name, cell in zip(names, samples.split("\t"), strict=False):
            if cell == "":
                if not empty_ok:
                    self.warn.add(
                        "emptycell", f"{where}: sample {name!r} has an empty column (should be '.'); read as missing"
                    )
                continue
            sub = cell.split(":")
            if len(sub) > n_keys:
                raise InputError(
                    self.spath, f"sample {name!r} has {len(sub)} values for {n_keys} FORMAT keys", record=where
                )
            ploidy = None
            if gt_index is not None:
                gt = sub[0]
                m = _GT_SYNTAX_RE.fullmatch(gt)
                if m is None:
                    raise InputError(
                        self.spath,
                        f"sample {name!r}: GT {gt[:30]!r} is not alleles (numbers or '.') separated by / or |",
                        record=where,
                    )
                alleles = _GT_ALLELES_RE.findall(gt)
                ploidy = len(alleles)
                for a in alleles:
                    if a == ".":
                        if count_gt:
                            self.counts["missing_gt_alleles"] += 1
                    elif int(a) >= n_alleles:
                        if alt == ".":
                            self.warn.add(
                                "altdotgt", f"{where}: sample {name!r}: GT {gt} names an ALT allele but ALT is '.'"
                            )
                            continue
                        raise InputError(
                            self.spath,
                            f"sample {name!r}: GT {gt} uses allele {int(a)} but the record has {n_alleles - 1} "
                            "ALT allele(s)",
                            record=where,
                        )
                if count_gt:
                    if ploidy == 1 and gt != ".":
                        self.counts["haploid_calls"] += 1
                    elif ploidy > 2:
                        self.counts["polyploid_calls"] += 1
            for i, key, number in counted:
                if i >= len(sub):
                    continue  # trailing fields may be dropped
                value = sub[i]
                if value in (".", ""):
                    continue
                if number == "G" and (alt == "." or ploidy is None):
                    continue  # monomorphic sites and GT-less cells: ploidy unknown
                expected = _expected_count(number, n_alleles, ploidy)
                if expected is None:
                    continue
                got = value.count(",") + 1
                if got != expected and number != "G":
                    self.warn.add(
                        f"fmtcount:{key}",
                        f"{where}: sample {name!r}: FORMAT {key} (Number={number}) has {got} values, expected "
                        f"{expected}",
                    )
                elif got != expected:
                    raise InputError(
                        self.spath,
                        f"sample {name!r}: FORMAT {key} (Number={number}) has {got} values, expected "
                        f"{expected} for {n_alleles} alleles" + (f" and ploidy {ploidy}" if number == "G" else ""),
                        record=where,
                    )
