"""genorisk.pgx: definitions, calling from real indexed VCFs, phenotypes, guidance, bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from genorisk.errors import InputError
from genorisk.genome import contig_lengths
from genorisk.pgx.call import call_batch, call_sample
from genorisk.pgx.definitions import STRUCTURAL_GENES, available_genes, definitions_dir, load_definitions
from genorisk.pgx.guidance import GUIDANCE_COLUMNS, drug_genes, guidance_for, guidance_path, read_guidance
from genorisk.pgx.phenotype import load_phenotypes, phenotypes_dir

THIRTEEN = [
    "ABCG2", "CYP2B6", "CYP2C19", "CYP2C9", "CYP3A5", "CYP4F2", "DPYD",
    "IFNL3", "NUDT15", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1",
]  # fmt: skip


def _raw(gene: str) -> dict:
    return json.loads((definitions_dir() / f"{gene}_translation.json").read_text())


def write_vcf(
    path: Path,
    genes: dict[str, dict[str, str]],
    *,
    variants_only: bool = False,
    chrom_style: str = "chr",
    ref_override: dict[str, str] | None = None,
    build: str = "GRCh38",
    samples: tuple[str, ...] = ("S1",),
) -> Path:
    """A bgzipped, indexed VCF at every definition position of ``genes``: gene -> {rsID: "A/G" or "./."}."""
    lengths = contig_lengths(build)
    records = []
    for gene, calls in genes.items():
        homref = "0|0" if any("|" in c for c in calls.values()) else "0/0"
        for v in _raw(gene)["variants"]:
            gt_text = calls.get(v["rsid"] or str(v["position"]))
            alleles = [v["ref"], *v["alts"]]
            if gt_text is None:
                if variants_only:
                    continue
                gt = homref
            elif gt_text == "./.":
                gt = "./."
            else:
                sep = "|" if "|" in gt_text else "/"
                gt = sep.join(str(alleles.index(a)) for a in gt_text.replace("|", "/").split("/"))
            ref = (ref_override or {}).get(v["rsid"], v["ref"])
            chrom = v["chromosome"] if chrom_style == "chr" else v["chromosome"][3:]
            records.append((chrom, v["position"], v["rsid"] or ".", ref, ",".join(v["alts"]), gt))
    contigs = sorted({r[0] for r in records}, key=lambda c: int(c.replace("chr", "")))
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines += [f"##contig=<ID={c},length={lengths['chr' + c.replace('chr', '')]}>" for c in contigs]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    order = {c: i for i, c in enumerate(contigs)}
    for chrom, pos, rsid, ref, alt, gt in sorted(records, key=lambda r: (order[r[0]], r[1])):
        lines.append(f"{chrom}\t{pos}\t{rsid}\t{ref}\t{alt}\t.\tPASS\t.\tGT" + f"\t{gt}" * len(samples))
    text = path.with_suffix("")
    text.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(text)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return path


def _gene(result: dict, gene: str) -> dict:
    return next(g for g in result["genes"] if g["gene"] == gene)


# --- data ---------------------------------------------------------------------------------


def test_bundled_definitions_cover_the_thirteen_genes_and_match_the_manifest():
    assert available_genes() == sorted(THIRTEEN)
    data = definitions_dir().parent
    with open(data / "MANIFEST.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert {r["path"] for r in rows} == {
        str(p.relative_to(data)) for p in data.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv"
    }
    for r in rows:
        assert hashlib.sha256((data / r["path"]).read_bytes()).hexdigest() == r["sha256"], r["path"]
        assert "MPL-2.0" in r["license"] if r["source_repo"] == "PharmGKB/PharmCAT" else r["license"]


def test_definitions_load_with_exemptions_and_structural_genes_are_left_out():
    defs = load_definitions(["CYP2C9", "CYP2D6", "CYP2C19"])
    assert list(defs) == ["CYP2C9", "CYP2C19"]  # CYP2D6: not attempted
    assert "CYP2D6" in STRUCTURAL_GENES
    assert [p.rsid for p in defs["CYP2C9"].extra_positions] == ["rs12777823"]
    assert 94761900 in defs["CYP2C19"].amp1_positions
    assert defs["CYP2C19"].reference_allele.name == "*38"
    with pytest.raises(InputError, match="no definitions for gene 'NOPE'"):
        load_definitions(["NOPE"])


# --- guidance -----------------------------------------------------------------------------


def test_every_guidance_row_has_a_citation():
    rows = read_guidance()
    assert rows
    for r in rows:
        assert set(r) == set(GUIDANCE_COLUMNS)
        assert r["guideline_title"].strip() and "Pharmacogenetics Implementation Consortium" in r["guideline_title"]
        assert 2010 <= r["guideline_year"] <= 2030
        assert 10_000_000 < r["guideline_pmid"] < 100_000_000
        assert r["implication"].strip() and r["recommendation"].strip()


def test_guidance_wording_is_plain_and_attributed_to_the_guideline():
    """Research-use wording: every recommendation is the guideline's, never an order to the reader; short."""
    for r in read_guidance():
        where = f"{r['drug']} / {r['gene']} / {r['phenotype']}"
        assert "the guideline" in r["recommendation"].lower(), where
        assert not re.match(r"(Start|Use|Avoid|Give|Take|Stop)\b", r["recommendation"]), where
        for text in (r["implication"], r["recommendation"]):
            assert len(re.findall(r"[.!?](?:\s|$)", text)) <= 2 and len(text) < 260, where


def test_thiopurine_rows_cite_the_2018_cpic_update():
    # Relling et al., Clin Pharmacol Ther 2019;105:1095-1105 (the "2018 Update"), PMID 30447069.
    rows = [r for r in read_guidance() if r["gene"] in ("TPMT", "NUDT15")]
    assert rows and {(r["guideline_year"], r["guideline_pmid"]) for r in rows} == {(2019, 30447069)}
    assert all("TPMT and NUDT15" in r["guideline_title"] for r in rows)


def test_guidance_covers_the_issue_pairs_with_known_phenotypes():
    genes = drug_genes()
    assert genes["clopidogrel"] == ["CYP2C19"]
    assert genes["simvastatin"] == genes["atorvastatin"] == ["SLCO1B1"]
    assert genes["warfarin"] == ["CYP2C9", "VKORC1", "CYP4F2"]
    assert set(genes["thiopurines (azathioprine, mercaptopurine, thioguanine)"]) == {"TPMT", "NUDT15"}
    assert {"fluoropyrimidines (fluorouracil, capecitabine)", "tacrolimus", "atazanavir"} <= set(genes)
    assert any(d.startswith("SSRIs") and g == ["CYP2C19"] for d, g in genes.items())
    for r in read_guidance():
        tables = load_phenotypes(r["gene"])
        if tables is not None:  # a phenotype the guidance keys on exists in the CPIC tables
            assert r["phenotype"] in {d["phenotype"] for d in tables.diplotypes.values()}, r


def test_a_bad_guidance_row_is_refused(tmp_path):
    bad = tmp_path / "g.tsv"
    lines = guidance_path().read_text().splitlines()
    cells = lines[2].split("\t")
    cells[-1] = ""
    bad.write_text("\n".join([*lines[:2], "\t".join(cells)]) + "\n")
    with pytest.raises(InputError, match="row 2"):
        read_guidance(bad)
    cells = lines[2].split("\t")
    cells[GUIDANCE_COLUMNS.index("changes_prescribing")] = "maybe"
    bad.write_text("\n".join([*lines[:2], "\t".join(cells)]) + "\n")
    with pytest.raises(InputError, match="changes_prescribing must be yes or no, not 'maybe'"):
        read_guidance(bad)


def test_changes_prescribing_marks_departures_from_standard_prescribing():
    """yes: another dose, another drug or avoid; no: the guideline supports the usual drug and dose."""
    rows = {(r["drug"], r["gene"], r["phenotype"]): r for r in read_guidance()}
    assert {type(r["changes_prescribing"]) for r in rows.values()} == {bool}
    expected = {
        ("clopidogrel", "CYP2C19", "Normal Metabolizer"): False,
        ("clopidogrel", "CYP2C19", "Ultrarapid Metabolizer"): False,
        ("clopidogrel", "CYP2C19", "Intermediate Metabolizer"): True,
        ("SSRIs (citalopram, escitalopram)", "CYP2C19", "Ultrarapid Metabolizer"): True,
        ("simvastatin", "SLCO1B1", "Normal Function"): False,
        ("simvastatin", "SLCO1B1", "Decreased Function"): True,
        ("warfarin", "VKORC1", "-1639 GG"): False,
        ("warfarin", "CYP4F2", "rs2108622 T carrier"): True,
        ("tacrolimus", "CYP3A5", "Normal Metabolizer"): True,  # expressers need a higher starting dose
        ("tacrolimus", "CYP3A5", "Poor Metabolizer"): False,
        ("fluoropyrimidines (fluorouracil, capecitabine)", "DPYD", "Poor Metabolizer"): True,
        ("atazanavir", "UGT1A1", "Intermediate Metabolizer"): False,
        ("atazanavir", "UGT1A1", "Poor Metabolizer"): True,
    }
    assert {k: rows[k]["changes_prescribing"] for k in expected} == expected
    # Every normal/reference phenotype but CYP3A5's (tacrolimus) keeps standard prescribing.
    for (drug, gene, phenotype), r in rows.items():
        if phenotype.startswith("Normal") and gene != "CYP3A5":
            assert not r["changes_prescribing"], (drug, gene, phenotype)
        if phenotype.startswith("Poor") and gene != "CYP3A5":
            assert r["changes_prescribing"], (drug, gene, phenotype)


# --- calling ------------------------------------------------------------------------------


def test_cyp2c19_star2_star17_intermediate_metabolizer_and_clopidogrel(tmp_path):
    vcf = write_vcf(
        tmp_path / "p.vcf.gz",
        {
            "CYP2C19": {"rs12248560": "C/T", "rs12769205": "A/G", "rs4244285": "G/A", "rs3758581": "G/G"},
            "CYP2C9": {},
            "VKORC1": {"rs9923231": "C/T"},
        },
    )
    out = call_sample(vcf, "S1", genes=["CYP2C19", "CYP2C9", "VKORC1", "CYP2D6"])
    c19 = _gene(out, "CYP2C19")
    assert (c19["status"], [d["name"] for d in c19["diplotypes"]]) == ("called", ["*2/*17"])
    assert c19["phenotype"] == "Intermediate Metabolizer"
    assert c19["diplotypes"][0]["functions"] == ["No function", "Increased function"]
    assert _gene(out, "CYP2C9")["phenotype"] == "Normal Metabolizer"
    assert _gene(out, "CYP2C9")["extra_positions"][0]["rsid"] == "rs12777823"
    assert _gene(out, "VKORC1")["phenotype"] == "-1639 AG"
    assert out["not_attempted"][0]["gene"] == "CYP2D6"
    clop = next(d for d in out["drugs"] if d["drug"] == "clopidogrel")
    assert clop["actionable"] and clop["citation"]["pmid"] == 35034351
    assert clop["changes_prescribing"] and clop["genes"][0]["changes_prescribing"]
    assert "prasugrel or ticagrelor" in clop["genes"][0]["recommendation"]
    reason = out["not_attempted"][0]["reason"]
    assert reason.startswith("needs copy-number") and "not attempted" not in reason  # the page says so
    assert "Research use" in out["research_use"]
    json.dumps(out)  # serialisable


def test_missing_call_gives_a_partial_call_listing_the_positions(tmp_path):
    vcf = write_vcf(tmp_path / "p.vcf.gz", {"CYP2C19": {"rs3758581": "G/G", "rs12248560": "./."}})
    c19 = _gene(call_sample(vcf, "S1", genes=["CYP2C19"], top_candidate_only=False), "CYP2C19")
    assert c19["status"] == "partial"
    assert c19["missing_positions"] == [{"position": 94761900, "rsid": "rs12248560"}]
    assert c19["missing_amp1_positions"] == [{"position": 94761900, "rsid": "rs12248560"}]
    assert [d["name"] for d in c19["diplotypes"]] == ["*1/*1", "*1/*17", "*17/*17"]
    assert c19["phenotype"] == "Indeterminate"  # the tie's phenotypes differ


def test_missing_position_never_leaves_a_phenotype_it_could_change(tmp_path):
    """P004-like: CYP2C19 called everywhere but rs12248560 (the *17 position). PharmCAT's top score is *1/*1
    (Normal), yet *1/*17 (Rapid) and *17/*17 (Ultrarapid) fit the positions read as well: all are listed and the
    phenotype is Indeterminate. TPMT*3B and DPYD*2A, defined only at a missing position, cannot be ruled out."""
    calls = {
        "CYP2C19": {"rs3758581": "G/G", "rs12248560": "./."},
        "TPMT": {"rs1800460": "./."},
        "DPYD": {"rs3918290": "./."},
        "IFNL3": {},
    }
    out = call_sample(write_vcf(tmp_path / "p.vcf.gz", calls), "S1", genes=["CYP2C19", "TPMT", "DPYD", "IFNL3"])
    c19 = _gene(out, "CYP2C19")
    assert c19["status"] == "partial" and c19["phenotype"] == "Indeterminate" and c19["activity_score"] is None
    rows = [(d["name"], d["phenotype"], d.get("differs_at_missing_positions", False)) for d in c19["diplotypes"]]
    assert rows == [
        ("*1/*1", "Normal Metabolizer", False),  # PharmCAT's call
        ("*1/*17", "Rapid Metabolizer", True),
        ("*17/*17", "Ultrarapid Metabolizer", True),
    ]
    assert c19["reason"] == (
        "1 of 35 positions not called; *1/*17, *17/*17 fit the positions read as well as *1/*1, with another phenotype"
    )
    tpmt = _gene(out, "TPMT")
    assert tpmt["uncallable_haplotypes"] == ["*3B"]  # PharmCAT's uncallableHaplotypes
    assert [d["name"] for d in tpmt["diplotypes"]] == ["*1/*1", "*1/*3B", "*3B/*3B"]
    assert tpmt["phenotype"] == "Indeterminate"
    dpyd = _gene(out, "DPYD")
    assert dpyd["uncallable_haplotypes"] == ["c.1905+1G>A (*2A)"]
    assert {d["phenotype"] for d in dpyd["diplotypes"]} == {"Normal Metabolizer", "Intermediate Metabolizer",
                                                              "Poor Metabolizer"}  # fmt: skip
    assert dpyd["phenotype"] == "Indeterminate"
    for drug in out["drugs"]:
        if drug["drug"] in ("clopidogrel", "fluoropyrimidines (fluorouracil, capecitabine)"):
            assert not drug["actionable"] and "indeterminate" in drug["genes"][0]["reason"]
    # IFNL3 is called, but CPIC has no diplotype-to-phenotype table for it: not "Indeterminate".
    ifnl3 = _gene(out, "IFNL3")
    assert ifnl3["status"] == "called" and ifnl3["phenotype"] == "No phenotype mapping"


def test_missing_position_alternatives_sharing_the_phenotype_keep_it(tmp_path):
    """Phased *1|*2 with rs12248560 missing: the *1 strand could be *17, and *2/*17 is intermediate as well."""
    calls = {"rs3758581": "G|G", "rs12248560": "./.", "rs4244285": "G|A", "rs12769205": "A|G"}
    c19 = _gene(call_sample(write_vcf(tmp_path / "p.vcf.gz", {"CYP2C19": calls}), "S1"), "CYP2C19")
    assert [d["name"] for d in c19["diplotypes"]] == ["*1/*2", "*2/*17"]
    assert c19["phenotype"] == "Intermediate Metabolizer" and c19["reason"].endswith("as well as *1/*2")


def test_variants_only_vcf_needs_a_callable_bed_or_gvcf_block(tmp_path):
    calls = {"CYP2C19": {"rs12248560": "C/T", "rs3758581": "G/G"}, "TPMT": {}}
    vcf = write_vcf(tmp_path / "p.vcf.gz", calls, variants_only=True)
    out = call_sample(vcf, "S1", genes=["CYP2C19", "TPMT"])
    c19 = _gene(out, "CYP2C19")
    assert c19["status"] == "not_called" and "absent from the VCF" in c19["reason"]
    assert len(c19["absent_positions"]) == 33
    assert _gene(out, "TPMT")["status"] == "not_called"
    bed = tmp_path / "callable.bed"
    bed.write_text("chr10\t94700000\t94900000\n")  # CYP2C19 only
    out = call_sample(vcf, "S1", genes=["CYP2C19", "TPMT"], callable_bed=bed)
    c19 = _gene(out, "CYP2C19")
    assert c19["status"] == "called" and [d["name"] for d in c19["diplotypes"]] == ["*1/*17"]
    assert c19["n_reference_from_callable"] == 33
    assert _gene(out, "TPMT")["status"] == "not_called"  # the BED does not cover it


def test_gvcf_reference_block_calls_absent_positions_reference(tmp_path):
    text = tmp_path / "g.vcf"
    length = contig_lengths("GRCh38")["chr13"]
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID=chr13,length={length}>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="GQ">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
        "chr13\t48000000\t.\tA\t<NON_REF>\t.\t.\tEND=48100000\tGT:GQ\t0/0:50",
    ]
    text.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(text)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", f"{text}.gz"], check=True)
    nudt15 = _gene(call_sample(f"{text}.gz", "S1", genes=["NUDT15"]), "NUDT15")
    assert nudt15["status"] == "called" and nudt15["diplotypes"][0]["name"] == "*1/*1"
    assert nudt15["phenotype"] == "Normal Metabolizer"
    assert nudt15["n_reference_from_callable"] == nudt15["n_positions"]


def test_ref_mismatch_leaves_that_gene_uncalled_and_the_others_called(tmp_path):
    vcf = write_vcf(
        tmp_path / "p.vcf.gz",
        {"CYP2C19": {}, "VKORC1": {}},
        chrom_style="plain",
        ref_override={"rs4244285": "T"},
    )
    out = call_sample(vcf, "S1", genes=["CYP2C19", "VKORC1"])
    c19 = _gene(out, "CYP2C19")
    assert c19["status"] == "not_called"
    assert "rs4244285 (chr10:94781859): REF T, expected G" in c19["reason"]
    assert c19["ref_mismatches"][0]["position"] == 94781859
    assert _gene(out, "VKORC1")["status"] == "called"  # "16", not "chr16": contig spelling does not matter


def test_grch37_is_refused_gene_by_gene(tmp_path):
    vcf = write_vcf(tmp_path / "p.vcf.gz", {"VKORC1": {}})
    out = call_sample(vcf, "S1", genes=["VKORC1"], genome_build="GRCh37")
    assert _gene(out, "VKORC1")["status"] == "not_called"
    assert "GRCh37" in _gene(out, "VKORC1")["reason"]
    vcf37 = write_vcf(tmp_path / "p37.vcf.gz", {"VKORC1": {}}, build="GRCh37")
    reason = _gene(call_sample(vcf37, "S1", genes=["VKORC1"], genome_build=None), "VKORC1")["reason"]
    assert "header" in reason and "GRCh37" in reason


def test_phased_calls_pick_one_orientation(tmp_path):
    calls = {"CYP2C19": {"rs12248560": "T|C", "rs12769205": "A|G", "rs4244285": "G|A", "rs3758581": "G|G"}}
    vcf = write_vcf(tmp_path / "p.vcf.gz", calls)
    c19 = _gene(call_sample(vcf, "S1", genes=["CYP2C19"]), "CYP2C19")
    # T sits with the reference alleles of rs12769205/rs4244285 on one strand: *17, and *2 on the other.
    assert c19["phased"] and [d["name"] for d in c19["diplotypes"]] == ["*2/*17"]
    wrong = {"CYP2C19": {"rs12248560": "T|C", "rs12769205": "G|A", "rs4244285": "G|A", "rs3758581": "G|G"}}
    vcf = write_vcf(tmp_path / "q.vcf.gz", wrong)
    c19 = _gene(call_sample(vcf, "S1", genes=["CYP2C19"]), "CYP2C19")
    assert c19["status"] == "not_called" and c19["diplotypes"] == []


def test_missing_sample_is_refused_like_intake(tmp_path):
    vcf = write_vcf(tmp_path / "p.vcf.gz", {"VKORC1": {}}, samples=("S1", "S2"))
    with pytest.raises(InputError, match="sample 'NOPE' is not in this file"):
        call_sample(vcf, "NOPE", genes=["VKORC1"])
    patients = [
        {"patient_id": "P1", "sample": "S2", "vcf": str(vcf), "vcf_key": "k", "sheet_line": 2},
        {"patient_id": "P2", "sample": "NOPE", "vcf": str(vcf), "vcf_key": "k", "sheet_line": 3},
        {"patient_id": "P3", "sample": "S9", "vcf": str(vcf), "vcf_key": "k", "sheet_line": 4},
    ]
    refusal = {"patient_id": "P3", "problem": "sample 'S9' is not in this file", "stage": "intake"}
    status = {
        "normalized": str(vcf),
        "patients": {
            "P1": {"status": "accepted"},
            "P2": {"status": "accepted"},
            "P3": {"status": "refused", "error": refusal},
        },
    }
    out = call_batch(patients, {"k": status}, genes=["VKORC1"])
    assert out["patients"]["P1"]["status"] == "called"
    assert out["patients"]["P2"]["status"] == "refused" and out["patients"]["P2"]["error"]["stage"] == "pgx"
    assert out["patients"]["P3"]["error"] == refusal
    off = call_batch(patients, {"k": status}, enabled=False)
    assert {p["status"] for p in off["patients"].values()} == {"disabled"}


def test_guidance_for_uncalled_gene_says_so():
    table = guidance_for({"CYP2C19": None, "DPYD": "Poor Metabolizer"})
    clop = next(d for d in table if d["drug"] == "clopidogrel")
    assert not clop["actionable"] and "not called" in clop["genes"][0]["reason"]
    assert not clop["changes_prescribing"] and clop["genes"][0]["changes_prescribing"] is None
    fluoro = next(d for d in table if d["drug"].startswith("fluoropyrimidines"))
    assert fluoro["actionable"] and "avoiding" in fluoro["genes"][0]["recommendation"]
    assert fluoro["changes_prescribing"]
    standard = next(d for d in guidance_for({"CYP2C19": "Normal Metabolizer"}) if d["drug"] == "clopidogrel")
    assert standard["actionable"] and not standard["changes_prescribing"]


def test_phenotype_tables_are_bundled():
    assert load_phenotypes("CYP4F2") is None  # no CPIC table: guidance keys on rs2108622
    c19 = load_phenotypes("CYP2C19")
    assert c19.lookup(["*1", "*2"])["phenotype"] == "Intermediate Metabolizer"
    assert load_phenotypes("DPYD").lookup(["Reference", "Reference"])["activity_score"] == "2.0"
    assert (phenotypes_dir() / "DPYD.json").exists()


@pytest.mark.slow
def test_call_pharmacogenes_rule_writes_each_batch(tmp_path):
    from conftest import prepare_workdir, run_snakemake

    workdir = prepare_workdir(tmp_path / "wf", ids=("P1", "P2", "P3"))
    plan = run_snakemake(workdir, "--dry-run", "--quiet", "rules")
    # The job table of the dry run (whether rule all asks for pgx.json is phase 2's wiring, not checked here).
    assert re.search(r"^prepare_patient_vcf\s+\d+$", plan.stdout, flags=re.M)
    run_snakemake(workdir, "results/patients/batches/b00000/pgx.json")
    batch = json.loads((workdir / "results/patients/batches/b00000/pgx.json").read_text())
    assert batch["schema_version"] == 1 and batch["enabled"] is True
    assert set(batch["patients"]) == {"P1", "P2"}
    p1 = batch["patients"]["P1"]
    assert p1["status"] == "called" and p1["sample"] == "S_P1"
    assert _gene(p1, "CYP2C19")["diplotypes"][0]["name"] == "*2/*17"  # the simulator's plan for the first patient
    assert all(g["status"] == "called" for g in batch["patients"]["P2"]["genes"])
    log = (workdir / "results/logs/call_pharmacogenes/b00000.log").read_text()
    assert "genes called" in log and "*2" not in log  # logs carry no genotypes


# --- DPYD: PharmCAT's lowest-function rule ------------------------------------------------


def test_dpyd_unphased_phenotype_comes_from_the_two_lowest_activity_alleles(tmp_path):
    # c.1905+1G>A (*2A, activity 0) and c.2846A>T (0.5), unphased: no diplotype is assumed.
    vcf = write_vcf(tmp_path / "p.vcf.gz", {"DPYD": {"rs3918290": "C/T", "rs67376798": "T/A"}})
    dpyd = _gene(call_sample(vcf, "S1", genes=["DPYD"]), "DPYD")
    pair = ["c.1905+1G>A (*2A)", "c.2846A>T"]
    assert dpyd["haplotype_matches"] == pair
    assert dpyd["status"] == "called" and len(dpyd["diplotypes"]) == 1
    assert dpyd["diplotypes"][0]["lowest_function_haplotypes"] == pair
    assert dpyd["activity_score"] == "0.5"
    assert dpyd["phenotype"] == load_phenotypes("DPYD").lookup(pair)["phenotype"] == "Poor Metabolizer"


def test_dpyd_phased_in_cis_leaves_one_normal_strand(tmp_path):
    # The same two variants on one strand: that strand's lowest (*2A) and a Reference strand.
    vcf = write_vcf(tmp_path / "p.vcf.gz", {"DPYD": {"rs3918290": "C|T", "rs67376798": "T|A"}})
    dpyd = _gene(call_sample(vcf, "S1", genes=["DPYD"]), "DPYD")
    assert dpyd["haplotype_matches"] == []
    assert [d["name"] for d in dpyd["diplotypes"]] == ["Reference/[c.1905+1G>A (*2A) + c.2846A>T]"]
    assert dpyd["diplotypes"][0]["lowest_function_haplotypes"] == ["Reference", "c.1905+1G>A (*2A)"]
    assert dpyd["activity_score"] == "1.0" and dpyd["phenotype"] == "Intermediate Metabolizer"


def test_half_call_fits_no_named_allele(tmp_path):
    # T/. at CYP2C19 rs4244285 (PharmCAT: no diplotype; genorisk said "missing" before).
    text = write_vcf(tmp_path / "p.vcf.gz", {"CYP2C19": {}})
    subprocess.run(["bgzip", "-d", "-f", str(text)], check=True)
    plain = tmp_path / "p.vcf"
    lines = [
        "\t".join([*r.split("\t")[:9], "./1"]) if "\trs4244285\t" in r else r for r in plain.read_text().splitlines()
    ]
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(text)], check=True)
    c19 = _gene(call_sample(text, "S1", genes=["CYP2C19"]), "CYP2C19")
    assert c19["status"] == "not_called" and c19["diplotypes"] == [] and c19["missing_positions"] == []


def test_research_mode_calls_combinations_through_call_sample(tmp_path):
    # CYP2B6 *2 and *5 on both strands: no named diplotype; PharmCAT's combinations give [*2 + *5].
    vcf = write_vcf(tmp_path / "p.vcf.gz", {"CYP2B6": {"rs8192709": "T/T", "rs3211371": "T/T"}})
    plain = _gene(call_sample(vcf, "S1", genes=["CYP2B6"]), "CYP2B6")
    assert plain["status"] == "not_called" and plain["diplotypes"] == []
    research = _gene(call_sample(vcf, "S1", genes=["CYP2B6"], find_combinations=True), "CYP2B6")
    assert [d["name"] for d in research["diplotypes"]] == ["[*2 + *5]/[*2 + *5]"]
    assert research["status"] == "called" and research["phenotype"] == "Indeterminate"
