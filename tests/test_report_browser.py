"""Reports in a real browser: headless Chromium driven through chromedriver.

Talks W3C WebDriver to chromedriver with the standard library only
(``http.client``); DevTools commands go through chromedriver's
``goog/cdp/execute`` endpoint. Checks, per page: no console messages at
warning level or above (a CSP violation would be one), no network request
other than the page's own file, no ``<script>`` element, no horizontal
overflow, no two SVG labels drawn over each other. Full-page screenshots go to
``tests/artifacts/`` (gitignored); the test prints their paths.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from genorisk import report as R

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI must have chromium and chromium-driver (see .ci/apt-packages.txt)")
    pytest.skip(
        "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )


class WebDriver:
    """The handful of W3C WebDriver calls these tests need, over plain HTTP."""

    def __init__(self, port: int):
        self.port = port
        self.session = None

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"{}")
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"chromedriver {method} {path}: HTTP {resp.status}: {data}")
        return data["value"]

    def start(self, user_data_dir: Path) -> None:
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1000,900",
            f"--user-data-dir={user_data_dir}",
        ]
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
                    "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
                }
            }
        }
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def s(self, method: str, path: str, body: dict | None = None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def cdp(self, cmd: str, params: dict | None = None):
        return self.s("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params or {}})

    def evaluate(self, expression: str):
        # DevTools evaluation is not subject to the page's CSP (which forbids scripts).
        out = self.cdp("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in out:
            raise RuntimeError(f"evaluation failed: {out['exceptionDetails']}")
        return out["result"]["value"]

    def logs(self, kind: str) -> list[dict]:
        return self.s("POST", "/se/log", {"type": kind})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"
    proc = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}", f"--log-path={log}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wd = WebDriver(port)
    try:
        for _ in range(200):  # chromedriver is up within a second or two
            with contextlib.suppress(OSError):
                if wd.call("GET", "/status", timeout=2).get("ready"):
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"chromedriver did not come up; see {log}")
        wd.start(tmp_path_factory.mktemp("chrome-profile"))  # empty user-data-dir
        wd.s("POST", "/url", {"url": "about:blank"})
        yield wd
        with contextlib.suppress(Exception):
            wd.s("DELETE", "")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# Labels closer than this are drawn over each other (px, on the rendered page).
_OVERLAP_JS = r"""
(() => {
  const out = [];
  document.querySelectorAll('svg').forEach((svg, k) => {
    const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [ta, a] = boxes[i], [tb, b] = boxes[j];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) out.push(`svg ${k}: "${ta}" overlaps "${tb}"`);
    }
    const box = svg.getBoundingClientRect();
    boxes.forEach(([t, r]) => {
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        out.push(`svg ${k}: "${t}" sticks out of its chart`);
    });
  });
  return out;
})()
"""


def _visit(driver: WebDriver, page: Path, shot: Path) -> dict:
    driver.logs("browser"), driver.logs("performance")  # drain what earlier pages left
    url = page.resolve().as_uri()
    driver.s("POST", "/url", {"url": url})
    metrics = driver.cdp("Page.getLayoutMetrics")
    size = metrics["cssContentSize"]
    viewport = metrics["cssLayoutViewport"]
    png = driver.cdp(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": viewport["clientWidth"], "height": size["height"], "scale": 1},
        },
    )["data"]
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(base64.b64decode(png))
    print(f"screenshot: {shot}")
    requests, network = [], []
    for entry in driver.logs("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            params = msg["params"]
            if params.get("documentURL") == url:
                requests.append(params["request"]["url"])
            if params["request"]["url"].split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp"):
                network.append(params["request"]["url"])  # from any tab or worker
    return {
        "url": url,
        "console": [e for e in driver.logs("browser") if e["level"] in ("WARNING", "SEVERE")],
        "requests": requests,
        "network": network,
        "n_scripts": driver.evaluate("document.querySelectorAll('script').length"),
        "n_svg": driver.evaluate("document.querySelectorAll('svg').length"),
        "overflow_px": size["width"] - viewport["clientWidth"],
        "overlaps": driver.evaluate(_OVERLAP_JS),
        "text": driver.evaluate("document.body.innerText"),
        "png": shot,
    }


def _assert_clean(seen: dict, n_svg: int) -> None:
    assert seen["console"] == [], f"console messages: {seen['console']}"
    assert seen["requests"] and all(u == seen["url"] for u in seen["requests"]), (
        f"requests other than the page itself: {seen['requests']}"
    )
    assert seen["network"] == [], f"network requests: {seen['network']}"
    assert seen["n_scripts"] == 0
    assert seen["n_svg"] == n_svg
    assert seen["overflow_px"] <= 0, f"page is {seen['overflow_px']} px wider than the window"
    assert seen["overlaps"] == [], "\n".join(seen["overlaps"])
    assert seen["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_patient_report_in_browser(driver, tmp_path):
    """Two diseases, the second withheld (too little of its model covered) and its model no better than its baseline."""
    result = R.example_result("P0001", seed=3)
    result["sample"] = "<script>alert(1)</script>"
    result["traits"][0]["drivers"][0]["label"] = 'Variant "A" & <b>B</b>'
    result["traits"][1]["trait"]["name"] = "type 2 diabetes <i>T2D</i>"
    result["warnings"] = ["Sample <img src=x onerror=alert(2)> had 12 duplicate records."]
    paths = R.render_patient_report(result, tmp_path / "P0001")
    seen = _visit(driver, paths["html"], ARTIFACTS / "patient_report.png")
    _assert_clean(seen, n_svg=2)  # the shown disease's two charts; none for the withheld one
    text = seen["text"]
    # The hostile strings show as text, not as markup.
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    assert "type 2 diabetes <i>T2D</i>" in text
    assert "This result should not be relied on without review" in text
    # The summary table first: a row per disease, the withheld one says so in short and its model's "no".
    rows = driver.evaluate(
        "[...document.querySelectorAll('table.summary tbody tr')].map(r => [...r.cells].map(c => c.innerText))"
    )
    assert [r[0] for r in rows] == ["Coronary artery disease", "Type 2 diabetes <i>T2D</i>"]
    assert rows[0][1].endswith("%") and rows[0][5].startswith("yes")
    assert rows[1][1].startswith("withheld") and "62%" in rows[1][1] and rows[1][4] == "withheld"
    assert rows[1][2] == "5.0%" and rows[1][3] == "within 10 years" and rows[1][5].startswith("no")
    # Then a section per disease, then the patient-level sections once.
    order = [
        "1. Estimated risk of coronary artery disease",
        "2. Estimated risk of type 2 diabetes <i>T2D</i>",
        "Data quality\n",
        "Notable variants\n",
        "Medicines:",
    ]
    assert [text.index(m) for m in order] == sorted(text.index(m) for m in order)
    # The second disease ships the linear model (issue #16): the report says so.
    assert "The gradient-boosted model did not predict better than the simpler linear model (AUC 0.701 vs 0.690" in text


def test_patient_report_without_optional_stages_in_browser(driver, tmp_path):
    result = R.example_result("P0002", seed=8, withheld=False)
    result.update(notable_variants=None)
    for entry in result["traits"]:
        entry.update(cohort_distribution=None, drivers=None, polygenic_scores=None)
    paths = R.render_patient_report(result, tmp_path / "P0002")
    seen = _visit(driver, paths["html"], ARTIFACTS / "patient_report_minimal.png")
    _assert_clean(seen, n_svg=0)
    assert "Not assessed: variant annotation" in seen["text"]
    assert "No quality problems were found" in seen["text"]


def test_withheld_risk_in_browser(driver, tmp_path):
    """outlier_policy withhold: no risk number, the reason once, the ancestry-adjusted Z still shown.

    Both diseases withheld: the first beyond the ancestry limit, the second with too little of its model covered.
    """
    result = R.example_result("P0003", seed=5)
    reason = (
        "This person lies at the edge of the training cohort's ancestry range (ancestry distance 11.1; the limit 4.1 "
        "flags about 0.5% of people from the cohort's own population). The model's accuracy beyond that range was "
        "not measured. No risk number is shown."
    )
    first = result["traits"][0]
    first["risk"].update(status="withheld", probability=None, interval=None, percentile=None, withheld_reason=reason)
    first["coverage"].update(ancestry_outlier=True)
    result["qc"].update(ancestry_distance=11.1)
    paths = R.render_patient_report(result, tmp_path / "P0003")
    seen = _visit(driver, paths["html"], ARTIFACTS / "patient_report_withheld.png")
    _assert_clean(seen, n_svg=0)  # no risk chart, no drivers chart
    text = seen["text"]
    assert "No risk number is shown for coronary artery disease" in text
    assert "No risk number is shown for type 2 diabetes" in text
    assert text.count("at the edge of the training cohort's ancestry range") == 1
    summary = text.split("Summary", 1)[1].split("1. Estimated risk", 1)[0]
    assert "beyond the ancestry limit" in summary and "only 62% of the model's variants called" in summary
    section = text.split("1. Estimated risk", 1)[1].split("Polygenic scores", 1)[0]
    assert "%" not in section.split("No risk number")[0]
    z = f"{first['polygenic_scores'][0]['z_ancestry']:+.2f}"
    assert z in text and "Z (ancestry-adjusted)" in text
    assert "calibrated risk estimate" not in text and "times the average" not in text
    saved = json.loads(paths["json"].read_text())
    assert [(c["code"], c["trait"]) for c in saved["report"]["concerns"]] == [
        ("risk_withheld", "cad"),
        ("risk_withheld", "t2d"),
    ]
    assert not saved["report"]["reliable"]


def test_two_diseases_shown_in_browser(driver, tmp_path):
    """Both risks shown: a chart pair per disease, none overlapping; the second model's 'no' in its section."""
    result = R.example_result("P0005", seed=11, withheld=False)
    paths = R.render_patient_report(result, tmp_path / "P0005")
    seen = _visit(driver, paths["html"], ARTIFACTS / "patient_report_two_diseases.png")
    _assert_clean(seen, n_svg=4)
    text = seen["text"]
    second = text.split("2. Estimated risk of type 2 diabetes", 1)[1].split("Data quality\n", 1)[0]
    assert "so this estimate comes from the linear model" in second
    assert "estimated risk of type 2 diabetes, within 10 years" in second


# Cells of the Medicines tables whose content is wider than the cell (cut or spilling over).
_CELL_OVERFLOW_JS = r"""
(() => [...document.querySelectorAll('section.medicines td, section.medicines th')]
  .filter(c => c.scrollWidth > c.clientWidth + 1)
  .map(c => c.textContent.trim().slice(0, 60)))()
"""


def _medicines_result(patient_id: str) -> dict:
    """A demo-like report: the demo's P001 plan (CYP2C19 *2/*17) with a tie, an uncalled gene and CYP2D6."""
    result = R.example_result(patient_id, seed=3)
    pgx = result["pharmacogenomics"]
    tpmt = next(g for g in pgx["genes"] if g["gene"] == "TPMT")
    tpmt["absent_positions"] = [{"position": 18130000 + i, "rsid": f"rs{1000000 + i}"} for i in range(40)]
    pgx["drugs"][0]["drug"] = "clopidogrel <b>not bold</b>"
    return result


def test_medicines_section_in_browser(driver, tmp_path):
    result = _medicines_result("P0004")
    paths = R.render_patient_report(result, tmp_path / "P0004")
    seen = _visit(driver, paths["html"], ARTIFACTS / "patient_report_medicines.png")
    _assert_clean(seen, n_svg=2)  # the risk charts only: the section adds tables, not charts
    assert driver.evaluate(_CELL_OVERFLOW_JS) == []
    text = seen["text"]
    medicines = text.split("Medicines:", 1)[1].split("Notable variants", 1)[0]
    assert "Research use only" in medicines and "clinician or pharmacist" in medicines
    assert "clopidogrel <b>not bold</b>" in medicines and "*2/*17" in medicines
    assert "Intermediate Metabolizer" in medicines and "PMID 35034351" in medicines
    assert "Not attempted" in medicines and "a VCF of small variants cannot give" in medicines
    assert "Not called" in medicines and "and 32 more (all listed in report.json)" in medicines
    assert "*1/*1 or *1/*5" in medicines and "Partly called" in medicines
    assert driver.evaluate("document.querySelectorAll('section.medicines a').length") == 0
    # The risk is still there, above the section.
    assert text.index("estimated risk") < text.index("Medicines:")


def test_cohort_report_in_browser(driver, tmp_path):
    cohort = R.example_cohort()
    cohort["traits"][0]["performance"]["baselines"][0]["name"] = (
        "Logistic regression: pgs_PGS_SIM_DEMO, pc1, pc2, pc3, pc4, pc5, age, sex_male (the full name, never cut)"
    )
    out = R.render_cohort_report(cohort, tmp_path / "cohort.html")
    seen = _visit(driver, out, ARTIFACTS / "cohort_report.png")
    _assert_clean(
        seen, n_svg=12
    )  # match rates and ancestry map once; ROC, PR, calibration, AUCs, importance per disease
    text = seen["text"]
    assert "ROC curve" in text and "Calibration" in text and "Genetic ancestry" in text
    assert "Precision-recall curve: type 2 diabetes" in text
    assert "ROC AUC difference +0.039 (95% CI +0.012 to +0.066)" in text
    assert "ROC AUC difference +0.011 (95% CI -0.012 to +0.034). The interval includes 0" in text
    assert "PR AUC" in text and "ECE" in text and "Brier score" in text
    assert text.index("1. Coronary artery disease") < text.index("2. Type 2 diabetes")
    # The legend holds every word of the baseline's name (wrapped, not cut).
    legend = driver.evaluate(
        "[...document.querySelectorAll('svg')].map(s => [...s.querySelectorAll('text')].map(t => t.textContent)"
        ".join(' ')).join(' | ')"
    )
    assert "(the full name, never cut)" in legend


def test_the_checks_catch_a_bad_page(driver, tmp_path):
    """Negative control: each check above fires on a page that breaks its rule."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><div style="width:3000px">wide</div>'
        '<img src="http://127.0.0.1:9/pixel.png">'
        "<script>console.error('boom')</script>"
        '<svg width="300" height="60"><text x="10" y="30">first label</text>'
        '<text x="20" y="32">second label</text></svg></body></html>'
    )
    seen = _visit(driver, page, ARTIFACTS / "negative_control.png")
    assert any("boom" in e["message"] for e in seen["console"])
    assert "http://127.0.0.1:9/pixel.png" in seen["requests"] and seen["network"]
    assert seen["n_scripts"] == 1 and seen["overflow_px"] > 0
    assert seen["overlaps"] == ['svg 0: "first label" overlaps "second label"']
