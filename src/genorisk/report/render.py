"""Writing the reports: patient ``report.json``/``.html``/``.pdf`` and the cohort page.

Everything is written owner-only (files 0600, folders 0700) and atomically:
all of a patient's files are rendered into temporaries first and renamed only
when every one of them is complete, so a failure leaves no partial report.
Every string that comes from a file reaches HTML through Jinja2 with
autoescaping on; PDFs are printed by WeasyPrint with a URL fetcher that
refuses everything except ``data:`` URLs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import jinja2

from genorisk import __version__
from genorisk.errors import InputError
from genorisk.io import atomic_output
from genorisk.report.charts import (
    curve_chart,
    distribution_chart,
    drivers_chart,
    hbar_chart,
    nice_ticks,
    pca_chart,
    percent_tick,
)
from genorisk.report.pharmacogenomics import medicines_view
from genorisk.report.schema import check_cohort_summary, validate_result
from genorisk.report.wording import (
    NOT_CONFIGURED,
    QC_THRESHOLDS,
    absent_variants_in_words,
    assess_reliability,
    baseline_in_words,
    describe_percentile,
    format_percent,
    natural_frequency,
    ordinal,
    risk_in_words,
    withheld_in_short,
)

log = logging.getLogger("genorisk.report")

FILE_MODE = 0o600
DIR_MODE = 0o700


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

    def __init__(
        self,
        *,
        thresholds: Mapping[str, float] | None = None,
        max_drivers: int = 10,
        file_mode: int = FILE_MODE,
        dir_mode: int = DIR_MODE,
    ):
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
        env.filters.update(
            pct=format_percent,
            natural_frequency=natural_frequency,
            risk_in_words=risk_in_words,
            describe_percentile=describe_percentile,
            ordinal=ordinal,
            num=_num,
            commas=lambda n: f"{n:,}",
            sentence=lambda s: s[:1].upper() + s[1:],
        )
        env.globals.update(
            NOT_CONFIGURED=NOT_CONFIGURED,
            genorisk_version=__version__,
            absent_variants_in_words=absent_variants_in_words,
        )
        self.env = env
        self.patient_template = env.get_template("patient.html.j2")
        self.cohort_template = env.get_template("cohort.html.j2")

    # -- patient ------------------------------------------------------------

    def patient_document(self, result: Mapping, *, source=None, validated: bool = False) -> tuple[dict, str]:
        """Validate ``result`` (unless ``validated``); return (report dict, HTML text). Writes nothing.

        The page: the summary table (a row per trait), a section per trait
        (risk, distribution, drivers, ancestry adjustment, polygenic scores,
        model coverage, the model and its baseline), then the patient-level
        sections once (data quality, notable variants, medicines).
        """
        if not validated:
            validate_result(result, source=source)
        report = {k: v for k, v in result.items() if k != "report"}
        report["report"] = assess_reliability(report, self.thresholds)
        views = []
        for i, entry in enumerate(report["traits"]):
            risk = entry["risk"]
            charts = {}
            if entry["cohort_distribution"] is not None and risk["probability"] is not None:
                charts["distribution"] = distribution_chart(
                    entry["cohort_distribution"]["quantiles"], risk["probability"], risk["interval"], risk["prevalence"]
                )
            if entry["drivers"] and risk["probability"] is not None:
                charts["drivers"] = drivers_chart(entry["drivers"], self.max_drivers)
            views.append(
                {
                    "e": entry,
                    "n": i + 1,
                    "charts": charts,
                    "n_drivers_shown": min(self.max_drivers, len(entry["drivers"] or [])),
                    "withheld_short": withheld_in_short(entry, self.thresholds)
                    if risk["status"] == "withheld"
                    else None,
                    "baseline_text": baseline_in_words(entry["model"]),
                }
            )
        html = self.patient_template.render(
            r=report,
            traits=views,
            ancestry_rows=_ancestry_rows(report["traits"]),
            t=self.thresholds,
            medicines=medicines_view(report["pharmacogenomics"]),
        )
        return report, html

    def render_patient(
        self, result: Mapping, outdir: str | os.PathLike, *, pdf: bool = False, source=None, validated: bool = False
    ) -> dict[str, Path]:
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
        """Validate ``cohort`` (schema 3); return the HTML text of the cohort report.

        Cohort-level parts once (QC, patients, score match rates, ancestry
        map), then one section per trait (model vs baseline, metrics, ROC, PR
        and calibration curves, AUCs, importance, the trait's scores).
        """
        check_cohort_summary(cohort, source=source)
        charts: dict = {}
        scores = cohort["scores"] or []
        if scores:
            charts["scores"] = self._match_rate_chart(scores)
        amap = cohort["ancestry_map"]
        if amap:
            charts["pca"] = pca_chart(
                amap["cohort_density"], amap["reference"], amap["patients"], tuple(amap["pcs"][:2])
            )
        sections = [{"s": s, "n": k + 1, "charts": _trait_charts(s)} for k, s in enumerate(cohort["traits"])]
        return self.cohort_template.render(
            c=cohort,
            charts=charts,
            sections=sections,
            trait_names={s["trait"]["id"]: s["trait"]["name"] for s in cohort["traits"]},
            t=self.thresholds,
        )

    def _match_rate_chart(self, scores: list[Mapping]):
        threshold = self.thresholds["min_score_match_rate"]
        rows = [
            {
                "label": s["id"],
                "value": s["match_rate"],
                "cls": "bar-neutral" if s["match_rate"] >= threshold else "bar-bad",
                "value_text": f"{format_percent(s['match_rate'])} ({s['n_matched']:,}/{s['n_variants']:,})",
            }
            for s in scores
        ]
        return hbar_chart(
            rows,
            "Polygenic score variant match rates",
            "Share of score variants matched",
            1.0,
            percent_tick,
            refs=[(threshold, f"threshold {format_percent(threshold, 0)}")],
        )

    def render_cohort(self, cohort: Mapping, out_html: str | os.PathLike, *, source=None) -> Path:
        html = self.cohort_document(cohort, source=source)
        out_html = Path(out_html)
        _secure_dir(out_html.parent, self.dir_mode)
        with atomic_output(out_html, mode=self.file_mode) as tmp:
            tmp.write_text(html, encoding="utf-8")
        return out_html


def _trait_charts(section: Mapping) -> dict:
    """A cohort trait section's charts: ROC, precision-recall, calibration, AUCs and feature importance."""
    perf, model = section["performance"], section["model"]
    name = section["trait"]["name"]
    metrics = perf["metrics"]
    charts = {}

    def auc_text(value, ci):
        return (
            "not evaluated" if value is None else f"{value:.3f}" + (f", 95% CI {ci[0]:.3f}-{ci[1]:.3f}" if ci else "")
        )

    roc_series, pr_series = [], []
    if perf["roc"] is not None:
        roc_series.append(
            {
                "name": f"{model['name']} (ROC AUC {auc_text(model['auc'], model['auc_ci'])})",
                "x": perf["roc"]["fpr"],
                "y": perf["roc"]["tpr"],
                "cls": "s0",
            }
        )
    pr_auc = ((metrics.get("model") or {}).get("pr_auc") or {}).get("estimate")
    if perf["pr"] is not None:
        pr_series.append(
            {
                "name": f"{model['name']} (PR AUC {'not evaluated' if pr_auc is None else f'{pr_auc:.3f}'})",
                "x": perf["pr"]["recall"],
                "y": perf["pr"]["precision"],
                "cls": "s0",
            }
        )
    for i, b in enumerate(perf["baselines"][:3]):
        cls = f"s{i + 1}"
        if b.get("roc") is not None:
            roc_series.append(
                {
                    "name": f"{b['name']} (ROC AUC {auc_text(b['auc'], b['auc_ci'])})",
                    "x": b["roc"]["fpr"],
                    "y": b["roc"]["tpr"],
                    "cls": cls,
                }
            )
        if b.get("pr") is not None:
            b_pr = ((metrics.get("baseline") or {}).get("pr_auc") or {}).get("estimate") if i == 0 else None
            pr_series.append(
                {
                    "name": b["name"] + (f" (PR AUC {b_pr:.3f})" if b_pr is not None else ""),
                    "x": b["pr"]["recall"],
                    "y": b["pr"]["precision"],
                    "cls": cls,
                }
            )
    if roc_series:
        charts["roc"] = curve_chart(
            roc_series,
            f"ROC curve: {name}",
            "False positive rate (1 \u2212 specificity)",
            "True positive rate (sensitivity)",
        )
    if pr_series:
        cf = perf["pr"]["case_fraction"] if perf["pr"] is not None else None
        if cf is not None:
            pr_series.append(
                {
                    "name": f"chance: the case fraction ({format_percent(cf)})",
                    "x": [0.0, 1.0],
                    "y": [cf, cf],
                    "cls": "chance",
                }
            )
        charts["pr"] = curve_chart(
            pr_series,
            f"Precision-recall curve: {name}",
            "Recall (sensitivity)",
            "Precision (positive predictive value)",
            diagonal=False,
        )
    cal = perf["calibration"]
    if cal is not None:
        tips = [
            f"predicted {format_percent(p)}, observed {format_percent(o)}, n={n:,}"
            for p, o, n in zip(cal["predicted"], cal["observed"], cal["n"], strict=False)
        ]
        charts["calibration"] = curve_chart(
            [
                {
                    "name": f"{model['name']}: observed case fraction against mean predicted risk, per tenth of the "
                    "cohort by predicted risk (dashed diagonal: perfect calibration)",
                    "x": cal["predicted"],
                    "y": cal["observed"],
                    "cls": "s0",
                    "points": True,
                    "tips": tips,
                }
            ],
            f"Calibration: {name}",
            "Predicted risk",
            "Observed frequency",
            limit=float(nice_ticks(0.0, max(max(cal["predicted"]), max(cal["observed"]), 0.05), 5)[-1]),
        )
    auc_rows = []
    if model["auc"] is not None:
        ci = model["auc_ci"] or [None, None]
        auc_rows.append(
            {
                # Bar labels are short and never cut; the table gives the full names.
                "label": "this model",
                "value": model["auc"],
                "lo": ci[0],
                "hi": ci[1],
                "cls": "bar-model",
                "value_text": f"{model['auc']:.3f}",
            }
        )
    auc_rows += [
        {
            "label": b["name"].split(":")[0][:34],
            "value": b["auc"],
            "lo": (b["auc_ci"] or [None])[0],
            "hi": (b["auc_ci"] or [None, None])[1],
            "cls": "bar-neutral",
            "value_text": f"{b['auc']:.3f}",
        }
        for b in perf["baselines"]
    ]
    refs = [(0.5, "chance (0.5)")]
    if model["auc_ceiling"] is not None:
        refs.append((model["auc_ceiling"], f"ceiling {model['auc_ceiling']:.3f}"))
    if auc_rows:
        charts["auc"] = hbar_chart(
            auc_rows,
            f"Discrimination: model and baselines, {name}",
            "ROC AUC (bars: 95% CI where given)",
            1.0,
            lambda v: f"{v:.2g}",
            refs=refs,
            whiskers=True,
        )
    fi = section["feature_importance"] or []
    if fi:
        top = sorted(fi, key=lambda d: -d["importance"])[:15]
        x_max = float(nice_ticks(0.0, top[0]["importance"] or 1.0, 5)[-1])
        charts["importance"] = hbar_chart(
            [
                {
                    "label": d["label"],
                    "value": d["importance"],
                    "cls": "bar-model",
                    "value_text": f"{d['importance']:.3g}",
                }
                for d in top
            ],
            f"Feature importance (largest 15): {name}",
            "Mean absolute contribution to the log-odds",
            x_max or 1.0,
            lambda v: f"{v:.2g}",
        )
    return charts


def _ancestry_rows(traits: list[Mapping]) -> list[dict]:
    """The data-quality rows of the ancestry check: traits with the same limit and verdict share one row."""
    rows: list[dict] = []
    for entry in traits:
        cov = entry["coverage"]
        key = (cov["ancestry_threshold"], cov["ancestry_outlier"])
        for row in rows:
            if row["key"] == key:
                row["names"].append(entry["trait"]["name"])
                break
        else:
            rows.append({"key": key, "threshold": key[0], "outlier": key[1], "names": [entry["trait"]["name"]]})
    return rows


def _num(v: float | None, digits: int = 3) -> str:
    return "not available" if v is None else f"{v:.{digits}g}"


@functools.cache
def _default_renderer() -> ReportRenderer:
    return ReportRenderer()


def render_patient_report(
    result: Mapping, outdir: str | os.PathLike, *, pdf: bool = False, source: str | os.PathLike | None = None
) -> dict[str, Path]:
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


def render_patient_reports(
    results: Iterable[Mapping | str | os.PathLike],
    outroot: str | os.PathLike,
    *,
    pdf: bool = False,
    log: logging.Logger = log,
    progress_every: int = 500,
    renderer: ReportRenderer | None = None,
) -> list[dict[str, Path]]:
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
        patient_id: str = item["patient_id"]  # a string: the schema requires it
        seen.add(patient_id)
        written.append(renderer.render_patient(item, outroot / patient_id, pdf=pdf, source=source, validated=True))
        now = time.perf_counter()
        if len(written) % progress_every == 0:
            log.info(
                "reports: %d patients rendered, %.1f patients/s (last %d: %.1f/s)",
                len(written),
                len(written) / (now - start),
                progress_every,
                progress_every / max(now - last, 1e-9),
            )
            last = now
    elapsed = time.perf_counter() - start
    log.info(
        "reports: done, %d patients in %.1f s (%.1f patients/s)%s",
        len(written),
        elapsed,
        len(written) / elapsed if elapsed > 0 else 0.0,
        " with PDF" if pdf else "",
    )
    return written


def render_cohort_report(
    cohort: Mapping,
    out_html: str | os.PathLike,
    *,
    source: str | os.PathLike | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Path:
    """Write the cohort report ``out_html`` (one self-contained page, 0600).

    The cohort dict (contract: ``schemas/cohort_report.schema.json``, schema
    3; :func:`genorisk.cohort_summary.cohort_summary` writes it) holds
    aggregates only::

        {"schema_version": "3", "cohort": {"name", "n_samples", "n_traits"},
         "qc": {...}, "scores": [...]|null, "ancestry_map": {...}|null, "patients": {...},
         "traits": [{"trait", "cohort", "model", "performance", "scores",
                     "feature_importance", "ancestry_limit", "patients", "warnings"}],
         "warnings": [str], "generated_by": {"genorisk": str}}

    The page shows a summary row per trait (model vs baseline AUC), the
    cohort-level parts once (sample QC, the run's patients, every score's
    match rate against the 75 % rule, the ancestry map), then a section per
    trait: the AUC difference with its CI, ROC AUC, PR AUC, Brier and ECE
    beside the baseline's, AUC bars with chance and the ceiling, ROC and
    precision-recall curves (model and up to three baselines, legends in
    full), the calibration curve, the 15 most important feature groups, the
    trait's scores, its ancestry limit and model card. ``thresholds``
    overrides `QC_THRESHOLDS` (the score match-rate line). Raises
    `InputError` on a broken contract.
    """
    renderer = ReportRenderer(thresholds=thresholds) if thresholds else _default_renderer()
    return renderer.render_cohort(cohort, out_html, source=source)
