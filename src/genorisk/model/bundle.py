"""The portable model bundle: one folder per trait that scoring needs and nothing else.

A training run publishes each trait's bundle as ``<outdir>/model/<trait>/``;
a score-only run (config ``bundles:``) reads patients' features, risks and
reports from bundles alone. ``bundle.json`` (written last) names the bundle
format, the trait, the covariates and the SHA-256 of every file, and records
its own hash (``bundle_sha256``) over all of that.

* :func:`read_bundle_manifest`, :func:`bundle_folders`, :func:`bundle_trait`,
  :func:`bundle_covariates` read only ``bundle.json`` (at workflow start-up);
* :func:`write_bundle` publishes a bundle (rule publish_model), staged and
  renamed in, ``bundle.json`` last;
* :func:`verify_bundle` checks every file's hash, the manifest's own hash and
  that nothing unlisted (no pickle) is there, at the start of each job that
  uses a bundle; :func:`load_bundle` verifies and loads it;
* :func:`scan_for_individual_data` looks for sample IDs and per-sample arrays
  (a bundle holds aggregates only; the tests run it on every bundle).

See ``docs/bundle.md``.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import re
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
from genorisk.errors import ConfigError, InputError
from genorisk.io import read_json, sha256_file, write_json
from genorisk.model.artifact import is_pickle, load_model
from genorisk.model.train import TrainedModel
from genorisk.patient_checks import cohort_sample_ranges

BUNDLE_FORMAT = "genorisk-bundle"
BUNDLE_MANIFEST = "bundle.json"
#: The bundle layout this genorisk writes and reads (``bundle.json`` ``format_version``).
FORMAT_VERSION = 1


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

    Returns
    -------
    dict
        The manifest written as ``bundle.json``.

    Raises
    ------
    InputError
        Naming the file: a model artifact :func:`genorisk.model.load_model`
        refuses, or sites without the four columns.
    """
    folder, model_dir = Path(folder), Path(model_dir)
    load_model(model_dir)
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
        ``bundle_sha256`` does not match its contents, an unknown
        ``format_version``, or a manifest missing a required file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "model bundle folder does not exist")
    manifest = read_bundle_manifest(folder)
    path = folder / BUNDLE_MANIFEST
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(
            path,
            f"bundle format_version {manifest.get('format_version')!r} is not {FORMAT_VERSION} "
            f"(genorisk {genorisk.__version__} reads version {FORMAT_VERSION})",
        )
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
        ``bundle.json``: ``trait``, ``covariates``, ``files``...
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


# --- the no-individual-data check ---------------------------------------------

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
