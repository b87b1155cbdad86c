"""Per-patient and cohort reports a clinician can read and a program can parse.

A patient's ``result.json`` (written by the scoring step; its contract is
``schemas/report.schema.json``, schema 4, the single source of truth: one
result per patient with a ``traits`` list, a result per disease) becomes

* ``report.json`` - the result, validated, plus a ``report`` section saying
  whether the result can be relied on and why not;
* ``report.html`` - one self-contained page (a summary table with a row per
  disease, a section per disease, then the patient-level sections once):
  inline CSS and inline SVG charts,
  no scripts, nothing fetched from anywhere (a Content-Security-Policy in the
  page forbids it, so a browser refuses even if something slipped in);
* ``report.pdf`` - optional, the same page printed by WeasyPrint with a URL
  fetcher that refuses everything except ``data:`` URLs.

One module per job:

* :mod:`~genorisk.report.schema` - the JSON Schemas and the cross-field checks
  (:func:`validate_result`, :func:`check_cohort_summary`);
* :mod:`~genorisk.report.wording` - plain-language wording and
  :func:`assess_reliability` with its :data:`QC_THRESHOLDS`;
* :mod:`~genorisk.report.charts` - the SVG charts (geometry only; the
  templates draw them);
* :mod:`~genorisk.report.render` - :class:`ReportRenderer` and the functions
  that write the files, owner-only and atomically, and :func:`html_to_pdf`;
* :mod:`~genorisk.report.pharmacogenomics` - the Medicines section: the
  ``pharmacogenomics`` object from rule call_pharmacogenes's per-patient
  ``pgx`` object (:func:`pharmacogenomics_section`) and its page order;
* :mod:`~genorisk.report.examples` - complete, valid examples of both contracts.

The templates are package data in ``genorisk/templates``. The names below are
the public API; import them from ``genorisk.report``. The command line is
``genorisk report`` (:mod:`genorisk.cli`).
"""

from genorisk.report.charts import (
    SVG_STYLES,
    Chart,
    curve_chart,
    distribution_chart,
    drivers_chart,
    hbar_chart,
    nice_ticks,
    pca_chart,
    percent_tick,
    risk_histogram,
    wrap_text,
)
from genorisk.report.examples import (
    EXAMPLE_TRAITS,
    example_cohort,
    example_pharmacogenomics,
    example_result,
    example_trait_result,
)
from genorisk.report.pharmacogenomics import medicines_view, pharmacogenomics_section
from genorisk.report.render import (
    DIR_MODE,
    FILE_MODE,
    ReportRenderer,
    html_to_pdf,
    render_cohort_report,
    render_patient_report,
    render_patient_reports,
)
from genorisk.report.schema import check_cohort_summary, load_schema, validate_result
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

__all__ = [
    "DIR_MODE",
    "EXAMPLE_TRAITS",
    "FILE_MODE",
    "NOT_CONFIGURED",
    "QC_THRESHOLDS",
    "SVG_STYLES",
    "Chart",
    "ReportRenderer",
    "absent_variants_in_words",
    "assess_reliability",
    "baseline_in_words",
    "check_cohort_summary",
    "curve_chart",
    "describe_percentile",
    "distribution_chart",
    "drivers_chart",
    "example_cohort",
    "example_pharmacogenomics",
    "example_result",
    "example_trait_result",
    "format_percent",
    "hbar_chart",
    "html_to_pdf",
    "load_schema",
    "medicines_view",
    "natural_frequency",
    "nice_ticks",
    "ordinal",
    "pca_chart",
    "percent_tick",
    "pharmacogenomics_section",
    "render_cohort_report",
    "render_patient_report",
    "render_patient_reports",
    "risk_histogram",
    "risk_in_words",
    "validate_result",
    "withheld_in_short",
    "wrap_text",
]
