"""Reading polygenic scoring files: PGS Catalog format 2.0 or a user weight file.

See :mod:`genorisk.scores` for the conventions; this module turns one file
into a :class:`ScoringFile` whose ``variants`` table the matcher uses.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from genorisk.errors import InputError
from genorisk.genome import canonical_contig

log = logging.getLogger("genorisk.scores")

_DNA = re.compile(r"^[ACGT]+$")
#: Columns of a dosage-weighted (non-additive) score row.
DOSAGE_WEIGHT_COLUMNS = ("dosage_0_weight", "dosage_1_weight", "dosage_2_weight")


@dataclass
class ScoringFile:
    """A parsed scoring file.

    Attributes
    ----------
    path : Path
    score_id : str
        ``#pgs_id`` from the header, else the file name without suffixes.
    header : dict
        ``#key=value`` header lines.
    variants : pandas.DataFrame
        One row per usable variant, columns :data:`SCORE_VARIANT_COLUMNS`:
        ``line`` (1-based line in the file), ``chrom`` (str, normalised, NA if
        absent), ``pos`` (Int64, NA if absent), ``rsid`` (str, NA if absent),
        ``effect_allele`` (str), ``other_allele`` (str, NA if absent),
        ``effect_weight`` (NaN for rows with dosage weights),
        ``is_dominant``, ``is_recessive`` (bool), ``dosage_0_weight``,
        ``dosage_1_weight``, ``dosage_2_weight`` (NaN for additive rows).
    n_complex_skipped : int
        Rows with complex (non-sequence) alleles, skipped.
    positions : str
        Where ``chrom``/``pos`` come from: ``"harmonised"`` (``hm_chr``/``hm_pos``),
        ``"author"`` (``chr_name``/``chr_position``), ``"lifted"`` (author or
        harmonised positions lifted to another build, :func:`genorisk.scores.lift_scoring_file`)
        or ``"none"`` (rsIDs only).
    build : str or None
        Genome build of ``chrom``/``pos`` when known (``GRCh37``/``GRCh38``).
    lift : pandas.DataFrame or None
        After a liftover, aligned with ``variants``: ``source_chrom``,
        ``source_pos`` (the positions before lifting) and ``lift`` (``"lifted"``,
        ``"unmapped"``, ``"multiple"``, ``"no position"``). Rows that did
        not lift keep their source positions in ``variants`` and are never
        matched (reason ``liftover failed``).
    """

    path: Path
    score_id: str
    header: dict[str, str]
    variants: pd.DataFrame
    n_complex_skipped: int = 0
    positions: str = "author"
    build: str | None = None
    lift: pd.DataFrame | None = None

    @property
    def lift_failed(self) -> np.ndarray:
        """bool per variant: its position did not lift (all False without a liftover)."""
        if self.lift is None:
            return np.zeros(len(self.variants), dtype=bool)
        return self.lift["lift"].isin(LIFT_FAILURES).to_numpy()

    @property
    def source_name(self) -> str:
        """The file name the score came from (``#source_file`` of a target-build file written by genorisk)."""
        return self.header.get("source_file") or self.path.name


def _read_text(path: Path) -> str:
    """The whole file as text (gzip or plain) with ``\\n`` line ends."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    # Universal newlines, as text-mode reading gives: \r\n, \r and \n end lines.
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _flag(value: str, path: Path, line: int, col: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InputError(path, f"{col} {value!r} is not True/False", record=f"line {line}")


#: ``lift`` values of :attr:`ScoringFile.lift` that mean the position did not lift.
LIFT_FAILURES = ("unmapped", "multiple")
_TRUE = frozenset({"true", "1", "t", "yes"})
_FALSE = frozenset({"false", "0", "f", "no", ""})
#: Columns of :attr:`ScoringFile.variants`, in order.
SCORE_VARIANT_COLUMNS = (
    "line",
    "chrom",
    "pos",
    "rsid",
    "effect_allele",
    "other_allele",
    "effect_weight",
    "is_dominant",
    "is_recessive",
    *DOSAGE_WEIGHT_COLUMNS,
)


def read_scoring_file(path: str | PathLike, *, positions: str = "auto") -> ScoringFile:
    """Read a PGS Catalog scoring file or a user weight file.

    Parameters
    ----------
    path : str or PathLike
        Tab- or whitespace-delimited text, plain or gzipped.
    positions : {"auto", "harmonised", "author"}
        Which position columns to read: ``"auto"`` takes ``hm_chr``/``hm_pos``
        when the file has them, else ``chr_name``/``chr_position``;
        ``"author"`` always the author-reported ones (used when the harmonised
        build is not the one wanted, :func:`genorisk.scores.target_scoring_file`).

    Returns
    -------
    ScoringFile

    Raises
    ------
    InputError
        Missing mandatory columns, a row without effect allele or weight, a
        non-numeric weight or position, a row with neither a position nor an
        rsID (e.g. failed harmonisation: ``hm_chr``/``hm_pos`` empty), or no
        usable variant at all. The message names the file, the line and the
        problem.

    Notes
    -----
    Well-formed files are parsed column-wise (one ``split`` per line, then
    list and pandas operations per column). A file with anything unusual -
    ragged rows, comment or blank lines among the variants, a flag or number
    that needs checking - is parsed row by row by :func:`_parse_row`, which
    defines the rules and words the errors; both give the same table.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        text = _read_text(path)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc})") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(path, f"cannot read ({exc})") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline
    header: dict[str, str] = {}
    columns: list[str] | None = None
    tabbed = True
    i_header = len(lines)
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        if line.startswith("#"):
            meta = line.lstrip("#").rstrip("\t ")
            if "=" in meta:
                key, _, value = meta.partition("=")
                header[key.strip()] = value.strip()
            continue
        if not line.strip():
            continue
        tabbed = "\t" in line
        columns = [c.strip() for c in (line.split("\t") if tabbed else line.split())]
        _check_columns(path, columns, i + 1)
        i_header = i
        break
    if columns is None:
        raise InputError(path, "no column header line (effect_allele, effect_weight, ...)")
    if positions not in ("auto", "harmonised", "author"):
        raise ValueError(f"positions must be 'auto', 'harmonised' or 'author', got {positions!r}")
    has_hm = "hm_chr" in columns or "hm_pos" in columns
    if positions == "harmonised" and not has_hm:
        raise InputError(path, "no harmonised positions (hm_chr/hm_pos columns)", record=f"line {i_header + 1}")
    use_hm = has_hm and positions != "author"
    if not use_hm and has_hm and not {"chr_name", "chr_position"} <= set(columns) and "rsID" not in columns:
        raise InputError(
            path, "no author-reported positions (chr_name/chr_position) or rsID", record=f"line {i_header + 1}"
        )
    body = lines[i_header + 1 :]
    first_line_no = i_header + 2
    parsed = _parse_body_columns(columns, body, tabbed, first_line_no, use_hm)
    if parsed is None:
        parsed = _parse_body_rows(path, columns, body, tabbed, first_line_no, use_hm)
    variants, n_complex = parsed
    if not len(variants):
        raise InputError(path, "no usable variants", record=f"lines 1-{len(lines)}")
    score_id = header.get("pgs_id") or path.name.split(".")[0]
    # A target-build file written by genorisk carries the original file's skipped count.
    n_complex += int(header.get("genorisk_complex_skipped", "0") or 0)
    if n_complex:
        log.warning("%s: skipped %d variants with complex alleles (HLA haplotypes etc.)", path.name, n_complex)
    if use_hm:
        where = "harmonised"
    elif variants["pos"].notna().any():
        where = "author"
    else:
        where = "none"
    lift = _lift_column(path, columns, lines, variants, tabbed) if "lift" in columns else None
    return ScoringFile(path, score_id, header, variants, n_complex, where, None, lift)


def _lift_column(path: Path, columns: list[str], lines: list[str], variants: pd.DataFrame, tabbed: bool):
    """The ``lift`` column of a target-build file written by genorisk, aligned with ``variants``."""
    at = {c: columns.index(c) if c in columns else None for c in ("lift", "source_chrom", "source_pos")}
    cols: dict[str, list] = {c: [] for c in at}
    for line_no in variants["line"].tolist():
        values = lines[line_no - 1].split("\t") if tabbed else lines[line_no - 1].split()
        for c, k in at.items():
            cols[c].append(values[k].strip() if k is not None and k < len(values) else "")
        if cols["lift"][-1] not in ("lifted", "no position", *LIFT_FAILURES):
            value = cols["lift"][-1]
            raise InputError(
                path, f"lift {value!r} is not lifted/unmapped/multiple/no position", record=f"line {line_no}"
            )
        if not cols["source_pos"][-1].isdigit():
            cols["source_pos"][-1] = None
    return pd.DataFrame(
        {
            "source_chrom": pd.array([c or None for c in cols["source_chrom"]], dtype="str"),
            "source_pos": pd.array(cols["source_pos"], dtype="Int64"),
            "lift": cols["lift"],
        }
    )


def _variants_table(cols: Mapping[str, list | np.ndarray]) -> pd.DataFrame:
    """The :attr:`ScoringFile.variants` table from per-column lists or arrays (None = absent)."""
    return pd.DataFrame(
        {
            "line": np.asarray(cols["line"], dtype=np.int64),
            "chrom": pd.array(cols["chrom"], dtype="str"),
            "pos": pd.array(cols["pos"], dtype="Int64"),
            "rsid": pd.array(cols["rsid"], dtype="str"),
            "effect_allele": pd.array(cols["effect_allele"], dtype="str"),
            "other_allele": pd.array(cols["other_allele"], dtype="str"),
            "effect_weight": np.asarray(cols["effect_weight"], dtype=np.float64),
            "is_dominant": np.asarray(cols["is_dominant"], dtype=bool),
            "is_recessive": np.asarray(cols["is_recessive"], dtype=bool),
            **{c: np.asarray(cols[c], dtype=np.float64) for c in DOSAGE_WEIGHT_COLUMNS},
        },
        columns=list(SCORE_VARIANT_COLUMNS),
    )


def _parse_body_rows(path: Path, columns: list[str], body: list[str], tabbed: bool, first_line_no: int, use_hm: bool):
    """Row-by-row parse of the variant lines: the reference rules, and every error message."""
    cols: dict[str, list] = {c: [] for c in SCORE_VARIANT_COLUMNS}
    n_complex = 0
    for line_no, raw in enumerate(body, start=first_line_no):
        line = raw.rstrip("\r\n")
        if line.startswith("#") or not line.strip():
            continue
        values = line.split("\t") if tabbed else line.split()
        if len(values) < len(columns):
            values += [""] * (len(columns) - len(values))
        row = _parse_row(path, dict(zip(columns, (v.strip() for v in values), strict=False)), line_no, use_hm)
        if row is None:
            n_complex += 1
            continue
        for c in SCORE_VARIANT_COLUMNS:
            cols[c].append(row[c])
    return _variants_table(cols), n_complex


_ODD_SPACE = re.compile(r"[^\S \t]")


class _Unusual(Exception):
    """Raised inside the column-wise parser: let the row-by-row parser decide."""


def _parse_body_columns(columns: list[str], body: list[str], tabbed: bool, first_line_no: int, use_hm: bool):
    """Column-wise parse of well-formed variant lines; None when the row parser must decide.

    Gives exactly the table of :func:`_parse_body_rows` (tested on every
    scoring file in the tests), in a fraction of the time: a C reader splits
    the lines (pyarrow's for tab-separated text, else pandas'), and each rule
    runs once per column as an array operation (Python's own ``str`` methods
    called from C loops, so that case and whitespace rules stay Python's).
    """
    if any(not line or line[0] == "#" for line in body):
        return None  # comment or blank lines among the variants: left to the row parser
    if not tabbed and any(_ODD_SPACE.search(line) for line in body):
        return None  # str.split() splits on whitespace that pandas' reader keeps
    n = len(body)
    by_name = _split_body(body, tabbed, columns) if n else {name: np.zeros(0, dtype=object) for name in columns}
    if by_name is None:
        return None
    empty = np.full(n, "", dtype=object)
    stripped: set[str] = set()

    def col(name: str) -> np.ndarray:
        values = by_name.get(name)
        if values is None:
            return empty
        if tabbed and name not in stripped:  # tab-separated values may be padded; whitespace-split ones cannot be
            stripped.add(name)
            if len(values) and _maybe_padded(values).any():
                values = by_name[name] = _strip(values)
        return values

    try:
        hap = _flags(col("is_haplotype")) | _flags(col("is_diplotype"))
        effect = _upper(col("effect_allele"))
        if ((effect == "") & ~hap).any():
            raise _Unusual  # empty effect allele: an error
        use = ~hap & _is_dna(effect)
        keep = np.flatnonzero(use)

        def pick(values: np.ndarray) -> np.ndarray:
            return values[keep] if len(keep) < n else values

        effect = pick(effect)
        other_given, other_inferred = _upper(pick(col("other_allele"))), _upper(pick(col("hm_inferOtherAllele")))
        other = np.where(other_given != "", other_given, other_inferred)
        other[~_is_dna(other)] = None  # empty, or not one allele (e.g. hm_inferOtherAllele "A/G")
        chrom_s = pick(col("hm_chr") if use_hm else col("chr_name"))
        pos_s = pick(col("hm_pos") if use_hm else col("chr_position"))
        rs_hm, rs_author = pick(col("hm_rsID")), pick(col("rsID"))
        rsid = np.where(rs_hm != "", rs_hm, rs_author)
        no_rsid = (rsid == "") | (rsid == ".")
        rsid[no_rsid] = None
        located = (chrom_s != "") & (pos_s != "")
        if (~located & no_rsid).any():
            raise _Unusual  # neither position nor rsID: an error
        codes, uniq = pd.factorize(chrom_s)
        chrom = np.array([canonical_contig(c) for c in uniq], dtype=object)[codes]
        chrom[~located] = None
        pos = _positions(pos_s.tolist(), located.tolist())
        dom = _flags(pick(col("is_dominant")))
        rec = _flags(pick(col("is_recessive")))
        if (dom & rec).any():
            raise _Unusual
        m = len(keep)
        nan = float("nan")
        if all(c in by_name for c in DOSAGE_WEIGHT_COLUMNS):
            dose_text = [pick(col(c)) for c in DOSAGE_WEIGHT_COLUMNS]
            given = np.logical_and.reduce([t != "" for t in dose_text]) if m else np.zeros(0, dtype=bool)
        else:
            dose_text, given = None, np.zeros(m, dtype=bool)
        weight = np.full(m, nan)
        weight[~given] = pick(col("effect_weight"))[~given].astype(np.float64)  # "" -> ValueError
        if not np.isfinite(weight[~given]).all():
            raise _Unusual
        doses = {}
        for k, c in enumerate(DOSAGE_WEIGHT_COLUMNS):
            doses[c] = np.full(m, nan)
            if dose_text is not None:
                doses[c][given] = dose_text[k][given].astype(np.float64)
    except (_Unusual, ValueError):
        return None
    table = _variants_table(
        {
            "line": keep.astype(np.int64) + first_line_no,
            "chrom": chrom,
            "pos": pos,
            "rsid": rsid,
            "effect_allele": effect,
            "other_allele": other,
            "effect_weight": weight,
            "is_dominant": dom,
            "is_recessive": rec,
            **doses,
        }
    )
    return table, n - m


# Python's str methods over object arrays of str, called from numpy's C loop.
_strip = np.frompyfunc(str.strip, 1, 1)
_upper = np.frompyfunc(str.upper, 1, 1)


def _maybe_padded(values: np.ndarray) -> np.ndarray:
    """bool per str: its first or last character is not printable ASCII (a superset of what str.strip removes)."""
    text = pa.array(values, type=pa.string(), from_pandas=True)
    return pc.fill_null(pc.match_substring_regex(text, "^[^!-~]|[^!-~]$"), False).to_numpy(zero_copy_only=False)


def _is_dna(values: np.ndarray) -> np.ndarray:
    """bool per str: a non-empty run of A/C/G/T (:data:`_DNA`; values hold no line breaks)."""
    if not len(values):
        return np.zeros(0, dtype=bool)
    text = pa.array(values, type=pa.string(), from_pandas=True)
    return pc.fill_null(pc.match_substring_regex(text, "^[ACGT]+$"), False).to_numpy(zero_copy_only=False)


def _split_body(body: list[str], tabbed: bool, columns: list[str]) -> dict[str, np.ndarray] | None:
    """The variant lines as one object array of str per column; None when they do not split evenly."""
    n = len(body)
    if tabbed:
        try:
            table = pacsv.read_csv(
                io.BytesIO("\n".join(body).encode()),
                read_options=pacsv.ReadOptions(autogenerate_column_names=True),
                parse_options=pacsv.ParseOptions(
                    delimiter="\t", quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={f"f{k}": pa.string() for k in range(len(columns))},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            table = None  # e.g. a short line: pandas' reader pads it, as the row parser does
        if table is not None and table.num_rows == n and table.num_columns == len(columns):
            return {name: table.column(k).to_numpy(zero_copy_only=False) for k, name in enumerate(columns)}
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(body)),
            sep="\t" if tabbed else r"\s+",
            header=None,
            dtype=object,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=False,
            index_col=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError):
        return None  # e.g. more values than columns on some line
    if len(frame) != n or frame.shape[1] != len(columns):
        return None
    # Short lines come out padded with "", as the row parser pads them.
    return {name: frame[k].to_numpy(dtype=object) for k, name in enumerate(columns)}


def _positions(text: list[str], located: list[bool]) -> list:
    """Position strings -> int (None where not located), by :func:`_parse_row`'s rule."""
    if all(located):
        try:
            # Succeeds only for strings int() reads; those the rule reads the same way.
            return np.array(text, dtype=np.int64).tolist()
        except (ValueError, OverflowError):
            pass
    return [
        (int(float(p)) if p.replace(".", "", 1).isdigit() else int(p)) if loc else None
        for p, loc in zip(text, located, strict=False)
    ]


def _flags(values) -> np.ndarray:
    """True/False flag column -> bool array; an unknown value raises _Unusual."""
    out = np.zeros(len(values), dtype=bool)
    if not len(values):
        return out
    values = np.asarray(values, dtype=object)
    uniq = {v: v.lower() for v in pd.unique(values).tolist()}
    if not all(low in _TRUE or low in _FALSE for low in uniq.values()):
        raise _Unusual
    true = [v for v, low in uniq.items() if low in _TRUE]
    if true:
        out[:] = pd.Series(values, dtype=object).isin(true).to_numpy()
    return out


def _check_columns(path: Path, columns: list[str], line_no: int) -> None:
    if "effect_allele" not in columns:
        raise InputError(path, "column header lacks effect_allele", record=f"line {line_no}")
    has_dosage = all(c in columns for c in DOSAGE_WEIGHT_COLUMNS)
    if "effect_weight" not in columns and not has_dosage:
        raise InputError(path, "column header lacks effect_weight (or dosage_0/1/2_weight)", record=f"line {line_no}")
    if not (
        {"chr_name", "chr_position"} <= set(columns)
        or {"hm_chr", "hm_pos"} <= set(columns)
        or "rsID" in columns
        or "hm_rsID" in columns
    ):
        raise InputError(
            path,
            "column header has no positions (chr_name/chr_position, hm_chr/hm_pos) and no rsID",
            record=f"line {line_no}",
        )


def _parse_row(path: Path, rec: dict[str, str], line_no: int, use_hm: bool) -> dict | None:
    where = f"line {line_no}"
    effect = rec.get("effect_allele", "").upper()
    if _flag(rec.get("is_haplotype", ""), path, line_no, "is_haplotype") or _flag(
        rec.get("is_diplotype", ""), path, line_no, "is_diplotype"
    ):
        return None
    if not effect:
        raise InputError(path, "effect_allele is empty", record=where)
    if not _DNA.match(effect):
        return None  # complex allele, e.g. "HLA-DRB1*15"
    other = rec.get("other_allele", "").upper() or rec.get("hm_inferOtherAllele", "").upper()
    if other and not _DNA.match(other):
        # hm_inferOtherAllele can list several candidates ("A/G"); not usable as one allele.
        other = ""
    harmonized = use_hm
    chrom_s, pos_s = (
        (rec.get("hm_chr", ""), rec.get("hm_pos", ""))
        if harmonized
        else (rec.get("chr_name", ""), rec.get("chr_position", ""))
    )
    rsid = rec.get("hm_rsID", "") or rec.get("rsID", "")
    rsid = "" if rsid == "." else rsid
    if chrom_s and pos_s:
        try:
            pos = int(float(pos_s)) if pos_s.replace(".", "", 1).isdigit() else int(pos_s)
        except ValueError:
            raise InputError(path, f"position {pos_s!r} is not an integer", record=where) from None
        chrom = canonical_contig(chrom_s)
    elif rsid:
        chrom, pos = None, None
    else:
        what = "hm_chr/hm_pos empty (harmonisation failed)" if harmonized else "no chr_name/chr_position"
        raise InputError(path, f"variant has no position ({what}) and no rsID", record=where)
    out: dict[str, Any] = {
        "line": line_no,
        "chrom": chrom,
        "pos": pos,
        "rsid": rsid or None,
        "effect_allele": effect,
        "other_allele": other or None,
        "is_dominant": _flag(rec.get("is_dominant", ""), path, line_no, "is_dominant"),
        "is_recessive": _flag(rec.get("is_recessive", ""), path, line_no, "is_recessive"),
    }
    if out["is_dominant"] and out["is_recessive"]:
        raise InputError(path, "is_dominant and is_recessive are both True", record=where)
    dosage_given = all(rec.get(c, "") != "" for c in DOSAGE_WEIGHT_COLUMNS)
    try:
        if dosage_given:
            for c in DOSAGE_WEIGHT_COLUMNS:
                out[c] = float(rec[c])
            out["effect_weight"] = np.nan
        else:
            w = rec.get("effect_weight", "")
            if w == "":
                raise InputError(path, "effect_weight is empty", record=where)
            out["effect_weight"] = float(w)
            for c in DOSAGE_WEIGHT_COLUMNS:
                out[c] = np.nan
    except ValueError as exc:
        raise InputError(path, f"weight is not a number ({exc})", record=where) from None
    if not np.isfinite(out["effect_weight"]) and not dosage_given:
        raise InputError(path, f"effect_weight {out['effect_weight']} is not finite", record=where)
    return out
