"""genorisk.report: contract, privacy, escaping, permissions, atomicity, PDF, wording."""

from __future__ import annotations

import http.server
import json
import logging
import os
import re
import stat
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from genorisk import report as R
from genorisk.errors import InputError

SCHEMA_DIR = Path(R.__file__).parents[1] / "schemas"


def _schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- contract -----------------------------------------------------------------


def test_report_json_is_the_result_plus_a_valid_report_section(tmp_path):
    result = R.example_result("P0001", seed=1)
    paths = R.render_patient_report(result, tmp_path / "P0001")
    assert set(paths) == {"json", "html"} and _files(tmp_path / "P0001") == ["report.html", "report.json"]
    report = json.loads(paths["json"].read_text())
    jsonschema.Draft202012Validator(_schema("report")).validate(report)  # the packaged schema, directly
    assert {k: v for k, v in report.items() if k != "report"} == result
    assert report["report"]["qc_thresholds"] == R.QC_THRESHOLDS
    # PGS match rates of seed 1 fall below 75% for one score: a concern of the first trait; the second
    # trait's risk is withheld: a concern of the second, named by its id.
    low = [s["id"] for s in result["traits"][0]["polygenic_scores"] if s["match_rate"] < 0.75]
    concerns = report["report"]["concerns"]
    assert [(c["code"], c["trait"]) for c in concerns] == [("low_score_match", "cad")] * len(low) + [
        ("risk_withheld", "t2d")
    ]
    assert concerns[-1]["message"].startswith("Type 2 diabetes: Only 62% of the model's 412 variants")
    assert report["report"]["reliable"] is False
    # A report can be fed back in (rerender from report.json) and gives the same bytes.
    again = R.render_patient_report(report, tmp_path / "again")
    assert again["json"].read_bytes() == paths["json"].read_bytes()
    assert again["html"].read_bytes() == paths["html"].read_bytes()


def test_cohort_schema_refs_the_patient_model_card():
    validator = jsonschema.Draft202012Validator(_schema("report"))
    validator.check_schema(_schema("cohort_report"))
    R.check_cohort_summary(R.example_cohort())
    for seed in range(5):
        R.validate_result(R.example_result(f"P{seed}", seed=seed))


def _set(path: str, value):
    def mutate(doc):
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is KeyError:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return mutate


@pytest.mark.parametrize(
    "mutate, record, problem",
    [
        (_set("traits", KeyError), "patient P0001: (top level)", "'traits' is a required property"),
        (_set("traits", []), "patient P0001: traits", "should be non-empty"),
        (_set("traits.0.risk", KeyError), "patient P0001: traits[0]", "'risk' is a required property"),
        (
            _set("traits.0.risk.probability", 1.5),
            "patient P0001: traits[0].risk.probability",
            "greater than the maximum",
        ),
        (
            _set("traits.0.risk.probability", float("nan")),
            "patient P0001: traits[0].risk.probability",
            "NaN or infinite",
        ),
        (
            _set("traits.0.risk.interval", [0.5, 0.6]),
            "patient P0001: traits[0].risk.interval",
            "does not contain the probability",
        ),
        (_set("traits.1.risk.probability", 0.2), "patient P0001: traits[1].risk", "a withheld risk has no probability"),
        (
            _set("traits.0.cohort_distribution.quantiles.50", 0.0),
            "patient P0001: traits[0].cohort_distribution.quantiles[50]",
            "quantiles decrease",
        ),
        (
            _set("traits.0.drivers.0.direction", "sideways"),
            "patient P0001: traits[0].drivers[0].direction",
            "is not one of",
        ),
        (
            _set("traits.0.polygenic_scores.0.n_matched", 10_000),
            "patient P0001: traits[0].polygenic_scores[0]",
            "n_matched 10000 > n_variants",
        ),
        (
            _set("traits.0.polygenic_scores.0.match_rate", 0.2),
            "patient P0001: traits[0].polygenic_scores[0].match_rate",
            "!= n_matched/n_variants",
        ),
        (_set("qc.sex_check", "maybe"), "patient P0001: qc.sex_check", "is not one of"),
        (_set("qc.model_variant_coverage", 0.9), "patient P0001: qc", "Additional properties"),  # per trait now
        (_set("traits.0.model.sha256", "abc"), "patient P0001: traits[0].model.sha256", "does not match"),
        (_set("traits.0.model.baseline", KeyError), "patient P0001: traits[0].model", "'baseline' is a required"),
        (
            _set("traits.1.model.baseline.beats_baseline", True),
            "patient P0001: traits[1].model.baseline.beats_baseline",
            "CI of the difference does not lie above 0",
        ),
        (
            _set("traits.0.model.baseline.difference", 0.2),
            "patient P0001: traits[0].model.baseline.difference_ci",
            "does not contain the difference",
        ),
        (
            _set("traits.1.coverage.n_model_variants_missing", 5000),
            "patient P0001: traits[1].coverage.n_model_variants_missing",
            "5000 missing of 412",
        ),
        (_set("traits.1.trait.id", "cad"), "patient P0001: traits[1].trait.id", "'cad' is listed twice"),
        (_set("notable_variants.0.genotype", "0/1"), "patient P0001: notable_variants[0]", "Additional properties"),
        (_set("patient_id", "../../etc"), "patient ../../etc: patient_id", "does not match"),
    ],
)
def test_bad_results_are_refused_naming_file_field_and_problem(tmp_path, mutate, record, problem):
    result = R.example_result("P0001", seed=2)
    if "drivers[0]" in record:
        result["traits"][0]["drivers"][0]["contribution"] = 0.5
        result["traits"][0]["drivers"][0]["direction"] = "raises risk"
    mutate(result)
    source = tmp_path / "P0001" / "result.json"
    with pytest.raises(InputError) as err:
        R.render_patient_report(result, tmp_path / "out", source=source)
    assert err.value.path == str(source)
    assert err.value.record == record
    assert problem in err.value.problem
    assert str(err.value).startswith(f"{source}: {record}: ")
    assert not (tmp_path / "out").exists()


def test_direction_must_agree_with_contribution(tmp_path):
    result = R.example_result("P0001", seed=2)
    result["traits"][1]["drivers"][3].update(contribution=-0.2, direction="raises risk")
    with pytest.raises(
        InputError, match=r"traits\[1\]\.drivers\[3\]\.direction: direction 'raises risk' contradicts contribution -0.2"
    ):
        R.render_patient_report(result, tmp_path)


# -- privacy ------------------------------------------------------------------


def _private_result(i: int) -> dict:
    r = R.example_result(f"PT{i:03d}X", seed=100 + i)
    r["sample"] = f"SMPL-{i:03d}-Q"
    r["vcf"] = f"batch7_{i:03d}_calls.vcf.gz"
    r["notable_variants"][0]["pos"] = 41_000_003 + 7_919 * i
    r["notable_variants"][0]["rsid"] = f"rs77{i:03d}4"
    r["traits"][0]["drivers"][0].update(label=f"Private factor {i:03d}-Z", contribution=0.9, direction="raises risk")
    r["qc"]["ancestry_distance"] = 3.0 + i / 1000 + 0.0001  # printed as 3.0xx
    r["warnings"] = [f"Note for PT{i:03d}X only: re-sequenced lane L{i:03d}W."]
    return r


def test_each_report_holds_only_its_own_patients_data(tmp_path, caplog):
    results = [_private_result(i) for i in range(20)]
    markers = [
        {
            r["patient_id"],
            r["sample"],
            r["vcf"],
            str(r["notable_variants"][0]["pos"]),
            r["notable_variants"][0]["rsid"],
            r["traits"][0]["drivers"][0]["label"],
            f"L{i:03d}W",
        }
        for i, r in enumerate(results)
    ]
    with caplog.at_level(logging.INFO, logger="genorisk.report"):
        written = R.render_patient_reports(results, tmp_path, progress_every=10)
    assert len(written) == 20
    for i, paths in enumerate(written):
        assert paths["html"].parent == tmp_path / results[i]["patient_id"]
        for kind in ("html", "json"):
            text = paths[kind].read_text()
            for j, other in enumerate(markers):
                found = sorted(m for m in other if m in text)
                if i == j:
                    assert found == sorted(other), f"{kind} of patient {i} lacks its own data"
                else:
                    assert found == [], f"{kind} of patient {i} holds data of patient {j}: {found}"
    # Logs carry counts and rates, never a patient's data.
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "20 patients" in logged and "patients/s" in logged
    assert not any(m in logged for ms in markers for m in ms)


# -- escaping -----------------------------------------------------------------


HOSTILE = "<script>alert(1)</script>"
QUOTED = 'O\'Brien & "Sons" <b>bold</b> & more'
VCF_NAME = 'Smith & "Jones" <i>.vcf.gz'  # a file name cannot hold '/'


class _TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _hostile_result() -> dict:
    r = R.example_result("P0666", seed=4)
    r["sample"] = HOSTILE
    r["vcf"] = VCF_NAME
    first, second = r["traits"]
    first["drivers"][0]["label"] = HOSTILE  # drawn as SVG <text> and <title>
    first["drivers"][1]["label"] = QUOTED
    r["notable_variants"][0]["gene"] = QUOTED
    r["notable_variants"][0]["ref"] = '"><svg onload=alert(3)>'  # lands in a title="" attribute
    first["polygenic_scores"][0]["id"] = HOSTILE
    first["model"]["limits"].append(QUOTED)
    first["trait"]["name"] = QUOTED  # in the summary table, headings, sentences and chart captions
    first["trait"]["population"] = HOSTILE
    first["model"]["baseline"]["name"] = HOSTILE
    second["risk"]["withheld_reason"] = HOSTILE
    second["model"]["name"] = QUOTED
    r["warnings"] = [HOSTILE, QUOTED]
    return r


def test_strings_from_files_are_escaped_in_html_and_svg(tmp_path):
    paths = R.render_patient_report(_hostile_result(), tmp_path / "P0666")
    html = paths["html"].read_text()
    assert "<script" not in html.lower()
    assert "onload=" not in html.replace("onload=alert(3)&gt;", "")  # only in escaped text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "O&#39;Brien &amp; &#34;Sons&#34; &lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    assert QUOTED not in html and HOSTILE not in html
    # Parsed, the page has no script, no event handler, no <b> from data, and
    # only the elements the templates write.
    parser = _TagCollector()
    parser.feed(html)
    tags = {t for t, _ in parser.tags}
    assert "script" not in tags and "b" not in tags
    assert not any(k.startswith("on") for _, attrs in parser.tags for k in attrs)
    # Each SVG is well-formed XML: an unescaped '<', '&' or '"' would break it.
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2
    texts = []
    for svg in svgs:
        root = ET.fromstring(svg)
        texts += ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(HOSTILE in t for t in texts)  # the SVG label reads as the literal string
    # JSON keeps the data as data.
    report = json.loads(paths["json"].read_text())
    assert report["sample"] == HOSTILE and report["vcf"] == VCF_NAME
    assert "Smith &amp; &#34;Jones&#34; &lt;i&gt;.vcf.gz" in html


def test_cohort_strings_are_escaped(tmp_path):
    cohort = R.example_cohort()
    cohort["cohort"]["name"] = HOSTILE
    cohort["scores"][0]["id"] = QUOTED
    second = cohort["traits"][1]
    second["performance"]["baselines"][0]["name"] = HOSTILE
    second["feature_importance"][0]["label"] = QUOTED
    second["trait"]["name"] = QUOTED  # in the summary, headings, chart titles and the scores' "used by"
    second["warnings"].append(HOSTILE)
    cohort["scores"][2]["traits"] = ["t2d"]
    cohort["warnings"].append(HOSTILE)
    html = R.render_cohort_report(cohort, tmp_path / "cohort.html").read_text()
    assert "<script" not in html.lower() and QUOTED not in html and HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "O&#39;Brien &amp; &#34;Sons&#34; &lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    texts = []
    for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        root = ET.fromstring(svg)
        texts += ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(HOSTILE in t for t in texts) and any(QUOTED in t for t in texts)


def test_page_is_self_contained():
    _, html = R.ReportRenderer().patient_document(R.example_result("P0001"))
    assert "default-src 'none'" in html  # CSP: the browser refuses any load or script
    # Only in-page links (the summary's to each disease's section) and data: URLs.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?!["']|data:|#)""", html), "no external reference"
    assert re.findall(r'href="([^"]*)"', html) == ["#trait-1", "#trait-2"]
    assert "url(" not in html and "@import" not in html and "@font-face" not in html


# -- permissions and atomicity ------------------------------------------------


@pytest.fixture
def loose_umask():
    old = os.umask(0o002)  # a umask that would leave files group/world-readable
    yield
    os.umask(old)


def test_files_are_owner_only(tmp_path, loose_umask):
    outroot = tmp_path / "reports"
    written = R.render_patient_reports([R.example_result("P0001"), R.example_result("P0002", seed=2)], outroot)
    assert stat.S_IMODE(outroot.stat().st_mode) == 0o700
    for paths in written:
        assert stat.S_IMODE(paths["html"].parent.stat().st_mode) == 0o700
        for p in paths.values():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600
    cohort = R.render_cohort_report(R.example_cohort(), tmp_path / "cohort" / "cohort.html")
    assert stat.S_IMODE(cohort.stat().st_mode) == 0o600
    assert stat.S_IMODE(cohort.parent.stat().st_mode) == 0o700


def test_failure_while_writing_leaves_no_file_of_the_patient(tmp_path):
    outdir = tmp_path / "P0001"
    (outdir / "report.html").mkdir(parents=True)  # renaming onto it fails after report.json is complete
    with pytest.raises(IsADirectoryError):
        R.render_patient_report(R.example_result("P0001"), outdir)
    assert _files(outdir) == ["report.html"]  # no report.json, no temporaries
    assert (outdir / "report.html").is_dir()


def test_failed_rerender_keeps_the_previous_report(tmp_path):
    paths = R.render_patient_report(R.example_result("P0001"), tmp_path)
    before = {k: p.read_bytes() for k, p in paths.items()}
    bad = R.example_result("P0001", seed=5)
    bad["traits"][0]["risk"]["percentile"] = 140
    with pytest.raises(InputError):
        R.render_patient_report(bad, tmp_path)
    assert {k: p.read_bytes() for k, p in paths.items()} == before
    assert _files(tmp_path) == ["report.html", "report.json"]


def test_batch_stops_at_the_bad_result_with_earlier_ones_complete(tmp_path):
    files = []
    for i in range(4):
        r = R.example_result(f"P{i}", seed=i)
        if i == 2:
            r["qc"]["call_rate"] = -0.1
        files.append(tmp_path / f"P{i}.result.json")
        files[-1].write_text(json.dumps(r))
    with pytest.raises(InputError) as err:
        R.render_patient_reports(files, tmp_path / "out")
    assert err.value.path == str(files[2]) and err.value.record == "patient P2: qc.call_rate"
    assert _files(tmp_path / "out") == ["P0", "P1"]
    for pid in ("P0", "P1"):
        assert _files(tmp_path / "out" / pid) == ["report.html", "report.json"]


def test_batch_refuses_duplicate_patient_ids(tmp_path):
    with pytest.raises(ValueError, match="patient ID 'P1' occurs twice"):
        R.render_patient_reports([R.example_result("P1"), R.example_result("P1", seed=3)], tmp_path)


# -- what the page says -------------------------------------------------------


def _page(result: dict) -> str:
    _, html = R.ReportRenderer().patient_document(result)
    return html


def _clean(seed: int = 0) -> dict:
    r = R.example_result("P0001", seed=seed, withheld=False)
    for s in r["traits"][0]["polygenic_scores"]:
        s["n_matched"] = s["n_variants"]
        s["match_rate"] = 1.0
    return r


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda r: r["qc"].update(call_rate=0.9499), "low_call_rate"),
        (
            lambda r: r["traits"][1]["coverage"].update(model_variant_coverage=0.8, n_model_variants_missing=82),
            "low_model_coverage",
        ),
        (lambda r: r["qc"].update(sex_check="mismatch", recorded_sex="female", inferred_sex="male"), "sex_mismatch"),
        (
            lambda r: (
                r["qc"].update(ancestry_distance=7.25),
                r["traits"][0]["coverage"].update(ancestry_outlier=True),
            ),
            "ancestry_outlier",
        ),
        (lambda r: r["warnings"].append("VCF had 3 records with REF mismatching the reference."), "stage_warning"),
    ],
)
def test_concerns_raise_the_warning_box(change, code):
    clean = _clean()
    assert R.assess_reliability(clean) == {"reliable": True, "concerns": [], "qc_thresholds": R.QC_THRESHOLDS}
    assert "should not be relied on" not in _page(clean)
    html = _page(clean)
    assert "should not be relied on" not in html and "No quality problems were found" in html
    change(clean)
    verdict = R.assess_reliability(clean)
    assert verdict["reliable"] is False and [c["code"] for c in verdict["concerns"]] == [code]
    html = _page(clean)
    assert "This result should not be relied on without review" in html
    assert verdict["concerns"][0]["message"].replace("'", "&#39;") in html


def test_thresholds_are_inclusive_and_configurable():
    r = _clean()
    r["qc"]["call_rate"] = R.QC_THRESHOLDS["min_call_rate"]
    assert R.assess_reliability(r)["reliable"]
    assert not R.assess_reliability(r, {"min_call_rate": 0.99})["reliable"]
    with pytest.raises(ValueError, match="unknown QC threshold"):
        R.assess_reliability(r, {"min_callrate": 0.9})


def test_missing_stages_are_said_plainly():
    r = _clean()
    r.update(notable_variants=None, pharmacogenomics=None)
    for entry in r["traits"]:
        entry.update(cohort_distribution=None, drivers=None, polygenic_scores=None)
        entry["risk"]["prevalence"] = None
    html = _page(r)
    for text in R.NOT_CONFIGURED.values():
        assert text.split(":")[0] in html
    assert "<svg" not in html and "no comparison is made" in html
    r["notable_variants"], r["traits"][0]["polygenic_scores"], r["traits"][0]["drivers"] = [], [], []
    html = _page(r)
    assert "None found: no ClinVar pathogenic" in html and "no score could be computed" in html
    assert "No individual factor changed this estimate" in html


def test_several_diseases_summary_first_then_a_section_each():
    """Issue #13: one report for every trait: a summary row each, a section each, patient-level parts once."""
    result = R.example_result("P0001", seed=6)
    report, html = R.ReportRenderer().patient_document(result)
    text = _visible(html)
    cad, t2d = result["traits"]
    # Order: summary, the diseases in trait order, then data quality, notable variants and medicines once.
    marks = [
        "Summary Disease This person's risk",
        "1. Estimated risk of coronary artery disease, by age 75",
        "2. Estimated risk of type 2 diabetes, within 10 years",
        "Data quality These checks",
        "Notable variants",
        "Medicines:",
    ]
    where = [text.index(m) for m in marks]
    assert where == sorted(where) and all(text.count(m) == 1 for m in marks[1:])
    summary = text.split(marks[0], 1)[1].split(marks[1], 1)[0]
    rows = summary.split("Coronary artery disease", 1)[1].split("Type 2 diabetes")
    p = R.format_percent(cad["risk"]["probability"])
    assert f"{p} 10.0% by age 75 {R.ordinal(cad['risk']['percentile'])} yes (AUC +0.039" in rows[0]
    # The withheld risk: "withheld" and the reason in short; the population average and time frame still.
    assert rows[1].startswith(
        " withheld only 62% of the model's variants called 5.0% within 10 years withheld "
        "no: the simpler linear model is used"
    )
    assert "(boosted minus linear AUC +0.011, 95% CI -0.012 to +0.034)" in rows[1]
    # Its section: no number, the full reason once, and the baseline comparison in plain words.
    section = text.split(marks[2], 1)[1].split("Data quality", 1)[0]
    assert "No risk number is shown for type 2 diabetes" in section and "%" not in section.split("No risk number")[0]
    assert text.count(t2d["risk"]["withheld_reason"]) == 1
    assert (
        "The gradient-boosted model did not predict better than the simpler linear model (AUC 0.701 vs 0.690, "
        "difference +0.011, 95% CI -0.012 to +0.034), so this estimate comes from the linear model." in section
    )
    first = text.split(marks[1], 1)[1].split(marks[2], 1)[0]
    assert "This model predicted better than a simpler model (AUC 0.781 vs 0.742, difference +0.039" in first
    assert "not predict better" not in first and "PGS000001" in first and "PGS000001" not in section
    assert "No polygenic scoring file was configured for the model of this disease" in section  # none here
    # Each trait's model coverage in the QC table; the ancestry check once for traits sharing a limit.
    quality = text.split(marks[3], 1)[1].split("Notable variants", 1)[0]
    assert "Model variants present: coronary artery disease" in quality
    assert "Model variants present: type 2 diabetes 62.0% (157 of 412 missing)" in quality
    assert quality.count("Ancestry within the training cohort's range") == 1
    assert "coronary artery disease, type 2 diabetes" in quality
    assert len(re.findall(r"<svg\b", html)) == 2  # the shown trait's distribution and drivers; none for the other
    assert {c["trait"] for c in report["report"]["concerns"]} == {"t2d"}
    # Both shown: a chart pair each, with distinct ids.
    shown = R.example_result("P0001", seed=6, withheld=False)
    _, html = R.ReportRenderer().patient_document(shown)
    ids = re.findall(r'aria-labelledby="([^"]+)"', html)
    assert ids == ["dist-1-t", "drivers-1-t", "dist-2-t", "drivers-2-t"]
    # The second trait's estimate comes from the linear model itself: no "no better supported" caveat.
    assert "The estimate above is no better supported than that simpler model" not in html
    shown["traits"][1]["model"]["shipped"] = "boosted"
    _, html = R.ReportRenderer().patient_document(shown)
    assert "The estimate above is no better supported than that simpler model" in html


def test_risk_is_stated_in_plain_words():
    r = _clean()
    r["traits"][0]["risk"].update(probability=0.123, interval=[0.09, 0.16], percentile=84.2, prevalence=0.1)
    html = _page(r)
    assert "12.3%" in html and "Of 100 people with a result like this, about 12 would be expected" in html
    assert "between 9.0% and 16.0%" in html and "(95% interval)" in html
    assert "higher than about 84 of every 100 people in the reference cohort of 2,000 (84th percentile)" in html
    assert "1.2 times the average (higher than average)" in html


def test_wording_helpers():
    assert R.natural_frequency(0.123) == "about 12 in 100"
    assert R.natural_frequency(0.004) == "about 4 in 1,000"
    assert R.natural_frequency(0.0001) == "fewer than 1 in 1,000"
    assert [R.ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22, 99.6)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "100th",
    ]
    assert R.describe_percentile(99.9) == "higher than about 99 of every 100 people"
    assert R.describe_percentile(0.2) == "higher than about 1 of every 100 people"
    assert R.format_percent(0.1234) == "12.3%" and R.format_percent(0.0004) == "<0.1%"
    assert R.format_percent(0) == "0.0%" and R.format_percent(None) == "not available"


def test_risk_histogram_from_quantiles():
    uniform = np.linspace(0.0, 0.5, 101)
    np.testing.assert_allclose(R.risk_histogram(uniform, np.linspace(0, 0.5, 41)), 1 / 40, atol=1e-9)
    # A point mass (all quantiles equal) lands in one bin.
    mass = R.risk_histogram(np.full(101, 0.2), np.linspace(0, 1, 11))
    assert mass.argmax() == 2 and mass.max() == pytest.approx(1.0)
    assert R.nice_ticks(0, 0.41, 5).tolist() == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert R.nice_ticks(0, 0.1234).tolist() == pytest.approx([0, 0.025, 0.05, 0.075, 0.1, 0.125])


# -- cohort -------------------------------------------------------------------


def _visible(html: str) -> str:
    """The page's text without its style sheet (see _text)."""
    return _text(re.sub(r"<style>.*?</style>", "", html, flags=re.S))


def test_cohort_report_shows_every_panel(tmp_path):
    cohort = R.example_cohort()
    html = R.render_cohort_report(cohort, tmp_path / "c.html").read_text()
    text = _visible(html)
    for part in (
        "Summary by disease",
        "Sample quality",
        "1,987 of 2,000",
        "Polygenic score variant match rates",
        "threshold 75%",
        "not in target: 20; strand-ambiguous dropped: 3",
        "Genetic ancestry",
        "Coronary artery disease",
        "Type 2 diabetes",
        "Calibration: coronary artery disease",
        "Brier score 0.0810",
        "ceiling 0.839",
        "chance (0.5)",
        "Logistic regression: pgs_PGS000001, pc1, pc2, age, sex_male",
        "Feature importance (largest 15): type 2 diabetes",
        "Rare damaging variants in BRCA2",
        "Variants near chr21:40.1 Mb, by age",
        "ROC AUC difference +0.039 (95% CI +0.012 to +0.066). The interval lies above 0",
        "ROC AUC difference +0.011 (95% CI -0.012 to +0.034). The interval includes 0",
        "Precision-recall curve: type 2 diabetes",
        "chance: the case fraction (20.5%)",
        "PR AUC",
        "ECE",
    ):
        assert part in text, part
    # Cohort-level parts once, each trait's in its own section, in trait order.
    assert text.count("Polygenic score variant match rates") == 2  # the chart's title and its caption
    assert text.index("Genetic ancestry") < text.index("1. Coronary artery disease") < text.index("2. Type 2 diabetes")
    summary = text.split("Summary by disease", 1)[1].split("Sample quality", 1)[0]
    assert "yes" in summary and "no: the interval includes 0" in summary
    # Per trait: ROC, PR, calibration, AUCs, importance; then the match rates and the ancestry map once.
    assert len(re.findall(r"<svg\b", html)) == 2 * 5 + 2
    # The legends hold every name in full.
    legends = text.split("Precision-recall curve: type 2 diabetes", 1)[0].split("ROC curve: type 2 diabetes", 1)[1]
    assert (
        "Logistic regression: in-cohort polygenic score, pc1, pc2, age, sex_male (ROC AUC 0.690, 95% CI 0.659-0.720)"
        in legends
    )


def test_cohort_summary_from_model_files():
    """genorisk.cohort_summary from the files rule cohort_report reads: per trait, in trait order, aggregates only."""
    import pandas as pd

    from genorisk.cohort_summary import cohort_summary

    rng = np.random.default_rng(3)
    n = 400
    phenotypes = pd.DataFrame(
        {
            "sample_id": [f"COH{i:04d}" for i in range(n)],
            "status": rng.integers(0, 2, n),
            "status_b": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 2, n)),
        }
    )

    def trait(tid, column, with_score):
        known = phenotypes[column].dropna().astype(int).to_numpy()
        p = np.clip(0.3 + 0.2 * known + rng.normal(0, 0.15, len(known)), 0.01, 0.99)
        features = [{"kind": "dosage", "definition": {}}]
        if with_score:
            d = {"score_id": "PGS1", "n_variants": 100, "n_matched": 90, "match_rate": 0.9}
            features.append({"kind": "pgs", "definition": d})
        card = {
            "trait": {"id": tid, "name": f"disease {tid}", "column": column, "prevalence": 0.1},
            "files_sha256": {"model.ubj": "ab" * 32},
            "metrics": {
                "data": {"n_samples": len(known)},
                "model": {"roc_auc": {"estimate": 0.7, "ci_low": 0.65, "ci_high": 0.75}},
                "baseline": {"roc_auc": {"estimate": 0.69, "ci_low": 0.64, "ci_high": 0.74}},
                "baseline_features": ["age"],
                "roc_auc_difference": {"model-baseline": {"estimate": 0.01, "ci_low": -0.02, "ci_high": 0.04}},
            },
            "intended_use": "Research.",
            "limits": [],
        }
        oof = pd.DataFrame({"y": known, "model": p, "baseline": np.clip(p + rng.normal(0, 0.05, len(p)), 0, 1)})
        return {"id": tid, "schema": {"features": features}, "card": card, "oof": oof, "importance": []}

    results = [R.example_result(f"P{i}", seed=i) for i in range(3)]
    for r in results:  # two traits named as the cards name them
        r["traits"][0]["trait"]["id"], r["traits"][1]["trait"]["id"] = "a", "b"
    summary = cohort_summary(
        name="test cohort",
        phenotypes=phenotypes,
        qc_summary={"n_samples": n, "n_samples_excluded": 4, "samples_excluded_by_reason": {"low_call_rate": 4}},
        sample_qc=pd.DataFrame({"call_rate": rng.uniform(0.95, 1, n)}),
        traits=[trait("a", "status", True), trait("b", "status_b", False)],
        patient_results=results,
        min_match_rate=0.75,
        cohort_pcs=rng.normal(0, 1, (n, 2)),
    )
    R.check_cohort_summary(summary)
    assert summary["schema_version"] == "3" and [s["trait"]["id"] for s in summary["traits"]] == ["a", "b"]
    a, b = summary["traits"]
    assert a["cohort"]["n_samples"] == n and b["cohort"]["n_samples"] == int(phenotypes["status_b"].notna().sum())
    assert b["cohort"]["n_cases"] == int((phenotypes["status_b"] == 1).sum())
    assert a["performance"]["pr"]["recall"][0] == 0.0 and a["performance"]["pr"]["recall"][-1] == 1.0
    assert a["performance"]["baselines"][0]["pr"] is not None
    assert [s["id"] for s in summary["scores"]] == ["PGS1"] and summary["scores"][0]["traits"] == ["a"]
    assert (
        b["scores"] is None
        and b["warnings"]
        and a["patients"]["risk_status"] == {"shown": 3, "widened": 0, "withheld": 0}
    )
    assert b["patients"]["risk_status"]["withheld"] == 3
    assert len(summary["ancestry_map"]["patients"]) == 3  # the patients' qc.ancestry_pcs, no IDs
    text = json.dumps(summary)
    assert "COH0" not in text and "P1" not in text
    html = R.ReportRenderer().cohort_document(summary)
    assert "no: the interval includes 0" in html
    with pytest.raises(ValueError, match="model card is for trait 'a', expected 'b'"):
        cohort_summary(
            name="x",
            phenotypes=phenotypes,
            qc_summary={},
            sample_qc=pd.DataFrame(),
            traits=[dict(trait("a", "status", True), id="b")],
            patient_results=[],
            min_match_rate=0.75,
        )


@pytest.mark.parametrize(
    "mutate, record",
    [
        (lambda c: c.update(samples=[{"id": "S1", "risk": 0.2}]), "(top level)"),  # per-person data refused
        (lambda c: c["traits"][1].update(risks=[0.2, 0.3]), "traits[1]"),
        (lambda c: c["qc"].update(n_passed=3000), "qc.n_passed"),
        (lambda c: c["scores"][1].update(n_matched=400), "scores[1]"),
        (lambda c: c["traits"][0]["performance"]["roc"]["tpr"].pop(), "traits[0].performance.roc"),
        (lambda c: c["traits"][1]["performance"]["pr"]["recall"].pop(), "traits[1].performance.pr"),
        (
            lambda c: c["traits"][0]["performance"]["baselines"][1].update(auc_ci=[0.7, 0.8]),
            "traits[0].performance.baselines[1].auc_ci",
        ),
        (lambda c: c["traits"][1]["model"].update(auc=float("inf")), "traits[1].model.auc"),
        (lambda c: c["traits"][1]["cohort"].update(n_cases=5), "traits[1].cohort"),
        (lambda c: c["traits"][1]["trait"].update(id="cad"), "traits[1].trait.id"),
        (lambda c: c.update(traits=[]), "traits"),
    ],
)
def test_bad_cohort_is_refused(tmp_path, mutate, record):
    cohort = R.example_cohort()
    mutate(cohort)
    with pytest.raises(InputError) as err:
        R.render_cohort_report(cohort, tmp_path / "c.html", source="cohort.json")
    assert err.value.record == record and err.value.path == "cohort.json"
    assert not (tmp_path / "c.html").exists()


# -- PDF ----------------------------------------------------------------------


def _weasyprint_or_skip():
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as err:  # OSError: pango missing
        if os.environ.get("CI"):
            raise
        pytest.skip(f"weasyprint unusable here: {err}")


def test_pdf_is_written_with_the_html(tmp_path, loose_umask):
    _weasyprint_or_skip()
    paths = R.render_patient_report(_hostile_result(), tmp_path / "P0666", pdf=True)
    data = paths["pdf"].read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    assert len(data) > 20_000  # text, fonts and the two charts, not an empty page
    assert stat.S_IMODE(paths["pdf"].stat().st_mode) == 0o600


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


def test_pdf_fetches_nothing(tmp_path):
    _weasyprint_or_skip()
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        secret = tmp_path / "secret.css"
        secret.write_text("body { color: blue }")
        html = (
            f'<html><head><link rel="stylesheet" href="{base}/a.css"><link rel="stylesheet" href="{secret.as_uri()}">'
            f'</head><body><img src="{base}/b.png"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
            f"<p>offline</p></body></html>"
        )
        # Sanity check of the server, so the zero below means something.
        import urllib.request

        urllib.request.urlopen(f"{base}/probe").read()
        assert _CountingHandler.hits == ["/probe"]
        pdf = R.html_to_pdf(html)
    finally:
        server.shutdown()
    assert pdf.startswith(b"%PDF-")
    assert _CountingHandler.hits == ["/probe"], "WeasyPrint fetched from the network"


# -- command line -------------------------------------------------------------


def test_genorisk_report_command(tmp_path):
    """``genorisk report`` (run as ``python -m genorisk``): files and .jsonl in, progress logged, bad line named."""
    one = tmp_path / "one.json"
    one.write_text(json.dumps(R.example_result("P1")))
    many = tmp_path / "many.jsonl"
    many.write_text("\n".join(json.dumps(R.example_result(f"Q{i}", seed=i)) for i in range(3)) + "\n")
    cohort = tmp_path / "cohort.json"
    cohort.write_text(json.dumps(R.example_cohort()))
    run = [sys.executable, "-m", "genorisk", "report"]
    out = subprocess.run(run + ["patients", str(tmp_path / "out"), str(one), str(many)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert _files(tmp_path / "out") == ["P1", "Q0", "Q1", "Q2"]
    assert "done, 4 patients" in out.stderr
    out = subprocess.run(run + ["cohort", str(cohort), str(tmp_path / "cohort.html")], capture_output=True, text=True)
    assert out.returncode == 0 and (tmp_path / "cohort.html").exists()
    many.write_text(json.dumps(R.example_result("Z1")) + "\n{broken\n")
    out = subprocess.run(run + ["patients", str(tmp_path / "out2"), str(many)], capture_output=True, text=True)
    assert out.returncode == 1  # bad input
    assert f"{many}: line 2: not valid JSON" in out.stderr
    assert _files(tmp_path / "out2") == ["Z1"]  # the patient before the bad line is complete


def test_unevaluated_model_is_a_concern_and_said_plainly(tmp_path):
    r = _clean()
    r["traits"][1]["model"].update(auc=None, auc_ci=None, auc_ceiling=None)
    verdict = R.assess_reliability(r)
    assert [(c["code"], c["trait"]) for c in verdict["concerns"]] == [("model_not_evaluated", "t2d")]
    html = _page(r)
    assert "not evaluated on held-out data" in html and "should not be relied on" in html
    assert '<span class="status-unknown">not evaluated</span>' in html  # the summary row: no comparison
    r["traits"][1]["model"]["auc_ci"] = [0.6, 0.7]
    with pytest.raises(InputError, match=r"traits\[1\]\.model\.auc: auc is null but auc_ci is given"):
        R.validate_result(r)
    cohort = R.example_cohort()
    cohort["traits"][0]["model"].update(auc=None, auc_ci=None)
    html = R.render_cohort_report(cohort, tmp_path / "c.html").read_text()
    assert "not evaluated on held-out data" in html and "Logistic regression: pgs_PGS000001" in html


def test_thresholds_from_the_config_reach_both_reports(tmp_path):
    """The workflow passes report.min_call_rate, report.min_model_variant_coverage and features.min_match_rate."""
    result = R.example_result()
    result["traits"][0]["polygenic_scores"] = result["traits"][0]["polygenic_scores"][:1]
    rate = result["traits"][0]["polygenic_scores"][0]["match_rate"]
    strict = {"min_call_rate": 1.0, "min_model_variant_coverage": 1.0, "min_score_match_rate": min(1.0, rate + 0.01)}
    report, _ = R.ReportRenderer(thresholds=strict).patient_document(result)
    codes = {c["code"] for c in report["report"]["concerns"]}
    assert {"low_call_rate", "low_model_coverage", "low_score_match"} <= codes
    assert report["report"]["qc_thresholds"] == strict
    cohort = R.example_cohort()
    out = R.render_cohort_report(cohort, tmp_path / "c.html", thresholds={"min_score_match_rate": 0.99})
    assert "threshold 99%" in out.read_text()
    default = R.render_cohort_report(cohort, tmp_path / "d.html")
    assert "threshold 75%" in default.read_text()


# -- the result record: absolute risk, outlier policy, scores in context (issue #13 items 2-5) -----------


def _result_inputs(*, coverage=0.98, distance=1.0, n_cases=300):
    from genorisk.model import score_distribution

    rng = np.random.default_rng(0)
    patient = {"patient_id": "P1", "sample": "S1", "vcf": "/data/P1.vcf.gz", "sex": "female"}
    scored = {
        "risk": 0.3,
        "risk_interval": [0.25, 0.36],
        "interval_level": 0.95,
        "percentile": 80.0,
        "drivers": [
            {
                "group": "polygenic score PGS1",
                "label": "polygenic score PGS1",
                "contribution": 0.4,
                "direction": "raises risk",
            },
            {"group": "ancestry (PCs)", "label": "ancestry (PCs)", "contribution": 1.7, "direction": "raises risk"},
            {"group": "age", "label": "age", "contribution": -0.2, "direction": "lowers risk"},
        ],
    }
    qc = {
        "validation": {"warnings": []},
        "sex": {"inferred_sex": "female", "n_sites": 400, "het_fraction": 0.3},
        "coverage": {
            "n_model_variants": 1000,
            "n_missing": int(round((1 - coverage) * 1000)),
            "coverage": coverage,
            "call_rate": 0.99,
            "polygenic_scores": [{"id": "PGS1", "value": 1.5, "n_variants": 100, "n_matched": 90, "match_rate": 0.9}],
            "ancestry": {"distance": distance, "outlier": False, "threshold": 4.5},
        },
    }
    card = {
        "metrics": {
            "data": {"n_samples": 1000, "n_cases": n_cases},
            "model": {"roc_auc": {"estimate": 0.8, "ci_low": 0.77, "ci_high": 0.83}},
        },
        "files_sha256": {"model.ubj": "ab" * 32},
        "intended_use": "Research.",
        "limits": [],
        "ancestry_limit": {
            "threshold": 4.0,
            "outlier_rate": 0.005,
            "heldout_quantiles": {"p": [0.99, 0.995, 0.999], "distance": [3.5, 4.0, 5.0]},
        },
    }
    cohort_risks = {
        "risk_quantiles": np.sort(rng.beta(2, 5, 1001)).tolist(),
        "n_samples": 1000,
        "polygenic_scores": {
            "PGS1": {
                "cohort": score_distribution(rng.normal(0, 1, 5000)),
                "ancestry": {"n_pcs": 2, "mean_coef": [0.5, 0.1, 0.0], "var_coef": [0.0, 0.0, 0.0]},
                "method": "cohort",
                "ancestry_method": "Z_norm2",
            }
        },
    }
    return patient, scored, qc, card, cohort_risks


TRAIT = {
    "id": "cad",
    "name": "coronary artery disease",
    "column": "status",
    "prevalence": 0.05,
    "population": "UK adults",
    "time_frame": "by age 75",
}


def test_risk_is_re_anchored_to_the_configured_prevalence_and_named():
    from genorisk.model import prior_shift
    from genorisk.results import patient_result

    args = _result_inputs()
    full = patient_result(*args, trait=TRAIT, ancestry_pcs=[1.0, 2.0, 0.0])
    R.validate_result(full)
    r = full["traits"][0]
    assert full["schema_version"] == "4" and full["pharmacogenomics"] is None
    assert r["trait"]["name"] == "coronary artery disease"
    want = float(prior_shift(0.3, 0.3, 0.05))  # odds 3/7 x (0.05/0.95) / (0.3/0.7)
    assert r["risk"]["probability"] == pytest.approx(want) and want == pytest.approx(0.05 / 0.95 / (1 + 0.05 / 0.95))
    assert r["risk"]["percentile"] == 80.0 and r["risk"]["prevalence"] == 0.05
    assert r["risk"]["prevalence_source"] == "population" and r["risk"]["anchoring"] == "prior shift"
    q = r["cohort_distribution"]["quantiles"]
    assert q == pytest.approx(prior_shift(np.asarray(args[4]["risk_quantiles"])[::10], 0.3, 0.05).tolist())
    html = _page(full)
    assert "Population average (UK adults):</strong> 5.0%" in html and "not given" not in html
    assert "coronary artery disease (time frame: by age 75)" in html and "Elkan 2001" in html
    # Without a prevalence: the cohort's case fraction is the average, said so.
    full = patient_result(*_result_inputs())
    r = full["traits"][0]
    assert r["risk"]["probability"] == 0.3 and r["risk"]["prevalence"] == 0.3
    assert r["trait"]["name"] == "the condition"
    html = _page(full)
    assert "Cohort average:</strong> 30.0%" in html and "case fraction is used" in html


def test_ancestry_pcs_are_an_adjustment_never_a_driver():
    from genorisk.results import patient_result

    full = patient_result(*_result_inputs(), trait=TRAIT)
    r = full["traits"][0]
    assert [d["group"] for d in r["drivers"]] == ["polygenic score PGS1", "age"]
    assert r["ancestry_adjustment"] == {"contribution": 1.7, "odds_factor": pytest.approx(np.exp(1.7))}
    html = _page(full)
    assert "Ancestry adjustment:" in html and "ancestry (PCs)" not in html


def test_polygenic_score_in_context():
    from genorisk.results import patient_result

    full = patient_result(*_result_inputs(), trait=TRAIT, ancestry_pcs=[1.0, 2.0, 0.0])
    s = full["traits"][0]["polygenic_scores"][0]
    cohort = _result_inputs()[4]["polygenic_scores"]["PGS1"]["cohort"]
    assert s["value"] == 1.5 and s["z"] == pytest.approx((1.5 - cohort["mean"]) / cohort["sd"])
    assert 90 < s["percentile"] < 97  # N(0, 1): 1.5 is the 93rd percentile
    assert s["z_ancestry"] == pytest.approx(1.5 - (0.5 + 0.1 * 1.0))  # mean 0.6 at these PCs, variance 1
    html = _page(full)
    assert f"{s['z_ancestry']:+.2f}" in html and "not available" not in html.split("Polygenic scores")[1][:2000]


@pytest.mark.parametrize("policy", ["withhold", "widen"])
def test_outlier_policy(policy):
    from genorisk.results import patient_result

    full = patient_result(*_result_inputs(distance=11.1), trait=TRAIT, outlier_policy=policy)
    R.validate_result(full)
    r = full["traits"][0]
    assert r["coverage"]["ancestry_outlier"] and r["coverage"]["ancestry_threshold"] == 4.0
    report, html = R.ReportRenderer().patient_document(full)
    text = html.replace("&#39;", "'")
    assert text.count("at the edge of the training cohort's ancestry range") == 1
    assert "not trained on people like them" not in text
    if policy == "withhold":
        assert r["risk"]["status"] == "withheld" and r["risk"]["probability"] is None
        assert [c["code"] for c in report["report"]["concerns"]] == ["risk_withheld"]
        assert "No risk number is shown for coronary artery disease" in html and "Z (ancestry-adjusted)" in html
        assert "withheld" in _visible(html).split("Summary", 1)[1].split("1. Estimated risk", 1)[0]
    else:
        assert r["risk"]["status"] == "widened" and "widened" in r["risk"]["interval_note"]
        lo, hi = r["risk"]["interval"]
        q = r["cohort_distribution"]["quantiles"]
        assert lo <= q[3] and hi >= q[97]  # the middle 95 % of the cohort's risks, not the calibration band
        assert "Why the interval is wide" in html
    # The rate re-derives the limit from the stored held-out quantiles: at 0.1 %, distance 4.5 is inside.
    r = patient_result(*_result_inputs(distance=4.5), trait=TRAIT, outlier_rate=0.001)["traits"][0]
    assert r["coverage"]["ancestry_threshold"] == pytest.approx(5.0) and r["risk"]["status"] == "shown"
    r = patient_result(*_result_inputs(distance=4.5), trait=TRAIT, outlier_rate=0.005)["traits"][0]
    assert r["risk"]["status"] == "withheld"


@pytest.mark.parametrize("policy", ["withhold", "widen"])
def test_no_usable_genotype_data_never_gets_a_risk_number(policy):
    from genorisk.results import patient_result

    full = patient_result(*_result_inputs(coverage=0.0), trait=TRAIT, outlier_policy=policy)
    R.validate_result(full)
    r = full["traits"][0]
    assert r["risk"]["status"] == "withheld" and r["risk"]["probability"] is None and r["risk"]["percentile"] is None
    assert "No usable genotype data" in r["risk"]["withheld_reason"]
    html = _page(full)
    assert "no usable genotype data" in html.split("Summary", 1)[1].split("</table>", 1)[0]  # the summary row
    assert "11.3%" not in html and "percentile)" not in html.split("Estimated risk")[1].split("Polygenic")[0]
    # Below the coverage limit but not zero: the policy decides.
    r = patient_result(*_result_inputs(coverage=0.5), trait=TRAIT, outlier_policy=policy)["traits"][0]
    assert r["risk"]["status"] == ("withheld" if policy == "withhold" else "widened")


def test_honest_variant_labels():
    import pandas as pd

    from genorisk.features.variants import notable_reasons

    table = pd.DataFrame(
        {
            "clinvar_significance": ["Pathogenic", "Likely_benign", None, "Benign/Likely_benign", "Conflicting"],
        }
    )
    assert notable_reasons(table, consequences_computed=False) == [
        "ClinVar pathogenic/likely pathogenic",
        "rare variant, ClinVar benign/likely benign",
        "rare coding variant (consequence not computed)",
        "rare variant, ClinVar benign/likely benign",
        "rare coding variant (consequence not computed)",
    ]
    assert notable_reasons(table, consequences_computed=True)[2] == "rare predicted damaging"
    assert notable_reasons(table, consequences_computed=True)[1] == "rare variant, ClinVar benign/likely benign"


# -- the Medicines section (issue #15) -----------------------------------------


def _write_demo_pgx_vcf(path: Path, samples: list[str], *, drop_genes: tuple[str, ...] = ()) -> Path:
    """The demo's simulated PGx records (genorisk.simulate.pgx, the plan's diplotypes) as a bgzipped, indexed VCF."""
    from genorisk.pgx.definitions import load_definitions
    from genorisk.simulate.pgx import contig_lines, demo_pgx_sites

    sites = demo_pgx_sites(len(samples))
    dropped = {p.pos for g in drop_genes for p in load_definitions([g])[g].positions}
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines += [f"##contig=<ID={name},length={length}>" for name, length in contig_lines(sites.contigs, [])]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    for i in range(len(sites.positions)):
        if int(sites.positions[i]) in dropped:
            continue
        gts = ["./." if (c < 0).any() else f"{c[0]}|{c[1]}" for c in sites.calls[i]]
        fixed = [sites.chroms[i], str(sites.positions[i]), sites.ids[i], sites.refs[i], sites.alts[i]]
        lines.append("\t".join([*fixed, ".", "PASS", ".", "GT", *gts]))
    text = path.with_suffix("")
    text.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(text)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def demo_pgx(tmp_path_factory):
    """Real pgx objects (genorisk.pgx) of demo patients P001 (CYP2C19 *2/*17) and P004 (a missing call);
    TPMT's positions are left out of the file, so TPMT is not called."""
    from genorisk.pgx.call import call_sample

    vcf = _write_demo_pgx_vcf(
        tmp_path_factory.mktemp("pgx") / "demo.vcf.gz", [f"P00{i}" for i in range(1, 7)], drop_genes=("TPMT",)
    )
    return vcf, {pid: {"patient_id": pid, **call_sample(vcf, pid)} for pid in ("P001", "P004")}


def _text(html: str) -> str:
    """The page's text, as a reader sees it (markup dropped, entities decoded)."""
    parts: list[str] = []

    class Text(HTMLParser):
        def handle_starttag(self, tag, attrs):
            parts.append(" ")  # cells and lines read apart

        def handle_data(self, data):
            parts.append(data)

    Text().feed(html)
    return re.sub(r"\s+", " ", "".join(parts))


def _medicines(html: str) -> str:
    return html.split('<section class="medicines"', 1)[1].split("</section>", 1)[0]


def _with_pgx(pgx: dict | None, patient_id: str = "P001", seed: int = 0) -> dict:
    result = R.example_result(patient_id, seed=seed)
    result["pharmacogenomics"] = R.pharmacogenomics_section(pgx, patient_id=patient_id)
    return result


def test_medicines_section_from_a_real_pgx_call(tmp_path, demo_pgx):
    _, pgx = demo_pgx
    paths = R.render_patient_report(_with_pgx(pgx["P001"]), tmp_path / "P001")
    report = json.loads(paths["json"].read_text())
    jsonschema.Draft202012Validator(_schema("report")).validate(report)
    section = report["pharmacogenomics"]
    assert report["schema_version"] == "4" and section["status"] == "called"
    genes = {g["gene"]: g for g in section["genes"]}
    assert [d["name"] for d in genes["CYP2C19"]["diplotypes"]] == ["*2/*17"]
    assert genes["CYP2C19"]["phenotype"] == "Intermediate Metabolizer"
    # TPMT failed (positions absent, nothing says they were sequenced); the other genes and the risk stay.
    assert genes["TPMT"]["status"] == "not_called" and len(genes["TPMT"]["absent_positions"]) > 0
    assert sum(g["status"] == "called" for g in section["genes"]) >= 10
    assert section["not_attempted"][0]["gene"] == "CYP2D6"
    assert section["definitions"]["build"] == "GRCh38" and "Research use" in section["research_use"]
    clopidogrel = next(d for d in section["drugs"] if d["drug"] == "clopidogrel")
    assert clopidogrel["actionable"] and clopidogrel["citation"]["pmid"] == 35034351

    html = paths["html"].read_text()
    page, medicines = _text(html), _text(_medicines(html))
    assert "Estimated risk of" in page and "estimated risk" in page
    assert page.index("What drives this estimate") < page.index("Notable variants") < page.index("Medicines:")
    assert "*2/*17" in medicines and "Intermediate Metabolizer" in medicines
    assert "PMID 35034351" in medicines and "<a " not in _medicines(html) and "pubmed" not in html.lower()
    assert section["research_use"] in medicines
    assert "CYP2D6 none not determined Not attempted needs copy-number" in medicines
    assert "TPMT none not determined Not called " in medicines and "absent from the VCF" in medicines
    assert "IFNL3 rs12979860 reference (C)/rs12979860 reference (C) No phenotype mapping Called" in medicines
    # Drugs whose recommendation changes prescribing first (clopidogrel for this intermediate metabolizer), then
    # those with a standard-prescribing recommendation, then none; thiopurines keeps NUDT15's, TPMT says why not.
    drugs = [d["drug"] for d in section["drugs"]]
    shown = sorted(drugs, key=lambda d: medicines.index(d))
    rank = {d["drug"]: (d["changes_prescribing"], d["actionable"]) for d in section["drugs"]}
    assert [rank[d] for d in shown] == sorted(rank.values(), reverse=True)
    assert clopidogrel["changes_prescribing"] and shown[0] == "clopidogrel"
    assert rank["atazanavir"] == (False, True)  # UGT1A1 normal: a recommendation, standard prescribing
    assert _medicines(html).count('status-warn">changes prescribing') == sum(r[0] for r in rank.values())
    assert "TPMT was not called: no genotype-based guidance" in medicines
    # One sentence per distinct text: warfarin's genes that share a recommendation show it once, tagged with both.
    warfarin = next(d for d in section["drugs"] if d["drug"] == "warfarin")["genes"]
    texts = [g["recommendation"] for g in warfarin]
    for text in set(texts):
        assert medicines.count(text) == 1
        tag = " and ".join(g["gene"] for g in warfarin if g["recommendation"] == text)
        assert f"{tag}: {text}" in medicines
    # The whole section is built from the file: rerendering report.json gives the same bytes.
    again = R.render_patient_report(report, tmp_path / "again")
    assert again["html"].read_bytes() == paths["html"].read_bytes()


def test_missing_position_gives_a_partial_row_listing_it(tmp_path, demo_pgx):
    """P004: CYP2C19 read everywhere but rs12248560, the *17 position. The positions read fit *1/*1 best by
    PharmCAT's score, but *1/*17 and *17/*17 fit them as well: the phenotype is Indeterminate, not Normal."""
    _, pgx = demo_pgx
    section = R.pharmacogenomics_section(pgx["P004"], patient_id="P004")
    c19 = next(g for g in section["genes"] if g["gene"] == "CYP2C19")
    assert c19["status"] == "partial" and c19["missing_positions"] == [{"position": 94761900, "rsid": "rs12248560"}]
    rows = [(d["name"], d["phenotype"], d.get("differs_at_missing_positions", False)) for d in c19["diplotypes"]]
    assert rows == [
        ("*1/*1", "Normal Metabolizer", False),
        ("*1/*17", "Rapid Metabolizer", True),
        ("*17/*17", "Ultrarapid Metabolizer", True),
    ]
    assert c19["phenotype"] == "Indeterminate" and "*1/*17, *17/*17 fit the positions read" in c19["reason"]
    # No recommendation rests on the missing position: both CYP2C19 drugs say why they have none.
    for drug in ("clopidogrel", "SSRIs (citalopram, escitalopram)"):
        entry = next(d for d in section["drugs"] if d["drug"] == drug)
        assert not entry["actionable"] and not entry["changes_prescribing"]
        assert entry["genes"][0]["recommendation"] is None and "indeterminate" in entry["genes"][0]["reason"]
    result = _with_pgx(pgx["P004"], "P004")
    R.validate_result(result, source="r.json")
    medicines = _text(_medicines(_page(result)))
    assert "Partly called" in medicines and "1 missing call: rs12248560 (chr10:94761900)" in medicines
    assert "CYP2C19 *1/*1 Not ruled out, because of missing positions: *1/*17 or *17/*17 Indeterminate" in medicines
    assert "Normal Metabolizer Partly called" not in medicines


def test_medicines_strings_from_files_are_escaped():
    pgx = R.example_pharmacogenomics()
    pgx["genes"][0]["gene"] = "<script>alert('gene')</script>"
    pgx["genes"][0]["diplotypes"][0]["name"] = '*2/<img src=x onerror="alert(1)">'
    pgx["drugs"][0]["drug"] = "clopidogrel <b>bold</b> & co"
    pgx["drugs"][0]["genes"][0]["recommendation"] = "<a href='https://example.org/x'>click</a>"
    pgx["drugs"][0]["citation"]["title"] = "</td></tr></table><h1>injected</h1>"
    pgx["not_attempted"][0]["reason"] = "<iframe src='https://example.org'></iframe>"
    result = R.example_result("P0001")
    result["pharmacogenomics"] = pgx
    html = _page(result)
    section = _medicines(html)
    for raw in ("<script>", "<img", "<b>bold", "<a href", "<h1>", "<iframe"):
        assert raw not in section
    text = _text(section)
    for shown in (
        "<script>alert('gene')</script>",
        '*2/<img src=x onerror="alert(1)">',
        "clopidogrel <b>bold</b> & co",
        "<a href='https://example.org/x'>click</a>",
        "</td></tr></table><h1>injected</h1>",
    ):
        assert shown in text
    assert "https://" not in html.replace("https://genorisk.invalid", "").split("<body>", 1)[1].replace(
        "https://example.org", ""
    )


def test_pgx_refused_patient_keeps_the_disease_report(tmp_path, demo_pgx):
    """Sample missing from the file at calling time: pgx refuses it (stage pgx); the risk is still reported."""
    from genorisk.pgx.call import call_batch

    vcf, _ = demo_pgx
    patients = [{"patient_id": "P009", "sample": "NOT_IN_FILE", "vcf": "p.vcf.gz", "vcf_key": "k", "sheet_line": 9}]
    statuses = {"k": {"normalized": str(vcf), "patients": {"P009": {"status": "accepted"}}}}
    pgx = call_batch(patients, statuses)["patients"]["P009"]
    assert pgx["status"] == "refused" and pgx["error"]["stage"] == "pgx"
    paths = R.render_patient_report(_with_pgx(pgx, "P009"), tmp_path / "P009")
    report = json.loads(paths["json"].read_text())
    assert report["pharmacogenomics"]["status"] == "refused" and report["traits"][0]["risk"]["probability"] is not None
    page = _text(paths["html"].read_text())
    medicines = _text(_medicines(paths["html"].read_text()))
    assert "estimated risk" in page and report["report"]["reliable"] == R.assess_reliability(report)["reliable"]
    assert "Not assessed for this person" in medicines and "NOT_IN_FILE" in medicines
    assert "does not affect the disease risk above" in medicines


def test_pgx_disabled_or_not_configured_is_said_plainly(demo_pgx):
    from genorisk.pgx.call import call_batch

    patients = [{"patient_id": "P001", "sample": "P001", "vcf": "p.vcf.gz", "vcf_key": "k"}]
    disabled = call_batch(patients, {}, enabled=False)["patients"]["P001"]
    medicines = _text(_medicines(_page(_with_pgx(disabled))))
    assert "Not assessed: pgx.enabled is false in the config" in medicines
    medicines = _text(_medicines(_page(_with_pgx(None))))
    assert R.NOT_CONFIGURED["pharmacogenomics"] in medicines


def _gene(section: dict, name: str) -> dict:
    return next(g for g in section["genes"] if g["gene"] == name)


@pytest.mark.parametrize(
    "mutate, record, problem",
    [
        (lambda s: _gene(s, "CYP2C9").update(diplotypes=[]), "pharmacogenomics.genes[1].diplotypes", "no diplotype"),
        (lambda s: _gene(s, "TPMT").update(reason=None), "pharmacogenomics.genes[3].reason", "no reason"),
        (lambda s: _gene(s, "SLCO1B1").update(phenotype="Normal Function"), "genes[2].phenotype", "Indeterminate"),
        (lambda s: s["drugs"][0].update(actionable=False), "pharmacogenomics.drugs[0].actionable", "actionable"),
        (lambda s: s.update(definitions=None), "pharmacogenomics", "genome_build and definitions"),
        (lambda s: s["drugs"][0]["citation"].pop("pmid"), "pharmacogenomics.drugs[0].citation", "pmid"),
        (lambda s: s["genes"][0].update(status="maybe"), "pharmacogenomics.genes[0].status", "maybe"),
    ],
)
def test_bad_pharmacogenomics_section_is_refused(mutate, record, problem):
    result = R.example_result("P0001")
    mutate(result["pharmacogenomics"])
    with pytest.raises(InputError, match=problem) as err:
        R.validate_result(result, source="r.json")
    assert record in str(err.value) and "patient P0001" in str(err.value)


def test_pgx_object_of_another_patient_or_without_a_field_is_refused(demo_pgx):
    _, pgx = demo_pgx
    with pytest.raises(InputError, match="is for patient 'P001'"):
        R.pharmacogenomics_section(pgx["P001"], patient_id="P004", source="pgx.json")
    broken = {**pgx["P001"], "genes": [{k: v for k, v in g.items() if k != "phased"} for g in pgx["P001"]["genes"]]}
    with pytest.raises(InputError, match=r"pharmacogenomics.genes\[0\].*missing field\(s\) phased"):
        R.pharmacogenomics_section(broken, patient_id="P001", source="pgx.json")


def test_a_trait_whose_linear_model_ships_says_so(tmp_path):
    """Issue #16: when the boosted model does not beat the strong baseline, the report says the linear model is used."""
    from genorisk.report import example_result, render_patient_report

    result = example_result(withheld=False)
    assert [t["model"]["shipped"] for t in result["traits"]] == ["boosted", "linear"]
    html = render_patient_report(result, tmp_path / "P")["html"].read_text()
    assert "The gradient-boosted model did not predict better than the simpler linear model" in html
    assert "so this estimate comes from the linear model" in html
    assert "the simpler linear model is used" in html  # the summary row
    assert html.count("no better supported than that simpler model") == 0  # not said of the linear model itself
