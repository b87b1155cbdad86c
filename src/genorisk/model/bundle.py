"""The portable model bundle: one folder per trait that scoring needs and nothing else.

A training run publishes each trait's bundle as ``<outdir>/model/<trait>/``;
a score-only run (config ``bundles:``) reads patients' features, risks and
reports from bundles alone. ``bundle.json`` (written last) names the bundle
format, the trait, the covariates, the training run's settings that shape
patients' reports (:data:`RUN_SETTINGS`) and the SHA-256 of every file, and
records its own hash (``bundle_sha256``) over all of that.

* :func:`read_bundle_manifest`, :func:`bundle_folders`, :func:`bundle_trait`,
  :func:`bundle_covariates`, :func:`bundle_settings`, :func:`agreed_settings`
  read only ``bundle.json`` (at workflow start-up);
* :func:`write_bundle` publishes a bundle (rule publish_model), staged and
  renamed in, ``bundle.json`` last;
* :func:`verify_bundle` checks every file's hash, the manifest's own hash and
  that nothing unlisted (no pickle) is there, at the start of each job that
  uses a bundle; :func:`load_bundle` verifies and loads it;
* :func:`scan_for_individual_data` (:mod:`genorisk.model.bundle_scan`) looks
  for sample IDs and per-sample arrays (a bundle holds aggregates only; the
  tests run it on every bundle).

See ``docs/bundle.md``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import genorisk
from genorisk.config import load_schema
from genorisk.errors import ConfigError, InputError
from genorisk.io import read_json, sha256_file, write_json
from genorisk.model.artifact import is_pickle, load_model
from genorisk.model.bundle_scan import PER_PERSON_COLUMNS as PER_PERSON_COLUMNS
from genorisk.model.bundle_scan import scan_for_individual_data as scan_for_individual_data  # re-exported
from genorisk.model.train import TrainedModel
from genorisk.patient_checks import cohort_sample_ranges

BUNDLE_FORMAT = "genorisk-bundle"
BUNDLE_MANIFEST = "bundle.json"
#: The bundle layout this genorisk writes and reads (``bundle.json`` ``format_version``).
#: 2 (genorisk 0.7.0): ``settings`` added. Version 1 bundles are refused, naming the fix
#: (publish again): their reports depended on settings they do not record.
FORMAT_VERSION = 2

#: The training run's config keys (dotted) that shape patients' reports, recorded in
#: ``bundle.json`` ``settings``; a score-only run takes them from its bundles.
#: ``features.burden_max_af``: "rare" among the notable variants; ``features.min_match_rate``:
#: the reports' polygenic-score match-rate threshold; ``ancestry.outlier_rate``: the
#: ancestry limit (:func:`genorisk.results.ancestry_limit`); ``genome_build``: of the
#: patients' VCFs and positions.
RUN_SETTINGS = ("genome_build", "features.burden_max_af", "features.min_match_rate", "ancestry.outlier_rate")


def read_bundle_manifest(folder: str | Path) -> dict[str, Any]:
    """``bundle.json`` of a bundle folder, its format checked (not its hashes).

    Raises
    ------
    InputError
        Naming the file: missing, not JSON, or not a genorisk bundle.
    """
    path = Path(folder) / BUNDLE_MANIFEST
    if not path.is_file():
        raise InputError(path, "not a model bundle: bundle.json is missing (a training run writes model/<trait>/)")
    try:
        manifest = read_json(path)
    except ValueError as err:
        raise InputError(path, f"not JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise InputError(path, f"not a model bundle (format is not {BUNDLE_FORMAT!r})")
    trait = manifest.get("trait")
    if not isinstance(trait, dict) or not isinstance(trait.get("id"), str):
        raise InputError(path, "the bundle names no trait (trait.id)")
    return manifest


def bundle_folders(paths: Sequence[str], *, source: str = "config") -> dict[str, str]:
    """Trait id -> bundle folder, in config order, for the config's ``bundles``.

    Raises
    ------
    ConfigError
        Naming ``bundles[i]``: no bundle there, or a trait another bundle
        already gives.
    """
    if not paths:
        raise ConfigError(source, "bundles lists no bundle", record="key bundles")
    out: dict[str, str] = {}
    for i, folder in enumerate(paths):
        try:
            trait = read_bundle_manifest(folder)["trait"]["id"]
        except InputError as err:
            raise ConfigError(source, str(err), record=f"key bundles[{i}]") from err
        if trait in out:
            raise ConfigError(source, f"trait {trait!r} is already given by {out[trait]}", record=f"key bundles[{i}]")
        out[trait] = str(folder).rstrip("/")
    return out


def bundle_trait(folder: str | Path) -> dict[str, Any]:
    """The trait settings a bundle was trained for (``id``, ``name``, ``column``, ``prevalence``...)."""
    return dict(read_bundle_manifest(folder)["trait"])


def _check_format_version(manifest: Mapping[str, Any], path: Path) -> None:
    version = manifest.get("format_version")
    if version == 1:
        raise InputError(
            path,
            f"bundle format_version 1 records no training settings ({', '.join(RUN_SETTINGS)}), "
            f"which genorisk {genorisk.__version__} takes from the bundle: publish it again from the "
            "training run (snakemake there rewrites model/<trait>/ as format_version "
            f"{FORMAT_VERSION}) and copy the new folder",
        )
    if version != FORMAT_VERSION:
        raise InputError(
            path,
            f"bundle format_version {version!r} is not {FORMAT_VERSION} "
            f"(genorisk {genorisk.__version__} reads version {FORMAT_VERSION})",
        )


def _dotted(config: Mapping[str, Any], key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(key)
        value = value[part]
    return value


def default_settings() -> dict[str, Any]:
    """:data:`RUN_SETTINGS` at the config schema's defaults (what a run that leaves them unset uses)."""
    schema = load_schema()
    out = {}
    for key in RUN_SETTINGS:
        node = schema
        for part in key.split("."):
            node = node["properties"][part]
        out[key] = node["default"]
    return out


def config_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """:data:`RUN_SETTINGS` of a validated config (defaults filled), dotted key -> value.

    Raises
    ------
    KeyError
        A setting the config lacks (it was not validated).
    """
    return {key: _dotted(config, key) for key in RUN_SETTINGS}


def _checked_settings(settings: Any, path: str | Path | None) -> dict[str, Any]:
    if not isinstance(settings, Mapping):
        raise InputError(path, "settings is not a mapping of config key to value")
    missing = [key for key in RUN_SETTINGS if key not in settings]
    unknown = [key for key in settings if key not in RUN_SETTINGS]
    if missing or unknown:
        raise InputError(
            path,
            "settings "
            + "; ".join(
                ([f"lacks {', '.join(missing)}"] if missing else [])
                + ([f"has unknown {', '.join(unknown)}"] if unknown else [])
            )
            + f" (it holds exactly {', '.join(RUN_SETTINGS)})",
        )
    if not isinstance(settings["genome_build"], str):
        raise InputError(path, f"settings genome_build is {settings['genome_build']!r}, not a build name")
    for key in RUN_SETTINGS[1:]:
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InputError(path, f"settings {key} is {value!r}, not a number from 0 to 1")
    return {key: settings[key] for key in RUN_SETTINGS}


def bundle_settings(folder: str | Path) -> dict[str, Any]:
    """The training run's :data:`RUN_SETTINGS` a bundle records (``bundle.json`` ``settings``).

    Raises
    ------
    InputError
        Naming ``bundle.json``: a format_version 1 bundle (it records none:
        publish it again), or settings missing, unknown or malformed.
    """
    manifest = read_bundle_manifest(folder)
    path = Path(folder) / BUNDLE_MANIFEST
    _check_format_version(manifest, path)
    return _checked_settings(manifest.get("settings"), path)


def agreed_settings(
    folders: Mapping[str, str | Path],
    config: Mapping[str, Any],
    *,
    given: Mapping[str, Any] | None = None,
    source: str = "config",
) -> dict[str, Any]:
    """The settings of a score-only run: the ones its bundles were trained with, checked.

    A score-only run reports every patient with one value of each
    :data:`RUN_SETTINGS` key (one notable-variant list, one match-rate
    threshold per report), so all its bundles must agree; the config need not
    repeat them, and a value it gives must be the bundles'.

    Parameters
    ----------
    folders : mapping
        Trait id -> bundle folder (:func:`bundle_folders`), in config order.
    config : mapping
        The validated config (defaults filled).
    given : mapping, optional
        The config as the user wrote it, before defaults were filled: a key
        absent there is taken from the bundles. Default ``config``.
        ``genome_build`` is always compared (its default included): the
        patients' VCFs and the annotation resources are in the config's build.
    source : str
        What to call the config in messages (its file name).

    Returns
    -------
    dict
        Dotted config key -> the bundles' value, in :data:`RUN_SETTINGS` order.

    Raises
    ------
    ConfigError
        Naming ``key bundles`` and every bundle with its value when the
        bundles disagree on a setting (or one cannot be read, say a
        format_version 1 bundle); naming the key, its value and the bundles'
        value when the config gives another one.
    """
    given = config if given is None else given
    per_bundle: dict[str, dict[str, Any]] = {}
    for i, folder in enumerate(folders.values()):
        try:
            per_bundle[str(folder)] = bundle_settings(folder)
        except InputError as err:
            raise ConfigError(source, str(err), record=f"key bundles[{i}]") from err
    out: dict[str, Any] = {}
    for key in RUN_SETTINGS:
        groups: list[tuple[Any, list[str]]] = []  # value -> the bundles trained with it, first-seen order
        for folder, settings in per_bundle.items():
            for value, having in groups:
                if value == settings[key]:
                    having.append(folder)
                    break
            else:
                groups.append((settings[key], [folder]))
        if len(groups) > 1:
            listed = "; ".join(f"{json.dumps(v)} in {', '.join(fs)}" for v, fs in groups)
            raise ConfigError(
                source,
                f"the bundles were trained with different {key} ({listed}); a score-only run applies one "
                "value to every patient: score these bundles in separate runs",
                record="key bundles",
            )
        value, trained = groups[0]
        out[key] = value
        try:
            wanted = _dotted(config if key == "genome_build" else given, key)
        except KeyError:
            continue  # not in the config: the bundles' value
        if wanted != value:
            if key == "genome_build":
                default = "" if "genome_build" in given else " (the default)"
                fix = f"set genome_build: {value}, the build of the bundles' positions"
            else:
                default, fix = "", f"leave {key} out (a score-only run takes it from the bundles)"
            raise ConfigError(
                source,
                f"{key} is {json.dumps(wanted)}{default} but the bundles were trained with {json.dumps(value)} "
                f"({', '.join(trained)}): {fix}",
                record=f"key {key}",
            )
    return out


def bundle_covariates(folders: Iterable[str | Path]) -> list[str]:
    """The covariates the bundles' models use, first-seen order (the patient sheet must give them)."""
    out: dict[str, None] = {}
    for folder in folders:
        for name in read_bundle_manifest(folder).get("covariates", []):
            out[name] = None
    return list(out)


# --- writing and checking a bundle ------------------------------------------

#: The files of a bundle besides ``bundle.json``: the model artifact
#: (:func:`genorisk.model.save_model`) and what patient features need from the cohort.
MODEL_FILES = (
    "model.ubj",
    "features.schema.json",
    "calibrator.json",
    "cohort_risks.json",
    "metrics.json",
    "model_card.json",
    "model_card.md",
    "linear_offset.json",
    "interactions.json",
)
COHORT_REFERENCE = "cohort_reference.json"
COHORT_VARIANTS = "cohort_variants.parquet"
BUNDLE_CONTENT = MODEL_FILES + (COHORT_REFERENCE, COHORT_VARIANTS)
#: Columns of ``cohort_variants.parquet``: the cohort's sites, nothing per person.
COHORT_VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt")

CHANGED = "tampered or incomplete bundle: it was changed after it was published, or the copy is incomplete"


def manifest_sha256(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of every manifest key but ``bundle_sha256``.

    Canonical: keys sorted, no whitespace, ASCII only; so the hash does not
    depend on how ``bundle.json`` is indented.
    """
    body = {k: v for k, v in manifest.items() if k != "bundle_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def cohort_reference(qc_summary: Mapping[str, Any], sample_qc: pd.DataFrame) -> dict[str, Any]:
    """``cohort_reference.json``: the cohort's QC ranges patients are checked against (aggregates only).

    Parameters
    ----------
    qc_summary : mapping
        The cohort's ``qc/qc_summary.json``.
    sample_qc : DataFrame
        The cohort's ``qc/sample_qc.tsv``.

    Returns
    -------
    dict
        ``format_version`` (1), ``sample_ranges``
        (:func:`genorisk.patient_checks.cohort_sample_ranges`) and ``n_samples``
        (cohort samples QC saw).
    """
    return {
        "format_version": 1,
        "sample_ranges": cohort_sample_ranges(qc_summary, sample_qc),
        "n_samples": int(qc_summary.get("n_samples", len(sample_qc))),
    }


def schema_covariates(schema: Mapping[str, Any]) -> list[str]:
    """The patient-sheet columns the schema's covariate features come from, schema order (``sex_male`` -> ``sex``)."""
    out: dict[str, None] = {}
    for feature in schema["features"]:
        if feature["kind"] == "covariate":
            out[feature["definition"].get("column", feature["name"])] = None
    return list(out)


def write_bundle(
    folder: str | Path,
    trait: Mapping[str, Any],
    *,
    model_dir: str | Path,
    cohort_reference: Mapping[str, Any],
    cohort_sites: pd.DataFrame | pa.Table,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Publish a trait's bundle: the model artifact, the cohort reference and ``bundle.json``.

    Every file is first written to a staging folder beside ``folder`` (same
    file system), so anything that can fail (reading the model, writing the
    tables) fails before the folder is touched and the bundle in use stays
    whole. The files are then renamed into ``folder`` one by one,
    ``bundle.json`` last: a publish interrupted between renames leaves an old
    ``bundle.json`` whose hashes do not match, or none, and
    :func:`verify_bundle` refuses the folder.

    Parameters
    ----------
    folder : str or Path
        The bundle folder (``<outdir>/model/<trait>``); created if missing.
    trait : mapping
        The trait's settings (``id``, ``name``, ``column``, ``prevalence``,
        ``population``, ``time_frame``, ``covariates``, ``scores``), recorded
        in ``bundle.json``.
    model_dir : str or Path
        A model artifact (:func:`genorisk.model.save_model`); it is loaded, so
        a changed or malformed artifact is refused before publishing.
    cohort_reference : mapping
        :func:`cohort_reference` of the cohort's QC.
    cohort_sites : DataFrame or pyarrow.Table
        The cohort's variant sites (``qc/variant_qc.parquet``); only the
        columns ``chrom``, ``pos``, ``ref``, ``alt`` are kept, every row, no
        index. A Table (``pyarrow.parquet.read_table``) takes less memory on
        a genome-wide cohort.
    settings : mapping, optional
        The training run's :data:`RUN_SETTINGS` (:func:`config_settings` of
        its config), recorded as ``bundle.json`` ``settings``; a score-only
        run reports with them. Default :func:`default_settings` (the
        config's defaults).

    Returns
    -------
    dict
        The manifest written as ``bundle.json``.

    Raises
    ------
    InputError
        Naming the file: a model artifact :func:`genorisk.model.load_model`
        refuses, sites without the four columns, settings lacking a key or
        with an unknown one, or an ``ancestry.outlier_rate`` other than the
        one the model card's ancestry limit was set with.
    """
    folder, model_dir = Path(folder), Path(model_dir)
    settings = _checked_settings(default_settings() if settings is None else settings, None)
    load_model(model_dir)
    card_limit = read_json(model_dir / "model_card.json").get("ancestry_limit") or {}
    # The card stores 1 - (1 - rate): equal to the tolerance genorisk.results.ancestry_limit uses.
    if "outlier_rate" in card_limit and abs(card_limit["outlier_rate"] - settings["ancestry.outlier_rate"]) >= 1e-12:
        raise InputError(
            model_dir / "model_card.json",
            f"the ancestry limit was set with outlier_rate {card_limit['outlier_rate']}, "
            f"not the settings' ancestry.outlier_rate {settings['ancestry.outlier_rate']}",
        )
    if isinstance(cohort_sites, pd.DataFrame):
        cohort_sites = pa.Table.from_pandas(cohort_sites, preserve_index=False)
    missing = [c for c in COHORT_VARIANT_COLUMNS if c not in cohort_sites.column_names]
    if missing:
        raise InputError(None, f"cohort sites lack column(s) {', '.join(missing)}")
    schema = read_json(model_dir / "features.schema.json")
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{glob.escape(folder.name)}.*.publishing"):  # left by a killed publish
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".publishing", dir=folder.parent))
    try:
        for name in MODEL_FILES:
            shutil.copyfile(model_dir / name, staging / name)
        write_json(staging / COHORT_REFERENCE, dict(cohort_reference))
        # Without the source's pandas metadata (it lists every QC column); read back, the index is a RangeIndex.
        sites = cohort_sites.select(list(COHORT_VARIANT_COLUMNS)).replace_schema_metadata(None)
        pq.write_table(sites, staging / COHORT_VARIANTS)
        manifest: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "format_version": FORMAT_VERSION,
            "trait": dict(trait),
            "covariates": schema_covariates(schema),
            "settings": settings,
            "created_by": {"genorisk": genorisk.__version__},
            "files": {name: sha256_file(staging / name) for name in BUNDLE_CONTENT},
        }
        manifest["bundle_sha256"] = manifest_sha256(manifest)
        write_json(staging / BUNDLE_MANIFEST, manifest)
        folder.mkdir(exist_ok=True)
        mode = 0o666 & ~_umask()
        for name in BUNDLE_CONTENT + (BUNDLE_MANIFEST,):
            os.chmod(staging / name, mode)
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def verify_bundle(folder: str | Path) -> dict[str, Any]:
    """Check a bundle folder against its ``bundle.json``; return the manifest.

    Parameters
    ----------
    folder : str or Path
        A bundle folder (:func:`write_bundle`).

    Returns
    -------
    dict
        The manifest (``bundle.json``).

    Raises
    ------
    InputError
        Naming the file: a pickle (any name), a file the manifest does not
        list, a listed file missing or whose SHA-256 differs, a manifest whose
        ``bundle_sha256`` does not match its contents, a ``format_version``
        other than :data:`FORMAT_VERSION` (version 1: publish it again),
        ``settings`` missing or malformed, or a manifest missing a required
        file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "model bundle folder does not exist")
    manifest = read_bundle_manifest(folder)
    path = folder / BUNDLE_MANIFEST
    _check_format_version(manifest, path)
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise InputError(path, "files is not a mapping of file name to SHA-256")
    for name in files:
        if not isinstance(name, str) or Path(name).name != name or name in (".", "..", BUNDLE_MANIFEST):
            raise InputError(path, f"files names {name!r}, not a file of the bundle folder")
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and is_pickle(entry):
            raise InputError(entry, "is a Python pickle; genorisk never loads pickles (they can run code)")
    if manifest.get("bundle_sha256") != manifest_sha256(manifest):
        raise InputError(path, f"bundle_sha256 does not match the manifest's contents ({CHANGED})")
    _checked_settings(manifest.get("settings"), path)
    for entry in sorted(folder.iterdir()):
        if entry.name != BUNDLE_MANIFEST and entry.name not in files:
            raise InputError(entry, f"not listed in bundle.json ({CHANGED})")
    for name in BUNDLE_CONTENT:
        if name not in files:
            raise InputError(path, f"lists no {name} ({CHANGED})")
    for name, digest in files.items():
        file = folder / name
        if not file.is_file():
            raise InputError(file, f"listed in bundle.json but missing ({CHANGED})")
        if sha256_file(file) != digest:
            raise InputError(file, f"SHA-256 differs from bundle.json ({CHANGED})")
    return manifest


@dataclass(frozen=True)
class Bundle:
    """A verified bundle, loaded (:func:`load_bundle`).

    Attributes
    ----------
    manifest : dict
        ``bundle.json``: ``trait``, ``covariates``, ``settings``, ``files``...
    model : TrainedModel
        :func:`genorisk.model.load_model` of the folder.
    card, cohort_risks, schema, cohort_reference : dict
        ``model_card.json``, ``cohort_risks.json``, ``features.schema.json``,
        ``cohort_reference.json``.
    folder : Path
        The bundle folder.
    """

    manifest: dict[str, Any]
    model: TrainedModel
    card: dict[str, Any]
    cohort_risks: dict[str, Any]
    schema: dict[str, Any]
    cohort_reference: dict[str, Any]
    folder: Path

    @property
    def trait(self) -> dict[str, Any]:
        """The trait's settings (``bundle.json`` ``trait``)."""
        return dict(self.manifest["trait"])

    def cohort_sites(self) -> pd.DataFrame:
        """``cohort_variants.parquet``: the cohort's sites (``chrom``, ``pos``, ``ref``, ``alt``)."""
        return pd.read_parquet(self.folder / COHORT_VARIANTS)


def load_bundle(folder: str | Path) -> Bundle:
    """Verify a bundle (:func:`verify_bundle`) and load its model and JSON files.

    Raises
    ------
    InputError
        As :func:`verify_bundle` and :func:`genorisk.model.load_model`, naming the file.
    """
    folder = Path(folder)
    manifest = verify_bundle(folder)
    reference = read_json(folder / COHORT_REFERENCE)
    if not isinstance(reference, dict) or reference.get("format_version") != 1:
        raise InputError(folder / COHORT_REFERENCE, "not a cohort reference of format_version 1")
    return Bundle(
        manifest=manifest,
        model=load_model(folder),
        card=read_json(folder / "model_card.json"),
        cohort_risks=read_json(folder / "cohort_risks.json"),
        schema=read_json(folder / "features.schema.json"),
        cohort_reference=reference,
        folder=folder,
    )
