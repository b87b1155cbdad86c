"""The portable model bundle: one folder per trait that scoring needs and nothing else.

A training run publishes each trait's bundle as ``<outdir>/model/<trait>/``;
a score-only run (config ``bundles:``) reads patients' features, risks and
reports from bundles alone. ``bundle.json`` (written last) names the bundle
format, the trait, the covariates and the SHA-256 of every file, and records
its own hash (``bundle_sha256``) over all of that.

These functions read only ``bundle.json`` (at workflow start-up); checking
every file's hash is :func:`verify_bundle`'s job, at the start of each job
that uses a bundle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genorisk.errors import ConfigError, InputError
from genorisk.io import read_json

BUNDLE_FORMAT = "genorisk-bundle"
BUNDLE_MANIFEST = "bundle.json"


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
