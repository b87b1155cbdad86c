"""bench/compare_demo.py: the same-results check passes run-dependent and intended differences, and nothing else."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "compare_demo.py"
spec = importlib.util.spec_from_file_location("compare_demo", SCRIPT)
assert spec and spec.loader
compare_demo = importlib.util.module_from_spec(spec)
sys.modules["compare_demo"] = compare_demo  # dataclasses look their module up there
spec.loader.exec_module(compare_demo)


def write_results(
    root: Path,
    *,
    version: str = "0.1.0",
    created: str = "2026-01-01T00:00:00Z",
    risk: float = 0.25,
    af: float = 0.1,
    compression: str = "snappy",
    model_sha: str = "ab" * 32,
) -> Path:
    (root / "model" / "toy").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "logs" / "train_model.log").write_text(f"{created} started\n")
    card = {
        "created": created,
        "training_seconds": 12.5,
        "versions": {"genorisk": version},
        "hashes": {"model_card.md": created},
    }
    (root / "model" / "toy" / "model_card.json").write_text(json.dumps(card))
    (root / "model" / "toy" / "model_card.md").write_text(
        f"# Model\nTrained {created} with genorisk {version}.\nAUC 0.7\n"
    )
    # A bundle manifest: the cards' hashes and its own follow the training time.
    files = {"model.ubj": model_sha, "model_card.json": created, "model_card.md": created}
    (root / "model" / "toy" / "bundle.json").write_text(json.dumps({"files": files, "bundle_sha256": created}))
    (root / "result.json").write_text(json.dumps({"risk": risk, "generated_by": {"genorisk": version}}))
    (root / "report.html").write_text(f'<meta name="generator" content="genorisk {version}">\n<p>risk {risk}</p>\n')
    pd.DataFrame({"af": [af, 0.2]}, index=pd.Index(["a", "b"], name="id")).to_parquet(
        root / "table.parquet", compression=compression
    )
    with gzip.open(root / "cohort.vcf.gz", "wt") as fh:
        fh.write("##fileformat=VCFv4.2\nchr21\t5\t.\tA\tG\t.\tPASS\t.\n")
    return root


@pytest.fixture
def intended(tmp_path) -> Path:
    path = tmp_path / "intended.txt"
    path.write_text(
        "# comment\n"
        "*.json#*generated_by.genorisk: version bump\n"
        "model/*/model_card.json#versions.genorisk: version bump\n"
        r"*.html~genorisk 0\.[12]\.0: version bump" + "\n"
    )
    return path


def run(old: Path, new: Path, intended: Path) -> int:
    return compare_demo.main([str(old), str(new), "--intended", str(intended)])


def test_run_dependent_and_intended_differences_pass(tmp_path, intended, capsys):
    old = write_results(tmp_path / "old")
    new = write_results(tmp_path / "new", version="0.2.0", created="2027-02-02T10:00:00Z", compression="zstd")
    assert run(old, new, intended) == 0
    out = capsys.readouterr().out
    assert "0 DIFFERENT" in out and "intended     result.json: keys: generated_by.genorisk" in out
    assert "same content table.parquet" in out and "same content model/toy/model_card.md" in out
    assert "same content model/toy/bundle.json" in out


def test_any_other_difference_fails_and_is_named(tmp_path, intended, capsys):
    old = write_results(tmp_path / "old")
    new = write_results(tmp_path / "new", version="0.2.0", risk=0.3, af=0.11, model_sha="cd" * 32)
    (new / "extra.tsv").write_text("x\n")
    assert run(old, new, intended) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT    result.json: keys differ: risk" in out
    assert "DIFFERENT    table.parquet: columns differ: af" in out
    assert "DIFFERENT    report.html: 1 line(s) differ: line 2:" in out
    assert "DIFFERENT    extra.tsv: only in the new folder" in out
    assert "DIFFERENT    model/toy/bundle.json: keys differ: files.model.ubj" in out
    assert "5 DIFFERENT" in out


def test_bad_intended_line_is_refused(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("result.json without a reason\n")
    with pytest.raises(SystemExit, match="line 1"):
        compare_demo.read_intended(bad)
