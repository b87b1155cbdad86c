"""The model artifact: a directory of JSON and XGBoost UBJSON files, never a pickle.

:func:`save_model` writes every file atomically, the model card last (with the
SHA-256 of every other file); :func:`load_model` refuses pickles, changed
files and malformed parts, naming the file.
"""

from __future__ import annotations

import gzip
import json
import pickletools
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from genorisk.errors import InputError
from genorisk.io import atomic_output, read_json, sha256_file, write_json
from genorisk.model.baseline import LinearOffset
from genorisk.model.calibration import Calibrator
from genorisk.model.config import ModelConfig
from genorisk.model.inputs import validate_schema
from genorisk.model.interactions import terms_from_dict, terms_to_dict
from genorisk.model.train import N_COHORT_QUANTILES, TrainedModel

ARTIFACT_FILES = (
    "model.ubj",
    "linear_offset.json",
    "interactions.json",
    "features.schema.json",
    "calibrator.json",
    "cohort_risks.json",
    "metrics.json",
    "model_card.md",
)


def _package_versions() -> dict[str, str]:
    import scipy
    import sklearn

    import genorisk

    return {
        "python": platform.python_version(),
        "genorisk": genorisk.__version__,
        "xgboost": xgb.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
    }


def _fmt_metric(m: Mapping[str, Any] | None) -> str:
    if not m:
        return "n/a"
    if m.get("ci_low") is None:
        return f"{m['estimate']:.3f}"
    return f"{m['estimate']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"


def baseline_comparison(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """Whether the model beats its logistic baseline, in numbers and in words.

    Parameters
    ----------
    metrics : mapping
        ``metrics.json`` (:func:`genorisk.model.train_model`): ``baseline``,
        ``baseline_features`` and ``roc_auc_difference["model-baseline"]``
        (paired bootstrap).

    Returns
    -------
    dict or None
        ``name``, ``auc`` (the baseline's), ``difference`` (model minus
        baseline ROC AUC), ``difference_ci`` ([low, high], or None without
        bootstrap), ``beats_baseline`` (True only when the CI lies above 0) and
        ``statement``, one sentence for the model card and the reports. None
        when no baseline was fitted.
    """
    diff = (metrics.get("roc_auc_difference") or {}).get("model-baseline")
    baseline = metrics.get("baseline")
    if not diff or not baseline:
        return None
    features = metrics.get("baseline_features") or []
    name = "logistic baseline" + (f" ({', '.join(features)})" if features else "")
    has_ci = diff.get("ci_low") is not None
    ci = [float(diff["ci_low"]), float(diff["ci_high"])] if has_ci else None
    beats = ci is not None and ci[0] > 0
    numbers = f"AUC difference {diff['estimate']:+.3f}" + (
        f", 95% CI {ci[0]:+.3f} to {ci[1]:+.3f}" if ci is not None else " (no confidence interval: no bootstrap)"
    )
    if beats:
        statement = f"beats the logistic baseline: {numbers}."
    elif ci is None:
        statement = f"not shown to beat the logistic baseline: {numbers}."
    else:
        statement = f"did not beat the logistic baseline: {numbers}."
    return {
        "name": name,
        "auc": float(baseline["roc_auc"]["estimate"]),
        "difference": float(diff["estimate"]),
        "difference_ci": ci,
        "beats_baseline": bool(beats),
        "statement": statement,
    }


def _model_card_markdown(card: Mapping[str, Any]) -> str:
    m = card["metrics"]
    trait = card.get("trait")
    comparison = card.get("baseline_comparison")
    lines = [
        "# Model card: genorisk gradient-boosted risk model" + (f" for {trait['name']}" if trait else ""),
        "",
        f"Trained {card['created']} with genorisk {card['versions']['genorisk']}, "
        f"XGBoost {card['versions']['xgboost']}.",
        "",
    ]
    if comparison is not None:
        subject = f"The model of {trait['name']}" if trait else "The model"
        lines += [f"**{subject} {comparison['statement']}**", ""]
    shipped = m.get("shipped")
    if shipped:
        which = (
            "the gradient-boosted model (trees on the features and the screened interaction terms)"
            if shipped["model"] == "boosted"
            else "the strong linear baseline, no trees (a booster of 0 rounds on the linear margin)"
        )
        lines += [f"**Shipped: {which}.** Rule, fixed before evaluation: {shipped['rule']}. {shipped['reason']}.", ""]
    lines += [
        "## Intended use",
        "",
        card["intended_use"],
        "",
        "## Training data",
        "",
        f"- samples: {m['data']['n_samples']} ({m['data']['n_cases']} cases)",
        f"- features: {m['data']['n_features']} ({m['data']['n_dosage_features']} dosage; "
        f"{m['data']['n_model_features']} used by the final model)",
        f"- training data SHA-256: {card['training_data_sha256'] or 'not given'}",
        "",
        "## Performance (out-of-fold, nested CV; 95% bootstrap CI)",
        "",
        "| | ROC AUC | PR AUC | Brier | ECE |",
        "|---|---|---|---|---|",
    ]
    for name in ("model", "model_uncalibrated", "baseline", "baseline_external"):
        if m.get(name):
            row = m[name]
            lines.append(
                f"| {name} | {_fmt_metric(row['roc_auc'])} | {_fmt_metric(row['pr_auc'])} | "
                f"{_fmt_metric(row['brier'])} | {_fmt_metric(row['ece'])} |"
            )
    if m.get("baseline_features"):
        lines += ["", f"Baseline: logistic regression on {', '.join(m['baseline_features'])}."]
    if m.get("in_cohort_score"):
        final = m["in_cohort_score"].get("final") or {}
        lines += [
            "",
            f"In-cohort polygenic score: {m['in_cohort_score']['method']}; the final one uses "
            f"{final.get('n_variants', 'n/a')} variants (sizes {final.get('sizes', 'n/a')}, ridge lambda "
            f"{final.get('penalty_factors', final.get('penalty_factor', 'n/a'))} x n, stack coefficients "
            f"{final.get('stack_coefficients', 'n/a')}"
            + (
                f"; the elastic net has {final['elastic_net']['nonzero']} non-zero weights of the top "
                f"{final['elastic_net']['n_variants']}, penalty {final['elastic_net']['alpha_factor']} x the "
                "smallest that zeroes them all)"
                if final.get("elastic_net")
                else ")"
            )
            + (
                f" and {final['burden']['n_genes']} gene-burden columns (ridge lambda "
                f"{final['burden']['penalty_factor']} x n)."
                if final.get("burden")
                else "."
            ),
        ]
    screen = m.get("interaction_screen")
    if screen:
        final = screen.get("final") or {}
        kept = ", ".join(f"{t['name']} (z {t['z']})" for t in final.get("terms", [])) or "none passed"
        used = (
            f"; the shipped model's trees have them as columns: {', '.join(screen['in_shipped_model'])}"
            if screen.get("in_shipped_model")
            else "; the shipped model uses none"
        )
        lines += [
            "",
            f"Interaction screen: {screen['method']}. On all rows, {final.get('candidates', 'n/a')} candidates, "
            f"threshold |z| > {final.get('threshold_z', 'n/a')}: {kept}{used}.",
        ]
    if comparison is not None:
        lines += ["", f"Against the baseline: {comparison['statement']}"]
    if "truth" in m:
        t = m["truth"]
        lines += [
            "",
            f"Simulated truth: AUC ceiling {t['auc_ceiling']:.3f} (Wray et al. 2010); "
            f"model reaches {t['auc_over_ceiling']:.1%} of it.",
        ]
    if card.get("trait"):
        t = card["trait"]
        lines += [
            "",
            f"## Trait: {t['name']}",
            "",
            f"- id {t['id']}, phenotype column {t['column']}; time frame: {t['time_frame'] or 'not given'}",
            f"- cohort case fraction {t['cohort_case_fraction']:.4f}; population prevalence "
            + (f"{t['prevalence']:.4f} ({t['population'] or 'population not named'})" if t["prevalence"] else "none"),
            f"- absolute risk: {t['anchoring']}",
        ]
    if card.get("ancestry_limit"):
        a = card["ancestry_limit"]
        lines += ["", "## Ancestry limit", "", f"- {a.get('method', 'in-sample quantile of the cohort distances')}"]
        if a.get("heldout_flag_rate") is not None:
            lines.append(
                f"- Mahalanobis distance over {a['n_pcs']} PCs above {a['threshold']:.3f} is flagged; "
                f"{a['heldout_flag_rate']:.2%} of held-out cohort people are (target {a['outlier_rate']:.2%})"
            )
    lines += ["", "## Limits", ""] + [f"- {item}" for item in card["limits"]]
    lines += ["", "## Configuration", "", "```json", json.dumps(card["config"], indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def trait_card(trait: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The model card's ``trait`` section: the trait, its prevalence and how absolute risk is anchored.

    Parameters
    ----------
    trait : mapping
        ``id``, ``name``, ``column``, ``prevalence``, ``population``, ``time_frame``.
    data : mapping
        ``metrics["data"]`` (``n_samples``, ``n_cases``).
    """
    fraction = data["n_cases"] / data["n_samples"]
    prevalence = trait.get("prevalence")
    if prevalence is None:
        anchoring = "calibrated to the cohort's case fraction (no population prevalence configured)"
    else:
        anchoring = (
            "calibrated risk re-anchored from the cohort's case fraction p_c to the population prevalence pi "
            "by the prior-shift correction of the odds: odds' = odds x [pi/(1-pi)] / [p_c/(1-p_c)] "
            "(Elkan 2001, IJCAI; Saerens, Latinne & Decaestecker 2002, Neural Comput 14:21)"
        )
    return {
        "id": trait["id"],
        "name": trait["name"],
        "column": trait.get("column", "status"),
        "prevalence": prevalence,
        "population": trait.get("population"),
        "time_frame": trait.get("time_frame"),
        "cohort_case_fraction": float(fraction),
        "anchoring": anchoring,
    }


INTENDED_USE = (
    "Research estimate of disease risk for people like the training cohort, from the features in "
    "features.schema.json. Not a diagnosis; not validated for clinical decisions."
)
LIMITS = [
    "Valid only for people drawn from the same population, ancestry mix, genotyping and feature pipeline "
    "as the training cohort; transfer across ancestries is usually worse.",
    "Risks are calibrated to the case fraction of the training cohort and re-anchored to the configured "
    "population prevalence by the prior-shift correction of the odds (Elkan 2001; Saerens et al. 2002), which "
    "assumes the cohort's cases and controls are representative of the population's; without a configured "
    "prevalence the cohort's case fraction is used.",
    "The risk interval reflects the uncertainty of the calibration curve in this cohort, not the "
    "variance of refitting the trees.",
    "Drivers are TreeSHAP contributions (log-odds) of this model; they are associations, not causes.",
]


def save_model(
    model: TrainedModel,
    outdir: str | Path,
    *,
    training_data_sha256: str | None = None,
    trait: Mapping[str, Any] | None = None,
    score_context: Mapping[str, Any] | None = None,
) -> Path:
    """Write the model artifact directory; every file is written atomically.

    Files: ``model.ubj`` (XGBoost UBJSON), ``features.schema.json``,
    ``linear_offset.json``, ``interactions.json`` (the screened interaction
    terms, the booster's last columns: names, centres and scales only),
    ``calibrator.json``, ``cohort_risks.json`` (1001 quantiles of the
    cohort's calibrated OOF risks, no per-person values), ``metrics.json``,
    ``model_card.md`` and, last, ``model_card.json`` (config, parameters,
    package versions, metrics, intended use, limits, the trait, whether the
    model beats its logistic baseline (:func:`baseline_comparison`, said in
    words in both cards) and the SHA-256 of every other file, checked by
    :func:`load_model`).

    Parameters
    ----------
    model : TrainedModel
        From :func:`genorisk.model.train_model`.
    outdir : str or Path
        Artifact directory; created if missing.
    training_data_sha256 : str, optional
        SHA-256 of the feature matrix, recorded in the model card.
    trait : mapping, optional
        The trait modelled (:func:`genorisk.model.trait_settings`): its name,
        population, time frame and prevalence go into the card with the
        prior-shift re-anchoring (:func:`genorisk.model.calibration.prior_shift`).
    score_context : mapping, optional
        :func:`genorisk.model.score_context.polygenic_score_context`, stored in
        ``cohort_risks.json`` under ``polygenic_scores`` (aggregates only).

    Returns
    -------
    Path
        ``outdir``.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with atomic_output(outdir / "model.ubj") as tmp:
        model.booster.save_model(str(tmp))
    write_json(outdir / "features.schema.json", model.schema)
    write_json(outdir / "linear_offset.json", model.offset.to_dict() if model.offset else {"features": []})
    write_json(outdir / "interactions.json", terms_to_dict(model.interactions))
    write_json(outdir / "calibrator.json", model.calibrator.to_dict())
    write_json(
        outdir / "cohort_risks.json",
        {
            "description": "quantiles of the training cohort's calibrated out-of-fold risks",
            "probabilities": np.linspace(0, 1, N_COHORT_QUANTILES).round(4).tolist(),
            "risk_quantiles": [float(v) for v in model.cohort_quantiles],
            "n_samples": model.metrics["data"]["n_samples"],
            **({"polygenic_scores": dict(score_context)} if score_context is not None else {}),
        },
    )
    # Run-dependent figures (wall time) go to the card beside "created", so
    # metrics.json is identical across reruns of the same data and config.
    metrics = {k: v for k, v in model.metrics.items() if k != "training_seconds"}
    write_json(outdir / "metrics.json", metrics)
    card = {
        "model": "genorisk gradient-boosted risk model",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training_seconds": model.metrics.get("training_seconds"),
        "training_data_sha256": training_data_sha256,
        "config": model.config.to_dict(),
        "params": model.params,
        "n_rounds": model.n_rounds,
        "features_used": model.feature_names,
        "versions": _package_versions(),
        "metrics": metrics,
        "intended_use": INTENDED_USE,
        "limits": LIMITS,
    }
    if trait is not None:
        card["trait"] = trait_card(trait, model.metrics["data"])
    card["baseline_comparison"] = baseline_comparison(metrics)
    ancestry_limit = (model.schema.get("ancestry") or {}).get("distance")
    if ancestry_limit is not None:
        card["ancestry_limit"] = ancestry_limit
    with atomic_output(outdir / "model_card.md") as tmp:
        tmp.write_text(_model_card_markdown(card))
    card["files_sha256"] = {name: sha256_file(outdir / name) for name in ARTIFACT_FILES}
    write_json(outdir / "model_card.json", card)
    return outdir


def is_pickle(path: str | Path) -> bool:
    """True when the file's bytes are a Python pickle (any protocol), whatever its name.

    Parameters
    ----------
    path : str or Path
        Any file.

    Returns
    -------
    bool

    Notes
    -----
    Protocol 2+ starts with ``0x80`` and the protocol byte; protocols 0-1 are
    recognised by parsing opcodes with :func:`pickletools.genops`, which reads
    but never executes them. A gzip-compressed pickle (joblib) is looked into.
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(1 << 16)
        except OSError:
            return False
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if not head or head[:1] in (b"{", b"[", b"#", b"\n", b" "):  # JSON, UBJSON and text
        return False
    try:
        for opcode, _arg, _pos in pickletools.genops(head):
            if opcode.name == "STOP":
                return True
    except Exception:  # noqa: BLE001 - any parse failure means "not a pickle"
        return False
    return False


def load_model(outdir: str | Path) -> TrainedModel:
    """Load an artifact written by :func:`save_model`.

    Parameters
    ----------
    outdir : str or Path
        Artifact directory.

    Returns
    -------
    TrainedModel
        Without the training-only fields (``oof_margin``, ``oof_predictions``).

    Raises
    ------
    InputError
        Naming the file: any pickle in the directory whatever its name, a
        missing file, a ``model.ubj`` that is not UBJSON, a file whose SHA-256
        differs from the model card's, or a malformed part.
    """
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise InputError(outdir, "model directory does not exist")
    for path in sorted(outdir.iterdir()):
        if path.is_file() and is_pickle(path):
            raise InputError(
                path,
                "is a Python pickle; genorisk never loads pickles (they can run code). "
                "Retrain and save with genorisk.model.save_model",
            )
    for name in ARTIFACT_FILES + ("model_card.json",):
        if not (outdir / name).is_file():
            raise InputError(outdir / name, "missing model artifact file")
    card = read_json(outdir / "model_card.json")
    for name, digest in card.get("files_sha256", {}).items():
        if sha256_file(outdir / name) != digest:
            raise InputError(outdir / name, "SHA-256 differs from model_card.json: file changed after training")
    with open(outdir / "model.ubj", "rb") as fh:
        if fh.read(1) != b"{":
            raise InputError(outdir / "model.ubj", "not an XGBoost UBJSON model")
    booster = xgb.Booster()
    booster.load_model(str(outdir / "model.ubj"))
    schema = read_json(outdir / "features.schema.json")
    validate_schema(schema, path=str(outdir / "features.schema.json"))
    calibrator = Calibrator.from_dict(read_json(outdir / "calibrator.json"), path=str(outdir / "calibrator.json"))
    cohort = read_json(outdir / "cohort_risks.json")
    try:
        config = ModelConfig.from_dict(card["config"], source=str(outdir / "model_card.json"))
    except ValueError as err:  # a card written by another genorisk version
        raise InputError(outdir / "model_card.json", f"config: {err}") from err
    offset = LinearOffset.from_dict(read_json(outdir / "linear_offset.json"), path=str(outdir / "linear_offset.json"))
    interactions = terms_from_dict(read_json(outdir / "interactions.json"), path=str(outdir / "interactions.json"))
    names = booster.feature_names or []
    if [t.name for t in interactions] != names[len(names) - len(interactions) :]:
        raise InputError(outdir / "interactions.json", "its terms are not the model's last columns (model.ubj)")
    schema_names = {f["name"] for f in schema["features"]}
    for term in interactions:
        if not set(term.features) <= schema_names:
            raise InputError(outdir / "interactions.json", f"term {term.name!r} uses features not in the schema")
    booster.set_param({"nthread": config.threads})
    return TrainedModel(
        booster=booster,
        schema=schema,
        config=config,
        params=card["params"],
        n_rounds=int(card["n_rounds"]),
        calibrator=calibrator,
        cohort_quantiles=np.asarray(cohort["risk_quantiles"], dtype=np.float64),
        metrics=read_json(outdir / "metrics.json"),
        offset=offset,
        interactions=interactions,
    )
