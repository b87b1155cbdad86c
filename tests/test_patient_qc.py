"""Patient-level QC: sex from chrX without a cohort, and the warnings a result carries."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from genorisk.qc import infer_sex_single
from genorisk.results import patient_result


def write_chrx_vcf(path, genotypes: dict[str, list[str]], n: int):
    rng = np.random.default_rng(1)
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chrX,length=156040895>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(genotypes)]
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
    vcf = write_chrx_vcf(tmp_path / "x.vcf.gz", {
        "MALE_HAPLOID": ["1", "0", "1", "."],
        # Males called diploid (as some callers do): one het in 44 calls, a genotyping error.
        "MALE_DIPLOID": ["1/1", "0/0", "1/1", "0/1"] + ["1/1"] * 40,
        "FEMALE": ["0/1", "1/1", "0/0", "0/1"],
        "FEW": ["0/0"] * 99 + ["1/1"],
    }, n=200)
    assert infer_sex_single(vcf, "MALE_HAPLOID")["inferred_sex"] == "male"
    female = infer_sex_single(vcf, "FEMALE")
    assert female["inferred_sex"] == "female" and female["het_fraction"] == pytest.approx(2 / 3, abs=0.01)
    assert infer_sex_single(vcf, "FEW")["inferred_sex"] == "unknown"  # 2 non-ref calls < 50
    male = infer_sex_single(vcf, "MALE_DIPLOID", male_max_het=0.05)
    assert male["inferred_sex"] == "male" and 0 < male["het_fraction"] < 0.05


def _result(sex_record, inferred, ancestry=None):
    patient = {"patient_id": "P1", "sample": "S1", "vcf": "/data/p1.vcf.gz", "sex": sex_record}
    scored = {"risk": 0.1, "risk_interval": [0.08, 0.12], "percentile": 50.0, "drivers": [], "interval_level": 0.95}
    coverage = {"coverage": 0.99, "n_model_variants": 100, "n_missing": 0, "call_rate": 0.99,
                "polygenic_scores": [], "ancestry": ancestry}
    qc = {"validation": {"warnings": []}, "coverage": coverage, "sex": {"inferred_sex": inferred}}
    card = {"metrics": {}, "files_sha256": {"model.ubj": "0" * 64}}
    risks = {"risk_quantiles": list(np.linspace(0, 1, 1001)), "n_samples": 10}
    return patient_result(patient, scored, qc, card, risks)


def test_sex_mismatch_and_ancestry_outlier_warn():
    ok = _result("female", "female")
    assert ok["qc"]["sex_check"] == "consistent" and not ok["warnings"]
    bad = _result("female", "male")
    assert bad["qc"]["sex_check"] == "mismatch" and any("differs" in w for w in bad["warnings"])
    assert _result("female", "unknown")["qc"]["sex_check"] == "unknown"
    far = _result("male", "male", {"distance": 9.0, "outlier": True, "threshold": 4.2,
                                    "fraction_missing": 0.0, "reference_panel": True})
    assert far["qc"]["ancestry_outlier"] is True and any("ancestry" in w for w in far["warnings"])
    assert far["vcf"] == "p1.vcf.gz"  # file name only, not the path
