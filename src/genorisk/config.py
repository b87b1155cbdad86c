"""The config, the sample sheet, the phenotype table and the truth file, checked before any job.

One rule set: ``schemas/config.schema.yaml`` states every config key with its
type, bounds and default (and, as ``x-`` keywords, the few relations between
keys). :func:`validate_config` checks a config against it and fills the
defaults; the workflow calls it when the Snakefile is parsed, so a typo stops
the run before any job starts, naming the key. The dataclasses of the stages
(``ModelConfig``, ``QCThresholds``, ``SimulationConfig``) are built from the
validated sections.

The readers of the input tables (:func:`read_patient_sheet`,
:func:`read_phenotypes`, :func:`read_truth`) are called at start-up too, and
again by the jobs that use the tables; their errors name the file, the line
or column, and the problem.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, cast

import jsonschema
import pandas as pd
import yaml

from .errors import ConfigError, InputError
from .genome import expand_chrom_pattern

#: The config schema shipped with the package (``workflow/schemas/config.schema.yaml`` links to it).
CONFIG_SCHEMA = Path(str(resources.files("genorisk").joinpath("schemas", "config.schema.yaml")))

# Patient IDs become folder names: keep them to a safe, portable alphabet.
PATIENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SHEET_COLUMNS = {"patient_id", "vcf", "sample", "sex", "outlier", "callable_bed", "simulated"}
#: Folder names under ``<outdir>/patients/`` the workflow uses itself.
RESERVED_PATIENT_IDS = frozenset({"batches", "vcfs"})
#: Sheet cell values read as "yes" (``outlier``, ``simulated``).
YES_VALUES = ("1", "true", "yes")


# ----------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(key, problem) for the most specific cause of a schema error."""
    if error.validator == "additionalProperties":
        # The stubs allow an unset or boolean schema; an additionalProperties error has a mapping.
        schema, instance = cast(Mapping[str, Any], error.schema), cast(Mapping[str, Any], error.instance)
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        base = _key_path(error)
        key = ".".join(p for p in (base if base != "(top level)" else "", extra[0]) if p)
        allowed = ", ".join(sorted(schema.get("properties", {})))
        return key, f"unknown key {extra[0]!r} (allowed here: {allowed})"
    if error.validator in ("x-less-or-equal", "x-less-than", "x-sum-below"):
        # The message names the offending key; report it as the key.
        base = _key_path(error)
        first = error.message.split(" ", 1)[0]
        return (f"{base}.{first}" if base != "(top level)" else first), error.message
    return _key_path(error), error.message


def load_schema(path: str | Path | None = None) -> dict:
    """The config schema (``path``, default :data:`CONFIG_SCHEMA`) as a dict (a fresh copy each call)."""
    return copy.deepcopy(_parsed_schema(str(Path(path or CONFIG_SCHEMA).resolve())))


@functools.lru_cache(maxsize=4)
def _parsed_schema(path: str) -> dict:
    # Every job validates its config section: libyaml's loader is about 8x faster than the
    # pure-Python one (0.07-0.3 s per job), and the parse is done once per process.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(), Loader=loader)


def _increasing(validator, wanted, instance, schema) -> Iterator[jsonschema.ValidationError]:
    pair = isinstance(instance, list) and len(instance) == 2 and all(_is_number(v) for v in instance)
    if wanted and pair and instance[0] > instance[1]:
        yield jsonschema.ValidationError(f"low end {instance[0]} exceeds high end {instance[1]}")


def _ordered(strict: bool):
    def check(validator, pairs, instance, schema) -> Iterator[jsonschema.ValidationError]:
        if not isinstance(instance, dict):
            return
        for low, high in pairs:
            a, b = _value(instance, schema, low), _value(instance, schema, high)
            if _is_number(a) and _is_number(b) and (a >= b if strict else a > b):
                relation = "below" if strict else "at most"
                yield jsonschema.ValidationError(f"{low} must be {relation} {high}={b}, got {a}")

    return check


def _sum_below(validator, rule, instance, schema) -> Iterator[jsonschema.ValidationError]:
    if not isinstance(instance, dict):
        return
    values = [_value(instance, schema, k) for k in rule["keys"]]
    if all(_is_number(v) for v in values) and sum(values) >= rule["limit"]:
        yield jsonschema.ValidationError(
            f"{rule['keys'][0]} + {' + '.join(rule['keys'][1:])} = {sum(values):.2f}, must be below "
            f"{rule['limit']} ({rule.get('why', 'limit')})"
        )


def _value(instance: dict, schema: dict, key: str) -> Any:
    """``instance[key]``, else the key's default (the x- keywords may run before defaults are filled)."""
    return instance[key] if key in instance else schema.get("properties", {}).get(key, {}).get("default")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _with_defaults(validator_cls):
    """The schema's validator class, filling ``default`` values of absent keys and knowing the ``x-`` keywords."""
    validate_properties = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    # A copy: defaults are mutable (lists, {}) and must not be shared between configs.
                    instance[name] = json.loads(json.dumps(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(
        validator_cls,
        {
            "properties": set_defaults,
            "x-increasing": _increasing,
            "x-less-or-equal": _ordered(strict=False),
            "x-less-than": _ordered(strict=True),
            "x-sum-below": _sum_below,
        },
    )


def validate_config(config: dict[str, Any], schema: dict | str | Path | None = None, *, source: str = "config") -> dict:
    """Check ``config`` against the config schema and fill in the defaults, in place.

    Parameters
    ----------
    config : dict
        The parsed config (YAML); changed in place: absent keys get their
        schema default.
    schema : dict or path, optional
        The schema (default :data:`CONFIG_SCHEMA`).
    source : str
        What to call the config in messages (its file name).

    Returns
    -------
    dict
        ``config``, completed.

    Raises
    ------
    ConfigError
        Naming the key (dotted path) and the problem, for the first error in a
        deterministic order (the one deepest in the config first).
    """
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    validator = _with_defaults(jsonschema.validators.validator_for(schema))(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (-len(e.absolute_path), _key_path(e), e.message))
    if errors:
        key, problem = _describe(errors[0])
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(source, f"{problem}{more}", record=f"key {key}")
    return config


def validate_section(section: str, values: Mapping[str, Any] | None, *, source: str = "config") -> dict:
    """Check one section (``"model"``, ``"qc"``, ``"simulate"``, ...) and fill its defaults.

    For code that reads a section on its own (the command line's ``train``
    with a model settings file): the same schema and messages as
    :func:`validate_config`, keys named ``<section>.<key>``.

    Returns
    -------
    dict
        A completed copy of ``values``.
    """
    schema = load_schema()
    if section not in schema["properties"]:
        raise ValueError(f"no config section {section!r}")
    sub = {**schema["properties"][section], "$defs": schema["properties"][section].get("$defs", {})}
    # Section-local $refs ("#/properties/<section>/$defs/...") must resolve against a document of
    # the same shape, so validate {section: values} against a schema holding only that section.
    wrapper = {
        **{k: v for k, v in schema.items() if k not in ("properties", "required")},
        "properties": {section: sub},
        "required": [section],
    }
    doc = {section: json.loads(json.dumps(dict(values or {})))}
    return validate_config(doc, wrapper, source=source)[section]


# ----------------------------------------------------------------------------
# Input tables
# ----------------------------------------------------------------------------


def read_patient_sheet(
    path: str | Path,
    *,
    base_dir: str | Path = ".",
    produced_under: str | Path | None = None,
    simulated_patients: Iterable[str] | None = None,
    covariates: Iterable[str] = (),
    covariate_defaults: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read and validate the patient sample sheet (TSV).

    Columns: ``patient_id`` (required, unique, ``[A-Za-z0-9][A-Za-z0-9._-]*``,
    at most 64 characters: it becomes a folder name), ``vcf`` (required; a
    path relative to ``base_dir`` unless absolute), ``sample`` (optional: the
    sample name inside the VCF; defaults to ``patient_id``), ``sex``
    (optional: ``male``/``female``), ``callable_bed`` (optional: the
    patient's callable-regions BED; it must exist), ``outlier`` and
    ``simulated`` (optional, demo only: yes/no), and one column per
    covariate the model uses (``covariates``, e.g. ``age``); an empty
    covariate cell is missing.

    Simulated patients (the demo's) are written by the workflow and need not
    exist yet. Which rows they are is never guessed from a path alone: the
    ``simulated`` column says so when the sheet has it; otherwise a row is
    simulated when its VCF lies under ``produced_under`` (the simulation's
    folder) and either the simulation named the patient
    (``simulated_patients``: the patient IDs of its ``patients_truth.tsv``)
    or the file does not exist yet. A user's existing file in that folder is
    therefore never overwritten by a re-simulation. Every other VCF must
    exist.

    Parameters
    ----------
    covariate_defaults : mapping, optional
        With a mapping (the workflow passes ``patients.covariate_defaults``),
        each of ``covariates`` must be a column of the sheet or have a value
        here, which fills that column (a blank cell of a column the sheet has
        stays missing). None: a missing covariate column is accepted and the
        covariate is missing for every patient (for callers that score
        without a trained model's covariates).

    Returns
    -------
    DataFrame
        The sheet as strings, plus ``sheet_line`` (int, the row's line in the
        file, the header being line 1) and ``simulated`` (bool).

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
            raise ConfigError(
                path, f"missing required column {col!r} (columns: {', '.join(sheet.columns)})", record="header"
            )
    unknown = sorted(set(sheet.columns) - SHEET_COLUMNS - set(covariates))
    if unknown:
        allowed = ", ".join(sorted(SHEET_COLUMNS | set(covariates)))
        raise ConfigError(
            path, f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: {allowed}", record="header"
        )
    if sheet.empty:
        raise ConfigError(path, "no patients listed")
    if covariate_defaults is not None:
        for col in covariates:
            if col in sheet.columns:
                continue
            if col not in covariate_defaults:
                raise ConfigError(
                    path,
                    f"the model uses covariate {col!r} but the sheet has no {col!r} column; add it, or set "
                    f"patients.covariate_defaults.{col} to the value to assume for every patient",
                    record="header",
                )
            sheet[col] = str(covariate_defaults[col])
    if "sample" not in sheet.columns:
        sheet["sample"] = sheet["patient_id"]
    sheet["sample"] = [s or p for s, p in zip(sheet["sample"], sheet["patient_id"], strict=False)]
    produced_prefix = f"{Path(produced_under)}/" if produced_under else None
    named = None if simulated_patients is None else set(simulated_patients)
    explicit = sheet["simulated"].str.lower().isin(YES_VALUES) if "simulated" in sheet.columns else None
    simulated: list[bool] = []
    seen: dict[str, int] = {}
    base_dir = Path(base_dir)
    for i, row in enumerate(sheet.itertuples(index=False), start=2):  # line 1 is the header
        # dtype=str above: every cell is a string, though itertuples types them as any scalar.
        pid, vcf_name = cast(str, row.patient_id), cast(str, row.vcf)
        where = f"line {i}"
        if not PATIENT_ID_RE.match(pid):
            raise ConfigError(
                path,
                f"patient_id {pid!r} is not allowed: use letters, digits, '.', '_' or '-' (max 64), "
                "starting with a letter or digit",
                record=where,
            )
        if pid in RESERVED_PATIENT_IDS:
            raise ConfigError(
                path, f"patient_id {pid!r} is reserved (a folder of the workflow's outputs); rename it", record=where
            )
        if pid in seen:
            raise ConfigError(path, f"duplicate patient_id {pid!r} (first on line {seen[pid]})", record=where)
        seen[pid] = i
        if not vcf_name:
            raise ConfigError(path, f"patient {pid!r} has no vcf", record=where)
        vcf = Path(vcf_name) if Path(vcf_name).is_absolute() else base_dir / vcf_name
        if explicit is not None:
            produced = bool(explicit.iloc[i - 2])
        else:
            under = produced_prefix is not None and str(Path(vcf_name)).startswith(produced_prefix)
            produced = under and ((named is not None and pid in named) or not vcf.exists())
        simulated.append(produced)
        if not produced and not vcf.exists():
            raise ConfigError(path, f"patient {pid!r}: VCF {vcf_name} does not exist", record=where)
        bed = cast(str, getattr(row, "callable_bed", "") or "")
        if bed and not (Path(bed) if Path(bed).is_absolute() else base_dir / bed).exists():
            raise ConfigError(path, f"patient {pid!r}: callable_bed {bed} does not exist", record=where)
        if "sex" in sheet.columns and row.sex not in ("", "male", "female"):
            raise ConfigError(
                path, f"patient {pid!r}: sex must be 'male', 'female' or empty, not {row.sex!r}", record=where
            )
    for col in set(covariates) & set(sheet.columns) - {"sex"}:
        values = pd.to_numeric(sheet[col].replace("", None), errors="coerce")
        bad = values.isna() & (sheet[col] != "")
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise ConfigError(
                path, f"covariate {col!r} is not a number: {sheet[col][bad].iloc[0]!r}", record=f"line {line}"
            )
    if "outlier" in sheet.columns:
        sheet["outlier"] = sheet["outlier"].str.lower().isin(YES_VALUES)
    sheet["simulated"] = simulated
    sheet["sheet_line"] = range(2, len(sheet) + 2)
    return sheet


def read_phenotypes(
    path: str | Path, *, covariates: Iterable[str] = (), columns: Sequence[str] = ("status",)
) -> pd.DataFrame:
    """Read the cohort phenotype table: ``sample_id``, the traits' 0/1 columns, covariates.

    ``age`` (number) and ``sex`` (``male``/``female``) are the covariates the
    demo uses; any other numeric column is carried as a covariate too.

    Parameters
    ----------
    path : path
        Tab-separated, header on line 1.
    covariates : iterable of str
        Covariates the model uses (``cohort.covariates``): each must be a
        column.
    columns : sequence of str
        The traits' phenotype columns (``traits[].column``; default the one
        ``status``): each must be a column of 0 (control) / 1 (case); an empty
        cell is unknown (that person is left out of that trait's training).
        A column without empty cells is int, else float with NaN.

    Raises
    ------
    ConfigError
        Naming the file, the line (or ``header``) and the problem: a missing
        column, a duplicate sample, a trait value other than 0/1, a
        non-numeric covariate.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, "phenotype table not found")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ConfigError(path, f"not a readable TSV: {err}") from err
    table.columns = [c.strip() for c in table.columns]
    trait_columns = list(dict.fromkeys(columns))
    for col in ("sample_id", *trait_columns, *covariates):
        if col not in table.columns:
            what = (
                "required column"
                if col == "sample_id"
                else ("trait column" if col in trait_columns else "covariate column")
            )
            raise ConfigError(path, f"missing {what} {col!r} (columns: {', '.join(table.columns)})", record="header")
    if table.empty:
        raise ConfigError(path, "no samples listed")
    dup = table["sample_id"].duplicated()
    if dup.any():
        line = int(dup.to_numpy().nonzero()[0][0]) + 2
        raise ConfigError(path, f"duplicate sample_id {table['sample_id'][dup].iloc[0]!r}", record=f"line {line}")
    out = pd.DataFrame({"sample_id": table["sample_id"]})
    for col in trait_columns:
        bad = ~table[col].isin(["0", "1", ""])
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise ConfigError(
                path,
                f"{col} must be 0 (control) or 1 (case), or empty (unknown), not {table[col][bad].iloc[0]!r}",
                record=f"line {line}",
            )
        values = pd.to_numeric(table[col].replace("", None))
        if values.isna().all():
            raise ConfigError(path, f"trait column {col!r} has no 0/1 value", record="header")
        out[col] = values.astype(int) if not values.isna().any() else values.astype(float)
    for col in table.columns:
        if col == "sample_id" or col in trait_columns:
            continue
        if col == "sex":
            bad = ~table["sex"].isin(["male", "female", ""])
            if bad.any():
                line = int(bad.to_numpy().nonzero()[0][0]) + 2
                raise ConfigError(
                    path,
                    f"sex must be 'male', 'female' or empty, not {table['sex'][bad].iloc[0]!r}",
                    record=f"line {line}",
                )
            out["sex"] = table["sex"].replace("", None)
            continue
        values = pd.to_numeric(table[col].replace("", None), errors="coerce")
        bad = values.isna() & (table[col] != "")
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise ConfigError(
                path, f"covariate {col!r} is not a number: {table[col][bad].iloc[0]!r}", record=f"line {line}"
            )
        out[col] = values
    return out.set_index("sample_id")


def read_truth(path: str | Path, column: str | None = None) -> dict[str, float]:
    """Read one disease's simulation truth as ``{"h2", "prevalence"[, "h2_total"]}`` for the AUC ceiling.

    Two forms are accepted: the documented ``{"h2": ..., "prevalence": ...}``
    (optionally ``"h2_total"``), and the ``truth.json`` that
    :func:`genorisk.simulate.simulate` writes. Of the latter, the liability
    variance a predictor of genotypes plus covariates can capture is used:
    ``h2`` = additive + covariate components, ``h2_total`` = all genetic +
    covariate components.

    A truth file can describe several diseases of one cohort: its top level is
    the first disease, whose phenotype column is ``"column"`` (default
    ``"status"``, the simulator's), and ``"traits"`` maps each further
    disease's column to an entry of the same form (the simulator writes one per
    ``simulate.extra_traits`` entry, with the top-level keys of a disease).

    Parameters
    ----------
    path : path
        The truth file (JSON).
    column : str, optional
        The phenotype column of the disease: None or the first disease's column
        reads the top level (as for a file of one disease); another column reads
        ``traits.<column>``.

    Returns
    -------
    dict
        ``h2`` and ``prevalence``, and ``h2_total`` when known.

    Raises
    ------
    ConfigError
        Naming the file, the key and the problem (not JSON, a key missing,
        a value out of range, no truth for ``column``).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, "truth file not found")
    try:
        truth = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(path, f"not valid JSON: {err}") from err
    if not isinstance(truth, dict):
        raise ConfigError(path, "must be a JSON object with h2 and prevalence")
    first_column = truth.get("column", "status")
    entry, where, allowed = truth, "", {"h2", "h2_total", "prevalence", "column", "traits"}
    if column is not None and column != first_column:
        traits = truth.get("traits")
        if not isinstance(traits, dict) or column not in traits:
            known = [str(first_column), *(traits if isinstance(traits, dict) else [])]
            raise ConfigError(
                path,
                f"no truth for the phenotype column {column!r} (the file has: {', '.join(known)})",
                record=f"key traits.{column}",
            )
        entry, where, allowed = traits[column], f"traits.{column}.", {"h2", "h2_total", "prevalence"}
        if not isinstance(entry, dict):
            raise ConfigError(path, f"traits.{column} must be a JSON object", record=f"key traits.{column}")
    if isinstance(entry.get("variance_components"), dict):  # genorisk.simulate's truth.json
        components = entry["variance_components"]
        for key in ("additive",):
            if not _is_number(components.get(key)):
                raise ConfigError(
                    path,
                    f"{where}variance_components.{key} must be a number",
                    record=f"key {where}variance_components.{key}",
                )
        for key in ("h2_total", "prevalence"):
            if not _is_number(entry.get(key)):
                raise ConfigError(path, f"{where}{key} must be a number", record=f"key {where}{key}")
        covariates = components.get("covariates", 0.0)
        out = {
            "h2": components["additive"] + covariates,
            "h2_total": entry["h2_total"] + covariates,
            "prevalence": entry["prevalence"],
        }
    else:
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ConfigError(
                path,
                f"unknown key {where}{unknown[0]!r} (allowed: {', '.join(sorted(allowed))})",
                record=f"key {where}{unknown[0]}",
            )
        out = {}
        for key in ("h2", "prevalence", "h2_total"):
            if key not in entry:
                if key == "h2_total":
                    continue
                raise ConfigError(
                    path, f"missing key {where}{key!r} (the truth needs h2 and prevalence)", record=f"key {where}{key}"
                )
            if not _is_number(entry[key]) or not math.isfinite(entry[key]):
                raise ConfigError(
                    path, f"{where}{key} must be a number, got {entry[key]!r}", record=f"key {where}{key}"
                )
            out[key] = entry[key]
    for key, value in out.items():
        ok = 0 < value < 1 if key == "prevalence" else 0 < value <= 1
        if not ok:
            bounds = "(0, 1)" if key == "prevalence" else "(0, 1]"
            raise ConfigError(path, f"{where}{key} must be in {bounds}, got {value}", record=f"key {where}{key}")
    return out


# ----------------------------------------------------------------------------
# The cohort's genotype input
# ----------------------------------------------------------------------------

#: The forms the cohort's genotypes may come in (config keys of ``cohort:``).
GENOTYPE_FORMS = ("vcf", "vcfs", "pfile", "bfile", "bgen")


def cohort_genotype_form(cohort: Mapping[str, Any], *, source: str = "config") -> str:
    """Which of :data:`GENOTYPE_FORMS` the (validated) ``cohort:`` section uses.

    Raises
    ------
    ConfigError
        None or more than one form given, or ``bgen_sample`` without ``bgen``.
    """
    given = [form for form in GENOTYPE_FORMS if cohort.get(form)]
    if len(given) != 1:
        problem = "none is given" if not given else f"{len(given)} are given ({', '.join(given)})"
        raise ConfigError(
            source,
            f"the cohort's genotypes need exactly one of {', '.join(GENOTYPE_FORMS)}: {problem}",
            record="key cohort",
        )
    if cohort.get("bgen_sample") and given[0] != "bgen":
        raise ConfigError(source, "bgen_sample is only for a bgen input", record="key cohort.bgen_sample")
    return given[0]


class VcfPart(NamedTuple):
    """One VCF part of the cohort: a file, or one contig of it (read through its index)."""

    path: str
    #: The contig read from ``path`` (a region query), or None for the whole file.
    region: str | None = None


def part_name(chrom: str) -> str:
    """The part (and wildcard) name of a chromosome: ``cohort.<chrom>``, other characters as ``_``."""
    return "cohort." + re.sub(r"[^A-Za-z0-9_]", "_", chrom)


def cohort_vcf_parts(
    cohort: Mapping[str, Any],
    *,
    simulated_chroms: Iterable[str] | None = None,
    source: str = "config",
) -> dict[str, VcfPart]:
    """The cohort's VCF inputs as parts (each validated and normalised by its own job).

    Parameters
    ----------
    cohort : mapping
        The validated ``cohort:`` section.
    simulated_chroms : iterable of str, optional
        For files the demo simulation writes (they need not exist yet): the
        chromosome names of a ``{chrom}`` pattern, or the contigs the one
        simulated VCF holds.
    source : str
        The config file, for messages.

    Returns
    -------
    dict of str to VcfPart
        Part name -> file (and region). One VCF/BCF is split by chromosome:
        ``{"cohort.<chrom>": (vcf, chrom)}`` for each contig with records in
        its index (or each simulated contig); an unindexed file is one part
        ``{"cohort": (vcf, None)}``. A pattern gives ``{"cohort.<chrom>":
        path}``; a list ``{"cohort.part<NN>": path}``; the PLINK and BGEN
        forms none.

    Raises
    ------
    ConfigError
        No file for a pattern, a file listed twice, or an index bcftools
        cannot read.
    """
    from genorisk.vcf.index import has_index, indexed_contigs

    form = cohort_genotype_form(cohort, source=source)
    if form == "vcf":
        path = str(cohort["vcf"])
        if simulated_chroms is not None:
            chroms = list(simulated_chroms)
        elif Path(path).exists() and has_index(path):
            try:
                chroms = indexed_contigs(path)
            except InputError as err:
                raise ConfigError(source, f"{err}", record="key cohort.vcf") from None
        else:
            return {"cohort": VcfPart(path)}
        names = [part_name(c) for c in chroms]
        if len(set(names)) != len(names):
            # Contigs whose names differ only in characters a part name cannot hold: one part.
            return {"cohort": VcfPart(path)}
        return {name: VcfPart(path, chrom) for name, chrom in zip(names, chroms, strict=True)}
    if form != "vcfs":
        return {}
    vcfs = cohort["vcfs"]
    if isinstance(vcfs, str):
        try:
            parts = expand_chrom_pattern(vcfs, simulated_chroms)
        except InputError as err:
            raise ConfigError(source, f"{err.problem}: {vcfs}", record="key cohort.vcfs") from None
        return {f"cohort.{chrom}": VcfPart(str(path)) for chrom, path in parts.items()}
    if len(set(vcfs)) != len(vcfs):
        raise ConfigError(source, "a file is listed twice", record="key cohort.vcfs")
    return {f"cohort.part{i:02d}": VcfPart(path) for i, path in enumerate(vcfs, start=1)}


def config_traits(
    traits: Sequence[Mapping[str, Any]] | None, *, covariates: Sequence[str], source: str = "config"
) -> list[dict[str, Any]]:
    """The config's ``traits``, complete, in config order.

    Each gets every key (:func:`genorisk.model.trait_settings` defaults), its
    ``covariates`` (null: all of ``cohort.covariates``) and ``scores`` (null:
    every configured score, kept as None; a list: those score ids).

    Parameters
    ----------
    traits : sequence of mapping or None
        ``config["traits"]`` (schema-checked); None is the one default trait.
    covariates : sequence of str
        ``cohort.covariates``.
    source : str
        What to call the config in messages.

    Raises
    ------
    ConfigError
        Naming ``traits[i]``: a repeated id or column, a covariate that is not
        among ``cohort.covariates``.
    """
    from genorisk.model.config import trait_settings

    out = trait_settings(list(traits) if traits else None)
    seen: dict[str, int] = {}
    columns: dict[str, int] = {}
    for i, trait in enumerate(out):
        if trait["id"] in seen:
            raise ConfigError(
                source, f"trait id {trait['id']!r} repeats traits[{seen[trait['id']]}]", record=f"key traits[{i}].id"
            )
        if trait["column"] in columns:
            raise ConfigError(
                source,
                f"phenotype column {trait['column']!r} is already traits[{columns[trait['column']]}]'s",
                record=f"key traits[{i}].column",
            )
        seen[trait["id"]], columns[trait["column"]] = i, i
        own = trait.get("covariates")
        if own is None:
            trait["covariates"] = list(covariates)
        else:
            unknown = [c for c in own if c not in covariates]
            if unknown:
                raise ConfigError(
                    source,
                    f"covariate {unknown[0]!r} is not among cohort.covariates ({', '.join(covariates) or 'none'})",
                    record=f"key traits[{i}].covariates",
                )
            trait["covariates"] = list(own)
        trait.setdefault("scores", None)
    return out
