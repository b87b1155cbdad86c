"""Patient-level QC: sex from chrX without a cohort, and the warnings a result carries."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.features import patient_features
from genorisk.qc import infer_sex_single
from genorisk.results import patient_result


def write_chrx_vcf(path, genotypes: dict[str, list[str]], n: int):
    rng = np.random.default_rng(1)
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chrX,length=156040895>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(genotypes),
    ]
    # Non-PAR positions (PAR1 ends at 2,781,479 in GRCh38), plus one PAR site that must be ignored.
    positions = [1_000_000] + list(range(5_000_000, 5_000_000 + 1000 * n, 1000))
    for i, pos in enumerate(positions):
        ref, alt = rng.choice(["A", "C", "G", "T"], 2, replace=False)
        calls = [g[i % len(g)] for g in genotypes.values()]
        lines.append(f"chrX\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(calls))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-p", "vcf", str(path)], check=True)
    return path


def test_sex_from_chrx(tmp_path):
    vcf = write_chrx_vcf(
        tmp_path / "x.vcf.gz",
        {
            "MALE_HAPLOID": ["1", "0", "1", "."],
            # Males called diploid (as some callers do): one het in 44 calls, a genotyping error.
            "MALE_DIPLOID": ["1/1", "0/0", "1/1", "0/1"] + ["1/1"] * 40,
            "FEMALE": ["0/1", "1/1", "0/0", "0/1"],
            "FEW": ["0/0"] * 99 + ["1/1"],
        },
        n=200,
    )
    assert infer_sex_single(vcf, "MALE_HAPLOID")["inferred_sex"] == "male"
    female = infer_sex_single(vcf, "FEMALE")
    assert female["inferred_sex"] == "female" and female["het_fraction"] == pytest.approx(2 / 3, abs=0.01)
    assert infer_sex_single(vcf, "FEW")["inferred_sex"] == "unknown"  # 2 non-ref calls < 50
    male = infer_sex_single(vcf, "MALE_DIPLOID", male_max_het=0.05)
    assert male["inferred_sex"] == "male" and 0 < male["het_fraction"] < 0.05


def _result(sex_record, inferred, ancestry=None):
    patient = {"patient_id": "P1", "sample": "S1", "vcf": "/data/p1.vcf.gz", "sex": sex_record}
    scored = {"risk": 0.1, "risk_interval": [0.08, 0.12], "percentile": 50.0, "drivers": [], "interval_level": 0.95}
    coverage = {
        "coverage": 0.99,
        "n_model_variants": 100,
        "n_missing": 0,
        "call_rate": 0.99,
        "polygenic_scores": [],
        "ancestry": ancestry,
    }
    qc = {"validation": {"warnings": []}, "coverage": coverage, "sex": {"inferred_sex": inferred}}
    card = {"metrics": {}, "files_sha256": {"model.ubj": "0" * 64}}
    risks = {"risk_quantiles": list(np.linspace(0, 1, 1001)), "n_samples": 10}
    return patient_result(patient, scored, qc, card, risks)


def test_sex_mismatch_and_ancestry_outlier_warn():
    ok = _result("female", "female")
    assert ok["qc"]["sex_check"] == "consistent" and not ok["warnings"]
    bad = _result("female", "male")
    assert bad["qc"]["sex_check"] == "mismatch" and any("differs" in w for w in bad["warnings"])
    # The check cannot run without chrX data: "not checked", with the reason in words (issue #14).
    undecided = _result("female", "unknown")["qc"]
    assert undecided["sex_check"] == "not checked"
    assert "no chrX data" in undecided["sex_check_reason"], undecided
    far = _result(
        "male",
        "male",
        {"distance": 9.0, "outlier": True, "threshold": 4.2, "fraction_missing": 0.0, "reference_panel": True},
    )
    # The ancestry limit withholds the risk (report.outlier_policy default) and says why, once.
    (trait,) = far["traits"]
    assert trait["coverage"]["ancestry_outlier"] is True and trait["risk"]["status"] == "withheld"
    assert far["qc"]["ancestry_distance"] == 9.0
    assert "edge of the training cohort's ancestry range" in trait["risk"]["withheld_reason"]
    assert not any("ancestry" in w for w in far["warnings"])
    assert far["vcf"] == "p1.vcf.gz"  # file name only, not the path


# ------------------------------------------------ region access through the index


def _records_read(caplog) -> int:
    """Records the dosage reader reported reading (its 'done' log line)."""
    done = [r.getMessage() for r in caplog.records if r.name == "genorisk.genotypes" and ": done (" in r.getMessage()]
    assert len(done) == 1, done
    return int(re.search(r"engine\), (\d+) records", done[0]).group(1))


def _features_three_ways(vcf: Path, sample: str, schema: dict, covariates: dict, male, caplog, use_index=None):
    """patient_features without an index, with a .tbi and with a .csi; and the records each read."""
    results = {}
    for index in (None, "tbi", "csi"):
        for old in (vcf.with_name(vcf.name + ".tbi"), vcf.with_name(vcf.name + ".csi")):
            old.unlink(missing_ok=True)
        if index == "tbi":
            subprocess.run(["tabix", "-p", "vcf", str(vcf)], check=True)
        elif index == "csi":
            subprocess.run(["bcftools", "index", "-c", str(vcf)], check=True)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="genorisk.genotypes"):
            frame, coverage = patient_features(vcf, sample, schema, covariates, male=male, use_index=use_index)
        results[index] = (frame, coverage, _records_read(caplog))
    return results


def test_patient_features_read_only_schema_positions_through_the_index(tmp_path, caplog):
    rng = np.random.default_rng(7)
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=248956422>",
        "##contig=<ID=chrX,length=156040895>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
    records = []
    for chrom, n in (("chr1", 3000), ("chrX", 1000)):
        for pos in np.sort(rng.choice(np.arange(10_000, 50_000_000), n, replace=False)):
            ref, alt = rng.choice(list("ACGT"), 2, replace=False)
            gt = (
                ("1" if rng.random() < 0.5 else "0")
                if chrom == "chrX" and pos > 2_781_479
                else rng.choice(["0/0", "0/1", "1/1", "./."])
            )
            records.append((chrom, int(pos), ref, alt))
            lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\tGT\t{gt}")
    plain = tmp_path / "patient.vcf"
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    vcf = tmp_path / "patient.vcf.gz"
    picked = [records[i] for i in sorted(rng.choice(len(records), 40, replace=False))]
    # Schema names some variants as "1"/"X" (cohort without chr prefix) and two the file lacks.
    wanted = [(c.removeprefix("chr") if i % 3 == 0 else c, p, r, a) for i, (c, p, r, a) in enumerate(picked)]
    wanted += [("chr1", 123, "A", "G"), ("chr7", 5000, "C", "T")]
    schema = {
        "schema_version": 1,
        "features": [
            {
                "name": f"v{i}",
                "kind": "dosage",
                "label": "",
                "group": "",
                "definition": {"chrom": c, "pos": p, "ref": r, "alt": a, "cohort_af": 0.1},
            }
            for i, (c, p, r, a) in enumerate(wanted)
        ]
        + [{"name": "age", "kind": "covariate", "label": "age", "group": "age", "definition": {"column": "age"}}],
    }
    results = _features_three_ways(vcf, "S1", schema, {"age": 61}, True, caplog)
    full_frame, full_cov, full_read = results[None]
    assert full_read == len(records)
    assert full_cov["n_missing"] == 2 and full_frame.notna().sum(axis=1).iloc[0] > 20
    for index in ("tbi", "csi"):
        frame, coverage, n_read = results[index]
        pd.testing.assert_frame_equal(frame, full_frame)
        assert coverage == full_cov
        assert n_read < 100  # the 40 wanted records and few neighbours, not 4,000


@pytest.mark.slow
def test_demo_patient_features_identical_with_and_without_index(local_demo, tmp_path, caplog):
    """On the demo's schema (dosages, scores, burden, ancestry PCs): the index changes only what is read."""
    # The first trait's bundle (model/<trait>/) holds the schema patients are read with.
    schema = json.loads((local_demo / "results/model/demo_disease/features.schema.json").read_text())
    assert {"dosage", "pgs", "pc"} <= {f["kind"] for f in schema["features"]}
    vcf = tmp_path / "P2.vcf.gz"
    shutil.copy(local_demo / "resources/demo/patients/P2.vcf.gz", vcf)
    # The demo schema wants positions of about a quarter of the records, where the
    # default reads the whole file (faster there): force the index to compare.
    results = _features_three_ways(vcf, "S_P2", schema, {"age": 51, "sex": "male"}, True, caplog, use_index=True)
    full_frame, full_cov, full_read = results[None]
    assert full_cov["coverage"] > 0.9
    for index in ("tbi", "csi"):
        frame, coverage, n_read = results[index]
        pd.testing.assert_frame_equal(frame, full_frame)
        assert coverage == full_cov
        assert n_read < full_read


def test_dense_schema_reads_the_whole_file_by_default(tmp_path, caplog):
    # 300 wanted positions of 1,000 records (> INDEX_MAX_FRACTION): one pass beats 300 index queries.
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=248956422>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
    lines += [f"chr1\t{1000 * i}\t.\tA\tG\t.\t.\t.\tGT\t{'0/1' if i % 2 else '1/1'}" for i in range(1, 1001)]
    (tmp_path / "p.vcf").write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(tmp_path / "p.vcf")], check=True)
    subprocess.run(["tabix", "-p", "vcf", str(tmp_path / "p.vcf.gz")], check=True)
    schema = {
        "schema_version": 1,
        "features": [
            {
                "name": f"v{i}",
                "kind": "dosage",
                "label": "",
                "group": "",
                "definition": {"chrom": "chr1", "pos": 3000 * i, "ref": "A", "alt": "G", "cohort_af": 0.5},
            }
            for i in range(1, 301)
        ],
    }
    counts = {}
    for use_index in (None, True):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="genorisk.genotypes"):
            frame, _ = patient_features(tmp_path / "p.vcf.gz", "S1", schema, {}, use_index=use_index)
        counts[use_index] = (_records_read(caplog), frame)
    assert counts[None][0] == 1000 and counts[True][0] < 1000
    pd.testing.assert_frame_equal(counts[None][1], counts[True][1])
    assert counts[None][1].iloc[0].tolist() == [1.0 if (3 * i) % 2 else 2.0 for i in range(1, 301)]
