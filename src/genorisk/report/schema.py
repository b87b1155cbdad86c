"""The report contracts: the packaged JSON Schemas and the cross-field rules beyond them.

``schemas/report.schema.json`` (a patient's ``result.json`` / ``report.json``)
and ``schemas/cohort_report.schema.json`` (the cohort summary) are the single
source of truth of the formats; this module checks documents against them,
refuses NaN and infinity (which JSON Schema lets pass) and adds the rules a
schema cannot say (an interval contains its probability, quantiles do not
decrease, ``n_matched <= n_variants``, ...). Every failure is an `InputError`
naming the file, the patient and the field.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, NoReturn

import jsonschema
import numpy as np
import referencing

from genorisk.errors import InputError


@functools.cache
def load_schema(name: str) -> dict:
    """Return the packaged JSON Schema ``name`` (``"report"`` or ``"cohort_report"``)."""
    text = resources.files("genorisk").joinpath("schemas", f"{name}.schema.json").read_text()
    return json.loads(text)


@functools.cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    # Both schemas go in one registry so the cohort schema can reuse the
    # model card definition of the patient schema by relative $ref.
    schemas = {n: load_schema(n) for n in ("report", "cohort_report")}
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s)) for s in schemas.values()
    )
    cls = jsonschema.validators.validator_for(schemas[name])
    return cls(schemas[name], registry=registry, format_checker=cls.FORMAT_CHECKER)


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _non_finite(obj: Any, path: tuple = ()) -> tuple | None:
    """Path of the first NaN or infinity in ``obj`` (JSON Schema lets them pass)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return path
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if (p := _non_finite(v, path + (k,))) is not None:
                return p
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            if (p := _non_finite(v, path + (i,))) is not None:
                return p
    return None


def _schema_check(name: str, doc: Any, source, who: str) -> None:
    if (bad := _non_finite(doc)) is not None:
        raise InputError(source, "value is NaN or infinite", record=f"{who}{_dotted(bad)}")
    validator = _validator(name)
    if validator.is_valid(doc):  # the common case, about 25% faster than collecting errors
        return
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        err = errors[0]
        message = err.message if len(err.message) <= 300 else err.message[:297] + "..."
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InputError(source, f"{message}{more}", record=f"{who}{_dotted(err.absolute_path)}")


def validate_result(result: Mapping, *, source: str | os.PathLike | None = None) -> None:
    """Check a patient result against ``report.schema.json`` (schema 4) and its cross-field rules.

    Parameters
    ----------
    result : mapping
        A patient result (an entry of ``results.json``) or a report (``report.json``).
    source : path, optional
        The file it came from, named in errors.

    Raises
    ------
    InputError
        Naming the file, the patient and the field (``traits[1].risk.interval``)
        and the problem. Beyond the schema: no NaN/infinity; trait ids unique;
        per trait, a withheld risk has no numbers and a reason, any other has
        all of them with ``interval[0] <= probability <= interval[1]``, and a
        widened one its ``interval_note``; cohort quantiles non-decreasing;
        ``n_matched <= n_variants`` and ``match_rate`` equal to their ratio (to
        1e-3); a driver's ``direction`` agrees with the sign of its
        ``contribution``; ``n_model_variants_missing <= n_model_variants``;
        ``auc_ci`` contains ``auc``; a baseline's ``difference_ci`` contains its
        ``difference``, and ``beats_baseline`` only when that CI lies above 0; in
        ``pharmacogenomics``, a gene not called or partly called says why, a
        gene's phenotype is its diplotypes' (``Indeterminate`` when tied ones
        differ) and a drug's ``actionable`` agrees with its recommendations.
    """
    pid = result.get("patient_id") if isinstance(result, Mapping) else None
    who = f"patient {pid}: " if isinstance(pid, str) else ""
    _schema_check("report", result, source, who)

    def fail(field_path: str, problem: str) -> NoReturn:
        raise InputError(source, problem, record=f"{who}{field_path}")

    seen: dict[str, int] = {}
    for i, entry in enumerate(result["traits"]):
        trait_id = entry["trait"]["id"]
        if trait_id in seen:
            fail(f"traits[{i}].trait.id", f"trait {trait_id!r} is listed twice (also traits[{seen[trait_id]}])")
        seen[trait_id] = i
        _check_trait(entry, f"traits[{i}].", fail)
    if result["pharmacogenomics"] is not None:
        _check_pharmacogenomics(result["pharmacogenomics"], fail)


def _check_trait(entry: Mapping, at: str, fail: Callable[[str, str], NoReturn]) -> None:
    """The cross-field rules of one trait's result (``at``: its path prefix, e.g. ``traits[0].``)."""
    risk = entry["risk"]
    shown = [risk["probability"] is not None, risk["interval"] is not None, risk["percentile"] is not None]
    if risk["status"] == "withheld":
        if any(shown) or not risk["withheld_reason"]:
            fail(f"{at}risk", "a withheld risk has no probability, interval or percentile, and gives withheld_reason")
    else:
        if not all(shown):
            fail(f"{at}risk", f"a {risk['status']} risk needs its probability, interval and percentile")
        lo, hi = risk["interval"]
        if not lo <= risk["probability"] <= hi:
            fail(f"{at}risk.interval", f"interval [{lo}, {hi}] does not contain the probability {risk['probability']}")
        if risk["status"] == "widened" and not risk["interval_note"]:
            fail(f"{at}risk.interval_note", "a widened interval says why it is wide")
    dist = entry["cohort_distribution"]
    if dist is not None:
        q = np.asarray(dist["quantiles"], dtype=float)
        if (steps := np.flatnonzero(np.diff(q) < 0)).size:
            i = int(steps[0]) + 1
            fail(f"{at}cohort_distribution.quantiles[{i}]", f"quantiles decrease ({q[i - 1]} then {q[i]})")
    for i, score in enumerate(entry["polygenic_scores"] or []):
        n, m = score["n_variants"], score["n_matched"]
        if m > n:
            fail(f"{at}polygenic_scores[{i}]", f"n_matched {m} > n_variants {n}")
        if n and abs(score["match_rate"] - m / n) > 1e-3:
            fail(
                f"{at}polygenic_scores[{i}].match_rate",
                f"match_rate {score['match_rate']} != n_matched/n_variants {m / n:.4f}",
            )
    for i, d in enumerate(entry["drivers"] or []):
        c = d["contribution"]
        if (c > 0 and d["direction"] != "raises risk") or (c < 0 and d["direction"] != "lowers risk"):
            fail(f"{at}drivers[{i}].direction", f"direction {d['direction']!r} contradicts contribution {c}")
    cov = entry["coverage"]
    if cov["n_model_variants_missing"] > cov["n_model_variants"]:
        fail(
            f"{at}coverage.n_model_variants_missing",
            f"{cov['n_model_variants_missing']} missing of {cov['n_model_variants']} model variants",
        )
    _check_model_card(entry["model"], fail, at=f"{at}model")


def _check_pharmacogenomics(pgx: Mapping, fail: Callable[[str, str], NoReturn]) -> None:
    """The Medicines section's rules beyond the schema.

    A called section names its build and definitions, one not called says why. Per gene: listed
    once; a call has diplotypes (a partial one its missing positions and reason), a gene not
    called its reason, and the phenotype is the one shared by every listed diplotype, the tied
    ones and those not ruled out because of missing positions (``Indeterminate`` when they
    differ). Per drug: ``actionable`` says whether any gene has a recommendation,
    ``changes_prescribing`` whether any gene's recommendation departs from standard
    prescribing; a gene without a recommendation says why and changes nothing.
    """
    where = "pharmacogenomics"
    if pgx["status"] == "called":
        if pgx["genome_build"] is None or pgx["definitions"] is None:
            fail(where, "a called section names its genome_build and definitions")
    elif not (pgx["reason"] or pgx["error"]):
        fail(where, f"a {pgx['status']} section says why (reason or error)")
    seen: set[str] = set()
    for i, g in enumerate(pgx["genes"]):
        at = f"{where}.genes[{i}]"
        if g["gene"] in seen:
            fail(f"{at}.gene", f"gene {g['gene']} is listed twice")
        seen.add(g["gene"])
        if g["status"] == "not_called":
            if not g["reason"]:
                fail(f"{at}.reason", f"{g['gene']} is not called but gives no reason")
            continue
        if not g["diplotypes"]:
            fail(f"{at}.diplotypes", f"{g['gene']} is {g['status']} but lists no diplotype")
        if g["status"] == "partial" and not (g["missing_positions"] and g["reason"]):
            fail(f"{at}.missing_positions", f"{g['gene']} is partial but lists no missing position or reason")
        phenotypes = {d["phenotype"] for d in g["diplotypes"]}
        expected = phenotypes.pop() if len(phenotypes) == 1 else "Indeterminate"
        if g["phenotype"] != expected:
            fail(f"{at}.phenotype", f"phenotype {g['phenotype']!r}, but its diplotypes give {expected!r}")
    for i, d in enumerate(pgx["drugs"]):
        at = f"{where}.drugs[{i}]"
        if d["actionable"] != any(e["recommendation"] for e in d["genes"]):
            fail(f"{at}.actionable", f"actionable is {d['actionable']} but the recommendations say otherwise")
        if d["changes_prescribing"] != any(e["changes_prescribing"] for e in d["genes"]):
            fail(f"{at}.changes_prescribing", f"changes_prescribing is {d['changes_prescribing']}; its genes disagree")
        for j, e in enumerate(d["genes"]):
            if not e["recommendation"] and not e.get("reason"):
                fail(f"{at}.genes[{j}].reason", f"{d['drug']}: {e['gene']} has no recommendation and no reason")
            if (e["changes_prescribing"] is None) != (e["recommendation"] is None):
                fail(
                    f"{at}.genes[{j}].changes_prescribing",
                    f"{d['drug']}: {e['gene']} changes_prescribing is null exactly when there is no recommendation",
                )


def _check_model_card(model: Mapping, fail: Callable[[str, str], NoReturn], at: str = "model") -> None:
    """``auc_ci`` contains ``auc``; a baseline's ``difference_ci`` holds ``difference`` and backs ``beats_baseline``."""
    if model["auc_ci"] is not None:
        if model["auc"] is None:
            fail(f"{at}.auc", "auc is null but auc_ci is given")
        lo, hi = model["auc_ci"]
        if not lo <= model["auc"] <= hi:
            fail(f"{at}.auc_ci", f"auc_ci [{lo}, {hi}] does not contain the auc {model['auc']}")
    base = model.get("baseline")
    if base is None:
        return
    ci = base["difference_ci"]
    if ci is not None and not ci[0] <= base["difference"] <= ci[1]:
        fail(f"{at}.baseline.difference_ci", f"difference_ci {ci} does not contain the difference {base['difference']}")
    if base["beats_baseline"] and (ci is None or ci[0] <= 0):
        fail(
            f"{at}.baseline.beats_baseline",
            "beats_baseline is true but the CI of the difference does not lie above 0",
        )


def check_cohort_summary(cohort: Mapping, *, source: str | os.PathLike | None = None) -> None:
    """Check a cohort summary against ``cohort_report.schema.json`` (schema 3) and its cross-field rules.

    Beyond the schema: ``n_passed <= n_samples``; score ``n_matched <=
    n_variants``; trait ids unique; per trait, ``n_cases + n_controls ==
    n_samples``, ROC ``fpr``/``tpr``, PR ``recall``/``precision`` and the
    calibration arrays have equal lengths, ``auc_ci`` contains ``auc`` (model
    and baselines) and a baseline comparison is consistent
    (``difference_ci`` contains ``difference``; ``beats_baseline`` only
    above 0). Raises `InputError` naming the field.
    """
    _schema_check("cohort_report", cohort, source, "")

    def fail(field_path: str, problem: str) -> NoReturn:
        raise InputError(source, problem, record=field_path)

    qc = cohort["qc"]
    if qc["n_passed"] > qc["n_samples"]:
        fail("qc.n_passed", f"n_passed {qc['n_passed']} > n_samples {qc['n_samples']}")
    _check_scores(cohort["scores"], "scores", fail)
    seen: dict[str, int] = {}
    for k, section in enumerate(cohort["traits"]):
        at = f"traits[{k}]"
        tid = section["trait"]["id"]
        if tid in seen:
            fail(f"{at}.trait.id", f"trait {tid!r} is listed twice (also traits[{seen[tid]}])")
        seen[tid] = k
        c = section["cohort"]
        if c["n_cases"] + c["n_controls"] != c["n_samples"]:
            fail(f"{at}.cohort", f"{c['n_cases']} cases + {c['n_controls']} controls != {c['n_samples']} samples")
        perf = section["performance"]
        curves = [(f"{at}.performance", perf)] + [
            (f"{at}.performance.baselines[{i}]", b) for i, b in enumerate(perf["baselines"])
        ]
        for where, owner in curves:
            roc, pr = owner.get("roc"), owner.get("pr")
            if roc is not None and len(roc["fpr"]) != len(roc["tpr"]):
                fail(f"{where}.roc", f"fpr has {len(roc['fpr'])} points but tpr has {len(roc['tpr'])}")
            if pr is not None and len(pr["recall"]) != len(pr["precision"]):
                fail(f"{where}.pr", f"recall has {len(pr['recall'])} points but precision has {len(pr['precision'])}")
        cal = perf["calibration"]
        if cal is not None and not len(cal["predicted"]) == len(cal["observed"]) == len(cal["n"]):
            fail(f"{at}.performance.calibration", "predicted, observed and n differ in length")
        _check_scores(section["scores"], f"{at}.scores", fail)
        _check_model_card(section["model"], fail, at=f"{at}.model")
        for i, b in enumerate(perf["baselines"]):
            if b["auc_ci"] is not None and not b["auc_ci"][0] <= b["auc"] <= b["auc_ci"][1]:
                fail(
                    f"{at}.performance.baselines[{i}].auc_ci",
                    f"auc_ci {b['auc_ci']} does not contain the auc {b['auc']}",
                )


def _check_scores(scores: list | None, at: str, fail: Callable[[str, str], NoReturn]) -> None:
    for i, s in enumerate(scores or []):
        if s["n_matched"] > s["n_variants"]:
            fail(f"{at}[{i}]", f"n_matched {s['n_matched']} > n_variants {s['n_variants']}")
