"""The no-individual-data check of a bundle folder (:func:`scan_for_individual_data`).

A bundle (:mod:`genorisk.model.bundle`) holds aggregates only: quantiles,
means, allele frequencies, counts. This check looks for what would betray a
person: a cohort sample ID, or an array with one value per cohort sample. The
tests run it on every bundle; see ``docs/bundle.md``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Column names that identify a person or hold a per-person value.
PER_PERSON_COLUMNS = frozenset(
    {
        "sample",
        "sample_id",
        "iid",
        "fid",
        "#iid",
        "person",
        "patient_id",
        "risk",
        "probability",
        "prediction",
        "predictions",
        "margin",
        "oof",
        "oof_risk",
        "oof_margin",
        "phenotype",
        "status",
        "genotype",
        "gt",
        "dosage",
    }
)
TEXT_SUFFIXES = frozenset({".json", ".md", ".txt", ".tsv", ".csv"})
_TOKEN = re.compile(rb"[A-Za-z0-9_.:\-]+")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]{16,}={0,2}$")


def _tokens(data: bytes) -> set[str]:
    return {t.decode("ascii") for t in _TOKEN.findall(data)}


def _json_arrays(obj: Any, sizes: set[int], where: str, out: list[str], name: str) -> None:
    if isinstance(obj, list):
        if len(obj) in sizes:
            out.append(f"{name}: {where or 'top level'}: an array of {len(obj)} values, the cohort's size")
        for i, item in enumerate(obj):
            _json_arrays(item, sizes, f"{where}[{i}]", out, name)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            _json_arrays(item, sizes, f"{where}.{key}" if where else str(key), out, name)
    elif isinstance(obj, str) and _BASE64.match(obj):
        try:
            n_bytes = len(base64.b64decode(obj, validate=True))
        except ValueError:
            return
        # float32/float64 arrays, as the schema encodes its arrays (loadings_f32)
        if any(n_bytes == width * size for width in (4, 8) for size in sizes):
            out.append(f"{name}: {where}: base64 of {n_bytes} bytes, a numeric array of the cohort's size")


def scan_for_individual_data(folder: str | Path, sample_ids: Iterable[str], *, sizes: Iterable[int] = ()) -> list[str]:
    """Look for individual-level data in a bundle folder: the problems found, empty if none.

    Parameters
    ----------
    folder : str or Path
        A bundle folder (every file in it is read, listed or not).
    sample_ids : iterable of str
        The cohort's sample IDs.
    sizes : iterable of int, optional
        More per-sample lengths to look for (say, QC-passed or training
        samples); the number of ``sample_ids`` always is one.

    Returns
    -------
    list of str
        One line per problem, naming the file: a sample ID found as a token
        (a run of ``[A-Za-z0-9_.:-]``) in a text file (JSON, Markdown...), as
        bytes anywhere in a binary one (UBJSON, parquet), or, for parquet, in
        its column names, index or string values; an array (or a base64
        string decoding to ``n x 4`` or ``n x 8`` bytes: float32/float64) of a
        cohort size in a JSON file; a parquet table with a cohort size of rows
        or a column named like a person or a per-person prediction
        (``sample_id``, ``risk``, ``oof``...).
    """
    ids = {str(s) for s in sample_ids}
    size_set = {len(ids), *(int(s) for s in sizes)} - {0}
    problems: list[str] = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        name = str(path)
        data = path.read_bytes()
        # Binary files (UBJSON, parquet): a length byte may touch a string, so look for the bytes themselves.
        found = _tokens(data) & ids if path.suffix in TEXT_SUFFIXES else {s for s in ids if s.encode() in data}
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            words = set(table.column_names) | set((table.schema.pandas_metadata or {}).get("index_columns", []))
            for column in table.columns:
                if (
                    pa.types.is_string(column.type)
                    or pa.types.is_large_string(column.type)
                    or pa.types.is_string_view(column.type)
                ):
                    words |= {str(v) for v in column.unique().to_pylist()}
            found |= words & ids
            per_person = sorted(c for c in table.column_names if c.lower() in PER_PERSON_COLUMNS or c.startswith("oof"))
            if per_person:
                problems.append(f"{name}: per-person column(s) {', '.join(per_person)}")
            if table.num_rows in size_set:
                problems.append(f"{name}: {table.num_rows} rows, the cohort's size (a per-sample table?)")
        elif path.suffix == ".json":
            try:
                obj = json.loads(data)
            except ValueError:
                problems.append(f"{name}: not JSON, cannot be checked")
            else:
                _json_arrays(obj, size_set, "", problems, name)
        if found:
            shown = ", ".join(sorted(found)[:5]) + (" ..." if len(found) > 5 else "")
            problems.append(f"{name}: {len(found)} cohort sample ID(s): {shown}")
    return problems
