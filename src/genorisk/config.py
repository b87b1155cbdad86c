"""Config and sample-sheet validation with messages that name the key or row.

The workflow calls :func:`validate_config` on every run (``common.smk``), so
an unknown key or a wrong type stops the run before any job starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import pandas as pd
import yaml

from .errors import ConfigError

# Patient IDs become folder names: keep them to a safe, portable alphabet.
PATIENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SHEET_COLUMNS = {"patient_id", "vcf", "sample", "sex", "outlier"}


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(key, problem) for the most specific cause of a schema error."""
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        base = _key_path(error)
        key = ".".join(p for p in (base if base != "(top level)" else "", extra[0]) if p)
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return key, f"unknown key {extra[0]!r} (allowed here: {allowed})"
    if error.validator == "required":
        return _key_path(error), error.message
    return _key_path(error), error.message


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def validate_config(config: dict[str, Any], schema: dict | str | Path, *, source: str = "config") -> dict:
    """Validate ``config`` against a JSON schema (YAML file or dict) and fill defaults.

    Raises
    ------
    ConfigError
        Naming the key (dotted path) and the problem, for the first error in a
        deterministic order (the one deepest in the config first).
    """
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = _with_defaults(validator_cls)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (-len(e.absolute_path), _key_path(e), e.message))
    if errors:
        key, problem = _describe(errors[0])
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(source, f"{problem}{more}", record=f"key {key}")
    return config


def _with_defaults(validator_cls):
    """A validator class that also fills ``default`` values of absent properties."""
    validate_properties = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = sub["default"]
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


def read_patient_sheet(
    path: str | Path,
    *,
    base_dir: str | Path = ".",
    produced_under: str | Path | None = None,
    covariates: Iterable[str] = (),
) -> pd.DataFrame:
    """Read and validate the patient sample sheet (TSV).

    Columns: ``patient_id`` (required, unique, ``[A-Za-z0-9][A-Za-z0-9._-]*``,
    at most 64 characters: it becomes a folder name), ``vcf`` (required; a
    path relative to ``base_dir`` unless absolute), ``sample`` (optional: the
    sample name inside the VCF; defaults to ``patient_id``), ``sex``
    (optional: ``male``/``female``), ``outlier`` (optional, demo only), and
    one column per covariate the model uses (``covariates``, e.g. ``age``);
    an empty covariate cell is missing.

    VCFs under ``produced_under`` (the demo simulation's folder) are written
    by the workflow itself and need not exist yet. Every other VCF must exist.

    Raises
    ------
    ConfigError
        Naming the sheet, the row (line number in the file) and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, "patient sample sheet not found")
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ConfigError(path, f"not a readable TSV: {err}") from err
    sheet.columns = [c.strip() for c in sheet.columns]
    for col in ("patient_id", "vcf"):
        if col not in sheet.columns:
            raise ConfigError(path, f"missing required column {col!r} (columns: {', '.join(sheet.columns)})", record="header")
    unknown = sorted(set(sheet.columns) - SHEET_COLUMNS - set(covariates))
    if unknown:
        allowed = ", ".join(sorted(SHEET_COLUMNS | set(covariates)))
        raise ConfigError(path, f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: {allowed}", record="header")
    if sheet.empty:
        raise ConfigError(path, "no patients listed")
    if "sample" not in sheet.columns:
        sheet["sample"] = sheet["patient_id"]
    sheet["sample"] = [s or p for s, p in zip(sheet["sample"], sheet["patient_id"])]
    produced_prefix = f"{Path(produced_under)}/" if produced_under else None
    seen: dict[str, int] = {}
    base_dir = Path(base_dir)
    for i, row in enumerate(sheet.itertuples(index=False), start=2):  # line 1 is the header
        pid = row.patient_id
        where = f"line {i}"
        if not PATIENT_ID_RE.match(pid):
            raise ConfigError(path, f"patient_id {pid!r} is not allowed: use letters, digits, '.', '_' or '-' (max 64), starting with a letter or digit", record=where)
        if pid in seen:
            raise ConfigError(path, f"duplicate patient_id {pid!r} (first on line {seen[pid]})", record=where)
        seen[pid] = i
        if not row.vcf:
            raise ConfigError(path, f"patient {pid!r} has no vcf", record=where)
        vcf = Path(row.vcf) if Path(row.vcf).is_absolute() else base_dir / row.vcf
        produced = produced_prefix is not None and str(Path(row.vcf)).startswith(produced_prefix)
        if not produced and not vcf.exists():
            raise ConfigError(path, f"patient {pid!r}: VCF {row.vcf} does not exist", record=where)
        if "sex" in sheet.columns and row.sex not in ("", "male", "female"):
            raise ConfigError(path, f"patient {pid!r}: sex must be 'male', 'female' or empty, not {row.sex!r}", record=where)
    for col in set(covariates) & set(sheet.columns) - {"sex"}:
        values = pd.to_numeric(sheet[col].replace("", None), errors="coerce")
        bad = values.isna() & (sheet[col] != "")
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise ConfigError(path, f"covariate {col!r} is not a number: {sheet[col][bad].iloc[0]!r}", record=f"line {line}")
    if "outlier" in sheet.columns:
        sheet["outlier"] = sheet["outlier"].str.lower().isin(["1", "true", "yes"])
    return sheet


def read_phenotypes(path: str | Path) -> pd.DataFrame:
    """Read the cohort phenotype table: ``sample_id``, ``status`` (0/1), covariates.

    ``age`` (number) and ``sex`` (``male``/``female``) are the covariates the
    demo uses; any other numeric column is carried as a covariate too.

    Raises
    ------
    ConfigError
        Naming the file, the line and the problem (missing column, duplicate
        sample, status other than 0/1, non-numeric covariate).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, "phenotype table not found")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for col in ("sample_id", "status"):
        if col not in table.columns:
            raise ConfigError(path, f"missing required column {col!r}", record="header")
    dup = table["sample_id"].duplicated()
    if dup.any():
        line = int(dup.to_numpy().nonzero()[0][0]) + 2
        raise ConfigError(path, f"duplicate sample_id {table['sample_id'][dup].iloc[0]!r}", record=f"line {line}")
    bad = ~table["status"].isin(["0", "1"])
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise ConfigError(path, f"status must be 0 (control) or 1 (case), not {table['status'][bad].iloc[0]!r}", record=f"line {line}")
    out = pd.DataFrame({"sample_id": table["sample_id"], "status": table["status"].astype(int)})
    for col in table.columns:
        if col in ("sample_id", "status"):
            continue
        if col == "sex":
            bad = ~table["sex"].isin(["male", "female", ""])
            if bad.any():
                line = int(bad.to_numpy().nonzero()[0][0]) + 2
                raise ConfigError(path, f"sex must be 'male', 'female' or empty, not {table['sex'][bad].iloc[0]!r}", record=f"line {line}")
            out["sex"] = table["sex"].replace("", None)
            continue
        values = pd.to_numeric(table[col].replace("", None), errors="coerce")
        bad = values.isna() & (table[col] != "")
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise ConfigError(path, f"covariate {col!r} is not a number: {table[col][bad].iloc[0]!r}", record=f"line {line}")
        out[col] = values
    return out.set_index("sample_id")
