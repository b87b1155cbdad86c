"""Per-patient and cohort reports a clinician can read and a program can parse.

A patient's ``result.json`` (written by the scoring step; its contract is
``schemas/report.schema.json``, the single source of truth) becomes

* ``report.json`` - the result, validated, plus a ``report`` section saying
  whether the result can be relied on and why not;
* ``report.html`` - one self-contained page: inline CSS and inline SVG charts,
  no scripts, nothing fetched from anywhere (a Content-Security-Policy in the
  page forbids it, so a browser refuses even if something slipped in);
* ``report.pdf`` - optional, the same page printed by WeasyPrint with a URL
  fetcher that refuses everything except ``data:`` URLs.

Everything is written owner-only (files 0600, folders 0700) and atomically:
all of a patient's files are rendered into temporaries first and renamed only
when every one of them is complete, so a failure leaves no partial report.

Every string that comes from a file reaches HTML (and SVG ``<text>``) through
Jinja2 with autoescaping on; the charts are drawn as SVG from numbers computed
here, never from pre-built markup.

Quality thresholds behind the derived concerns (``QC_THRESHOLDS``):

* ``min_call_rate`` 0.95 - the usual per-sample call-rate filter of GWAS QC
  (0.95-0.98); below it so many genotypes are missing that the estimate rests
  on less of the genome than the model was validated with.
* ``min_model_variant_coverage`` 0.90 - with more than a tenth of the model's
  variants missing the patient is scored by a different model than the one
  that was validated.
* ``min_score_match_rate`` 0.75 - pgsc_calc's rule: a polygenic score is used
  only if at least 75 % of its variants match.
* sex-check mismatch and ancestry outlier flags are concerns whenever set.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jinja2
import jsonschema
import markupsafe
import numpy as np
import referencing

from . import __version__
from .errors import InputError
from .io import atomic_output

log = logging.getLogger("genorisk.report")

QC_THRESHOLDS: dict[str, float] = {
    "min_call_rate": 0.95,
    "min_model_variant_coverage": 0.90,
    "min_score_match_rate": 0.75,
}

FILE_MODE = 0o600
DIR_MODE = 0o700

#: Shown for a section whose value is null (the stage was not configured).
NOT_CONFIGURED = {
    "cohort_distribution": "No reference cohort was scored in this run, so the risk cannot be placed "
    "within a population distribution.",
    "drivers": "Explanations were not computed in this run.",
    "notable_variants": "Not assessed: variant annotation (ClinVar and population frequencies) was "
    "not configured for this run. Absence of a table does not mean absence of clinically relevant variants.",
    "polygenic_scores": "No polygenic scoring files were configured for this run.",
}


# ----------------------------------------------------------------------------
# Schemas and validation
# ----------------------------------------------------------------------------


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
    """Check a patient result against ``report.schema.json`` and its cross-field rules.

    Parameters
    ----------
    result : mapping
        A patient result (``result.json``) or a report (``report.json``).
    source : path, optional
        The file it came from, named in errors.

    Raises
    ------
    InputError
        Naming the file, the patient and the field (``risk.interval``) and the
        problem. Beyond the schema: no NaN/infinity; ``interval[0] <=
        probability <= interval[1]``; cohort quantiles non-decreasing;
        ``n_matched <= n_variants`` and ``match_rate`` equal to their ratio
        (to 1e-3); a driver's ``direction`` agrees with the sign of its
        ``contribution``; ``auc_ci`` contains ``auc``.
    """
    pid = result.get("patient_id") if isinstance(result, Mapping) else None
    who = f"patient {pid}: " if isinstance(pid, str) else ""
    _schema_check("report", result, source, who)

    def fail(field_path: str, problem: str):
        raise InputError(source, problem, record=f"{who}{field_path}")

    risk = result["risk"]
    lo, hi = risk["interval"]
    if not lo <= risk["probability"] <= hi:
        fail("risk.interval", f"interval [{lo}, {hi}] does not contain the probability {risk['probability']}")
    dist = result["cohort_distribution"]
    if dist is not None:
        q = np.asarray(dist["quantiles"], dtype=float)
        if (steps := np.flatnonzero(np.diff(q) < 0)).size:
            i = int(steps[0]) + 1
            fail(f"cohort_distribution.quantiles[{i}]", f"quantiles decrease ({q[i - 1]} then {q[i]})")
    for i, score in enumerate(result["polygenic_scores"] or []):
        n, m = score["n_variants"], score["n_matched"]
        if m > n:
            fail(f"polygenic_scores[{i}]", f"n_matched {m} > n_variants {n}")
        if n and abs(score["match_rate"] - m / n) > 1e-3:
            fail(f"polygenic_scores[{i}].match_rate", f"match_rate {score['match_rate']} != n_matched/n_variants {m / n:.4f}")
    for i, d in enumerate(result["drivers"] or []):
        c = d["contribution"]
        if (c > 0 and d["direction"] != "raises risk") or (c < 0 and d["direction"] != "lowers risk"):
            fail(f"drivers[{i}].direction", f"direction {d['direction']!r} contradicts contribution {c}")
    _check_model_card(result["model"], fail)


def _check_model_card(model: Mapping, fail) -> None:
    if model["auc_ci"] is None:
        return
    if model["auc"] is None:
        fail("model.auc", "auc is null but auc_ci is given")
    lo, hi = model["auc_ci"]
    if not lo <= model["auc"] <= hi:
        fail("model.auc_ci", f"auc_ci [{lo}, {hi}] does not contain the auc {model['auc']}")


def validate_cohort(cohort: Mapping, *, source: str | os.PathLike | None = None) -> None:
    """Check a cohort summary against ``cohort_report.schema.json`` and its cross-field rules.

    Beyond the schema: ``n_passed <= n_samples``; ROC ``fpr``/``tpr`` and the
    calibration arrays have equal lengths; score ``n_matched <= n_variants``;
    ``auc_ci`` contains ``auc``. Raises `InputError` naming the field.
    """
    _schema_check("cohort_report", cohort, source, "")

    def fail(field_path: str, problem: str):
        raise InputError(source, problem, record=field_path)

    qc = cohort["qc"]
    if qc["n_passed"] > qc["n_samples"]:
        fail("qc.n_passed", f"n_passed {qc['n_passed']} > n_samples {qc['n_samples']}")
    perf = cohort["performance"]
    curves = [("performance.roc", perf["roc"])] + [
        (f"performance.baselines[{i}].roc", b.get("roc")) for i, b in enumerate(perf["baselines"])
    ]
    for where, roc in curves:
        if roc is not None and len(roc["fpr"]) != len(roc["tpr"]):
            fail(where, f"fpr has {len(roc['fpr'])} points but tpr has {len(roc['tpr'])}")
    cal = perf["calibration"]
    if cal is not None and not len(cal["predicted"]) == len(cal["observed"]) == len(cal["n"]):
        fail("performance.calibration", "predicted, observed and n differ in length")
    for i, s in enumerate(cohort["scores"] or []):
        if s["n_matched"] > s["n_variants"]:
            fail(f"scores[{i}]", f"n_matched {s['n_matched']} > n_variants {s['n_variants']}")
    _check_model_card(cohort["model"], fail)
    for i, b in enumerate(perf["baselines"]):
        if b["auc_ci"] is not None and not b["auc_ci"][0] <= b["auc"] <= b["auc_ci"][1]:
            fail(f"performance.baselines[{i}].auc_ci", f"auc_ci {b['auc_ci']} does not contain the auc {b['auc']}")


# ----------------------------------------------------------------------------
# Plain-language wording
# ----------------------------------------------------------------------------


def format_percent(p: float | None, digits: int = 1) -> str:
    """``0.1234 -> '12.3%'``; below 0.1 % -> ``'<0.1%'``; None -> ``'not available'``."""
    if p is None:
        return "not available"
    if 0 < p < 0.5 * 10 ** (-digits) / 100:
        return f"<{10 ** (-digits):g}%"
    return f"{100 * p:.{digits}f}%"


def natural_frequency(p: float) -> str:
    """Risk as a natural frequency: ``0.123 -> 'about 12 in 100'``, ``0.004 -> 'about 4 in 1,000'``."""
    if round(100 * p) >= 1:
        return f"about {round(100 * p)} in 100"
    if round(1000 * p) >= 1:
        return f"about {round(1000 * p)} in 1,000"
    return "fewer than 1 in 1,000"


def risk_in_words(p: float) -> str:
    """A sentence with the risk as a natural frequency (``0.123 -> 'Of 100 people ..., about 12 ...'``)."""
    if round(100 * p) >= 1:
        return f"Of 100 people with a result like this, about {round(100 * p)} would be expected to have the condition."
    if round(1000 * p) >= 1:
        return f"Of 1,000 people with a result like this, about {round(1000 * p)} would be expected to have the condition."
    return "Fewer than 1 in 1,000 people with a result like this would be expected to have the condition."


def ordinal(n: float) -> str:
    """``1 -> '1st'``, ``22 -> '22nd'``, ``13 -> '13th'`` (rounded to an integer first)."""
    k = int(round(n))
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def describe_percentile(percentile: float) -> str:
    """``84.2 -> 'higher than about 84 of every 100 people'`` (bounded to 1..99 so it is never absolute)."""
    k = min(99, max(1, round(percentile)))
    return f"higher than about {k} of every 100 people"


def assess_reliability(result: Mapping, thresholds: Mapping[str, float] | None = None) -> dict:
    """The ``report`` section: whether a result can be relied on, and why not.

    Parameters
    ----------
    result : mapping
        A validated patient result.
    thresholds : mapping, optional
        Overrides of `QC_THRESHOLDS` (same keys).

    Returns
    -------
    dict
        ``{"reliable": bool, "concerns": [{"code", "message"}], "qc_thresholds": {...}}``.
        Concerns are the stage ``warnings`` (code ``stage_warning``) followed by
        those derived here: ``low_call_rate``, ``low_model_coverage``,
        ``sex_mismatch``, ``ancestry_outlier``, ``model_not_evaluated``, ``low_score_match``.
    """
    t = {**QC_THRESHOLDS, **(thresholds or {})}
    unknown = set(t) - set(QC_THRESHOLDS)
    if unknown:
        raise ValueError(f"unknown QC threshold(s): {', '.join(sorted(unknown))}")
    qc = result["qc"]
    concerns: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(code: str, message: str) -> None:
        if message not in seen:
            seen.add(message)
            concerns.append({"code": code, "message": message})

    for w in result["warnings"]:
        add("stage_warning", w)
    if qc["call_rate"] < t["min_call_rate"]:
        add("low_call_rate", f"Genotype call rate is {format_percent(qc['call_rate'])}, below the "
            f"{format_percent(t['min_call_rate'], 0)} quality threshold: many genotypes are missing, so the "
            "estimate rests on less data than the model was validated with.")
    if qc["model_variant_coverage"] < t["min_model_variant_coverage"]:
        add("low_model_coverage", f"Only {format_percent(qc['model_variant_coverage'])} of the model's variants "
            f"were found in this sample ({qc['n_model_variants_missing']:,} missing; threshold "
            f"{format_percent(t['min_model_variant_coverage'], 0)}): the model was not validated on data like this.")
    if qc["sex_check"] == "mismatch":
        add("sex_mismatch", f"Recorded sex ({qc['recorded_sex'] or 'not recorded'}) does not match the sex inferred "
            f"from the genotypes ({qc['inferred_sex'] or 'unknown'}): possible sample mix-up. Resolve before use.")
    if qc["ancestry_outlier"]:
        dist = qc["ancestry_distance"]
        add("ancestry_outlier", "Genetic ancestry is far from that of the training cohort"
            + (f" (distance {dist:.2f})" if dist is not None else "")
            + ": the model's accuracy for this patient is unknown.")
    if result["model"]["auc"] is None:
        add("model_not_evaluated", "The model's accuracy was not evaluated on held-out data.")
    for s in result["polygenic_scores"] or []:
        if s["match_rate"] < t["min_score_match_rate"]:
            add("low_score_match", f"Polygenic score {s['id']} matched only {format_percent(s['match_rate'])} of its "
                f"variants ({s['n_matched']:,} of {s['n_variants']:,}; threshold "
                f"{format_percent(t['min_score_match_rate'], 0)}): that score is not reliable.")
    return {"reliable": not concerns, "concerns": concerns, "qc_thresholds": t}


# ----------------------------------------------------------------------------
# SVG charts: geometry computed here, drawn by templates/_svg.html.j2 so every
# text passes through Jinja's autoescaping.
# ----------------------------------------------------------------------------


# Chart styles as SVG presentation attributes rather than CSS: WeasyPrint's SVG
# renderer ignores the page stylesheet, browsers and printers all honour these.
_INK, _MUTED, _PATIENT, _BAD, _MODEL = "#1d2430", "#5b6573", "#b8452f", "#9b1c1c", "#3b5b8c"
SVG_STYLES: dict[str, dict[str, str]] = {
    "tick": {"font-size": "11", "fill": _MUTED},
    "axis-label": {"font-size": "12", "fill": _MUTED},
    "row-label": {"font-size": "12.5", "fill": _INK},
    "row-value": {"font-size": "12", "fill": _MUTED},
    "legend": {"font-size": "11.5", "fill": _INK},
    "grid": {"stroke": "#e3e7ec", "stroke-width": "1"},
    "axis": {"stroke": "#7d8794", "stroke-width": "1"},
    "diagonal": {"stroke": "#a9b1bc", "stroke-width": "1", "stroke-dasharray": "4 4"},
    "bar-cohort": {"fill": "#b9c6d8"},
    "band-patient": {"fill": _PATIENT, "fill-opacity": "0.14"},
    "mark-patient": {"stroke": _PATIENT, "stroke-width": "2.5"},
    "label-patient": {"font-size": "13", "font-weight": "bold", "fill": _PATIENT},
    "mark-average": {"stroke": _INK, "stroke-width": "1.5", "stroke-dasharray": "5 3"},
    "label-average": {"font-size": "12", "fill": _INK},
    "mark-ref": {"stroke": _BAD, "stroke-width": "1.5", "stroke-dasharray": "5 3"},
    "label-ref": {"font-size": "11.5", "fill": _BAD},
    "bar-raise": {"fill": _PATIENT},
    "bar-lower": {"fill": "#2f6db8"},
    "bar-model": {"fill": _MODEL},
    "bar-neutral": {"fill": "#8a96a6"},
    "bar-bad": {"fill": _BAD},
    "whisker": {"stroke": _INK, "stroke-width": "1.5"},
    "dir-raise": {"font-size": "12", "font-weight": "bold", "fill": _PATIENT},
    "dir-lower": {"font-size": "12", "font-weight": "bold", "fill": "#2f6db8"},
    "legend-bg": {"fill": "#ffffff", "fill-opacity": "0.9", "stroke": "#d5dae1"},
    "s0": {"stroke": _MODEL, "stroke-width": "2", "fill": "none"},
    "s1": {"stroke": "#c07a1a", "stroke-width": "2", "stroke-dasharray": "6 3", "fill": "none"},
    "s2": {"stroke": "#4d8a5f", "stroke-width": "2", "stroke-dasharray": "2 3", "fill": "none"},
    "s3": {"stroke": "#8b5a9e", "stroke-width": "2", "stroke-dasharray": "8 3 2 3", "fill": "none"},
    "s0-pt": {"fill": _MODEL},
}
# Pre-rendered attribute strings: constants of this module, never data.
_SVG_ATTRS = {cls: markupsafe.Markup("".join(f' {k}="{v}"' for k, v in attrs.items()))
              for cls, attrs in SVG_STYLES.items()}


@dataclass
class Chart:
    """A small SVG scene, drawn by ``templates/_svg.html.j2``.

    Each item is ``{"kind", "attrs", "text", "tip"}``: ``attrs`` is markup
    built here from numbers and `SVG_STYLES` constants only; ``text`` and
    ``tip`` (tooltip) are plain strings that the template escapes.
    """

    width: int
    height: int
    title: str
    items: list[dict] = field(default_factory=list)

    def _add(self, kind: str, cls: str, geometry: str, text: str | None = None, tip: str | None = None) -> None:
        attrs = markupsafe.Markup(f'{geometry} class="{cls}"') + _SVG_ATTRS[cls]
        self.items.append({"kind": kind, "attrs": attrs, "text": text, "tip": tip})

    def rect(self, x, y, w, h, cls, tip=None):
        self._add("rect", cls, f' x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}"', tip=tip)

    def line(self, x1, y1, x2, y2, cls):
        self._add("line", cls, f' x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"')

    def polyline(self, xs, ys, cls):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
        self._add("polyline", cls, f' points="{points}"')

    def circle(self, x, y, r, cls, tip=None):
        self._add("circle", cls, f' cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}"', tip=tip)

    def text(self, x, y, text, cls, anchor="start", rotate=False, tip=None):
        turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
        self._add("text", cls, f' x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{turn}', text=text, tip=tip)


def nice_ticks(lo: float, hi: float, target: int = 5) -> np.ndarray:
    """Round tick positions from ``lo`` (rounded down) to at least ``hi``, about ``target`` intervals.

    Steps are 1, 2, 2.5 or 5 x 10^k, so the last tick can serve as the axis end.
    """
    span = hi - lo
    if span <= 0:
        return np.array([lo])
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    return np.round(np.arange(start, stop + step / 2, step), 12)


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


class _Axes:
    """Linear mapping from data to pixels for a plot area."""

    def __init__(self, chart: Chart, left, top, right, bottom, xr, yr):
        self.c, self.l, self.t, self.r, self.b = chart, left, top, right, bottom
        self.xr, self.yr = xr, yr

    def x(self, v):
        return self.l + (v - self.xr[0]) / (self.xr[1] - self.xr[0]) * (self.r - self.l)

    def y(self, v):
        return self.b - (v - self.yr[0]) / (self.yr[1] - self.yr[0]) * (self.b - self.t)

    def frame(self, xticks, yticks, xfmt, yfmt, xlabel, ylabel, grid=True):
        c = self.c
        for v in yticks:
            if grid:
                c.line(self.l, self.y(v), self.r, self.y(v), "grid")
            c.text(self.l - 6, self.y(v) + 4, yfmt(v), "tick", "end")
        for v in xticks:
            c.line(self.x(v), self.b, self.x(v), self.b + 4, "axis")
            c.text(self.x(v), self.b + 17, xfmt(v), "tick", "middle")
        c.line(self.l, self.b, self.r, self.b, "axis")
        c.line(self.l, self.t, self.l, self.b, "axis")
        c.text((self.l + self.r) / 2, self.b + 36, xlabel, "axis-label", "middle")
        if ylabel:
            c.text(14, (self.t + self.b) / 2, ylabel, "axis-label", "middle", rotate=True)


def _pct_tick(v: float) -> str:
    return f"{100 * v:.3g}%"


def risk_histogram(quantiles: Sequence[float], edges: Sequence[float]) -> np.ndarray:
    """Share of the cohort in each bin ``[edges[i], edges[i+1])``, from its 101 risk quantiles.

    Parameters
    ----------
    quantiles : sequence of float, length 101
        Calibrated risk at the 0th, 1st, ..., 100th percentile (non-decreasing).
    edges : sequence of float
        Increasing bin edges.

    Returns
    -------
    ndarray, shape (len(edges) - 1,)
        Fractions (not percent). The cohort CDF is the linear interpolation of
        (quantile, percentile), i.e. risk is taken as uniform between adjacent
        quantiles; tied quantiles (a point mass) get a 1e-12 ramp so the
        interpolation is defined. Mass outside the edges is not counted.
    """
    q = np.asarray(quantiles, dtype=float)
    if q.shape != (101,):
        raise ValueError(f"expected 101 quantiles, got shape {q.shape}")
    q = q + np.arange(101) * 1e-12
    cdf = np.interp(np.asarray(edges, dtype=float), q, np.linspace(0.0, 1.0, 101), left=0.0, right=1.0)
    return np.diff(cdf)


def distribution_chart(quantiles: Sequence[float], probability: float, interval: Sequence[float],
                       prevalence: float | None, n_bins: int = 40) -> Chart:
    """Histogram of cohort risk (`risk_histogram`) with the patient, interval and prevalence marked."""
    top_value = max(quantiles[-1], interval[1], prevalence or 0.0, 1e-3)
    ticks = nice_ticks(0.0, top_value)
    x_max = float(ticks[-1])
    edges = np.linspace(0.0, x_max, n_bins + 1)
    mass = risk_histogram(quantiles, edges)
    y_ticks = nice_ticks(0.0, max(float(mass.max()), 1e-3) * 1.1, 4)
    c = Chart(720, 296, "Distribution of calibrated risk in the reference cohort")
    ax = _Axes(c, 64, 44, 700, 250, (0.0, x_max), (0.0, float(y_ticks[-1])))
    ax.frame(ticks, y_ticks, _pct_tick, lambda v: f"{100 * v:.3g}%", "Calibrated risk",
             "Share of cohort")
    bw = ax.x(edges[1]) - ax.x(edges[0])
    for i, m in enumerate(mass):
        c.rect(ax.x(edges[i]) + 0.5, ax.y(m), bw - 1, ax.y(0) - ax.y(m), "bar-cohort",
               tip=f"{format_percent(edges[i])}\u2013{format_percent(edges[i + 1])}: {format_percent(m)} of cohort")
    c.rect(ax.x(interval[0]), ax.t, max(ax.x(interval[1]) - ax.x(interval[0]), 2), ax.b - ax.t, "band-patient",
           tip=f"Uncertainty interval {format_percent(interval[0])}\u2013{format_percent(interval[1])}")
    px = ax.x(probability)
    c.line(px, ax.t, px, ax.b, "mark-patient")
    # A legend row above the plot names the lines; labels beside the lines
    # would collide with each other or the bars when the values are close.
    c.line(ax.l, 20, ax.l + 22, 20, "mark-patient")
    c.text(ax.l + 28, 24, f"This patient: {format_percent(probability)} (likely range "
           f"{format_percent(interval[0])}\u2013{format_percent(interval[1])})", "label-patient")
    if prevalence is not None:
        vx = ax.x(prevalence)
        c.line(vx, ax.t, vx, ax.b, "mark-average")
        c.line(ax.l + 400, 20, ax.l + 422, 20, "mark-average")
        c.text(ax.l + 428, 24, f"Population average: {format_percent(prevalence)}", "label-average")
    return c


def drivers_chart(drivers: Sequence[Mapping], max_rows: int = 10) -> Chart:
    """Diverging horizontal bars of the largest contributions (log-odds), largest first.

    Each row is labelled with the driver's plain-language label on the left and
    the odds factor ``exp(contribution)`` on the right.
    """
    rows = sorted(drivers, key=lambda d: -abs(d["contribution"]))[:max_rows]
    row_h, top = 26, 34
    height = top + row_h * len(rows) + 50
    c = Chart(720, height, "Largest influences on this patient's estimate")
    left, right = 290, 610
    ticks = nice_ticks(0.0, max((abs(d["contribution"]) for d in rows), default=1.0) or 1.0, 2)
    lim = float(ticks[-1])
    ax = _Axes(c, left, top, right, top + row_h * len(rows), (-lim, lim), (0, 1))
    mid = ax.x(0.0)
    c.text(mid - 8, top - 12, "\u2190 lowers risk", "dir-lower", "end")
    c.text(mid + 8, top - 12, "raises risk \u2192", "dir-raise", "start")
    for v in sorted({-t for t in ticks} | set(ticks)):
        c.line(ax.x(v), ax.t, ax.x(v), ax.b, "grid")
        c.text(ax.x(v), ax.b + 16, f"{v:+.2g}" if v else "0", "tick", "middle")
    for i, d in enumerate(rows):
        y = top + i * row_h
        v = d["contribution"]
        x0, x1 = sorted((mid, ax.x(v)))
        cls = "bar-raise" if v > 0 else "bar-lower"
        c.rect(x0, y + 5, max(x1 - x0, 1.5), row_h - 10, cls,
               tip=f"{d['label']} ({d['group']}): {d['direction']}, log-odds {v:+.3f}")
        c.text(left - 10, y + row_h / 2 + 4, _truncate(d["label"], 40), "row-label", "end", tip=d["label"])
        c.text(right + 12, y + row_h / 2 + 4, f"odds \u00d7{math.exp(v):.2f}", "row-value", "start")
    c.line(mid, ax.t, mid, ax.b, "axis")
    c.text(mid, ax.b + 36, "Contribution to the log-odds of the estimate", "axis-label", "middle")
    return c


def hbar_chart(rows: Sequence[Mapping], title: str, x_label: str, x_max: float, value_fmt,
               refs: Sequence[tuple[float, str]] = (), whiskers: bool = False) -> Chart:
    """Horizontal bars; rows are ``{"label", "value", "cls", "lo"?, "hi"?, "value_text"?}``.

    ``refs`` are labelled vertical reference lines (threshold, chance, ceiling);
    their labels are stacked one row apart above the bars so they never overlap.
    """
    row_h = 26
    top = 16 + 15 * len(refs)
    c = Chart(720, top + row_h * len(rows) + 48, title)
    ax = _Axes(c, 240, top, 560, top + row_h * len(rows), (0.0, x_max), (0, 1))
    for v in nice_ticks(0.0, x_max, 5):
        c.line(ax.x(v), ax.t, ax.x(v), ax.b, "grid")
        c.text(ax.x(v), ax.b + 16, value_fmt(v), "tick", "middle")
    for i, r in enumerate(rows):
        y = top + i * row_h
        c.rect(ax.l, y + 5, ax.x(r["value"]) - ax.l, row_h - 10, r.get("cls", "bar-neutral"),
               tip=f"{r['label']}: {r.get('value_text', value_fmt(r['value']))}")
        if whiskers and r.get("lo") is not None:
            ym = y + row_h / 2
            c.line(ax.x(r["lo"]), ym, ax.x(r["hi"]), ym, "whisker")
            c.line(ax.x(r["lo"]), ym - 5, ax.x(r["lo"]), ym + 5, "whisker")
            c.line(ax.x(r["hi"]), ym - 5, ax.x(r["hi"]), ym + 5, "whisker")
        c.text(ax.l - 10, y + row_h / 2 + 4, _truncate(r["label"], 34), "row-label", "end", tip=r["label"])
        c.text(ax.r + 10, y + row_h / 2 + 4, r.get("value_text", value_fmt(r["value"])), "row-value", "start")
    c.line(ax.l, ax.t, ax.l, ax.b, "axis")
    for j, (x, label) in enumerate(sorted(refs, key=lambda ref: ref[0])):
        ty = ax.t - 6 - 15 * j
        c.line(ax.x(x), ty + 2, ax.x(x), ax.b, "mark-ref")
        anchor = "end" if ax.x(x) > (ax.l + ax.r) / 2 else "start"
        c.text(ax.x(x) + (-5 if anchor == "end" else 5), ty + 4, label, "label-ref", anchor)
    c.text((ax.l + ax.r) / 2, ax.b + 36, x_label, "axis-label", "middle")
    return c


def curve_chart(series: Sequence[Mapping], title: str, x_label: str, y_label: str,
                limit: float = 1.0) -> Chart:
    """Square line chart over [0, limit]^2 with the diagonal.

    Series are ``{"name", "x", "y", "cls", "points"?, "tips"?}``; the legend
    sits in the bottom-right corner, which ROC and calibration curves leave empty.
    """
    c = Chart(440, 400, title)
    ax = _Axes(c, 56, 16, 424, 354, (0.0, limit), (0.0, limit))
    ticks = nice_ticks(0.0, limit, 5)
    ax.frame(ticks, ticks, lambda v: f"{v:g}", lambda v: f"{v:g}", x_label, y_label)
    c.line(ax.x(0), ax.y(0), ax.x(limit), ax.y(limit), "diagonal")
    for s in series:
        c.polyline([ax.x(v) for v in s["x"]], [ax.y(v) for v in s["y"]], s["cls"])
        if s.get("points"):
            for xv, yv, tip in zip(s["x"], s["y"], s.get("tips") or [None] * len(s["x"])):
                c.circle(ax.x(xv), ax.y(yv), 3.5, s["cls"] + "-pt", tip=tip)
    lw = 300
    lx, ly = ax.r - lw - 2, ax.b - 10 - 16 * len(series)
    c.rect(lx, ly - 4, lw, 16 * len(series) + 6, "legend-bg")
    for i, s in enumerate(series):
        yy = ly + 6 + 16 * i
        c.line(lx + 6, yy, lx + 26, yy, s["cls"])
        c.text(lx + 32, yy + 4, _truncate(s["name"], 44), "legend", "start", tip=s["name"])
    return c


# ----------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------


def _offline_fetcher():
    from weasyprint.urls import URLFetcher

    class OfflineURLFetcher(URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols=("data",), allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            if not url.startswith("data:"):
                self.refused.append(url)
                raise ValueError(f"genorisk reports load nothing from outside the file: refused {url[:80]}")
            return super().fetch(url, headers)

    return OfflineURLFetcher()


def html_to_pdf(html: str) -> bytes:
    """Print ``html`` to PDF with WeasyPrint, fetching nothing but ``data:`` URLs."""
    import weasyprint

    return weasyprint.HTML(string=html, url_fetcher=_offline_fetcher()).write_pdf()


def _secure_dir(path: Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    os.chmod(path, mode)  # mkdir's mode is filtered by the umask and ignored if it existed


class ReportRenderer:
    """Compiled templates and validators, shared by every report of a batch.

    Parameters
    ----------
    thresholds : mapping, optional
        Overrides of `QC_THRESHOLDS`.
    max_drivers : int
        How many drivers the chart shows (the JSON keeps all).
    file_mode, dir_mode : int
        Permissions of written files and folders (owner-only by default).
    """

    def __init__(self, *, thresholds: Mapping[str, float] | None = None, max_drivers: int = 10,
                 file_mode: int = FILE_MODE, dir_mode: int = DIR_MODE):
        unknown = set(thresholds or {}) - set(QC_THRESHOLDS)
        if unknown:
            raise ValueError(f"unknown QC threshold(s): {', '.join(sorted(unknown))}")
        self.thresholds = {**QC_THRESHOLDS, **(thresholds or {})}
        self.max_drivers = max_drivers
        self.file_mode, self.dir_mode = file_mode, dir_mode
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("genorisk", "templates"),
            autoescape=True,  # everything, whatever the template's extension
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(pct=format_percent, natural_frequency=natural_frequency, risk_in_words=risk_in_words,
                           describe_percentile=describe_percentile, ordinal=ordinal, num=_num, commas=lambda n: f"{n:,}")
        env.globals.update(NOT_CONFIGURED=NOT_CONFIGURED, genorisk_version=__version__)
        self.env = env
        self.patient_template = env.get_template("patient.html.j2")
        self.cohort_template = env.get_template("cohort.html.j2")

    # -- patient ------------------------------------------------------------

    def patient_document(self, result: Mapping, *, source=None, validated: bool = False) -> tuple[dict, str]:
        """Validate ``result`` (unless ``validated``); return (report dict, HTML text). Writes nothing."""
        if not validated:
            validate_result(result, source=source)
        report = {k: v for k, v in result.items() if k != "report"}
        report["report"] = assess_reliability(report, self.thresholds)
        risk = report["risk"]
        charts = {}
        if report["cohort_distribution"] is not None:
            charts["distribution"] = distribution_chart(
                report["cohort_distribution"]["quantiles"], risk["probability"], risk["interval"], risk["prevalence"])
        if report["drivers"]:
            charts["drivers"] = drivers_chart(report["drivers"], self.max_drivers)
        html = self.patient_template.render(r=report, charts=charts, t=self.thresholds,
                                            n_drivers_shown=min(self.max_drivers, len(report["drivers"] or [])))
        return report, html

    def render_patient(self, result: Mapping, outdir: str | os.PathLike, *, pdf: bool = False, source=None,
                       validated: bool = False) -> dict[str, Path]:
        """Write report.json, report.html (and report.pdf) for one patient into ``outdir``."""
        report, html = self.patient_document(result, source=source, validated=validated)
        json_text = json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n"
        pdf_bytes = html_to_pdf(html) if pdf else None
        outdir = Path(outdir)
        _secure_dir(outdir, self.dir_mode)
        paths = {"json": outdir / "report.json", "html": outdir / "report.html"}
        if pdf_bytes is not None:
            paths["pdf"] = outdir / "report.pdf"
        # All temporaries are complete before the first rename; an exception
        # anywhere unwinds every context, so no file of this patient appears.
        with contextlib.ExitStack() as stack:
            tmp = {k: stack.enter_context(atomic_output(p, mode=self.file_mode)) for k, p in paths.items()}
            tmp["json"].write_text(json_text, encoding="utf-8")
            tmp["html"].write_text(html, encoding="utf-8")
            if pdf_bytes is not None:
                tmp["pdf"].write_bytes(pdf_bytes)
        return paths

    # -- cohort -------------------------------------------------------------

    def cohort_document(self, cohort: Mapping, *, source=None) -> str:
        """Validate ``cohort``; return the HTML text of the cohort report."""
        validate_cohort(cohort, source=source)
        perf, model = cohort["performance"], cohort["model"]
        charts = {}
        roc_series = []
        if perf["roc"] is not None:
            auc_text = "not evaluated" if model["auc"] is None else f"{model['auc']:.3f}"
            roc_series.append({"name": f"{model['name']} (AUC {auc_text})", "x": perf["roc"]["fpr"],
                               "y": perf["roc"]["tpr"], "cls": "s0"})
        for i, b in enumerate(perf["baselines"][:3]):
            if b.get("roc") is not None:
                roc_series.append({"name": f"{b['name']} (AUC {b['auc']:.3f})", "x": b["roc"]["fpr"],
                                   "y": b["roc"]["tpr"], "cls": f"s{i + 1}"})
        if roc_series:
            charts["roc"] = curve_chart(roc_series, "ROC curve", "False positive rate (1 \u2212 specificity)",
                                        "True positive rate (sensitivity)")
        cal = perf["calibration"]
        if cal is not None:
            tips = [f"predicted {format_percent(p)}, observed {format_percent(o)}, n={n:,}"
                    for p, o, n in zip(cal["predicted"], cal["observed"], cal["n"])]
            charts["calibration"] = curve_chart(
                [{"name": model["name"], "x": cal["predicted"], "y": cal["observed"], "cls": "s0", "points": True, "tips": tips}],
                "Calibration", "Predicted risk", "Observed frequency",
                limit=float(nice_ticks(0.0, max(max(cal["predicted"]), max(cal["observed"]), 0.05), 5)[-1]))
        auc_rows = []
        if model["auc"] is not None:
            ci = model["auc_ci"] or [None, None]
            auc_rows.append({"label": model["name"], "value": model["auc"], "lo": ci[0], "hi": ci[1],
                             "cls": "bar-model", "value_text": f"{model['auc']:.3f}"})
        auc_rows += [{"label": b["name"], "value": b["auc"], "lo": (b["auc_ci"] or [None])[0],
                      "hi": (b["auc_ci"] or [None, None])[1], "cls": "bar-neutral", "value_text": f"{b['auc']:.3f}"}
                     for b in perf["baselines"]]
        refs = [(0.5, "chance (0.5)")]
        if model["auc_ceiling"] is not None:
            refs.append((model["auc_ceiling"], f"ceiling {model['auc_ceiling']:.3f}"))
        if auc_rows:
            charts["auc"] = hbar_chart(auc_rows, "Discrimination: model and baselines", "ROC AUC (bars: 95% CI where given)",
                                       1.0, lambda v: f"{v:.2g}", refs=refs, whiskers=True)
        scores = cohort["scores"] or []
        if scores:
            rows = [{"label": s["id"], "value": s["match_rate"],
                     "cls": "bar-neutral" if s["match_rate"] >= self.thresholds["min_score_match_rate"] else "bar-bad",
                     "value_text": f"{format_percent(s['match_rate'])} ({s['n_matched']:,}/{s['n_variants']:,})"}
                    for s in scores]
            charts["scores"] = hbar_chart(rows, "Polygenic score variant match rates", "Share of score variants matched",
                                          1.0, _pct_tick, refs=[(self.thresholds["min_score_match_rate"],
                                                                 f"threshold {format_percent(self.thresholds['min_score_match_rate'], 0)}")])
        fi = cohort["feature_importance"] or []
        if fi:
            top = sorted(fi, key=lambda d: -d["importance"])[:15]
            x_max = float(nice_ticks(0.0, top[0]["importance"] or 1.0, 5)[-1])
            charts["importance"] = hbar_chart(
                [{"label": d["label"], "value": d["importance"], "cls": "bar-model", "value_text": f"{d['importance']:.3g}"} for d in top],
                "Feature importance (largest 15)", "Mean absolute contribution to the log-odds", x_max or 1.0, lambda v: f"{v:.2g}")
        return self.cohort_template.render(c=cohort, charts=charts, t=self.thresholds)

    def render_cohort(self, cohort: Mapping, out_html: str | os.PathLike, *, source=None) -> Path:
        html = self.cohort_document(cohort, source=source)
        out_html = Path(out_html)
        _secure_dir(out_html.parent, self.dir_mode)
        with atomic_output(out_html, mode=self.file_mode) as tmp:
            tmp.write_text(html, encoding="utf-8")
        return out_html


def _num(v: float | None, digits: int = 3) -> str:
    return "not available" if v is None else f"{v:.{digits}g}"


@functools.cache
def _default_renderer() -> ReportRenderer:
    return ReportRenderer()


def render_patient_report(result: Mapping, outdir: str | os.PathLike, *, pdf: bool = False,
                          source: str | os.PathLike | None = None) -> dict[str, Path]:
    """Validate one patient's result and write its report files into ``outdir``.

    Parameters
    ----------
    result : mapping
        The patient result (contract: ``schemas/report.schema.json``).
    outdir : path
        Folder for ``report.json``, ``report.html`` and, with ``pdf``,
        ``report.pdf``; created owner-only (0700), files 0600.
    pdf : bool
        Also print the page to PDF with WeasyPrint (fetches nothing).
    source : path, optional
        The file ``result`` was read from, named in errors.

    Returns
    -------
    dict
        ``{"json": Path, "html": Path[, "pdf": Path]}``.

    Raises
    ------
    InputError
        If the result breaks the contract; nothing is written then.
    """
    return _default_renderer().render_patient(result, outdir, pdf=pdf, source=source)


def render_patient_reports(results: Iterable[Mapping | str | os.PathLike], outroot: str | os.PathLike, *,
                           pdf: bool = False, log: logging.Logger = log, progress_every: int = 500,
                           renderer: ReportRenderer | None = None) -> list[dict[str, Path]]:
    """Render many patients with one set of compiled templates: ``outroot/<patient_id>/report.*``.

    Parameters
    ----------
    results : iterable of mapping or path
        Patient results, or paths of ``result.json`` files (read lazily, one at
        a time, and named in errors).
    outroot : path
        Parent folder (0700) of one folder per patient.
    pdf : bool
        Also write ``report.pdf`` per patient.
    log : logging.Logger
        Progress every ``progress_every`` patients and at the end: counts and
        rate only, never patient data.
    renderer : ReportRenderer, optional
        To change thresholds or permissions.

    Returns
    -------
    list of dict
        The paths written, per patient, in input order.

    Raises
    ------
    InputError
        On the first bad result (patients before it are complete; none is partial).
    ValueError
        If two results share a patient ID (one would overwrite the other).
    """
    renderer = renderer or _default_renderer()
    outroot = Path(outroot)
    _secure_dir(outroot, renderer.dir_mode)
    written: list[dict[str, Path]] = []
    seen: set[str] = set()
    start = last = time.perf_counter()
    for item in results:
        source = None
        if isinstance(item, (str, os.PathLike)):
            source = Path(item)
            try:
                item = json.loads(source.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise InputError(source, f"not valid JSON: {err.msg}", record=f"line {err.lineno}") from None
        pid = item.get("patient_id") if isinstance(item, Mapping) else None
        if isinstance(pid, str) and pid in seen:
            raise ValueError(f"patient ID {pid!r} occurs twice in the batch (result {len(written) + 1})")
        validate_result(item, source=source)  # before using patient_id as a folder name
        seen.add(pid)
        written.append(renderer.render_patient(item, outroot / pid, pdf=pdf, source=source, validated=True))
        now = time.perf_counter()
        if len(written) % progress_every == 0:
            log.info("reports: %d patients rendered, %.1f patients/s (last %d: %.1f/s)", len(written),
                     len(written) / (now - start), progress_every, progress_every / max(now - last, 1e-9))
            last = now
    elapsed = time.perf_counter() - start
    log.info("reports: done, %d patients in %.1f s (%.1f patients/s)%s", len(written), elapsed,
             len(written) / elapsed if elapsed > 0 else 0.0, " with PDF" if pdf else "")
    return written


def render_cohort_report(cohort: Mapping, out_html: str | os.PathLike, *, source: str | os.PathLike | None = None) -> Path:
    """Write the cohort report ``out_html`` (one self-contained page, 0600).

    The cohort dict (contract: ``schemas/cohort_report.schema.json``) holds
    aggregates only::

        {"schema_version": "1",
         "cohort": {"name", "n_samples", "n_cases"|null, "n_controls"|null},
         "qc": {"n_samples", "n_passed", "failures": [{"reason", "n"}],
                "call_rate": {"min", "median", "max"}|null,
                "model_variant_coverage": {"min", "median", "max"}|null,
                "sex_check": {"consistent", "mismatch", "unknown"},
                "n_ancestry_outliers": int|null},
         "scores": [{"id", "n_variants", "n_matched", "match_rate", "used"?}]|null,
         "model": <model card, as in the patient report>,
         "performance": {"evaluation": str,
                         "roc": {"fpr": [...], "tpr": [...]}|null,
                         "calibration": {"predicted": [...], "observed": [...], "n": [...], "brier"?}|null,
                         "baselines": [{"name", "auc", "auc_ci"|null, "roc"?}]},
         "feature_importance": [{"group", "label", "importance"}]|null,
         "warnings": [str], "generated_by": {"genorisk": str}}

    The page shows the QC summary, score match rates against the 75 % rule,
    ROC curves (model and up to three baselines), the calibration curve, AUCs
    with CIs beside the baselines, chance and the AUC ceiling, and the 15 most
    important feature groups. Raises `InputError` on a broken contract.
    """
    return _default_renderer().render_cohort(cohort, out_html, source=source)


# ----------------------------------------------------------------------------
# Examples of the contracts (documentation, tests and the benchmark use them)
# ----------------------------------------------------------------------------


def example_result(patient_id: str = "P0001", *, seed: int = 0) -> dict:
    """A complete, valid patient result with plausible values, varied by ``seed``.

    Cohort risk is logistic-normal around a prevalence of 10 %; the patient's
    percentile is read off those quantiles so the figures agree with each other.
    """
    rng = np.random.default_rng(seed)
    prevalence = 0.10
    ppf = statistics.NormalDist().inv_cdf
    z = np.array([ppf(min(max(p, 0.0005), 0.9995)) for p in np.linspace(0, 1, 101)])
    quantiles = 1 / (1 + np.exp(-(math.log(prevalence / (1 - prevalence)) - 0.25 + 0.8 * z)))
    pct = float(rng.uniform(1, 99))
    prob = float(np.interp(pct, np.arange(101), quantiles))
    width = float(rng.uniform(0.15, 0.35))
    labels = [("prs", "Polygenic score PGS000001 (breast cancer)"), ("age", "Age 61 years"),
              ("sex", "Sex: female"), ("gene:BRCA2", "Rare damaging variants in BRCA2"),
              ("region:chr21:30-31Mb", "Common variants near chr21:30.5 Mb"), ("pc1", "Ancestry component 1"),
              ("gene:APP", "Rare variants in APP"), ("epistasis", "Interaction of two chr21 loci"),
              ("region:chr21:15-16Mb", "Common variants near chr21:15.2 Mb"), ("pc2", "Ancestry component 2"),
              ("gene:SOD1", "Rare variants in SOD1"), ("burden", "Overall rare-variant burden")]
    drivers = []
    for group, label in labels:
        c = float(rng.normal(0, 0.3))
        drivers.append({"group": group, "label": label, "contribution": round(c, 4),
                        "direction": "raises risk" if c >= 0 else "lowers risk"})
    n_var = [77, 313, 1_046]
    scores = []
    for i, n in enumerate(n_var):
        m = int(n * rng.uniform(0.7, 1.0))
        scores.append({"id": f"PGS00000{i + 1}", "value": round(float(rng.normal(0, 1)), 5),
                       "percentile": round(float(rng.uniform(0, 100)), 1), "n_variants": n, "n_matched": m,
                       "match_rate": round(m / n, 6)})
    return {
        "schema_version": "1", "patient_id": patient_id, "sample": f"{patient_id}_S{seed}", "vcf": f"{patient_id}.vcf.gz",
        "risk": {"probability": round(prob, 6), "interval": [round(prob * (1 - width), 6), round(min(1.0, prob * (1 + width)), 6)],
                 "interval_level": 0.95, "percentile": round(pct, 2), "prevalence": prevalence},
        "cohort_distribution": {"quantiles": [round(float(q), 6) for q in quantiles], "n": 2000},
        "drivers": drivers,
        "notable_variants": [
            {"chrom": "chr21", "pos": 33032083 + seed, "ref": "C", "alt": "T", "gene": "SOD1", "consequence": "missense_variant",
             "zygosity": "heterozygous", "population_af": 2.1e-05, "clinvar_significance": "Pathogenic",
             "clinvar_review_status": "criteria_provided,_multiple_submitters,_no_conflicts", "rsid": "rs121912438",
             "reason": "ClinVar pathogenic/likely pathogenic"},
            {"chrom": "chr21", "pos": 25891796, "ref": "G", "alt": "A", "gene": "APP", "consequence": "stop_gained",
             "zygosity": "heterozygous", "population_af": None, "clinvar_significance": None,
             "clinvar_review_status": None, "rsid": None, "reason": "rare predicted damaging"},
        ],
        "polygenic_scores": scores,
        "qc": {"call_rate": round(float(rng.uniform(0.97, 1.0)), 5), "model_variant_coverage": round(float(rng.uniform(0.93, 1.0)), 5),
               "n_model_variants_missing": int(rng.integers(0, 400)), "inferred_sex": "female", "recorded_sex": "female",
               "sex_check": "consistent", "ancestry_distance": round(float(rng.uniform(0, 2)), 3), "ancestry_outlier": False},
        "model": {"name": "genorisk XGBoost demo (chr21)", "sha256": "3f" * 32, "trained_on": 1600, "auc": 0.781,
                  "auc_ci": [0.752, 0.809], "auc_ceiling": 0.839,
                  "intended_use": "Research demonstration on simulated data. Not for clinical decisions.",
                  "limits": ["Trained on a simulated cohort of European-like ancestry; accuracy elsewhere is unknown.",
                             "Uses chromosome 21 only.", "Calibrated to a prevalence of 10%."]},
        "warnings": [],
        "generated_by": {"genorisk": __version__},
    }


def example_cohort(*, seed: int = 0) -> dict:
    """A complete, valid cohort summary with plausible values (binormal ROC curves)."""
    rng = np.random.default_rng(seed)
    cdf = statistics.NormalDist().cdf
    fpr = np.linspace(0, 1, 51)
    ppf = statistics.NormalDist().inv_cdf

    def roc(d):
        return {"fpr": [round(float(f), 4) for f in fpr],
                "tpr": [0.0] + [round(cdf(d + ppf(float(f))), 4) for f in fpr[1:-1]] + [1.0]}

    pred = np.array([0.02, 0.04, 0.06, 0.08, 0.11, 0.15, 0.2, 0.27, 0.36, 0.5])
    return {
        "schema_version": "1",
        "cohort": {"name": "demo chr21 cohort", "n_samples": 2000, "n_cases": 204, "n_controls": 1796},
        "qc": {"n_samples": 2000, "n_passed": 1987,
               "failures": [{"reason": "call rate below 95%", "n": 7}, {"reason": "sex mismatch", "n": 4},
                            {"reason": "ancestry outlier", "n": 2}],
               "call_rate": {"min": 0.912, "median": 0.996, "max": 1.0},
               "model_variant_coverage": {"min": 0.88, "median": 0.991, "max": 1.0},
               "sex_check": {"consistent": 1990, "mismatch": 4, "unknown": 6}, "n_ancestry_outliers": 2},
        "scores": [{"id": "PGS000001", "n_variants": 77, "n_matched": 74, "match_rate": round(74 / 77, 6), "used": True},
                   {"id": "PGS000002", "n_variants": 313, "n_matched": 290, "match_rate": round(290 / 313, 6), "used": True},
                   {"id": "PGS000003", "n_variants": 1046, "n_matched": 602, "match_rate": round(602 / 1046, 6), "used": False}],
        "model": example_result()["model"],
        "performance": {
            "evaluation": "5-fold cross-validation, out-of-fold predictions",
            "roc": roc(1.1),
            "calibration": {"predicted": [float(p) for p in pred],
                            "observed": [round(float(min(1, max(0, p + rng.normal(0, 0.015)))), 4) for p in pred],
                            "n": [200] * 10, "brier": 0.081},
            "baselines": [{"name": "Logistic: PRS + age + sex", "auc": 0.742, "auc_ci": [0.711, 0.772], "roc": roc(0.92)},
                          {"name": "PRS alone", "auc": 0.668, "auc_ci": [0.634, 0.701], "roc": roc(0.62)}],
        },
        "feature_importance": [{"group": g, "label": l, "importance": round(float(v), 4)} for g, l, v in [
            ("prs", "Polygenic score PGS000001", 0.41), ("age", "Age", 0.33), ("gene:BRCA2", "Rare damaging variants in BRCA2", 0.12),
            ("region:chr21:30-31Mb", "Common variants near chr21:30.5 Mb", 0.09), ("sex", "Sex", 0.05),
            ("epistasis", "Interaction of two chr21 loci", 0.04), ("pc1", "Ancestry component 1", 0.02)]],
        "warnings": ["PGS000003 matched 57.6% of its variants (below 75%) and was left out of the model."],
        "generated_by": {"genorisk": __version__},
    }


# ----------------------------------------------------------------------------
# Command line (for workflow rules and the benchmark)
# ----------------------------------------------------------------------------


def _iter_inputs(paths: Sequence[str]) -> Iterable[Mapping | Path]:
    for p in paths:
        path = Path(p)
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError as err:
                            raise InputError(path, f"not valid JSON: {err.msg}", record=f"line {lineno}") from None
        else:
            yield path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genorisk.report", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("patients", help="render patient reports into OUTROOT/<patient_id>/")
    p.add_argument("outroot", type=Path)
    p.add_argument("results", nargs="+", help="result.json files, or .jsonl files with one result per line")
    p.add_argument("--pdf", action="store_true")
    c = sub.add_parser("cohort", help="render the cohort report")
    c.add_argument("cohort_json", type=Path)
    c.add_argument("out_html", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "patients":
            render_patient_reports(_iter_inputs(args.results), args.outroot, pdf=args.pdf)
        else:
            render_cohort_report(json.loads(args.cohort_json.read_text(encoding="utf-8")), args.out_html,
                                 source=args.cohort_json)
    except InputError as err:
        print(f"genorisk report: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
