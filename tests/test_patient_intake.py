"""Patient intake: each patient VCF checked and normalised once, refusals recorded, batches read in one pass."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genorisk.intake import batch_patient_inputs, patient_inputs
from genorisk.patient_checks import check_against_cohort, cohort_sample_ranges, patient_genotype_rates
from genorisk.patient_files import patient_vcf_key, prepare_patient_vcf
from genorisk.report import absent_variants_in_words
from genorisk.results import sex_check_outcome

CHR21_GRCH38 = 46709983
CHR21_GRCH37 = 48129895


def write_vcf(path: Path, samples: list[str], calls: np.ndarray, *, length: int = CHR21_GRCH38) -> Path:
    """A bgzipped, indexed GT-only VCF on chr21: ``calls[i, j]`` is the ALT count of sample j at site i."""
    gt = {0: "0/0", 1: "0/1", 2: "1/1", -1: "./."}
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID=chr21,length={length}>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]
    for i, row in enumerate(calls):
        lines.append(
            "\t".join(["chr21", str(10_000 + 100 * i), ".", "A", "G", ".", "PASS", ".", "GT"] + [gt[c] for c in row])
        )
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return path


def schema_for(n_sites: int) -> dict:
    """A feature schema of ``n_sites`` dosage features on the sites of :func:`write_vcf`, plus age."""
    features = [
        {
            "name": f"v{i}",
            "kind": "dosage",
            "definition": {"chrom": "chr21", "pos": 10_000 + 100 * i, "ref": "A", "alt": "G", "cohort_af": 0.3},
        }
        for i in range(n_sites)
    ]
    features.append({"name": "age", "kind": "covariate", "definition": {"column": "age"}})
    return {"features": features}


def rows(vcf: Path, samples: list[str], start_line: int = 2) -> list[dict]:
    return [
        {
            "patient_id": f"P{i}",
            "vcf": str(vcf),
            "sample": s,
            "sheet_line": start_line + i,
            "vcf_key": patient_vcf_key(vcf),
            "age": "50",
        }
        for i, s in enumerate(samples)
    ]


@pytest.fixture
def batch_vcf(tmp_path):
    rng = np.random.default_rng(3)
    calls = rng.choice([0, 1, 2], size=(60, 4), p=[0.5, 0.35, 0.15])
    calls[5, 2] = -1
    return write_vcf(tmp_path / "batch.vcf.gz", ["A", "B", "C", "D"], calls), calls


def test_shared_vcf_is_prepared_once_and_a_missing_sample_refused_alone(tmp_path, batch_vcf):
    vcf, _ = batch_vcf
    sheet = rows(vcf, ["A", "nobody", "C"])
    status = prepare_patient_vcf(vcf, tmp_path / "out.vcf.gz", sheet, genome_build="GRCh38")
    assert status["n_samples"] == 4 and status["error"] is None
    assert Path(status["normalized"]).stat().st_size > 0 and (tmp_path / "out.vcf.gz.csi").exists()
    outcome = {pid: p["status"] for pid, p in status["patients"].items()}
    assert outcome == {"P0": "accepted", "P1": "refused", "P2": "accepted"}
    error = status["patients"]["P1"]["error"]
    assert error["patient_id"] == "P1" and error["sheet_line"] == 3 and error["file"] == str(vcf)
    assert error["record"] == "header (#CHROM line)" and "'nobody'" in error["problem"]


@pytest.mark.parametrize(
    "damage, record, words",
    [
        (lambda text: text.replace("0/1", "0/5", 1), "line", "allele"),
        (lambda text: text.replace(f"length={CHR21_GRCH38}", f"length={CHR21_GRCH37}"), None, "GRCh37"),
    ],
    ids=["hostile GT", "wrong build"],
)
def test_a_refused_file_refuses_every_row_and_leaves_nothing_trusted(tmp_path, batch_vcf, damage, record, words):
    import gzip

    vcf, _ = batch_vcf
    bad = tmp_path / "bad.vcf"
    with gzip.open(vcf, "rt") as text:
        bad.write_text(damage(text.read()))
    out = tmp_path / "out.vcf.gz"
    status = prepare_patient_vcf(bad, out, rows(bad, ["A", "B"]), genome_build="GRCh38")
    assert status["normalized"] is None and status["error"]["problem"]
    assert out.stat().st_size == 0 and (tmp_path / "out.vcf.gz.csi").stat().st_size == 0
    for p in status["patients"].values():
        assert p["status"] == "refused" and words in p["error"]["problem"]
        assert (p["error"]["record"] or "").startswith(record or ""), p["error"]
        assert p["error"]["file"] == str(bad) and p["error"]["stage"] == "intake"


def test_batch_read_in_one_pass_equals_each_patient_read_alone(tmp_path, batch_vcf):
    vcf, calls = batch_vcf
    sheet = rows(vcf, ["A", "B", "C", "D"])
    status = prepare_patient_vcf(vcf, tmp_path / "out.vcf.gz", sheet, genome_build="GRCh38")
    schema = schema_for(len(calls))
    tables, qc, refused = batch_patient_inputs(
        sheet[1:], {patient_vcf_key(vcf): status}, {"t": schema}, genome_build="GRCh38"
    )
    features = tables["t"]
    assert refused == [] and list(features.index) == ["P1", "P2", "P3"]
    for j, row in enumerate(sheet[1:], start=1):
        alone, alone_qc = patient_inputs(row, {"t": schema}, genome_build="GRCh38")  # validates + normalises itself
        pd.testing.assert_frame_equal(features.loc[[row["patient_id"]]], alone["t"])
        assert qc[row["patient_id"]]["coverage"] == alone_qc["coverage"]
        assert qc[row["patient_id"]]["call_rate"] == alone_qc["call_rate"] == alone_qc["coverage"]["t"]["call_rate"]
        expected = np.where(calls[:, j] < 0, np.nan, calls[:, j]).astype("float32")
        np.testing.assert_array_equal(features.loc[row["patient_id"]].to_numpy()[:-1], expected)


def test_a_shared_vcf_is_cut_into_batches_once_and_each_batch_reads_its_own(tmp_path, batch_vcf):
    vcf, _ = batch_vcf
    sheet = [dict(r, batch=b) for r, b in zip(rows(vcf, ["A", "B", "C", "D"]), ["b0", "b0", "b1", "b1"], strict=True)]
    status = prepare_patient_vcf(vcf, tmp_path / "out.vcf.gz", sheet, genome_build="GRCh38", batch_dir=tmp_path / "b")
    assert sorted(status["batch_files"]) == ["b0", "b1"]
    names = subprocess.run(["bcftools", "query", "-l", status["batch_files"]["b1"]], capture_output=True, text=True)
    assert names.stdout.split() == ["C", "D"]
    schema = schema_for(60)
    prepared = {patient_vcf_key(vcf): status}
    from_batch, _, _ = batch_patient_inputs(sheet[2:], prepared, {"t": schema}, genome_build="GRCh38")
    from_file, _, _ = batch_patient_inputs([{**r, "batch": "other"} for r in sheet[2:]], prepared, {"t": schema})
    pd.testing.assert_frame_equal(from_batch["t"], from_file["t"])
    # A single-sample file is not cut.
    one = write_vcf(tmp_path / "one.vcf.gz", ["A"], np.zeros((3, 1), dtype=int))
    single = prepare_patient_vcf(one, tmp_path / "o.vcf.gz", rows(one, ["A"]), batch_dir=tmp_path / "c")
    assert single["batch_files"] == {} and (tmp_path / "c").is_dir()


def test_patient_outside_the_cohort_het_range_is_flagged(tmp_path):
    n = 200
    calls = np.zeros((n, 3), dtype=int)
    calls[: n // 2, 0] = 1  # A: 50 % heterozygous
    calls[: n // 10, 1] = 1  # B: 10 %, inside the range
    calls[: n // 2, 2] = -1  # C: half its calls missing, 10 % of the rest heterozygous
    calls[n // 2 : n // 2 + n // 20, 2] = 1
    vcf = write_vcf(tmp_path / "p.vcf.gz", ["A", "B", "C"], calls)
    sites = pd.DataFrame({"chrom": "chr21", "pos": 10_000 + 100 * np.arange(n), "ref": "A", "alt": "G"})
    summary = {"thresholds": {"min_sample_call_rate": 0.95, "heterozygosity_sd": 3.0}}
    cohort = pd.DataFrame({"het_rate": [0.09, 0.10, 0.11, 0.10, 0.095, 0.105]})
    ranges = cohort_sample_ranges(summary, cohort)
    assert ranges["het_rate"][0] < 0.1 < ranges["het_rate"][1] < 0.5
    rates = patient_genotype_rates(vcf, ["A", "B", "C"], sites, workdir=tmp_path)
    assert rates["A"]["het_rate"] == 0.5 and rates["C"]["call_rate"] == 0.5
    flags = {s: check_against_cohort(rates[s], ranges)["flags"] for s in rates}
    assert len(flags["A"]) == 1 and "Heterozygosity rate 0.5000 lies outside" in flags["A"][0]
    assert flags["B"] == []
    assert len(flags["C"]) == 1 and "call rate" in flags["C"][0] and "50.0%" in flags["C"][0]
    # A variants-only VCF lists too few of the cohort's sites to compare: not checked, and why.
    more = pd.concat([sites.assign(pos=sites["pos"] + k * 1_000_000) for k in range(5)])
    unchecked = check_against_cohort(patient_genotype_rates(vcf, ["A"], more, workdir=tmp_path)["A"], ranges)
    assert not unchecked["checked"] and unchecked["flags"] == []
    assert "only 20% of the cohort's variant sites" in unchecked["reason"] and "variants-only" in unchecked["reason"]


def test_sex_check_without_chrx_says_not_checked_and_why():
    assert sex_check_outcome("female", {"inferred_sex": "unknown", "n_sites": 0, "het_fraction": None}) == (
        "not checked",
        "this VCF has no non-reference chrX genotypes outside the pseudo-autosomal regions (no chrX data)",
    )
    assert sex_check_outcome("male", {"inferred_sex": "unknown", "n_sites": 12})[1].startswith("this VCF has only 12")
    assert sex_check_outcome(None, {"inferred_sex": "male", "n_sites": 300}) == (
        "not checked",
        "no sex was recorded in the sample sheet",
    )
    assert sex_check_outcome("male", {"inferred_sex": "male", "n_sites": 300}) == ("consistent", None)


def test_absent_model_variants_are_said_in_words():
    qc = {
        "n_model_variants_missing": 950,
        "n_model_variants": 2000,
        "n_reference_filled": 40,
        "reference_source": "a gVCF",
    }
    words = absent_variants_in_words(qc)
    assert words.startswith("950 of the model's 2,000 variants were absent from this VCF")
    assert "treats an absent variant as unknown" in words and "40 other absent variants were filled in" in words
    assert absent_variants_in_words({"n_model_variants_missing": 0, "n_model_variants": 10}).startswith("All of the")


def demo_like_vcf(path: Path, n_samples: int, seed: int = 5) -> tuple[Path, list[str], list[tuple]]:
    """A demo-like batch VCF: chr21 SNVs and chrX (PAR and non-PAR, haploid calls for the men); its sites.

    Samples 0, 2, 4, ... are men (haploid chrX outside the PARs), the others women. One record in
    ten of chr21 is left out of the file, so that absent sites exist for a callable BED to fill.
    """
    rng = np.random.default_rng(seed)
    samples = [f"S{j}" for j in range(n_samples)]
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID=chr21,length={CHR21_GRCH38}>",
        "##contig=<ID=chrX,length=156040895>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]
    sites = []
    for i in range(300):
        pos = 10_000 + 100 * i
        sites.append(("chr21", pos, "A", "G"))
        if i % 10 == 3:
            continue
        calls = rng.choice(["0/0", "0/1", "1/1", "./."], size=n_samples, p=[0.45, 0.35, 0.17, 0.03])
        lines.append("\t".join(["chr21", str(pos), ".", "A", "G", ".", "PASS", ".", "GT", *calls]))
    for i in range(150):
        pos = 100_000 + 1_000 * i if i < 10 else 5_000_000 + 10_000 * i  # the first ten inside PAR1
        sites.append(("chrX", pos, "C", "T"))
        calls = []
        for j in range(n_samples):
            copies = int(rng.choice([0, 1, 2], p=[0.3, 0.4, 0.3]))
            if j % 2 == 0 and i >= 10:
                calls.append(str(min(copies, 1)))  # a man's haploid call
            else:
                calls.append(["0/0", "0/1", "1/1"][copies])
        lines.append("\t".join(["chrX", str(pos), ".", "C", "T", ".", "PASS", ".", "GT", *calls]))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return path, samples, sites


def full_schema(sites: list[tuple]) -> dict:
    """Every kind of feature a patient gets: dosages, a score, a burden and a carrier gene, PCs, covariates."""
    from genorisk.ancestry import fit_ancestry_dosages

    as_dict = [{"chrom": c, "pos": p, "ref": r, "alt": a} for c, p, r, a in sites]
    features = [
        {"name": f"v{i}", "kind": "dosage", "definition": dict(v, cohort_af=0.3)} for i, v in enumerate(as_dict)
    ]
    weights = np.random.default_rng(1).normal(size=len(sites)) / 7  # not exact binary fractions
    score = [dict(v, alt_weight=float(w), cohort_af=0.3) for v, w in zip(as_dict, weights, strict=True)]
    features.append(
        {
            "name": "pgs_T1",
            "kind": "pgs",
            "definition": {
                "score_id": "T1",
                "n_variants": len(score) + 5,
                "n_matched": len(score),
                "constant": 0.1,
                "variants": score,
            },
        }
    )
    features.append({"name": "burden_G1", "kind": "burden", "definition": {"gene": "G1", "variants": as_dict[:40]}})
    features.append({"name": "carrier_G2", "kind": "carrier", "definition": {"gene": "G2", "variants": as_dict[-3:]}})
    ancestry_sites = pd.DataFrame(as_dict[:200])
    cohort = np.random.default_rng(2).choice([0.0, 1.0, 2.0], size=(60, 200))
    model = fit_ancestry_dosages(ancestry_sites, cohort, n_components=3, distance_pcs=2)
    features += [{"name": f"pc{k}", "kind": "pc", "definition": {"component": k}} for k in (1, 2, 3)]
    features.append({"name": "age", "kind": "covariate", "definition": {"column": "age"}})
    features.append({"name": "sex_male", "kind": "covariate", "definition": {"column": "sex"}})
    return {"features": features, "ancestry": model.to_dict()}


def test_patients_read_together_equal_each_read_alone_on_demo_like_data(tmp_path):
    vcf, samples, sites = demo_like_vcf(tmp_path / "batch.vcf.gz", 8)
    schema = full_schema(sites)
    shared_bed = tmp_path / "lab.bed"
    shared_bed.write_text("chr21\t0\t20000\n")
    own_bed = tmp_path / "own.bed"
    own_bed.write_text("chr21\t15000\t40000\n")
    sheet = rows(vcf, samples)
    for j, row in enumerate(sheet):
        row["batch"] = "b0" if j < 5 else "b1"
        row["sex"] = ["male", "female"][j % 2] if j != 7 else ""
        if j in (1, 4):
            row["callable_bed"] = str(own_bed)
    # One sample named by two rows of different recorded sex (the male chrX scale differs).
    sheet.append(dict(sheet[2], patient_id="P2again", sex="female", sheet_line=20, batch="b0"))
    status = prepare_patient_vcf(vcf, tmp_path / "out.vcf.gz", sheet, genome_build="GRCh38", batch_dir=tmp_path / "b")
    prepared = {patient_vcf_key(vcf): status}
    features, qc, refused = [], {}, []
    for batch in ("b0", "b1"):
        f, q, r = batch_patient_inputs(
            [p for p in sheet if p["batch"] == batch],
            prepared,
            {"t": schema},
            genome_build="GRCh38",
            callable_bed=str(shared_bed),
        )
        features.append(f["t"])
        qc.update(q)
        refused += r
    together = pd.concat(features)
    assert refused == [] and sorted(together.index) == sorted(p["patient_id"] for p in sheet)
    for row in sheet:
        pid = row["patient_id"]
        alone, alone_qc = patient_inputs(row, {"t": schema}, genome_build="GRCh38", callable_bed=str(shared_bed))
        pd.testing.assert_frame_equal(together.loc[[pid]], alone["t"], check_exact=True)
        for part in ("coverage", "call_rate", "sex", "notable_variants"):
            assert json.dumps(qc[pid][part]) == json.dumps(alone_qc[part]), (pid, part)
    # The data exercise what they should: fill-in from both BEDs, sex calls, the male chrX scale.
    filled = {pid: qc[pid]["coverage"]["t"]["n_reference_filled"] for pid in qc}
    assert filled["P0"] > 0 and filled["P1"] > filled["P0"]
    assert {qc[pid]["sex"]["inferred_sex"] for pid in qc} == {"male", "female"}
    chrx = [f"v{i}" for i, s in enumerate(sites) if s[0] == "chrX" and s[1] > 3_000_000]
    assert together.loc["P2", chrx].max() == 2 and together.loc["P2again", chrx].max() == 1
    assert not together.loc["P2", ["pc1", "pc2", "pc3", "pgs_T1"]].isna().any()


def test_notable_variants_of_patients_together_equal_each_alone(tmp_path):
    """Carried sites annotated once for a batch give each patient the list a file of their own gives."""
    from genorisk.intake import batch_notable_variants, notable_variants

    header = [
        "##fileformat=VCFv4.2",
        *(f"##contig=<ID={c},length={n}>" for c, n in (("chr1", 248956422), ("chrX", 156040895), ("chrM", 16569))),
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    ]
    calls = [  # per site, the calls of samples A, B, C: every zygosity, multiallelic, not carried, missing
        ("chr1", 1000, "A", "G", ["0/1", "1/1", "0/0"]),
        ("chr1", 3000, "A", "C,T", ["1/2", "0/1", "0/2"]),
        ("chr1", 5000, "G", "A", ["./.", "0/0", "0/0"]),
        ("chrX", 1_500_000, "A", "G", ["1/1", "0/1", "0/0"]),
        ("chrX", 5_000_000, "A", "G", ["1", "0/1", "1/1"]),
        ("chrX", 6_000_000, "T", "C", ["1/1", "1/1", "0"]),
        ("chrM", 3243, "A", "G", ["1", "0/1", "0"]),
    ]
    rows = [f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\tGT\t" + "\t".join(g) for c, p, r, a, g in calls]
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC"
    (tmp_path / "batch.vcf").write_text("\n".join([*header, columns, *rows]) + "\n")
    subprocess.run(["bgzip", "-f", str(tmp_path / "batch.vcf")], check=True)
    vcf = tmp_path / "batch.vcf.gz"
    subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], check=True)
    clinvar_rows = [
        f"{c}\t{p}\t{i}\t{r}\t{alt}\t.\t.\tCLNSIG=Pathogenic;CLNREVSTAT=reviewed_by_expert_panel"
        for i, (c, p, r, a, _) in enumerate(calls, 1)
        for alt in a.split(",")
    ]
    info = [
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="significance">',
        '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="review status">',
    ]
    sites_only = columns.split("\tFORMAT")[0]
    (tmp_path / "clinvar.vcf").write_text("\n".join([*header[:-1], *info, sites_only, *clinvar_rows]) + "\n")
    subprocess.run(["bgzip", "-f", str(tmp_path / "clinvar.vcf")], check=True)
    clinvar = tmp_path / "clinvar.vcf.gz"
    subprocess.run(["tabix", "-f", "-p", "vcf", str(clinvar)], check=True)
    samples, male = ["A", "B", "C", "A"], [True, False, None, False]
    together = batch_notable_variants(vcf, samples, male=male, genome_build="GRCh38", clinvar=clinvar)
    for sample, is_male, got in zip(samples, male, together, strict=True):
        alone_vcf = tmp_path / f"{sample}.vcf.gz"
        subprocess.run(["bcftools", "view", "-s", sample, "-Oz", "-o", str(alone_vcf), str(vcf)], check=True)
        subprocess.run(["tabix", "-f", "-p", "vcf", str(alone_vcf)], check=True)
        alone = notable_variants(alone_vcf, sample, male=is_male, genome_build="GRCh38", clinvar=clinvar)
        assert json.dumps(got) == json.dumps(alone), sample
    zygosity = [{(v["pos"], v["alt"]): v["zygosity"] for v in found} for found in together]
    assert zygosity[0] == {
        (1000, "G"): "heterozygous",
        (3000, "C"): "heterozygous",
        (3000, "T"): "heterozygous",
        (1_500_000, "G"): "homozygous",
        (5_000_000, "G"): "hemizygous",
        (6_000_000, "C"): "hemizygous",  # a man's 1/1 outside the PARs
        (3243, "G"): "hemizygous",
    }
    assert zygosity[3][(6_000_000, "C")] == "homozygous"  # the same sample, recorded female
    assert (3000, "C") not in zygosity[2] and zygosity[2][(3000, "T")] == "heterozygous"


def test_a_bad_bed_refuses_its_patient_alone_when_read_together(tmp_path, batch_vcf):
    vcf, _ = batch_vcf
    sheet = [dict(r, batch="b0") for r in rows(vcf, ["A", "B", "C"])]
    bad = tmp_path / "bad.bed"
    bad.write_text("chrUn_nowhere\t0\t100\n")
    sheet[1]["callable_bed"] = str(bad)
    status = prepare_patient_vcf(vcf, tmp_path / "out.vcf.gz", sheet, genome_build="GRCh38", batch_dir=tmp_path / "b")
    features, qc, refused = batch_patient_inputs(
        sheet, {patient_vcf_key(vcf): status}, {"t": schema_for(60)}, genome_build="GRCh38"
    )
    assert list(features["t"].index) == ["P0", "P2"] and sorted(qc) == ["P0", "P2"]
    assert [r["patient_id"] for r in refused] == ["P1"]
    assert refused[0]["stage"] == "features" and refused[0]["sheet_line"] == 3 and refused[0]["file"] == str(bad)
    assert "chrUn_nowhere" in refused[0]["problem"] and refused[0]["record"] == "line 1"


def second_trait_schema(sites: list[tuple]) -> dict:
    """Another trait's schema on the same file: other dosages, its own score, and a name the first uses differently."""
    as_dict = [{"chrom": c, "pos": p, "ref": r, "alt": a} for c, p, r, a in sites]
    features = [
        {"name": f"v{i}", "kind": "dosage", "definition": dict(v, cohort_af=0.2)}  # v0 is another site here
        for i, v in enumerate(as_dict[::-7])
    ]
    weights = np.random.default_rng(9).normal(size=60) / 5
    score = [dict(v, alt_weight=float(w), cohort_af=0.25) for v, w in zip(as_dict[100:160], weights, strict=True)]
    definition = {"score_id": "T2", "n_variants": 60, "n_matched": 60, "constant": 0.0, "variants": score}
    features.append({"name": "pgs_T2", "kind": "pgs", "definition": definition})
    features.append({"name": "age", "kind": "covariate", "definition": {"column": "age"}})
    return {"features": features}


def test_every_trait_from_one_read_equals_each_trait_alone(tmp_path, caplog):
    """Two traits' schemas: the file is read once, and each trait's features are those of its schema alone."""
    import logging

    from genorisk.features.patient import batch_patient_features, schemas_patient_features

    vcf, samples, sites = demo_like_vcf(tmp_path / "batch.vcf.gz", 4)
    schemas = {"first": full_schema(sites), "second": second_trait_schema(sites)}
    covariates = [{"age": str(40 + j)} for j in range(4)]
    male = [True, False, None, False]
    caplog.set_level(logging.INFO, logger="genorisk.genotypes")
    frames, coverage, call_rate = schemas_patient_features(vcf, samples, list(schemas.values()), covariates, male=male)
    reads = [r for r in caplog.records if r.name == "genorisk.genotypes" and ": done (" in r.getMessage()]
    assert len(reads) == 1  # one read of the file for both traits
    for k, schema in enumerate(schemas.values()):
        alone, alone_coverage = batch_patient_features(vcf, samples, schema, covariates, male=male)
        pd.testing.assert_frame_equal(frames[k], alone, check_exact=True)
        assert json.dumps(coverage[k]) == json.dumps(alone_coverage)
    assert frames[0]["v0"].tolist() != frames[1]["v0"].tolist()  # same name, other site: kept apart
    assert [s["id"] for s in coverage[1][0]["polygenic_scores"]] == ["T2"]
    # The patient-level call rate is over both traits' dosage variants together.
    both = {(c, p) for c, p, _, _ in sites}  # the second schema's sites are a subset of the first's here
    assert len(both) == coverage[0][0]["n_model_variants"] and call_rate == [c["call_rate"] for c in coverage[0]]

    # Through the batch: qc.json's coverage per trait id, a table per trait, in trait order.
    sheet = rows(vcf, samples)
    status = prepare_patient_vcf(vcf, tmp_path / "out.vcf.gz", sheet, genome_build="GRCh38")
    tables, qc, refused = batch_patient_inputs(sheet, {patient_vcf_key(vcf): status}, schemas, genome_build="GRCh38")
    assert refused == [] and list(tables) == ["first", "second"]
    assert sorted(qc["P0"]) == sorted(
        ["validation", "normalization", "call_rate", "coverage", "notable_variants", "sex", "cohort_qc"]
    )
    assert list(qc["P0"]["coverage"]) == ["first", "second"]
    for trait, schema in schemas.items():
        assert list(tables[trait].columns) == [f["name"] for f in schema["features"]]
        assert qc["P1"]["coverage"][trait]["n_model_variants"] == sum(f["kind"] == "dosage" for f in schema["features"])


def test_a_batch_of_refused_patients_gives_no_table_for_any_trait(tmp_path, batch_vcf):
    vcf, _ = batch_vcf
    sheet = rows(vcf, ["nobody"])
    status = prepare_patient_vcf(vcf, tmp_path / "out.vcf.gz", sheet, genome_build="GRCh38")
    tables, qc, refused = batch_patient_inputs(
        sheet, {patient_vcf_key(vcf): status}, {"a": schema_for(60), "b": schema_for(5)}
    )
    assert tables == {"a": None, "b": None} and qc == {} and [r["patient_id"] for r in refused] == ["P0"]
