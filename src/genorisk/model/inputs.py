"""The model's inputs: the feature schema, the feature matrix and the labels, checked.

A feature matrix has one row per person (index ``sample_id``) and one numeric
column per schema feature, in schema order. The schema
(``features.schema.json``, ``schema_version`` 1) names each feature's kind,
plain-language label, driver group and definition; a patient frame must match
the model's schema exactly, definitions included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genorisk.errors import InputError

SCHEMA_VERSION = 1
FEATURE_KINDS = ("dosage", "pgs", "burden", "carrier", "pc", "covariate")
#: Characters XGBoost refuses in feature names.
FORBIDDEN_NAME_CHARS = "[]<"


def validate_schema(schema: Mapping[str, Any], *, path: str | None = "features.schema.json") -> list[dict]:
    """Check a feature schema and return its feature list.

    Parameters
    ----------
    schema : mapping
        Parsed ``features.schema.json``: ``schema_version`` and a non-empty
        ``features`` list of ``{name, kind, label, group, definition}``.
    path : str, optional
        File name for error messages.

    Returns
    -------
    list of dict
        The feature entries, in column order.

    Raises
    ------
    InputError
        Naming the first bad entry (missing key, duplicate or XGBoost-unsafe
        name, unknown kind, wrong type).
    """
    if not isinstance(schema, Mapping):
        raise InputError(path, "feature schema must be a JSON object")
    if schema.get("schema_version") != SCHEMA_VERSION:
        raise InputError(path, f"schema_version must be {SCHEMA_VERSION}, got {schema.get('schema_version')!r}")
    features = schema.get("features")
    if not isinstance(features, list) or not features:
        raise InputError(path, "'features' must be a non-empty list")
    seen: set[str] = set()
    for i, feat in enumerate(features):
        record = f"features[{i}]"
        if not isinstance(feat, Mapping):
            raise InputError(path, "feature entry must be an object", record=record)
        missing = [k for k in ("name", "kind", "label", "group", "definition") if k not in feat]
        if missing:
            raise InputError(path, f"missing key(s) {', '.join(missing)}", record=record)
        name = feat["name"]
        if not isinstance(name, str) or not name:
            raise InputError(path, "name must be a non-empty string", record=record)
        record = f"features[{i}] ({name})"
        if any(c in name for c in FORBIDDEN_NAME_CHARS):
            raise InputError(
                path, f"name contains one of {FORBIDDEN_NAME_CHARS!r} (XGBoost refuses them)", record=record
            )
        if name in seen:
            raise InputError(path, "duplicate feature name", record=record)
        seen.add(name)
        if feat["kind"] not in FEATURE_KINDS:
            raise InputError(path, f"kind {feat['kind']!r} is not one of {', '.join(FEATURE_KINDS)}", record=record)
        if not isinstance(feat["label"], str) or not isinstance(feat["group"], str):
            raise InputError(path, "label and group must be strings", record=record)
        if not isinstance(feat["definition"], Mapping):
            raise InputError(path, "definition must be an object", record=record)
    return list(features)


def check_frame_matches_schema(
    X: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    path: str | None = None,
    frame_schema: Mapping[str, Any] | None = None,
) -> None:
    """Refuse a feature frame whose columns, order or definitions differ from ``schema``.

    Parameters
    ----------
    X : DataFrame
        Feature frame indexed by ``sample_id``.
    schema : mapping
        The model's feature schema.
    path : str, optional
        File name of ``X`` for error messages.
    frame_schema : mapping, optional
        The schema that came with ``X`` (e.g. the patients'
        ``features.schema.json``); its feature definitions, kinds and groups
        must equal the model's.

    Raises
    ------
    InputError
        Missing, unexpected or reordered columns, non-numeric columns,
        duplicate sample IDs, or differing definitions; names the features.
    """
    expected = [f["name"] for f in schema["features"]]
    got = [str(c) for c in X.columns]
    if got != expected:
        missing = [n for n in expected if n not in set(got)]
        extra = [n for n in got if n not in set(expected)]
        parts = []
        if missing:
            parts.append(f"missing {_name_list(missing)}")
        if extra:
            parts.append(f"unexpected {_name_list(extra)}")
        if not parts:
            first = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b)
            parts.append(
                f"column order differs from the model schema from position {first} "
                f"(got {got[first]!r}, expected {expected[first]!r})"
            )
        raise InputError(path, "feature columns do not match the model schema: " + "; ".join(parts))
    non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    if non_numeric:
        raise InputError(path, f"non-numeric feature column(s) {_name_list(non_numeric)}")
    if X.index.has_duplicates:
        dup = X.index[X.index.duplicated()][0]
        raise InputError(path, "duplicate sample_id", record=f"sample {dup}")
    if frame_schema is not None:
        theirs = {f["name"]: f for f in validate_schema(frame_schema, path=path)}
        differing = [
            f["name"]
            for f in schema["features"]
            if f["name"] not in theirs
            or any(theirs[f["name"]].get(k) != f.get(k) for k in ("kind", "group", "definition"))
        ]
        if differing or list(theirs) != expected:
            differing = differing or [n for n in theirs if n not in set(expected)]
            raise InputError(path, f"feature definitions differ from the model schema for {_name_list(differing)}")


def _name_list(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_labels(y: Any, n: int) -> np.ndarray:
    """Check training labels and return them as int8.

    Parameters
    ----------
    y : array-like, shape (n,)
        0/1 outcomes, one per row of the feature matrix.
    n : int
        Number of rows.

    Returns
    -------
    ndarray, int8, shape (n,)

    Raises
    ------
    InputError
        Wrong shape, a value other than 0/1, or fewer than 2 cases or 2 controls.
    """
    y = np.asarray(y)
    if y.shape != (n,):
        raise InputError(None, f"labels must be a 1-D array of {n} values (one per row), got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(y, (0, 1)))[0])
        raise InputError(None, f"labels must be 0/1, got {y[bad]!r}", record=f"row {bad}")
    y = y.astype(np.int8)
    n_cases = int(y.sum())
    if n_cases < 2 or n - n_cases < 2:
        raise InputError(None, f"need at least 2 cases and 2 controls, got {n_cases} cases of {n}")
    return y


def read_feature_matrix(path: str | Path) -> pd.DataFrame:
    """Read a feature matrix.

    Parameters
    ----------
    path : str or Path
        ``.parquet`` (``sample_id`` column or index) or a TSV with a
        ``sample_id`` column.

    Returns
    -------
    DataFrame
        Indexed by ``sample_id`` (str), one column per feature.

    Raises
    ------
    InputError
        No ``sample_id`` column or index.
    """
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, sep="\t")
    if "sample_id" in frame.columns:
        frame = frame.set_index("sample_id")
    elif frame.index.name != "sample_id":
        raise InputError(path, "needs a sample_id column or index")
    frame.index = frame.index.astype(str)
    return frame


def read_labels(path: str | Path, sample_ids: pd.Index, column: str = "label") -> np.ndarray:
    """0/1 labels from a TSV, aligned to the rows of a feature matrix.

    Parameters
    ----------
    path : str or Path
        TSV with a ``sample_id`` column and ``column``.
    sample_ids : Index
        The feature matrix's sample IDs; every one needs a label.
    column : str
        Label column (0 = control, 1 = case).

    Returns
    -------
    ndarray, int8, shape (len(sample_ids),)

    Raises
    ------
    InputError
        A missing column, a sample without a label, or a label other than 0/1.
    """
    table = pd.read_csv(path, sep="\t", dtype={"sample_id": str})
    for col in ("sample_id", column):
        if col not in table.columns:
            raise InputError(path, f"needs a {col!r} column", record="header")
    table = table.set_index("sample_id")
    missing = sample_ids.difference(table.index)
    if len(missing):
        raise InputError(path, f"no label for {len(missing)} sample(s), e.g. {missing[0]!r}")
    values = table.loc[sample_ids, column]
    bad = ~values.isin([0, 1])
    if bad.any():
        sid = values.index[bad.to_numpy()][0]
        raise InputError(path, f"label must be 0 or 1, got {values[sid]!r}", record=f"sample {sid}")
    return values.to_numpy(dtype=np.int8)


def trait_training_rows(
    features: pd.DataFrame, phenotypes: pd.DataFrame, column: str, *, path: str | Path | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """A trait's training rows: the people of a feature matrix with a 0/1 value in the trait's column.

    The cohort feature matrix holds every QC-passed person, whatever their
    value for this trait (features common to all traits are the cohort's);
    a person with an empty (NaN) value is not trained on nor evaluated.

    Parameters
    ----------
    features : DataFrame
        :func:`read_feature_matrix` of the trait's ``cohort.parquet``.
    phenotypes : DataFrame
        :func:`genorisk.config.read_phenotypes` with ``columns=[column]``.
    column : str
        The trait's phenotype column (``traits[].column``).
    path : path, optional
        The phenotype table, named in errors.

    Returns
    -------
    X : DataFrame
        The rows of ``features`` with a 0/1 value, in their order.
    y : ndarray, int64, shape (len(X),)

    Raises
    ------
    InputError
        ``column`` missing, a feature-matrix person without a phenotype row,
        a value other than 0/1, or no labelled person.
    """
    if column not in phenotypes.columns:
        raise InputError(path, f"no trait column {column!r}", record="header")
    missing = features.index.difference(phenotypes.index)
    if len(missing):
        raise InputError(path, f"feature-matrix person {missing[0]!r} has no phenotype row ({len(missing)} in all)")
    values = phenotypes[column].reindex(features.index)
    labelled = values.notna().to_numpy()
    bad = labelled & ~values.isin([0, 1]).to_numpy()
    if bad.any():
        sid = values.index[bad][0]
        raise InputError(path, f"{column} must be 0 or 1, got {values[sid]}", record=f"sample {sid}")
    if not labelled.any():
        raise InputError(path, f"no person of the feature matrix has a 0/1 value in {column!r}")
    return features[labelled], values[labelled].to_numpy().astype(np.int64)
